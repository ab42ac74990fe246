#!/usr/bin/env bash
# Browser tests use Debian's Chromium (Playwright's own download can't run
# offline). Installs it when missing; needs root, as on CI and dev machines here.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is missing: run 'sudo apt-get install -y chromium' first" >&2
  exit 1
fi
echo "Installing Debian chromium for browser tests..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
chromium --version
