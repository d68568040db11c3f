#!/usr/bin/env bash
# Installs what the studio's browser tests need, from Debian's archive, when it is missing:
# chromium (driven by Playwright for Python through executable_path; no browser download)
# and fonts-noto-cjk (so Chinese text renders in the pages and screenshots).
# Idempotent and quiet: does nothing when both are present. Called by .ci/run before `make test`.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
# the package's font files: fc-list may not be installed on a minimal image, dpkg always is
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "install ok installed" \
  || missing+=(fonts-noto-cjk)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser-deps: ${missing[*]} missing and apt-get is not available;" \
    "install them with your package manager (the studio's browser tests need them)" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo -n)
  else
    echo "install-browser-deps: ${missing[*]} missing; run as root or install sudo" >&2
    exit 1
  fi
fi

echo "install-browser-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
