#!/usr/bin/env bash
# Sets up, builds and runs resnet-cli's whole test suite: README's test command
# and what CI runs. BUILD_DIR (default: build) and JOBS (default: 2) adjust it.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-2}

scripts/install-deps.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DRESNET_CLI_WERROR=ON
cmake --build "$build_dir" -j"$jobs"
ctest --test-dir "$build_dir" -j"$jobs" --output-on-failure "$@"
