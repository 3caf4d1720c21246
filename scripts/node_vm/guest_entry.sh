#!/usr/bin/env bash
# Runs inside the node-tier VM as podperf-node.service (see build_image.sh), from the checkout
# shared read-only at /podperf; everything it learns goes to /results (a host directory shared
# read-write). The machine powers off when this script ends, whatever its exit code.
set -uo pipefail
R=/results
exec > >(tee -a "$R/guest.log") 2>&1
echo "guest: up $(cut -d' ' -f1 /proc/uptime) s after boot, kernel $(uname -r)"
export HOME=/root DENO_DIR=/var/cache/deno DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
cd /podperf || exit 1
node_modules/deno/deno run -A --no-lock tests/node/guest/run.ts "$R"
rc=$?
echo "$rc" >"$R/exit_code"
echo "guest: run.ts exited $rc at $(cut -d' ' -f1 /proc/uptime) s"
sync
