#!/usr/bin/env bash
# Installs what testing podperf needs on top of scripts/setup.sh (which it runs first),
# idempotently: the real container runtime the tests drive (containerd, runc, busybox and the
# CRI proto, cached in .cache/ by fetch_containerd.sh) and the Debian tools tests and benchmarks
# start (linux-perf for `perf bench`, prometheus/promtool for /metrics, chromium and a font for
# the HTML report). Safe to run again; each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup_test: %s\n' "$*" >&2; }

bash scripts/setup.sh

need_apt=()
command -v perf >/dev/null || need_apt+=(linux-perf)
command -v chromium >/dev/null || need_apt+=(chromium fonts-dejavu-core)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# prometheus + promtool for tests/metrics/, installed with its service kept from starting.
bash scripts/install_prometheus.sh

# containerd + runc + busybox + CRI proto for the tests' real runtime (cached in .cache/).
bash scripts/fetch_containerd.sh
log "ready for: node_modules/deno/deno task test"
