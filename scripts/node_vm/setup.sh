#!/usr/bin/env bash
# Installs what the node tier needs on the host from Debian (bookworm) — qemu-system-x86 for
# the VM, debootstrap and e2fsprogs for the image — when they are missing. Best effort: without
# root or apt the tier skips itself with one line saying why, so this never fails the run.
set -uo pipefail
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v debugfs >/dev/null || need+=(e2fsprogs)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "node_vm setup: cannot install ${need[*]} (needs root and apt-get)" >&2
  exit 0
fi
echo "node_vm setup: apt-get install ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    echo "node_vm setup: apt-get install ${need[*]} failed" >&2
fi
exit 0
