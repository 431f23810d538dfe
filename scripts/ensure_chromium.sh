#!/usr/bin/env bash
# Make sure a Chromium is available for the browser tests.
# 1. Debian's /usr/bin/chromium (or $CHROMIUM_PATH) when present;
# 2. as root with apt, install Debian's `chromium` package;
# 3. otherwise Playwright's own build (needs internet access to download it).
set -euo pipefail
python=${1:-python3}

if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ]; then
  echo "Chromium: ${CHROMIUM_PATH}"
  exit 0
fi
if [ -x /usr/bin/chromium ]; then
  echo "Chromium: /usr/bin/chromium"
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium package…"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  exit 0
fi
echo "No system Chromium; downloading Playwright's build…"
"$python" -m playwright install chromium
