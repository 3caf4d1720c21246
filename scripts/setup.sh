#!/usr/bin/env bash
# Installs what running podperf needs on a fresh Debian bookworm machine, idempotently: the BPF
# toolchain (clang, bpftool, libbpf headers), Deno and the npm packages, and the compiled BPF
# object. What only the tests and benchmarks need is in scripts/setup_test.sh, which runs this
# first. Safe to run again; each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

need_apt=()
command -v clang >/dev/null || need_apt+=(clang llvm)
command -v bpftool >/dev/null || [ -x /usr/sbin/bpftool ] || need_apt+=(bpftool)
[ -f /usr/include/bpf/bpf_helpers.h ] || need_apt+=(libbpf-dev)
[ -e /usr/lib/x86_64-linux-gnu/libbpf.so.1 ] || [ -e /lib/x86_64-linux-gnu/libbpf.so.1 ] || need_apt+=(libbpf1)
[ -f /usr/include/linux/perf_event.h ] || need_apt+=(linux-libc-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x node_modules/deno/deno ] || [ package.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages (deno and libraries)"
  # npm ci rejects this lock (it lists only the linux-x64 optional binaries it resolved);
  # npm install follows the lock just the same.
  npm install --no-audit --no-fund --loglevel=error
fi

bash scripts/build_bpf.sh
log "ready: node_modules/deno/deno $(node_modules/deno/deno --version | head -1 | cut -d' ' -f2)"
