#!/usr/bin/env bash
# Boots the node-tier guest (built by build_image.sh) under qemu's TCG emulator — KVM is not
# usable on these machines — and waits until the guest powers itself off (or the timeout kills
# it). Disks: the cached image (snapshot=on, so it is never modified), the checkout packed by
# pack_share.sh (read-only), and a blank results disk whose files are copied into <results dir>
# with debugfs afterwards (no loop mount needed). The serial console goes to <results>/console.log.
#
# Usage: run_vm.sh <image dir> <results dir> [timeout seconds, default 1200]
# Exit: qemu's status; 124 when the timeout fired.
set -uo pipefail
cd "$(dirname "$0")/../.."
img=$1 results=$2 limit=${3:-1200}
mkdir -p "$results"
work=$(mktemp -d /tmp/podperf-node-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
bash scripts/node_vm/pack_share.sh "$work/share.img" || exit 1
mkfs.ext4 -q -F -L podperf-out "$work/out.img" 1G || exit 1
# systemd.unified_cgroup_hierarchy=1: pure cgroup v2, as on current Kubernetes nodes.
# tsc=reliable: under TCG the boot-time TSC sync check fails on jitter and the guest falls back
# to the emulated HPET, so ktime (what BPF stamps) and sched_clock (what cpu.stat sums) come
# from different clocks that drift apart when the host stalls the VM (-4.8% seen); TCG's TSC
# is one host clock for all vCPUs, and far cheaper to read than an HPET MMIO exit.
append="root=/dev/vda rw console=ttyS0 panic=-1 init=/lib/systemd/systemd \
systemd.unified_cgroup_hierarchy=1 systemd.show_status=1 net.ifnames=0 mitigations=off \
tsc=reliable clocksource=tsc"
timeout --kill-after=10 "$limit" nice -n 19 qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
  -nodefaults -display none -no-reboot \
  -serial "file:$results/console.log" \
  -kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append "$append" \
  -drive "file=$img/disk.img,if=virtio,format=raw,snapshot=on" \
  -drive "file=$work/share.img,if=virtio,format=raw,readonly=on" \
  -drive "file=$work/out.img,if=virtio,format=raw" \
  -nic none
rc=$?
debugfs -R "rdump / $results" "$work/out.img" >/dev/null 2>&1 || true
exit $rc
