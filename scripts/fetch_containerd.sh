#!/usr/bin/env bash
# Fetches the container runtime the tests drive (containerd, ctr and the runc shim from Debian
# trixie, runc and busybox-static from bookworm, the CRI v1 api.proto from trixie's
# golang-github-kubernetes-cri-api-dev) as .deb files into .cache/debs/ and extracts them into
# .cache/containerd/. Nothing is installed system-wide: trixie is added as an apt source with a
# low pin (100), so no bookworm package is ever upgraded from it. Idempotent: a second run only
# checks the stamp. Needs root (apt sources) and Debian's mirror.
#
# Why runc comes from bookworm: trixie's runc 1.1.15 needs GLIBC_2.38 and bookworm has 2.36
# (`runc: version GLIBC_2.38 not found`); containerd and its shims only need GLIBC 2.34.
#
# Output (relative to the repo root):
#   .cache/containerd/usr/bin/{containerd,ctr,containerd-shim-runc-v2}
#   .cache/containerd/usr/sbin/runc
#   .cache/containerd/bin/busybox
#   .cache/containerd/proto/runtime/v1/api.proto   (CRI v1, gogoproto options removed)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'fetch_containerd: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Which suite each package comes from. Debian replaces a version on its mirror when it
# publishes a fix, so we take the suite's current one; the extracted versions are logged and
# kept in the stamp. Verified with containerd 1.7.24~ds1-6+deb13u1, cri-api 0.32.3-1 (its
# runtime/v1 api.proto is the CRI v1 that containerd 1.7 serves), runc 1.1.5+ds1-1+deb12u1,
# busybox-static 1:1.35.0-4+deb12u1+b1.
PKGS=(containerd/trixie golang-github-kubernetes-cri-api-dev/trixie runc/bookworm busybox-static/bookworm)

CACHE=.cache
DEBS="$CACHE/debs"
ROOT="$CACHE/containerd"
STAMP="$ROOT/.stamp"

if [ -f "$STAMP" ] && [ -x "$ROOT/usr/bin/containerd" ] && [ -x "$ROOT/usr/bin/ctr" ] &&
  [ -x "$ROOT/usr/bin/containerd-shim-runc-v2" ] && [ -x "$ROOT/usr/sbin/runc" ] &&
  [ -x "$ROOT/bin/busybox" ] && [ -f "$ROOT/proto/runtime/v1/api.proto" ]; then
  log "up to date: $(cat "$STAMP")"
  exit 0
fi

# Parallel test processes may all find the cache missing: one fetches, the others wait.
mkdir -p "$CACHE"
exec 9>"$CACHE/fetch_containerd.lock"
flock 9
if [ -f "$STAMP" ] && [ -x "$ROOT/usr/bin/containerd" ]; then
  log "fetched meanwhile: $(cat "$STAMP")"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (adds an apt source and pin)"
command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian system"

# Reuse the mirror host the machine already uses for bookworm, so CI needs no other host.
mirror=""
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  case "$f" in */podperf-trixie.*) continue ;; esac
  mirror=$(grep -hoE 'https?://[^ ]+/debian/?( |$)' "$f" 2>/dev/null | grep -v security | head -1 | tr -d ' ' || true)
  [ -n "$mirror" ] && break
done
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}

src=/etc/apt/sources.list.d/podperf-trixie.sources
pin=/etc/apt/preferences.d/podperf-trixie-low-pin
want_src="Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
want_pin="Package: *
Pin: release n=trixie
Pin-Priority: 100"
changed=0
if [ "$(cat "$src" 2>/dev/null)" != "$want_src" ]; then
  printf '%s\n' "$want_src" >"$src"
  changed=1
fi
if [ "$(cat "$pin" 2>/dev/null)" != "$want_pin" ]; then
  printf '%s\n' "$want_pin" >"$pin"
  changed=1
fi
if [ "$changed" = 1 ] || ! apt-cache show containerd/trixie >/dev/null 2>&1; then
  log "apt-get update (trixie source at $mirror, pin 100)"
  apt-get update -qq >/dev/null || die "apt-get update failed"
fi

part="$DEBS/part"
rm -rf "$part"
mkdir -p "$part"
# apt's _apt user must be able to write the download folder.
chmod 0777 "$part"
log "downloading ${PKGS[*]}"
(cd "$part" && apt-get download -qq "${PKGS[@]}" 2>&1 | grep -v 'unsandboxed' >&2 || true)
rm -rf "$ROOT.tmp"
mkdir -p "$ROOT.tmp"
got=()
for spec in "${PKGS[@]}"; do
  name=${spec%/*}
  deb=$(ls -1 "$part/${name}"_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || die "could not download $spec from $mirror (see apt output above)"
  dpkg-deb -x "$deb" "$ROOT.tmp"
  got+=("$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version)")
  mv -f "$deb" "$DEBS/"
done
rmdir "$part"

# proto-loader cannot resolve gogo.proto and does not need it: the gogoproto lines are only
# Go code-generation options.
mkdir -p "$ROOT.tmp/proto/runtime/v1"
sed '/gogoproto/d' "$ROOT.tmp/usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto" \
  >"$ROOT.tmp/proto/runtime/v1/api.proto"

"$ROOT.tmp/usr/sbin/runc" --version >/dev/null || die "runc does not run on this machine"
"$ROOT.tmp/usr/bin/containerd" --version >/dev/null || die "containerd does not run on this machine"
"$ROOT.tmp/bin/busybox" true || die "busybox does not run on this machine"

printf '%s\n' "${got[*]}" >"$ROOT.tmp/.stamp"
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
log "ready: ${got[*]}"
