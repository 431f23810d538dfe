# ruff: noqa  (a throwaway builder, run with a venv that has `onnx`, not the app's)
"""Build an ONNX graph of a Draw-page model file (MNW1, core/nn/browser_model.py).

For bench/bench_draw_onnx.py only: input [1, 784] pixels 0-255, the layers of the shipped
CNN (scale, reshape, conv2d, activation, maxpool, dense); any other layer stops it. Usage:
    python3 -m venv /tmp/onnxvenv && /tmp/onnxvenv/bin/pip install onnx numpy
    /tmp/onnxvenv/bin/python bench/draw_onnx_graph.py /tmp/shipped.mnw /tmp/shipped.onnx
(the .mnw file: core.nn.browser_model.export_browser_model(model).blob)
"""

import json, struct, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

blob = open(sys.argv[1], "rb").read()
n = struct.unpack("<I", blob[4:8])[0]
header = json.loads(blob[8 : 8 + n])
data = np.frombuffer(blob[8 + n :], dtype="<f4")
nodes, inits = [], []


def w(name, arr):
    inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
    return name


def i64(name, arr):
    inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.int64), name))
    return name


cur, k, layout = "input", 0, "flat"


def new():
    global k
    k += 1
    return f"t{k}"


for L in header["layers"]:
    kind = L["kind"]
    if kind == "scale":
        o = new()
        nodes.append(helper.make_node("Mul", [cur, w(o + "s", L["scale"])], [o]))
        cur = o
        if L["offset"]:
            o = new()
            nodes.append(helper.make_node("Add", [cur, w(o + "b", L["offset"])], [o]))
            cur = o
    elif kind == "reshape":
        shape = L["shape"]
        if len(shape) == 3 and shape[:2] != [1, 1]:  # to an image: NCHW for ONNX
            o = new()
            nodes.append(
                helper.make_node(
                    "Reshape",
                    [
                        cur,
                        i64(
                            o + "sh",
                            [1, shape[2], shape[0], shape[1]] if shape[2] == 1 else [1] + shape,
                        ),
                    ],
                    [o],
                )
            )
            cur = o
            layout = "nchw"
        else:  # flatten in Keras's channels-last order
            if layout == "nchw":
                o = new()
                nodes.append(helper.make_node("Transpose", [cur], [o], perm=[0, 2, 3, 1]))
                cur = o
            o = new()
            nodes.append(helper.make_node("Reshape", [cur, i64(o + "sh", [1, -1])], [o]))
            cur = o
            layout = "flat"
    elif kind == "conv2d":
        kh, kw = L["window"]
        cin, cout = L["channels"], L["filters"]
        kern = (
            data[L["kernel"]["offset"] :][: L["kernel"]["size"]]
            .reshape(kh, kw, cin, cout)
            .transpose(3, 2, 0, 1)
        )
        ins = [cur, w(f"k{k}", kern)]
        if L.get("bias"):
            ins.append(w(f"b{k}", data[L["bias"]["offset"] :][: L["bias"]["size"]]))
        o = new()
        nodes.append(
            helper.make_node(
                "Conv",
                ins,
                [o],
                kernel_shape=[kh, kw],
                strides=L["strides"],
                auto_pad="SAME_UPPER" if L["padding"] == "same" else "VALID",
            )
        )
        cur = o
        if L["activation"] != "linear":
            o = new()
            nodes.append(
                helper.make_node(
                    {"relu": "Relu", "softmax": "Softmax"}[L["activation"]], [cur], [o]
                )
            )
            cur = o
    elif kind == "activation":
        o = new()
        nodes.append(
            helper.make_node(
                {"relu": "Relu", "softmax": "Softmax", "tanh": "Tanh", "sigmoid": "Sigmoid"}[
                    L["activation"]
                ],
                [cur],
                [o],
            )
        )
        cur = o
    elif kind == "maxpool":
        o = new()
        nodes.append(
            helper.make_node(
                "MaxPool",
                [cur],
                [o],
                kernel_shape=L["window"],
                strides=L["strides"],
                auto_pad="SAME_UPPER" if L["padding"] == "same" else "VALID",
            )
        )
        cur = o
    elif kind == "dense":
        kern = data[L["kernel"]["offset"] :][: L["kernel"]["size"]].reshape(L["inputs"], L["units"])
        ins = [cur, w(f"k{k}", kern)]
        o = new()
        nodes.append(helper.make_node("MatMul", ins, [o]))
        cur = o
        if L.get("bias"):
            o = new()
            nodes.append(
                helper.make_node(
                    "Add", [cur, w(f"b{k}", data[L["bias"]["offset"] :][: L["bias"]["size"]])], [o]
                )
            )
            cur = o
        if L["activation"] != "linear":
            o = new()
            nodes.append(
                helper.make_node(
                    {"relu": "Relu", "softmax": "Softmax"}[L["activation"]],
                    [cur],
                    [o],
                    **({"axis": -1} if L["activation"] == "softmax" else {}),
                )
            )
            cur = o
    else:
        raise SystemExit(f"layer {kind} not handled")
nodes.append(helper.make_node("Identity", [cur], ["probabilities"]))
graph = helper.make_graph(
    nodes,
    "shipped_cnn",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 784])],
    [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 10])],
    inits,
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[2])
print("saved", sys.argv[2])
