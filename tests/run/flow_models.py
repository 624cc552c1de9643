#!/usr/bin/python3
# flow_models.py OUTDIR -- test models with symbolic dimensions and control flow, their inputs,
# and their outputs computed independently in float64 with numpy (the reference m4npu run is held
# to). Run at test time by tests/run/test_flow_models.c with Debian's python3-onnx and
# python3-numpy (/usr/bin/python3). Nothing here is committed output: every file is written anew.
#
#   sym_dims.onnx   x [batch, 3, 8, width]: Conv 3x3 -> Relu -> ReduceMean over width -> a Reshape
#                   whose target is computed from Shape(x) -> MatMul; batch and width symbolic
#   if_nested.onnx  If on a scalar computed from the input (ReduceSum(x) > 0); the else branch
#                   holds another If (on ReduceMax(|x|) > 1.5); both read outer-scope names (the
#                   input, a weight of the main graph, a value of the enclosing branch)
#   if_const.onnx   If on Shape(x)[1] == 16 (constant once the width is bound) and If on a
#                   literal Constant: both are inlined when the graph is prepared
#   loop.onnx       an RNN as a Loop (M = Shape(x)[0], carried h, scan output of every h, weights
#                   and x read from outside) and a Loop whose condition ends it (v halves until
#                   max|v| < 0.05; its scan output's length depends on the data)
#   scan.onnx       Scan (opset 16) over axis 1 in reverse, scan output on axis 1
#   noshape.onnx    an input that declares a type but no shape (Relu)
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

OPSET = 16
SEED = 20240601


def save(model, path, check=True):
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def const(name, a):
    return nh.from_array(np.asarray(a), name)


def vi(name, shape, t=TP.FLOAT):
    return h.make_tensor_value_info(name, t, shape)


def conv2d_same3(x, w, b):
    """float64 NCHW convolution, 3x3 kernel, padding 1, stride 1."""
    n, c, hh, ww = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, w.shape[0], hh, ww))
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + hh, j:j + ww], w[:, :, i, j])
    return out + b[None, :, None, None]


def sym_dims(out, rng):
    w = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    b = (rng.standard_normal(4) * 0.1).astype(np.float32)
    wm = (rng.standard_normal((32, 10)) * 0.2).astype(np.float32)
    nodes = [
        h.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        h.make_node("Relu", ["c"], ["r"]),
        h.make_node("ReduceMean", ["r"], ["m"], axes=[3], keepdims=0),
        h.make_node("Shape", ["x"], ["xs"]),
        h.make_node("Gather", ["xs", "zero"], ["n"], axis=0),
        h.make_node("Concat", ["n", "c32"], ["target"], axis=0),
        h.make_node("Reshape", ["m", "target"], ["f"]),
        h.make_node("MatMul", ["f", "wm"], ["y"]),
    ]
    g = h.make_graph(nodes, "sym_dims", [vi("x", ["batch", 3, 8, "width"])], [vi("y", ["batch", 10])],
                     [const("w", w), const("b", b), const("wm", wm), const("zero", np.array([0], np.int64)),
                      const("c32", np.array([32], np.int64))])
    save(h.make_model(g, opset_imports=[h.make_opsetid("", OPSET)]), f"{out}/sym_dims.onnx")
    x = rng.standard_normal((2, 3, 8, 20)).astype(np.float32)
    np.save(f"{out}/sym_dims.x.npy", x)
    r = np.maximum(conv2d_same3(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)), 0)
    y = r.mean(axis=3).reshape(2, 32) @ wm.astype(np.float64)
    np.save(f"{out}/sym_dims.y.npy", y)


def if_nested(out, rng):
    w = (rng.standard_normal((16, 8)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((8, 8)) * 0.3).astype(np.float32)
    then_b = h.make_graph([h.make_node("MatMul", ["x", "w"], ["t0"]), h.make_node("Relu", ["t0"], ["then_y"])],
                          "then_b", [], [vi("then_y", None)])
    inner_then = h.make_graph([h.make_node("Sigmoid", ["e0"], ["it_y"])], "inner_then", [], [vi("it_y", None)])
    inner_else = h.make_graph([h.make_node("MatMul", ["e0", "w2"], ["ie0"]), h.make_node("Tanh", ["ie0"], ["ie_y"])],
                              "inner_else", [], [vi("ie_y", None)], [const("w2", w2)])
    else_b = h.make_graph(
        [h.make_node("MatMul", ["x", "w"], ["e0"]),
         h.make_node("Abs", ["x"], ["ax"]),
         h.make_node("ReduceMax", ["ax"], ["mx"], keepdims=0),
         h.make_node("Greater", ["mx", "limit"], ["big"]),
         h.make_node("Not", ["big"], ["small"]),
         h.make_node("If", ["small"], ["else_y"], then_branch=inner_then, else_branch=inner_else)],
        "else_b", [], [vi("else_y", None)], [const("limit", np.array(1.5, np.float32))])
    nodes = [h.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             h.make_node("Greater", ["s", "zero"], ["pos"]),
             h.make_node("If", ["pos"], ["y"], then_branch=then_b, else_branch=else_b)]
    g = h.make_graph(nodes, "if_nested", [vi("x", ["batch", 16])], [vi("y", ["batch", 8])],
                     [const("w", w), const("zero", np.array(0, np.float32))])
    save(h.make_model(g, opset_imports=[h.make_opsetid("", OPSET)]), f"{out}/if_nested.onnx")
    x = rng.standard_normal((3, 16)).astype(np.float32)
    cases = {"pos": np.abs(x), "negsmall": -np.abs(x) / (np.abs(x).max() + 0.1), "neglarge": -np.abs(x) * 2}
    for name, xv in cases.items():
        xv = xv.astype(np.float32)
        np.save(f"{out}/if_nested.{name}.x.npy", xv)
        x64, w64 = xv.astype(np.float64), w.astype(np.float64)
        if xv.sum() > 0:
            y = np.maximum(x64 @ w64, 0)
        elif not np.abs(xv).max() > 1.5:
            y = 1 / (1 + np.exp(-(x64 @ w64)))
        else:
            y = np.tanh((x64 @ w64) @ w2.astype(np.float64))
        np.save(f"{out}/if_nested.{name}.y.npy", y)


def if_const(out, rng):
    w = (rng.standard_normal((16, 8)) * 0.3).astype(np.float32)
    then_b = h.make_graph([h.make_node("MatMul", ["x", "w"], ["t0"]), h.make_node("Relu", ["t0"], ["then_y"])],
                          "then_b", [], [vi("then_y", None)])
    else_b = h.make_graph([h.make_node("Slice", ["x", "s0", "s16", "s1"], ["x16"]),
                           h.make_node("MatMul", ["x16", "w"], ["e0"]),
                           h.make_node("Mul", ["e0", "two"], ["else_y"])],
                          "else_b", [], [vi("else_y", None)],
                          [const("s0", np.array([0], np.int64)), const("s16", np.array([16], np.int64)),
                           const("s1", np.array([1], np.int64)), const("two", np.array(2, np.float32))])
    lit_then = h.make_graph([h.make_node("Sigmoid", ["y"], ["lt"])], "lit_then", [], [vi("lt", None)])
    lit_else = h.make_graph([h.make_node("Neg", ["y"], ["le"])], "lit_else", [], [vi("le", None)])
    nodes = [h.make_node("Shape", ["x"], ["xs"]),
             h.make_node("Gather", ["xs", "one"], ["width"], axis=0),
             h.make_node("Equal", ["width", "sixteen"], ["is16"]),
             h.make_node("If", ["is16"], ["y"], then_branch=then_b, else_branch=else_b),
             h.make_node("Constant", [], ["yes"], value=h.make_tensor("yes_v", TP.BOOL, [], [True])),
             h.make_node("If", ["yes"], ["z"], then_branch=lit_then, else_branch=lit_else)]
    g = h.make_graph(nodes, "if_const", [vi("x", ["batch", "width"])], [vi("z", ["batch", 8])],
                     [const("w", w), const("one", np.array(1, np.int64)), const("sixteen", np.array(16, np.int64))])
    save(h.make_model(g, opset_imports=[h.make_opsetid("", OPSET)]), f"{out}/if_const.onnx")
    for width in (16, 24):
        x = rng.standard_normal((2, width)).astype(np.float32)
        np.save(f"{out}/if_const.w{width}.x.npy", x)
        x64, w64 = x.astype(np.float64), w.astype(np.float64)
        y = np.maximum(x64 @ w64, 0) if width == 16 else (x64[:, :16] @ w64) * 2
        np.save(f"{out}/if_const.w{width}.z.npy", 1 / (1 + np.exp(-y)))


def loop(out, rng):
    wx = (rng.standard_normal((8, 8)) * 0.4).astype(np.float32)
    wh = (rng.standard_normal((8, 8)) * 0.4).astype(np.float32)
    rnn = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"]),
         h.make_node("Gather", ["x", "i"], ["xi"], axis=0),
         h.make_node("MatMul", ["xi", "wx"], ["a"]),
         h.make_node("MatMul", ["h_in", "wh"], ["b"]),
         h.make_node("Add", ["a", "b"], ["ab"]),
         h.make_node("Tanh", ["ab"], ["h_out"]),
         h.make_node("Identity", ["h_out"], ["h_scan"])],
        "rnn_body", [vi("i", [], TP.INT64), vi("cond_in", [], TP.BOOL), vi("h_in", None)],
        [vi("cond_out", [], TP.BOOL), vi("h_out", None), vi("h_scan", None)])
    halve = h.make_graph(
        [h.make_node("Mul", ["v_in", "half"], ["v_out"]),
         h.make_node("Abs", ["v_out"], ["av"]),
         h.make_node("ReduceMax", ["av"], ["mx"], keepdims=0),
         h.make_node("Greater", ["mx", "eps"], ["cond_out"]),
         h.make_node("Identity", ["v_out"], ["v_scan"])],
        "halve_body", [vi("j", [], TP.INT64), vi("c_in", [], TP.BOOL), vi("v_in", None)],
        [vi("cond_out", [], TP.BOOL), vi("v_out", None), vi("v_scan", None)],
        [const("half", np.array(0.5, np.float32)), const("eps", np.array(0.05, np.float32))])
    nodes = [h.make_node("Shape", ["x"], ["xs"]),
             h.make_node("Gather", ["xs", "zero"], ["steps"], axis=0),
             h.make_node("Loop", ["steps", "", "h0"], ["h_final", "hs"], body=rnn),
             h.make_node("Loop", ["hundred", "yes", "v"], ["v_final", "vs"], body=halve)]
    g = h.make_graph(nodes, "loop",
                     [vi("x", ["steps", "batch", 8]), vi("h0", ["batch", 8]), vi("v", ["batch", 4])],
                     [vi("h_final", ["batch", 8]), vi("hs", ["steps", "batch", 8]), vi("v_final", ["batch", 4]),
                      vi("vs", [None, "batch", 4])],
                     [const("wx", wx), const("wh", wh), const("zero", np.array(0, np.int64)),
                      const("hundred", np.array(100, np.int64)), const("yes", np.array(True))])
    save(h.make_model(g, opset_imports=[h.make_opsetid("", OPSET)]), f"{out}/loop.onnx")
    x = rng.standard_normal((5, 2, 8)).astype(np.float32)
    h0 = (rng.standard_normal((2, 8)) * 0.5).astype(np.float32)
    v = (rng.standard_normal((2, 4)) * 3).astype(np.float32)
    for name, a in (("x", x), ("h0", h0), ("v", v)):
        np.save(f"{out}/loop.{name}.npy", a)
    hh, hs = h0.astype(np.float64), []
    for t in range(5):
        hh = np.tanh(x[t].astype(np.float64) @ wx.astype(np.float64) + hh @ wh.astype(np.float64))
        hs.append(hh)
    vv, vs = v.astype(np.float64), []
    while True:
        vv = vv * 0.5
        vs.append(vv)
        if not np.abs(vv).max() > 0.05:
            break
    for name, a in (("h_final", hh), ("hs", np.stack(hs)), ("v_final", vv), ("vs", np.stack(vs))):
        np.save(f"{out}/loop.{name}.ref.npy", a)


def scan(out, rng):
    body = h.make_graph(
        [h.make_node("Mul", ["s_in", "decay"], ["sd"]),
         h.make_node("Add", ["sd", "xt"], ["s_out"]),
         h.make_node("Tanh", ["s_out"], ["y_t"])],
        "scan_body", [vi("s_in", None), vi("xt", None)], [vi("s_out", None), vi("y_t", None)])
    nodes = [h.make_node("Scan", ["s0", "x"], ["s_final", "ys"], body=body, num_scan_inputs=1,
                         scan_input_axes=[1], scan_input_directions=[1], scan_output_axes=[1])]
    g = h.make_graph(nodes, "scan", [vi("s0", ["batch", 4]), vi("x", ["batch", "steps", 4])],
                     [vi("s_final", ["batch", 4]), vi("ys", ["batch", "steps", 4])],
                     [const("decay", np.array(0.9, np.float32))])
    save(h.make_model(g, opset_imports=[h.make_opsetid("", OPSET)]), f"{out}/scan.onnx")
    s0 = rng.standard_normal((2, 4)).astype(np.float32)
    x = rng.standard_normal((2, 6, 4)).astype(np.float32)
    np.save(f"{out}/scan.s0.npy", s0)
    np.save(f"{out}/scan.x.npy", x)
    s, ys = s0.astype(np.float64), np.zeros((2, 6, 4))
    for k in range(6):  # reversed input: step k reads x[:, 5 - k]; outputs in step order
        s = s * 0.9 + x[:, 5 - k].astype(np.float64)
        ys[:, k] = np.tanh(s)
    np.save(f"{out}/scan.s_final.ref.npy", s)
    np.save(f"{out}/scan.ys.ref.npy", ys)


def noshape(out, rng):
    g = h.make_graph([h.make_node("Relu", ["x"], ["y"])], "noshape", [vi("x", None)], [vi("y", None)])
    save(h.make_model(g, opset_imports=[h.make_opsetid("", OPSET)]), f"{out}/noshape.onnx", check=False)  # the checker wants the shape
    x = rng.standard_normal((2, 5)).astype(np.float32)
    np.save(f"{out}/noshape.x.npy", x)
    np.save(f"{out}/noshape.y.npy", np.maximum(x.astype(np.float64), 0))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: flow_models.py OUTDIR")
    rng = np.random.default_rng(SEED)
    for make in (sym_dims, if_nested, if_const, loop, scan, noshape):
        make(sys.argv[1], rng)


main()
