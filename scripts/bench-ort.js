// bench-ort.js -- run an ONNX model once on onnxruntime-node (CPU, single-threaded) and print
// the wall time and the process's CPU time of session.run, for scripts/bench-reference.sh. The one input is read as raw
// little-endian fp16 or fp32 (by the model's input type) from INPUT.bin; the first output is
// written raw to OUTPUT.bin in its own type.
// usage: NODE_PATH=DIR/node_modules node bench-ort.js MODEL.onnx INPUT.bin OUTPUT.bin
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, inPath, outPath] = process.argv.slice(2);
  if (!outPath) {
    console.error('usage: node bench-ort.js MODEL.onnx INPUT.bin OUTPUT.bin');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    executionProviders: ['cpu'],
  });
  const name = session.inputNames[0];
  const meta = session.inputMetadata ? session.inputMetadata[0] : null;
  const raw = fs.readFileSync(inPath);
  const fp16 = !meta || meta.type === 'float16';
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  const data = fp16 ? new Uint16Array(buf) : new Float32Array(buf);
  const dims = meta && meta.shape ? meta.shape : null;
  const input = new ort.Tensor(fp16 ? 'float16' : 'float32', data, dims);
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const result = await session.run({ [name]: input });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const out = result[session.outputNames[0]];
  fs.writeFileSync(outPath, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  console.log(`onnxruntime-node ${ort.env.versions.common}: ${seconds.toFixed(3)} s, CPU ${cpuSeconds.toFixed(3)} s`);
}

main().catch((err) => {
  console.error(`bench-ort.js: ${err.message || err}`);
  process.exit(1);
});
