#!/usr/bin/env bash
# Benchmark (not a test): the FP32 CPU reference of an fp16 U-Net (~193 GMAC, 1024x1024,
# scripts/make-unet-onnx.py) against onnxruntime-node on the same model and input, both
# single-threaded, in one run. Prints each side's best wall time and best CPU time of
# BENCH_REPEAT runs, their GFLOP/s, the ratios (target: the reference within 2x of
# onnxruntime), the largest difference between the two outputs, and the machine with its load.
#
# Environment: BUILD_DIR (default build), BENCH_DIR (default $BUILD_DIR/bench: the model, the
# input, the outputs and onnxruntime-node, installed there with npm if missing), BENCH_REPEAT
# (default 3), UNET_SIZE (default 1024), ORT_VERSION (default 1.31.1).
# OPENBLAS_NUM_THREADS=1 is set for both sides; every other OPENBLAS_* variable the machine
# sets (e.g. OPENBLAS_CORETYPE) is left as it is.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$top/build}
bench_dir=${BENCH_DIR:-$build_dir/bench}
repeat=${BENCH_REPEAT:-3}
size=${UNET_SIZE:-1024}
ort_version=${ORT_VERSION:-1.31.1}
python=/usr/bin/python3 # Debian's python3-onnx and python3-numpy
m4npu=$build_dir/bin/m4npu
export OPENBLAS_NUM_THREADS=1

[ -x "$m4npu" ] || { echo "bench-reference: $m4npu not built (run scripts/setup.sh)" >&2; exit 3; }
for tool in node npm; do
  command -v $tool > /dev/null || { echo "bench-reference: $tool not found (apt-get install nodejs npm)" >&2; exit 3; }
done
mkdir -p "$bench_dir/ort"
if [ ! -f "$bench_dir/ort/node_modules/onnxruntime-node/package.json" ]; then
  echo "bench-reference: installing onnxruntime-node@$ort_version into $bench_dir/ort"
  # skip the post-install download of GPU binaries (the CPU build ships in the npm package)
  (cd "$bench_dir/ort" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent \
     "onnxruntime-node@$ort_version" > /dev/null)
fi
model=$bench_dir/unet-$size.onnx
[ -f "$model" ] || "$python" "$top/scripts/make-unet-onnx.py" "$model" --size "$size"
"$python" - "$bench_dir" "$size" <<'PY'
import sys
import numpy as np
d, size = sys.argv[1], int(sys.argv[2])
x = (np.random.default_rng(1).random((1, 3, size, size)) * 2 - 1).astype(np.float16)
np.save(f"{d}/input.npy", x)
x.tofile(f"{d}/input.bin")
PY

# each side's best wall time and best CPU time over the runs (on a shared machine the CPU time
# moves less than the wall time)
results=$bench_dir/times.txt
: > "$results"
for i in $(seq "$repeat"); do
  ort_line=$(NODE_PATH="$bench_dir/ort/node_modules" node "$top/scripts/bench-ort.js" "$model" "$bench_dir/input.bin" \
               "$bench_dir/ort-output.bin")
  json=$("$m4npu" run "$model" --reference-only --input "image=$bench_dir/input.npy" --output-dir "$bench_dir" --json)
  echo "$ort_line" | sed -n 's/.*: \([0-9.]*\) s, CPU \([0-9.]*\) s$/ort \1 \2/p' >> "$results"
  echo "$json" | "$python" -c 'import json,sys; j=json.load(sys.stdin); print("ref", j["host_wall_s"], j["host_cpu_s"], j["flops"])' \
    >> "$results"
  echo "run $i: $(tail -2 "$results" | tr '\n' ' ')"
done

"$python" - "$bench_dir" "$results" <<'PY'
import sys
import numpy as np
d, results = sys.argv[1], sys.argv[2]
runs = {"ort": [], "ref": []}
flops = 0.0
for line in open(results):
    f = line.split()
    runs[f[0]].append((float(f[1]), float(f[2])))
    if f[0] == "ref":
        flops = float(f[3])
if not runs["ort"] or not runs["ref"]:
    sys.exit("bench-reference: a side printed no time")
ref = np.load(f"{d}/mask.npy").astype(np.float32)
ort = np.fromfile(f"{d}/ort-output.bin", dtype=np.float16).astype(np.float32).reshape(ref.shape)
print(f"model: {flops / 2e9:.1f} GMAC ({flops / 1e9:.1f} GFLOP), fp16 U-Net, input {list(ref.shape[2:])}")
for what, k in (("wall", 0), ("CPU", 1)):
    t_ort = min(r[k] for r in runs["ort"])
    t_ref = min(r[k] for r in runs["ref"])
    ratio = t_ref / t_ort
    print(f"{what} time, best of {len(runs['ref'])}: onnxruntime-node {t_ort:.3f} s ({flops / t_ort / 1e9:.1f} GFLOP/s), "
          f"m4npu reference {t_ref:.3f} s ({flops / t_ref / 1e9:.1f} GFLOP/s): "
          f"{ratio:.2f}x (target <= 2x: {'met' if ratio <= 2 else 'NOT met'})")
print(f"outputs: max |m4npu - onnxruntime| = {np.abs(ref - ort).max():.3g}, mean {np.abs(ref - ort).mean():.3g}")
PY
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
echo "machine: $cpu, $(nproc) cores; OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
