#!/usr/bin/env bash
# Creates .venv and installs deocclude with its test extra (pytest, pillow, playwright, hypothesis) and its ray
# extra (ray[data], for tests/test_ray_engine.py: about 50 s more on a cold install),
# and Debian's chromium for the browser test when it is missing (as root; tools/install_browser.sh).
# torch is pinned to the CPU build (a plain `pip install torch` pulls a multi-GB CUDA build).
# `deocclude serve` needs nothing more: its page is served by the standard library.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,ray]"
bash tools/install_browser.sh
