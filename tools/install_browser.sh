#!/usr/bin/env bash
# Debian's Chromium for tests/test_web.py (deocclude serve tested in a real headless browser),
# installed only when /usr/bin/chromium is missing. Playwright drives it through executable_path,
# so no browser build is ever downloaded. Never fatal: without it that one test skips, saying why,
# and `deocclude serve` itself needs no browser on this machine (open the page in any browser).
set -uo pipefail
[ -x /usr/bin/chromium ] && exit 0
hint="tests/test_web.py will skip; to run it: apt-get install -y chromium chromium-driver"
if [ "$(id -u)" != 0 ]; then
    echo "note: /usr/bin/chromium is missing and this is not root: $hint" >&2
    exit 0
fi
if ! command -v apt-get > /dev/null; then
    echo "note: /usr/bin/chromium is missing and there is no apt-get: $hint" >&2
    exit 0
fi
echo "installing Debian's chromium for the browser test (about 1.5 min, once) ..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver > /dev/null; }; then
    echo "warning: could not install chromium: $hint" >&2
fi
exit 0
