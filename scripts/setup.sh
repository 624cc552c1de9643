#!/usr/bin/env bash
# Set up m4npu on Debian 12: install the missing Debian packages (idempotent), then configure
# (Release) and build into build/. Extra arguments are passed to cmake's configure step,
# e.g. scripts/setup.sh -DM4NPU_WERROR=ON. Environment: BUILD_DIR (default build), BUILD_TARGET
# (default all: the target to build, e.g. m4npu_fuzzers for scripts/fuzz.sh's tree).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$top/build}

mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$top/scripts/deps.txt")
missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#wanted[@]} Debian packages present"
fi

cmake -S "$top" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" -j "$(nproc)" --target "${BUILD_TARGET:-all}"
if [ "${BUILD_TARGET:-all}" = all ]; then
  echo "setup: built $build_dir/bin/m4npu"
else
  echo "setup: built ${BUILD_TARGET} in $build_dir"
fi
