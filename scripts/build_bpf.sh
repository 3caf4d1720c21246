#!/usr/bin/env bash
# Builds bpf/podperf.bpf.o (CO-RE, BTF kept, DWARF stripped) from bpf/podperf.bpf.c.
# Idempotent: generates bpf/vmlinux.h once from the running kernel's BTF, and recompiles
# only when the source or header is newer than the object.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'build_bpf: %s\n' "$*" >&2; exit 1; }

btf=${PODPERF_BTF:-/sys/kernel/btf/vmlinux}
src=bpf/podperf.bpf.c
obj=bpf/podperf.bpf.o
hdr=bpf/vmlinux.h

clang=$(command -v clang || command -v clang-14 || true)
[ -n "$clang" ] || die "clang not found: install clang (Debian: apt-get install clang llvm)"
strip=$(command -v llvm-strip || command -v llvm-strip-14 || true)
[ -n "$strip" ] || die "llvm-strip not found: install llvm (Debian: apt-get install llvm)"
[ -f /usr/include/bpf/bpf_helpers.h ] || die "libbpf headers not found: install libbpf-dev"

if [ ! -s "$hdr" ]; then
  bpftool=$(command -v bpftool || { [ -x /usr/sbin/bpftool ] && echo /usr/sbin/bpftool; } || true)
  [ -n "$bpftool" ] || die "bpftool not found: install bpftool (Debian: apt-get install bpftool)"
  [ -r "$btf" ] || die "$btf not found: the kernel needs CONFIG_DEBUG_INFO_BTF=y"
  "$bpftool" btf dump file "$btf" format c > "$hdr.tmp"
  mv "$hdr.tmp" "$hdr"
fi

if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ bpf/podperf.h -nt "$obj" ]; then
  "$clang" -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -Ibpf -c "$src" -o "$obj.tmp"
  "$strip" -g "$obj.tmp"
  mv "$obj.tmp" "$obj"
  printf 'build_bpf: built %s\n' "$obj" >&2
fi
