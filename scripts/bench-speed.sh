#!/usr/bin/env bash
# Simulator speed against a baseline commit (issue 16), numbers only, never a test. Builds the
# m4npu binary of BASE_REV (default: main) in a cache directory beside the build tree, then
# measures both binaries in the same run, so that both see the same machine load:
#   1. the full default `m4npu whatif`,
#   2. `m4npu whatif --module backbone-decode`,
#   3. `m4npu run --timing-only` of one 1024x1024x1024 MatMul on a 32x32 array (mobile-default
#      with npu.matmul.rows/cols = 32; the model is written by /usr/bin/python3 with python3-onnx),
#   4. `m4npu bench` timing-only, in simulated instructions per second (its own clock; best of
#      RUNS, the two binaries alternating),
# each whole process pinned to one core (taskset -c CORE), through hyperfine (-N, mean wall, user
# and system time of RUNS runs). It prints each number for the baseline and this tree, their
# ratio (baseline / current for times, current / baseline for instructions per second), and
# whether the results are the same: the whole `whatif --csv`, the decode `--csv` and the matmul
# unit's busy cycles of the 1024-cubed run, byte for byte. Compare user times when the machine
# is loaded (uptime is printed): wall times then vary by tens of percent.
# Usage: scripts/bench-speed.sh [BASE_REV]. Environment: BUILD_DIR (default build/, must hold a
# Release build of this tree), RUNS (default 5), CORE (default 0).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
runs=${RUNS:-5}
core=${CORE:-0}
base_rev=${1:-main}
cur=$build/bin/m4npu
[ -x "$cur" ] || { echo "bench-speed: no $cur: build this tree first (scripts/setup.sh)" >&2; exit 3; }
base_sha=$(git -C "$top" rev-parse --verify "$base_rev^{commit}") || { echo "bench-speed: no commit $base_rev" >&2; exit 2; }

# The baseline: its sources exported (git archive) into build/bench-speed/SHA, its m4npu built
# there (SHA/build) once per commit and kept for the next run.
base_src=$build/bench-speed/${base_sha:0:12}
base=$base_src/build/bin/m4npu
if [ ! -x "$base" ]; then
  echo "bench-speed: building ${base_sha:0:12} ($base_rev) in $base_src"
  rm -rf "$base_src"
  mkdir -p "$base_src"
  git -C "$top" archive "$base_sha" | tar -x -C "$base_src"
  cmake -S "$base_src" -B "$base_src/build" -DCMAKE_BUILD_TYPE=Release > "$base_src/configure.log"
  nice cmake --build "$base_src/build" -j "$(nproc)" --target m4npu > "$base_src/build.log"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$work/matmul1024.onnx
/usr/bin/python3 - "$model" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
n = 1024
w = numpy_helper.from_array(np.random.RandomState(0).uniform(-1, 1, (n, n)).astype(np.float32), "w")
g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul1024",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])], [w])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
onnx.save(m, sys.argv[1])
EOF
mm_args="--config configs/mobile-default.yaml --set npu.matmul.rows=32 --set npu.matmul.cols=32 --timing-only"

# Same results? Each binary runs from the tree it was built from (configs/, models).
for side in base cur; do
  if [ $side = base ]; then bin=$base; dir=$base_src; else bin=$cur; dir=$top; fi
  (cd "$dir" && "$bin" whatif --csv > "$work/$side-whatif.csv" &&
   "$bin" whatif --module backbone-decode --csv > "$work/$side-decode.csv" &&
   "$bin" run "$model" $mm_args --json > "$work/$side-mm.json")
done
same() { cmp -s "$work/base-$1" "$work/cur-$1" && echo identical || echo DIFFERENT; }
mm_cycles() {
  /usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sum(s["counters"]["mm"]["busy_cycles"] for s in d["segments"]))' "$1"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "baseline ${base_sha:0:12} ($base_rev) against this tree ($(git -C "$top" rev-parse --short HEAD)$(git -C "$top" diff --quiet HEAD || echo ', modified')); taskset -c $core, $runs runs each"
echo
echo "results: whatif --csv $(same whatif.csv); --module backbone-decode --csv $(same decode.csv);" \
  "matmul-unit busy cycles of the 1024^3 run: $(mm_cycles "$work/base-mm.json") -> $(mm_cycles "$work/cur-mm.json")"
echo

hyperfine -N --warmup 1 --runs "$runs" --style none --export-json "$work/times.json" \
  -n "base whatif" "bash -c 'cd $base_src && exec taskset -c $core $base whatif --quiet'" \
  -n "cur whatif" "bash -c 'cd $top && exec taskset -c $core $cur whatif --quiet'" \
  -n "base decode" "bash -c 'cd $base_src && exec taskset -c $core $base whatif --module backbone-decode'" \
  -n "cur decode" "bash -c 'cd $top && exec taskset -c $core $cur whatif --module backbone-decode'" \
  -n "base matmul" "bash -c 'cd $base_src && exec taskset -c $core $base run $model $mm_args'" \
  -n "cur matmul" "bash -c 'cd $top && exec taskset -c $core $cur run $model $mm_args'" > /dev/null

for i in $(seq "$runs"); do
  for side in base cur; do
    if [ $side = base ]; then bin=$base; else bin=$cur; fi
    taskset -c "$core" "$bin" bench --json > "$work/$side-bench-$i.json"
  done
done

/usr/bin/python3 - "$work" "$runs" <<'EOF'
import json, sys
work, runs = sys.argv[1], int(sys.argv[2])
res = {r["command"]: r for r in json.load(open(f"{work}/times.json"))["results"]}
print(f"{'measure':44} {'baseline':>12} {'current':>12} {'ratio':>8}")
for name, what in (("whatif", "full default whatif"), ("decode", "whatif --module backbone-decode"),
                   ("matmul", "run --timing-only 1024^3 MatMul, 32x32")):
    b, c = res[f"base {name}"], res[f"cur {name}"]
    for key, label in (("mean", "wall s"), ("user", "user s")):
        # (a run shorter than the clock's tick measures 0 s of user time: no ratio then)
        ratio = f"{b[key] / c[key]:7.2f}x" if c[key] > 0 else "     n/a"
        print(f"{what + ' (' + label + ')':44} {b[key]:12.3f} {c[key]:12.3f} {ratio}")
def best(side):
    return max(json.load(open(f"{work}/{side}-bench-{i}.json"))["timing_only"]["insns_per_s"] for i in range(1, runs + 1))
b, c = best("base"), best("cur")
print(f"{'bench timing-only (M insns/s, best)':44} {b / 1e6:12.3f} {c / 1e6:12.3f} {c / b:7.2f}x")
EOF
