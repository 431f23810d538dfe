#!/usr/bin/env bash
# Install Debian packages with apt, as root or through sudo: what ensure_chromium.sh and
# ensure_postgres.sh do when a program the tests need is missing.
# Usage: bash scripts/apt_install.sh PACKAGE...   (exits 1 when apt or root is not available)
set -euo pipefail

command -v apt-get >/dev/null 2>&1 || exit 1
sudo=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 || exit 1
  sudo="sudo"
fi
echo "Installing Debian's $* package(s)…"
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
