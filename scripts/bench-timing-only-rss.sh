#!/usr/bin/env bash
# Benchmark: the peak host memory of `m4npu run --timing-only` on a model with MIB MiB of f32
# weights (default 1024), embedded in the .onnx and again as an external data file, measured with
# /usr/bin/time -v (maximum resident set size). Prints one line per model; the issue's bound is
# 300 MB for >= 1 GB of weights. The models are written to a temporary directory (about 2 x MIB
# MiB of disk) and removed at the end.
# Usage: scripts/bench-timing-only-rss.sh [MIB]   Environment: BUILD_DIR (default build).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
mib=${1:-1024}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/m4npu-rss-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for kind in embedded external; do
  flag=""
  [ "$kind" = external ] && flag=--external
  "$build/bin/m4npu-gen-big-model" "$tmp/$kind.onnx" "$mib" $flag >/dev/null
  bytes=$(du -cb "$tmp/$kind".onnx* | tail -1 | cut -f1)
  /usr/bin/time -v "$build/bin/m4npu" run "$tmp/$kind.onnx" --config "$top/configs/mobile-default.yaml" \
    --timing-only --dim batch=1 >"$tmp/out.txt" 2>"$tmp/time.txt"
  rss_kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.txt")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/time.txt")
  latency=$(sed -n 's/^latency (modelled): \([0-9.]* us\).*/\1/p' "$tmp/out.txt")
  printf '%-9s model %5d MiB on disk: run --timing-only peak RSS %6.1f MiB, wall %s, modelled latency %s\n' \
    "$kind" $((bytes / 1048576)) "$(awk -v k="$rss_kib" 'BEGIN { print k / 1024 }')" "$wall" "$latency"
  rm -f "$tmp/$kind".onnx*
done
