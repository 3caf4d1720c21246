#!/bin/bash
# scripts/compile.sh [DENO_TARGET] [OUT]: the one `deno compile` of the agent, for `deno task
# compile` and the Dockerfile. Needs the BPF object (scripts/build_bpf.sh) and Deno's denort
# download (internet access). V8_FLAGS must equal lib/cli/v8_flags.ts (tests/cli/v8_flags_test.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
V8_FLAGS="--max-semi-space-size=2,--no-allocation-site-pretenuring,--no-memory-reducer,--compact-on-every-full-gc"
target=${1:-}
out=${2:-dist/podperf}
deno=${DENO:-node_modules/deno/deno}
exec "$deno" compile -A --unstable-raw-imports ${target:+--target "$target"} \
  --v8-flags="$V8_FLAGS" --include lib/output/writer_worker.ts -o "$out" main.ts
