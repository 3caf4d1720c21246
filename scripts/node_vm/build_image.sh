#!/usr/bin/env bash
# Builds the node-tier guest once and caches it: a Debian 12 (bookworm) root file system made
# with debootstrap from Debian's packages — systemd as PID 1, Debian's 6.1 cloud kernel (BTF
# on), libbpf1 — packed into an ext4 image with `mkfs.ext4 -d`, plus the kernel and initrd
# copied out so qemu boots them with -kernel/-initrd. Nothing of the project is baked in: the
# guest mounts the checkout over virtio-9p at /podperf and runs scripts/node_vm/guest_entry.sh
# from it, so changing the test never rebuilds the image.
#
# Output: .cache/node_vm/<key>/{disk.img,vmlinuz,initrd.img,info} where <key> is a hash of this
# script, so an edit here builds a fresh image and an unchanged script reuses the cached one.
# Prints that directory on stdout. Needs root, debootstrap and Debian's mirror. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf 'node_vm build: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

KEY=$(sha256sum "scripts/node_vm/build_image.sh" | cut -c1-16)
OUT=".cache/node_vm/$KEY"
if [ -f "$OUT/info" ] && [ -f "$OUT/disk.img" ] && [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ]; then
  log "cached: $OUT ($(tr '\n' ' ' <"$OUT/info"))"
  echo "$OUT"
  exit 0
fi

mkdir -p .cache/node_vm
exec 9>.cache/node_vm/build.lock
flock 9
if [ -f "$OUT/info" ]; then
  echo "$OUT"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, loop-free mkfs)"
command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found (apt-get install e2fsprogs)"

# The mirror the machine already uses for bookworm, so CI needs no other host.
mirror=$(grep -hoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
  /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security | head -1 | tr -d ' ' || true)
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}

t0=$(date +%s)
TMP="$OUT.tmp"
ROOTFS="$TMP/rootfs"
cleanup() {
  for m in dev/pts dev proc sys; do umount "$ROOTFS/$m" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -rf "$TMP"
mkdir -p "$TMP"

# minbase keeps the image small; linux-image-cloud-amd64 is the metapackage that depends on
# exactly one current 6.1 cloud kernel (never a glob, which would fetch every version).
PKGS=systemd,systemd-sysv,udev,dbus,kmod,procps,libbpf1,ca-certificates,linux-image-cloud-amd64
log "debootstrap bookworm from $mirror (+ $PKGS)"
nice -n 19 debootstrap --variant=minbase --include="$PKGS" bookworm "$ROOTFS" "$mirror" \
  >"$TMP/debootstrap.log" 2>&1 || {
  tail -30 "$TMP/debootstrap.log" >&2
  die "debootstrap failed (log $TMP/debootstrap.log)"
}

kver=$(ls -1 "$ROOTFS/lib/modules" | head -1)
[ -n "$kver" ] || die "no kernel installed in the guest"
[ -f "$ROOTFS/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver"
# Debian's cloud kernel has neither 9p nor a virtiofsd on bookworm to serve virtiofs, so the
# checkout comes in as a read-only ext4 disk (label podperf-src, made by pack_share.sh) and the
# results go out on a second ext4 disk (label podperf-out) the host reads back with debugfs.
cat >"$ROOTFS/etc/fstab" <<'FSTAB'
/dev/vda  /         ext4  rw,noatime    0 1
tmpfs     /tmp      tmpfs rw,mode=1777  0 0
FSTAB
cat >"$ROOTFS/usr/local/sbin/podperf-node-boot" <<'BOOT'
#!/bin/bash
# Mounts the checkout disk (read-only) and the results disk, runs the test, unmounts.
disk() {
  for _ in $(seq 1 120); do
    [ -e "/dev/disk/by-label/$1" ] && mount -o "$3" "/dev/disk/by-label/$1" "$2" && return 0
    sleep 0.5
  done
  echo "podperf-node-boot: no disk labelled $1 for $2" >&2
  return 1
}
disk podperf-src /podperf ro,noatime && disk podperf-out /results rw,noatime || exit 1
/bin/bash /podperf/scripts/node_vm/guest_entry.sh
rc=$?
sync
umount /results
exit $rc
BOOT
chmod 0755 "$ROOTFS/usr/local/sbin/podperf-node-boot"
mkdir -p "$ROOTFS/podperf" "$ROOTFS/results"
echo podperf-node >"$ROOTFS/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 podperf-node\n' >"$ROOTFS/etc/hosts"

# The one job of this machine: run the in-guest test from the shared checkout, then power off
# whatever happened (the host reads the outcome from /results and the console). Immediately:
# the results disk is unmounted by then, and waiting for busy containers to die costs 90 s.
cat >"$ROOTFS/etc/systemd/system/podperf-node.service" <<'UNIT'
[Unit]
Description=podperf node-tier test (scripts/node_vm/guest_entry.sh from the shared checkout)
RequiresMountsFor=/tmp
After=local-fs.target systemd-udev-settle.service
SuccessAction=poweroff-immediate
FailureAction=poweroff-immediate

[Service]
Type=oneshot
Environment=HOME=/root
ExecStart=/usr/local/sbin/podperf-node-boot
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/podperf-node.service \
  "$ROOTFS/etc/systemd/system/multi-user.target.wants/podperf-node.service"
ln -sf /lib/systemd/system/multi-user.target "$ROOTFS/etc/systemd/system/default.target"
# Under TCG every unit costs seconds: mask what a test node never needs.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
  fstrim.timer getty@tty1.service serial-getty@ttyS0.service systemd-timesyncd.service \
  systemd-networkd.service systemd-resolved.service console-getty.service \
  systemd-update-utmp.service systemd-update-utmp-runlevel.service; do
  ln -sf /dev/null "$ROOTFS/etc/systemd/system/$u"
done
passwd_hash='*'
sed -i "s|^root:[^:]*:|root:$passwd_hash:|" "$ROOTFS/etc/shadow"

cp "$ROOTFS/boot/vmlinuz-$kver" "$TMP/vmlinuz"
cp "$ROOTFS/boot/initrd.img-$kver" "$TMP/initrd.img"
grep -q '^CONFIG_DEBUG_INFO_BTF=y' "$ROOTFS/boot/config-$kver" || die "guest kernel $kver has no BTF"
kpkg=$(chroot "$ROOTFS" dpkg-query -W -f='${Package}=${Version}' "linux-image-$kver")
libbpf=$(chroot "$ROOTFS" dpkg-query -W -f='${Version}' libbpf1)
systemd_v=$(chroot "$ROOTFS" dpkg-query -W -f='${Version}' systemd)
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*

log "packing ext4 image"
nice -n 19 mkfs.ext4 -q -F -L podperf-node -d "$ROOTFS" "$TMP/disk.img" 3G >&2
rm -rf "$ROOTFS"
cat >"$TMP/info" <<INFO
kernel=$kver
kernel_package=$kpkg
libbpf1=$libbpf
systemd=$systemd_v
built_seconds=$(($(date +%s) - t0))
INFO
rm -rf "$OUT"
mv "$TMP" "$OUT"
log "built $OUT in $(($(date +%s) - t0)) s: $(tr '\n' ' ' <"$OUT/info")"
echo "$OUT"
