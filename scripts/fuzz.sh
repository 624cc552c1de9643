#!/usr/bin/env bash
# Fuzz every harness of tests/fuzz for SECONDS each (default 60): set up (idempotent, like
# scripts/setup.sh) a clang build tree with libFuzzer, ASan and UBSan in build-fuzz/, then run
# the harnesses, FUZZ_JOBS at a time (default: the number of cores). Exits 1 if any harness
# crashed, hung, ran out of memory or printed a sanitizer report; the input that did it is saved
# under build-fuzz/fuzz-out/NAME/ and the log beside it.
#
# Usage: scripts/fuzz.sh [SECONDS]
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS, FUZZ_TIMEOUT (seconds one input
# may take before it counts as a hang; default 20), FUZZ_ONLY (run only these harnesses, e.g.
# "onnx npy").
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS]   (seconds per harness, a positive integer)" >&2
  exit 2
fi
build_dir=${FUZZ_BUILD_DIR:-$top/build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
timeout_s=${FUZZ_TIMEOUT:-20}
rss_limit_mb=2048   # libFuzzer's default; a single allocation above it is reported too

# Only configs/test.yaml's RTL tiles: the harnesses never select rtl mode at other sizes, and
# mobile-default's 64x64 tile alone costs ~7 CPU-minutes to Verilate.
BUILD_DIR="$build_dir" BUILD_TARGET=m4npu_fuzzers "$top/scripts/setup.sh" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DM4NPU_FUZZ=ON -DM4NPU_WERROR=ON \
  -DM4NPU_RTL_MM_SIZES=16x16/8 -DM4NPU_RTL_SM_LANES=4:512

manifest="$build_dir/fuzz/fuzzers.txt"
out="$build_dir/fuzz-out"
mkdir -p "$out"

# One harness: gather its seeds, run it, and summarise its log. Runs in a subshell.
run_one() {
  local name=$1 exe=$2 corpus=$3 seeds=$4
  local work="$build_dir/fuzz/corpus/$name" seed_dir="$build_dir/fuzz/seeds/$name" art="$out/$name"
  local log="$out/$name.log"
  mkdir -p "$work" "$art"
  rm -rf "$seed_dir"
  mkdir -p "$seed_dir"
  local s f
  IFS=';' read -r -a seed_list <<<"$seeds"
  for s in "${seed_list[@]}"; do
    [ -n "$s" ] || continue
    [ -e "$s" ] || { echo "fuzz: $name: seed $s does not exist" >&2; return 1; }
    while IFS= read -r -d '' f; do
      cp "$f" "$seed_dir/$(echo "${f#/}" | tr '/' '_')"
    done < <(find "$s" -type f -print0)
  done
  local dict=()
  [ -f "$top/tests/fuzz/$name.dict" ] && dict=(-dict="$top/tests/fuzz/$name.dict")
  local corpora=("$work")
  [ -d "$corpus" ] && corpora+=("$corpus")
  corpora+=("$seed_dir")
  local rc=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$exe" -max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb="$rss_limit_mb" \
    -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "${corpora[@]}" >"$log" 2>&1 || rc=$?
  local runs rate
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ "$rc" -ne 0 ] || grep -qE '^(==[0-9]+==ERROR|SUMMARY: |.*runtime error:)' "$log"; then
    echo "fuzz: $name: FAILED (exit $rc) after ${runs:-?} runs; log $log"
    grep -E '^(==[0-9]+==ERROR|.*runtime error:|.*property broken|artifact_prefix|Test unit written)' "$log" | head -5 | sed 's/^/  /'
    echo "  reproduce: $exe $(ls -t "$art"/* 2>/dev/null | head -1)"
    return 1
  fi
  printf 'fuzz: %-12s ok: %s runs in %s s (%s exec/s), corpus %s inputs\n' "$name" "${runs:-?}" "$seconds" \
    "${rate:-?}" "$(find "$work" -type f | wc -l)"
}

names=()
while IFS='|' read -r name exe corpus seeds; do
  [ -n "$name" ] || continue
  if [ -n "${FUZZ_ONLY:-}" ] && ! [[ " $FUZZ_ONLY " == *" $name "* ]]; then
    continue
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true # each harness leaves its result in NAME.status
  done
  rm -f "$out/$name.status"
  (rc=0; run_one "$name" "$exe" "$corpus" "$seeds" || rc=$?; echo "$rc" >"$out/$name.status") &
  names+=("$name")
done <"$manifest"
wait
failed=0
for name in "${names[@]}"; do
  [ "$(cat "$out/$name.status" 2>/dev/null)" = 0 ] || failed=1
done
if [ ${#names[@]} -eq 0 ]; then
  echo "fuzz: no harness to run (manifest $manifest, FUZZ_ONLY '${FUZZ_ONLY:-}')" >&2
  exit 1
fi
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED: inputs that crash are in $out/NAME/; once fixed, commit each to tests/fuzz/corpus/NAME/"
  exit 1
fi
echo "fuzz: ${#names[@]} harnesses, $seconds s each, no crash"
