#!/usr/bin/env bash
# TEST-ONLY set-up: Debian's prometheus (2.42 in bookworm, with promtool) for tests/metrics/,
# which start the binary themselves on 127.0.0.1 with their own config and data directory.
# The package's own service must not start: policy-rc.d refuses it during the install.
set -euo pipefail
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] && exit 0
printf 'install_prometheus: installing Debian package prometheus (tests only)\n' >&2
export DEBIAN_FRONTEND=noninteractive
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  made_policy=1
fi
trap '[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# Where systemd runs, the unit may still have been enabled: keep the tests' ports and the
# package's default data dir out of each other's way.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
