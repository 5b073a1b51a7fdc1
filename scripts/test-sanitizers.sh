#!/usr/bin/env bash
# The whole test suite built with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer, plus the libFuzzer targets replaying their seed
# corpora. CI runs it after scripts/test.sh. BUILD_DIR (default: build-asan)
# and JOBS (default: 2) adjust it.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-asan}
jobs=${JOBS:-2}

scripts/install-deps.sh
# The model is linked in (RESNET_CLI_MODEL_MODULE=OFF): with LibTorch
# dlopened, LeakSanitizer's tracer crashes while it scans the threads at exit
# (ASan and UBSan alone pass on the module build). Every line of resnet-cli's
# own code is the same in both builds; CI runs the module build's suite
# without sanitizers (scripts/test.sh).
CXX=clang++ cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRESNET_CLI_SANITIZE=address,undefined -DRESNET_CLI_BUILD_FUZZERS=ON \
  -DRESNET_CLI_MODEL_MODULE=OFF -DRESNET_CLI_BUILD_TESTS=ON
cmake --build "$build_dir" -j"$jobs"

# LibTorch and OpenCV are not built with the sanitizers: their one-time
# allocations at start-up are not leaks of ours (tests/sanitizers/lsan.supp).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build_dir" -j"$jobs" --output-on-failure "$@"
