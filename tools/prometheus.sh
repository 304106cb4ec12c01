#!/usr/bin/env bash
# Installs Prometheus from Debian if it is missing and prints the path of its binary (last line).
# The package's system service is not started: the tests run their own Prometheus on a free
# loopback port with a generated config (tests/observability/prometheus.py).
set -euo pipefail
log() { echo "prometheus.sh: $*" >&2; }

find_binary() {
  if [ -x /usr/bin/prometheus ]; then
    echo /usr/bin/prometheus
  else
    command -v prometheus 2>/dev/null || true
  fi
}

binary=$(find_binary)
if [ -z "$binary" ]; then
  log "installing prometheus from Debian"
  export DEBIAN_FRONTEND=noninteractive
  # no service start from the package's maintainer scripts (a container has no init anyway)
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
  fi
  trap '[ "$created_policy" != 1 ] || rm -f "$policy"' EXIT
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  binary=$(find_binary)
fi
if [ -z "$binary" ]; then
  log "no prometheus binary after the install"
  exit 1
fi
log "$("$binary" --version 2>&1 | head -n 1)"
echo "$binary"
