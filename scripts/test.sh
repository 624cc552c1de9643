#!/usr/bin/env bash
# Run every test: set up (idempotent), build with -Werror and run ctest, then build a second
# tree with AddressSanitizer + UndefinedBehaviorSanitizer and run ctest there too (which replays
# the committed fuzz corpora under the sanitizers), then fuzz every harness for 60 s
# (scripts/fuzz.sh, a clang tree in build-fuzz/). Every tree Verilates only configs/test.yaml's
# RTL tiles (rtl/CMakeLists.txt's default; the sanitizer tree names them, so that a reused tree
# configured with more keeps to them): mobile-default's 64x64 tile costs ~20-25 CPU-minutes to
# compile (rtl/README.md), so its calibration is opt-in (DEVELOPERS.md).
# Environment: SKIP_SANITIZE=1 skips the sanitizer pass, SKIP_FUZZ=1 the fuzzing (for a quick
# local run); FUZZ_SECONDS changes the seconds per harness.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

BUILD_DIR="$top/build" "$top/scripts/setup.sh" -DM4NPU_WERROR=ON -DM4NPU_SANITIZE=OFF
ctest --test-dir "$top/build" --output-on-failure -j "$jobs" -LE slow

if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
  BUILD_DIR="$top/build-sanitize" "$top/scripts/setup.sh" -DM4NPU_WERROR=ON -DM4NPU_SANITIZE=ON \
    -DM4NPU_RTL_MM_SIZES=16x16/8 -DM4NPU_RTL_SM_LANES=4:512
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$top/build-sanitize" --output-on-failure -j "$jobs" -LE 'no-sanitize|slow'
fi
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  "$top/scripts/fuzz.sh" "${FUZZ_SECONDS:-60}"
fi
echo "test: all passed"
