#!/usr/bin/env bash
# Creates .venv and installs deocclude with its test extra.
# torch is pinned to the CPU build (a plain `pip install torch` pulls a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
