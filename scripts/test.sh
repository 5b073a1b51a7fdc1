#!/usr/bin/env bash
# Sets up, builds and runs resnet-cli's whole test suite: README's test command
# and what CI runs. It builds in a folder of its own (BUILD_DIR, default
# build-tests) with the tests turned on, so that it never reconfigures the
# build/ of README's first command (which builds no test). JOBS (default: 2)
# and CMAKE_ARGS (e.g. -DRESNET_CLI_MODEL_MODULE=OFF for the static build)
# adjust it. The fixtures are shared with the other builds of this checkout
# (build-fixtures/, see tests/CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-tests}
jobs=${JOBS:-2}

scripts/install-deps.sh
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of arguments
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DRESNET_CLI_WERROR=ON \
  -DRESNET_CLI_BUILD_TESTS=ON \
  ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j"$jobs"
ctest --test-dir "$build_dir" -j"$jobs" --output-on-failure "$@"
