#!/usr/bin/python3
"""Write a U-Net-style fp16 segmentation network as ONNX, for scripts/bench-reference.sh.

Four 2x downsamplings (MaxPool) and four 2x upsamplings (ConvTranspose) with skip connections
(Concat), two 3x3 Conv + Relu per level, a 1x1 Conv head and a Sigmoid; weights in fp16 drawn
from a fixed seed (He-scaled so activations stay in fp16's range), so every run builds the same
file. At the default 1024x1024 input and base width 32 it is about 193 GMAC.

Needs Debian's python3-onnx and python3-numpy (run with /usr/bin/python3).
usage: make-unet-onnx.py OUT.onnx [--size N] [--base C] [--levels L]
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20261206
IN_CHANNELS = 3
CLASSES = 2


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits, self.n = [], [], 0
        self.macs = 0

    def name(self, stem):
        self.n += 1
        return f"{stem}{self.n}"

    def weight(self, shape, fan_in):
        w = self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        t = numpy_helper.from_array(w.astype(np.float16), self.name("w"))
        self.inits.append(t)
        return t.name

    def bias(self, c):
        b = self.rng.standard_normal(c) * 0.01
        t = numpy_helper.from_array(b.astype(np.float16), self.name("b"))
        self.inits.append(t)
        return t.name

    def conv(self, x, cin, cout, k, size):
        y = self.name("conv")
        self.nodes.append(helper.make_node(
            "Conv", [x, self.weight((cout, cin, k, k), cin * k * k), self.bias(cout)], [y],
            kernel_shape=[k, k], pads=[k // 2] * 4))
        self.macs += size * size * cout * cin * k * k
        return y

    def relu(self, x):
        y = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [x], [y]))
        return y

    def block(self, x, cin, cout, size):
        x = self.relu(self.conv(x, cin, cout, 3, size))
        return self.relu(self.conv(x, cout, cout, 3, size))

    def pool(self, x):
        y = self.name("pool")
        self.nodes.append(helper.make_node("MaxPool", [x], [y], kernel_shape=[2, 2], strides=[2, 2]))
        return y

    def up(self, x, cin, cout, in_size):
        y = self.name("up")
        self.nodes.append(helper.make_node(
            "ConvTranspose", [x, self.weight((cin, cout, 2, 2), cin), self.bias(cout)], [y],
            kernel_shape=[2, 2], strides=[2, 2]))
        self.macs += in_size * in_size * cin * cout * 4
        return y

    def concat(self, a, b):
        y = self.name("cat")
        self.nodes.append(helper.make_node("Concat", [a, b], [y], axis=1))
        return y


def build(size, base, levels):
    b = Builder(np.random.default_rng(SEED))
    x, c, s, skips = "image", IN_CHANNELS, size, []
    for level in range(levels):
        x = b.block(x, c, base << level, s)
        c = base << level
        skips.append((x, c))
        x, s = b.pool(x), s // 2
    x = b.block(x, c, base << levels, s)
    c = base << levels
    for skip, sc in reversed(skips):
        x = b.up(x, c, sc, s)
        s *= 2
        x = b.block(b.concat(x, skip), 2 * sc, sc, s)
        c = sc
    head = b.conv(x, c, CLASSES, 1, s)
    out = "mask"
    b.nodes.append(helper.make_node("Sigmoid", [head], [out]))
    graph = helper.make_graph(
        b.nodes, "unet_fp16",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT16, [1, IN_CHANNELS, size, size])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT16, [1, CLASSES, size, size])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="m4npu scripts/make-unet-onnx.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, b.macs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--base", type=int, default=32)
    ap.add_argument("--levels", type=int, default=4)
    a = ap.parse_args()
    if a.size % (1 << a.levels):
        sys.exit(f"make-unet-onnx.py: --size {a.size} must be a multiple of {1 << a.levels}")
    model, macs = build(a.size, a.base, a.levels)
    onnx.save(model, a.out)
    print(f"{a.out}: U-Net fp16, {a.size}x{a.size}, base {a.base}, {a.levels} levels, {macs / 1e9:.1f} GMAC")


if __name__ == "__main__":
    main()
