#!/usr/bin/env bash
# Make sure nginx is here for `make class` and the failover test (two app processes behind
# nginx: tests/browser/test_failover_browser.py, testkit/cluster.py).
# 1. nginx on the PATH or Debian's /usr/sbin/nginx;
# 2. otherwise install Debian's `nginx-light` package with apt (as root, or through sudo).
# The package's own site is not used: nginx runs on the configuration in deploy/, in the
# foreground, with its files in a run folder.
set -euo pipefail

for candidate in "$(command -v nginx 2>/dev/null || true)" /usr/sbin/nginx; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "nginx: $candidate"
    exit 0
  fi
done
if bash "$(dirname "$0")/apt_install.sh" nginx-light; then
  exit 0
fi
echo "Serving several app processes (make class) and its test need nginx: install your" >&2
echo "system's nginx package (Debian/Ubuntu: apt-get install nginx-light)." >&2
exit 1
