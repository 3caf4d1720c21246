#!/usr/bin/env bash
# Packs the checkout as the guest sees it into a read-only ext4 image (label podperf-src): the
# working tree as it is now (code, node_modules with the deno binary, bpf/podperf.bpf.o, the
# containerd runtime and busybox image from .cache), without .git and the VM cache itself.
# Hard links into a staging dir keep this a metadata copy; mkfs.ext4 -d reads it.
#
# Usage: pack_share.sh <out.img>
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1
stage=.cache/node_vm/stage.$$
trap 'rm -rf "$stage"' EXIT
rm -rf "$stage"
mkdir -p "$stage/.cache"
for e in * .[!.]*; do
  case "$e" in .git | .cache | out | dist) continue ;; esac
  [ -e "$e" ] && cp -al "$e" "$stage/"
done
for c in containerd images; do
  [ -d ".cache/$c" ] && cp -al ".cache/$c" "$stage/.cache/"
done
mb=$(du -sm "$stage" | cut -f1)
rm -f "$out"
nice -n 19 mkfs.ext4 -q -F -L podperf-src -d "$stage" "$out" "$((mb * 13 / 10 + 64))M"
