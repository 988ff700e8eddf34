#!/usr/bin/env bash
# Builds, then runs every test. The end-to-end tests read ../shared (models and images).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
