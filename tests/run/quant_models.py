#!/usr/bin/python3
# quant_models.py OUTDIR -- test models and data for the NPU path's quantisation (calibration
# methods, activation formats, per-group weights), built at test time by
# tests/run/test_quant_models.c with Debian's python3-onnx and python3-numpy (/usr/bin/python3).
# Nothing here is committed output: every file is written anew.
#
#   outlier_mlp.onnx  x [64, 32] -> Gemm 32x64 -> Tanh -> Gemm 64x10 -> y. Its calibration set
#                     (calib_outlier/SAMPLE/x.npy, 16 samples) is Gaussian with rare outliers
#                     (one element in 10,000 is +-U(30, 60)): they set the max of x and of the
#                     Gemm's output, while Tanh saturates whatever lies beyond a few units. The
#                     evaluation input (x_eval.npy) is Gaussian: what the model sees in use.
#   small_cnn.onnx    x [1, 3, 16, 16] -> Conv 3x3 (8) -> Relu -> Conv 3x3 stride 2 (16) -> Relu ->
#                     Conv 1x1 (16) -> Add (residual) -> Relu -> ReduceMean over W -> Reshape ->
#                     Gemm 128x10 -> Softmax: class scores
#   rnn_unrolled.onnx x [8, 4, 16] (time, batch, features): h_t = tanh(x_t W + h_{t-1} U + b) for
#                     8 steps, unrolled; outputs the sequence of h (Concat) and logits = h_8 V
#   gemm_k256.onnx    x [16, 256] -> MatMul 256x64 -> y: a K long enough for per-group weight
#                     scales (groups of 32, 64, 128)
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

OPSET = 17
SEED = 20240813
CALIB_SAMPLES = 16
OUTLIER_RATE = 1e-4


def save(model, path):
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def const(name, a):
    return nh.from_array(np.asarray(a, dtype=np.float32), name)


def vi(name, shape):
    return h.make_tensor_value_info(name, TP.FLOAT, shape)


def model(nodes, name, inputs, outputs, inits):
    g = h.make_graph(nodes, name, inputs, outputs, inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", OPSET)])


def outlier_mlp(out, rng):
    w1 = rng.standard_normal((32, 64)) / np.sqrt(32) * 1.5
    b1 = rng.standard_normal(64) * 0.1
    w2 = rng.standard_normal((64, 10)) / np.sqrt(64)
    b2 = rng.standard_normal(10) * 0.1
    nodes = [
        h.make_node("Gemm", ["x", "w1", "b1"], ["hid"], name="fc1"),
        h.make_node("Tanh", ["hid"], ["act"], name="tanh"),
        h.make_node("Gemm", ["act", "w2", "b2"], ["y"], name="fc2"),
    ]
    save(model(nodes, "outlier_mlp", [vi("x", [64, 32])], [vi("y", [64, 10])],
               [const("w1", w1), const("b1", b1), const("w2", w2), const("b2", b2)]),
         os.path.join(out, "outlier_mlp.onnx"))
    cal = os.path.join(out, "calib_outlier")
    for s in range(CALIB_SAMPLES):
        x = rng.standard_normal((64, 32))
        spikes = rng.random(x.shape) < OUTLIER_RATE
        if s == 0:
            spikes[3, 5] = True  # at least one sample has an outlier
        x[spikes] = rng.choice([-1.0, 1.0], spikes.sum()) * rng.uniform(30, 60, spikes.sum())
        d = os.path.join(cal, "s%02d" % s)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "x.npy"), x.astype(np.float32))
    np.save(os.path.join(out, "x_eval.npy"), rng.standard_normal((64, 32)).astype(np.float32))


def small_cnn(out, rng):
    w1 = rng.standard_normal((8, 3, 3, 3)) * 0.3
    b1 = rng.standard_normal(8) * 0.1
    w2 = rng.standard_normal((16, 8, 3, 3)) * 0.15
    b2 = rng.standard_normal(16) * 0.1
    w3 = rng.standard_normal((16, 16, 1, 1)) * 0.25
    b3 = rng.standard_normal(16) * 0.1
    wf = rng.standard_normal((128, 10)) * 0.2
    bf = rng.standard_normal(10) * 0.1
    nodes = [
        h.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        h.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
        h.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        h.make_node("Conv", ["r2", "w3", "b3"], ["c3"], name="conv3"),
        h.make_node("Add", ["c3", "r2"], ["res"], name="residual"),
        h.make_node("Relu", ["res"], ["r3"], name="relu3"),
        h.make_node("ReduceMean", ["r3"], ["pool"], name="pool", axes=[3], keepdims=0),
        h.make_node("Reshape", ["pool", "shape"], ["flat"], name="flatten"),
        h.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], name="fc"),
        h.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    inits = [const("w1", w1), const("b1", b1), const("w2", w2), const("b2", b2), const("w3", w3), const("b3", b3),
             const("wf", wf), const("bf", bf), nh.from_array(np.array([1, 128], dtype=np.int64), "shape")]
    save(model(nodes, "small_cnn", [vi("x", [1, 3, 16, 16])], [vi("probs", [1, 10])], inits),
         os.path.join(out, "small_cnn.onnx"))


def rnn_unrolled(out, rng, steps=8, batch=4, feat=16, hidden=24):
    w = rng.standard_normal((feat, hidden)) / np.sqrt(feat)
    u = rng.standard_normal((hidden, hidden)) / np.sqrt(hidden) * 0.8
    b = rng.standard_normal(hidden) * 0.1
    v = rng.standard_normal((hidden, 5)) / np.sqrt(hidden)
    nodes, hs = [], []
    nodes.append(h.make_node("Split", ["x", "split"], ["x%d" % t for t in range(steps)], name="split", axis=0))
    prev = None
    for t in range(steps):
        nodes.append(h.make_node("Reshape", ["x%d" % t, "step_shape"], ["xs%d" % t], name="squeeze%d" % t))
        nodes.append(h.make_node("MatMul", ["xs%d" % t, "w"], ["xw%d" % t], name="xw%d" % t))
        if prev is None:
            nodes.append(h.make_node("Add", ["xw%d" % t, "b"], ["pre%d" % t], name="bias%d" % t))
        else:
            nodes.append(h.make_node("MatMul", [prev, "u"], ["hu%d" % t], name="hu%d" % t))
            nodes.append(h.make_node("Add", ["xw%d" % t, "hu%d" % t], ["sum%d" % t], name="sum%d" % t))
            nodes.append(h.make_node("Add", ["sum%d" % t, "b"], ["pre%d" % t], name="bias%d" % t))
        nodes.append(h.make_node("Tanh", ["pre%d" % t], ["h%d" % t], name="tanh%d" % t))
        prev = "h%d" % t
        hs.append(prev)
    nodes.append(h.make_node("Concat", hs, ["seq"], name="concat", axis=0))
    nodes.append(h.make_node("MatMul", [prev, "v"], ["logits"], name="head"))
    inits = [const("w", w), const("u", u), const("b", b), const("v", v),
             nh.from_array(np.array([1] * steps, dtype=np.int64), "split"),
             nh.from_array(np.array([batch, feat], dtype=np.int64), "step_shape")]
    save(model(nodes, "rnn_unrolled", [vi("x", [steps, batch, feat])],
               [vi("seq", [steps * batch, hidden]), vi("logits", [batch, 5])], inits),
         os.path.join(out, "rnn_unrolled.onnx"))


def gemm_k256(out, rng):
    w = rng.standard_normal((256, 64)) / 16.0
    w[:, 3] *= 8.0  # channels of very different scales
    w[17, :] *= 6.0  # and a K row of large weights: per-group scales help here
    nodes = [h.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    save(model(nodes, "gemm_k256", [vi("x", [16, 256])], [vi("y", [16, 64])], [const("w", w)]),
         os.path.join(out, "gemm_k256.onnx"))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    outlier_mlp(out, rng)
    small_cnn(out, rng)
    rnn_unrolled(out, rng)
    gemm_k256(out, rng)


if __name__ == "__main__":
    main()
