#!/usr/bin/env bash
# Static checks: ruff (src, tests, benchmarks, tools) and mypy (src/deocclude), configured in pyproject.toml.
# Both always run; exits non-zero when either reports anything. VENV overrides the environment (default .venv,
# as made by tools/setup.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
python="${VENV:-.venv}/bin/python"
status=0
echo "== ruff check src tests benchmarks tools"
"$python" -m ruff check --output-format concise src tests benchmarks tools || status=1
echo "== mypy src/deocclude"
"$python" -m mypy src/deocclude || status=1
exit "$status"
