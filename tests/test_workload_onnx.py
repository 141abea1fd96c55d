"""ONNX graphs built with onnx.helper → GEMM lists: MatMul, Gemm with transB, Conv as im2col,
batched MatMul, symbolic dimensions, ops without a GEMM counted, unsupported ops named."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lowbit.errors import UsageError
from lowbit.models.workload import Gemm, from_onnx


def _model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _weight(name, shape):
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def _value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_matmul_gemm_transb_and_no_gemm_ops():
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2", transB=1),
             helper.make_node("Softmax", ["y"], ["p"], name="sm")]
    model = _model(nodes, [_value("x", [8, 16])], [_value("p", [8, 10])],
                   [_weight("w1", [16, 32]), _weight("w2", [10, 32]), _weight("b2", [10])])
    w = from_onnx(model, name="mlp")
    assert w.gemms == (Gemm("fc1", 8, 32, 16, 1, "weight", "matmul"),
                       Gemm("fc2", 8, 10, 32, 1, "weight", "gemm"))
    assert dict(w.unmapped) == {"Relu": 1, "Softmax": 1}
    assert w.macs == 8 * 32 * 16 + 8 * 10 * 32


def test_gemm_trans_a_and_activation_operand():
    nodes = [helper.make_node("Gemm", ["a", "b"], ["y"], name="g", transA=1)]
    model = _model(nodes, [_value("a", [12, 5]), _value("b", [12, 7])], [_value("y", [5, 7])])
    assert from_onnx(model).gemms == (Gemm("g", 5, 7, 12, 1, "activation", "gemm"),)


def test_conv_as_im2col_with_groups_and_padding():
    # N=2, C=8, 10×10 input, 16 filters of 3×3 in 2 groups, stride 2, pad 1 → 5×5 output
    nodes = [helper.make_node("Conv", ["x", "k"], ["y"], name="conv", group=2,
                              strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["y"], ["z"])]
    model = _model(nodes, [_value("x", [2, 8, 10, 10])], [_value("z", None)],
                   [_weight("k", [16, 4, 3, 3])])
    (g,) = from_onnx(model).gemms
    # per group: M = N·Ho·Wo = 2·5·5, K = C/group·kh·kw = 4·9, N = 16/2
    assert (g.m, g.n, g.k, g.count, g.w_role, g.op) == (50, 8, 36, 2, "weight", "conv")


def test_batched_matmul_and_symbolic_dims():
    # attention-like: (B, H, S, d) @ (B, H, d, S) with symbolic batch and sequence
    nodes = [helper.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
             helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")]
    inputs = [_value("q", ["batch", 4, "seq", 8]), _value("kt", ["batch", 4, 8, "seq"]),
              _value("x", ["batch", "seq", 32])]
    model = _model(nodes, inputs, [_value("s", None), _value("y", None)], [_weight("w", [32, 16])])
    w = from_onnx(model, dims={"batch": 2, "seq": 10})
    assert w.gemms == (Gemm("scores", 10, 10, 8, 8, "activation", "matmul"),
                       Gemm("proj", 20, 16, 32, 1, "weight", "matmul"))
    with pytest.raises(UsageError, match=r"--dim NAME=VALUE .*--dim batch=1"):
        from_onnx(model)
    with pytest.raises(UsageError, match="no symbolic dimension of that name"):
        from_onnx(model, dims={"tokens": 3})


def test_unsupported_ops_are_listed_by_name(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
             helper.make_node("Einsum", ["h", "h"], ["e"], name="mix", equation="ij,ij->ij"),
             helper.make_node("TopK", ["e", "kk"], ["v", "i"], name="top"),
             helper.make_node("LpPool", ["e"], ["p"], name="pool1", kernel_shape=[1])]
    model = _model(nodes, [_value("x", [4, 4]), helper.make_tensor_value_info(
        "kk", TensorProto.INT64, [1])], [_value("v", None)], [_weight("w", [4, 4])])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UsageError) as e:
        from_onnx(path)
    text = str(e.value)
    assert "Einsum ('mix')" in text and "LpPool ('pool1')" in text and "TopK" not in text


def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\xffnot a protobuf at all" * 3)
    with pytest.raises(UsageError, match="not an ONNX model|cannot read"):
        from_onnx(bad)
