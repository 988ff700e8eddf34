#!/usr/bin/env bash
# Configures build-sanitized/ and builds TARGETs (everything when none): clang, ASan + UBSan on the
# whole project, libFuzzer's coverage instrumentation on what the fuzzers run, the tests and the
# fuzz targets (LIGHTVLM_FUZZ, CMakeLists.txt). scripts/test_sanitized.sh and scripts/fuzz.sh both
# build here with these same options, so whichever runs second reuses the first one's build.
#
# usage: scripts/build_sanitized.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
# -O1 -g1: line tables are enough for the reports' stacks, and the build is shorter than -O2 -g's.
cmake -S . -B build-sanitized -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DLIGHTVLM_FUZZ=ON -DLIGHTVLM_BUILD_TESTS=ON >/dev/null
targets=()
for target in "$@"; do
  targets+=(--target "$target")
done
cmake --build build-sanitized -j"$(nproc)" "${targets[@]}"
