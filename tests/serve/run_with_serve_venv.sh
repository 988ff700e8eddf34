#!/usr/bin/env bash
# Runs a Python test or tool of the server with the venv scripts/setup.sh makes (.venv-serve, with
# the openai client of tools/requirements-serve.txt). Without it the test is skipped (exit 77,
# which ctest reports as skipped, not passed), saying how to make it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="$root/.venv-serve/bin/python"
if [ ! -x "$python" ]; then
  echo "skipped: $python is missing; run scripts/setup.sh (it installs tools/requirements-serve.txt)"
  exit 77
fi
exec "$python" "$@"
