#!/usr/bin/env bash
# Builds bpf/podperf.bpf.o (CO-RE, BTF kept, DWARF stripped) from bpf/podperf.bpf.c.
# Idempotent: generates bpf/vmlinux.h once from the running kernel's BTF, and recompiles
# only when the source or header is newer than the object.
# Cross-building: PODPERF_ARCH=arm64 (a name of ffi/arch.ts, default: this machine) selects the
# target define, PODPERF_BPF_OBJ another output path. vmlinux.h may come from any architecture's
# BTF: the programs read task_struct fields through CO-RE (relocated on the node's kernel) and
# never pt_regs (on_tick ignores its context, raw_tp arguments are a u64 array), the one place
# where the layout differs between architectures; tests/sampler/arch_build_test.ts checks it.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'build_bpf: %s\n' "$*" >&2; exit 1; }

btf=${PODPERF_BTF:-/sys/kernel/btf/vmlinux}
src=bpf/podperf.bpf.c
obj=${PODPERF_BPF_OBJ:-bpf/podperf.bpf.o}
arch=${PODPERF_ARCH:-$(uname -m)}
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
  deno=node_modules/deno/deno
  [ -x "$deno" ] || die "$deno not found: run npm install first (it reads ffi/arch.ts)"
  define=$("$deno" run --quiet --no-config ffi/arch.ts "$arch" bpfTargetDefine) || die "no BPF target for $arch"
  # bpfel: every supported architecture is little-endian (plain -target bpf means the host's).
  "$clang" -O2 -g -Wall -Werror -target bpfel "-D$define" -Ibpf -c "$src" -o "$obj.tmp"
  "$strip" -g "$obj.tmp"
  mv "$obj.tmp" "$obj"
  printf 'build_bpf: built %s\n' "$obj" >&2
fi
