#!/usr/bin/env bash
# Benchmark of traces (numbers, not a test): the sizes of traces, and replay time against the
# original run's time, measured in one hyperfine invocation so that both see the same load.
#   - a job-level trace of `whatif --task T2` and an insn-level trace of examples/attention.s:
#     their size, records per type and bytes per record and per job (`m4npu trace stats`);
#   - `whatif --task T2` as the user runs it, the same recording its trace, and the replay of
#     that trace (device alone); the encoder block through `run` and its replay: mean times and
#     the ratios hyperfine prints.
# Environment: BUILD_DIR (default build/), RUNS (default 10).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
m4npu=${BUILD_DIR:-$top/build}/bin/m4npu
runs=${RUNS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$top"

"$m4npu" whatif --task T2 --quiet --trace "$work/t2.trc" > /dev/null
"$m4npu" exec examples/attention.s --config configs/mobile-default.yaml --trace "$work/attention.trc" \
  --trace-level insn > /dev/null
echo "== whatif --task T2, level job"
"$m4npu" trace stats "$work/t2.trc"
echo
echo "== exec examples/attention.s, level insn"
"$m4npu" trace stats "$work/attention.trc"
echo
model=${BUILD_DIR:-$top/build}/models/encoder_block.onnx
"$m4npu" run "$model" --config configs/mobile-default.yaml --trace "$work/enc.trc" > /dev/null
echo "== replay against the original run (one hyperfine run, $runs runs each; compare user times"
echo "   when the machine is loaded: wall times then vary by tens of percent)"
hyperfine -N --warmup 1 --runs "$runs" --style basic \
  -n "whatif --task T2" "$m4npu whatif --task T2 --quiet" \
  -n "whatif --task T2 --trace" "$m4npu whatif --task T2 --quiet --trace $work/t2-again.trc" \
  -n "trace replay t2.trc" "$m4npu trace replay $work/t2.trc" \
  -n "run encoder_block" "$m4npu run $model --config configs/mobile-default.yaml" \
  -n "trace replay enc.trc" "$m4npu trace replay $work/enc.trc"
