#!/usr/bin/env bash
# Regenerate the golden traces in traces/golden/ after an intended change of behaviour (timing,
# firmware, driver traffic), and show what changed: for each golden, `m4npu trace diff` of the
# old and the new trace (the first record that differs, then cycles per job side by side).
# With DUMPS=DIR, the full dumps of both (DIR/NAME.old.txt, DIR/NAME.new.txt) are kept for
# `diff -u`. Run from anywhere; uses $BUILD_DIR (default build/) and needs it built.
# Commit the new traces/golden/*.trc with a message that says why the behaviour changed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
m4npu=$build/bin/m4npu
golden=traces/golden
config=configs/mobile-default.yaml   # the preset the goldens run on (npu.dma.setup_cycles: 32)
cd "$top"
[ -x "$m4npu" ] || { echo "update-golden: $m4npu is not built (scripts/setup.sh)" >&2; exit 3; }
[ -f "$build/models/encoder_block.onnx" ] || { echo "update-golden: $build/models/encoder_block.onnx is missing (build first)" >&2; exit 3; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# NAME and the command it records (paths relative to the repository root: they go in the header)
record() {
  local name=$1; shift
  "$m4npu" "$@" --trace "$work/$name.trc" --trace-level insn > "$work/$name.out" 2>&1 ||
    { echo "update-golden: $name: m4npu $* failed:" >&2; cat "$work/$name.out" >&2; exit 1; }
}
for prog in examples/*.s; do
  record "$(basename "$prog" .s)" exec "$prog" --config "$config"
done
# the encoder block through the run pipeline (the model is generated at build time). Both it and
# the module place greedily: the cost-aware partitioner (the default) runs timing-only candidate
# jobs on the device while it decides, and the goldens record the inference's own traffic.
ln -sf "$build/models/encoder_block.onnx" "$work/encoder_block.onnx"
ln -sf "$top/configs" "$work/configs"
(cd "$work" && "$m4npu" run encoder_block.onnx --config "$config" --partition greedy --trace encoder_block.trc --trace-level insn \
   > encoder_block.out 2>&1) || { echo "update-golden: encoder_block: run failed" >&2; cat "$work/encoder_block.out" >&2; exit 1; }
# one whatif module, timing-only
record IMG_enc whatif --module IMG_enc --config "$config" --partition greedy

mkdir -p "$golden"
changed=0
for new in "$work"/*.trc; do
  name=$(basename "$new" .trc)
  old=$golden/$name.trc
  if [ -n "${DUMPS:-}" ]; then
    mkdir -p "$DUMPS"
    [ -f "$old" ] && "$m4npu" trace dump "$old" > "$DUMPS/$name.old.txt"
    "$m4npu" trace dump "$new" > "$DUMPS/$name.new.txt"
  fi
  if [ -f "$old" ] && "$m4npu" trace diff "$old" "$new" > "$work/$name.diff"; then
    echo "== $name: unchanged"
    continue
  fi
  changed=$((changed + 1))
  echo "== $name: $( [ -f "$old" ] && echo changed || echo new ) ($(stat -c %s "$new") bytes)"
  [ -f "$old" ] && cat "$work/$name.diff"
  cp "$new" "$old"
done
echo "update-golden: $changed of $(ls "$work"/*.trc | wc -l) goldens rewritten in $golden/"
