#!/usr/bin/env bash
# Make sure a Chromium is available for the browser tests.
# 1. Debian's /usr/bin/chromium (or $CHROMIUM_PATH) when present;
# 2. otherwise install Debian's `chromium` package with apt (as root, or through sudo).
# Playwright's own browser download is not used: it needs internet access beyond the
# package registries, which CI machines and many users do not have.
set -euo pipefail

if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ]; then
  echo "Chromium: ${CHROMIUM_PATH}"
  exit 0
fi
if [ -x /usr/bin/chromium ]; then
  echo "Chromium: /usr/bin/chromium"
  exit 0
fi
if bash "$(dirname "$0")/apt_install.sh" chromium; then
  exit 0
fi
echo "The browser tests need Chromium: install your system's chromium package" >&2
echo "(Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH to a Chromium binary." >&2
exit 1
