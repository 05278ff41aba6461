#!/usr/bin/env bash
# Make sure Debian's Chromium is there for the browser tests (Playwright drives it; it never
# downloads a browser of its own).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "browser: installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "browser: /usr/bin/chromium is missing; install Debian's chromium package" >&2
  exit 1
fi
