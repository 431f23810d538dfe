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
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else sudo="none"; fi
  fi
  if [ "$sudo" != "none" ]; then
    echo "Installing Debian's chromium package…"
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
    exit 0
  fi
fi
echo "The browser tests need Chromium: install your system's chromium package" >&2
echo "(Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH to a Chromium binary." >&2
exit 1
