#!/usr/bin/env bash
# Run every test: set up (idempotent), build with -Werror and run ctest, then build a second
# tree with AddressSanitizer + UndefinedBehaviorSanitizer and run ctest there too.
# Environment: SKIP_SANITIZE=1 skips the sanitizer pass (for a quick local run).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

BUILD_DIR="$top/build" "$top/scripts/setup.sh" -DM4NPU_WERROR=ON -DM4NPU_SANITIZE=OFF
ctest --test-dir "$top/build" --output-on-failure -j "$jobs"

if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
  BUILD_DIR="$top/build-sanitize" "$top/scripts/setup.sh" -DM4NPU_WERROR=ON -DM4NPU_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$top/build-sanitize" --output-on-failure -j "$jobs" -LE no-sanitize
fi
echo "test: all passed"
