"""The BERT forward pass on a tiny random BERT the test writes (safetensors + tokenizer.json):
with float "quantization" it matches an independent float reference; with int8 on a systolic
core every layer's accumulators are the core's golden model bit for bit; requantization is the
engine's; the accuracy figures come out as stated."""

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits
from tiny_bert import write_tiny_bert

from lowbit.errors import UsageError
from lowbit.models.bert import Bert, mean_pool
from lowbit.models.formats import IntFormat
from lowbit.models.mac import mac_golden
from lowbit.models.precision import Precision
from lowbit.models.requant import Dyadic, requantize
from lowbit.models.systolic import systolic_golden
from lowbit.registry import config_from_dict
from lowbit.workload import (
    accuracy,
    check_precision,
    core_linear,
    layer_operands,
    reference,
    rules_for,
)

SENTENCES = ("The cat sat on the warm mat.", "Fresh bread is baked every morning.",
             "Quantization maps real numbers to integers.")
INT8 = {"kind": "systolic", "rows": 4, "cols": 4, "a": "int8", "w": "int8", "acc": 32}


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return Bert.load(write_tiny_bert(tmp_path_factory.mktemp("tiny-bert")))


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(1, user_api="blas"):
        yield


def reference_forward(model: Bert, sentence: str) -> np.ndarray:
    """BERT written out directly in float64, independently of lowbit.models.bert."""
    t, c = model.tensors, model.config
    ids, types = model.tokens(sentence)

    def norm(x, p):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + c.eps) * t[p + ".weight"] + t[p + ".bias"]

    def lin(x, p):
        return x @ t[p + ".weight"].astype(np.float64).T + t[p + ".bias"]

    x = (t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"]
         [:len(ids)] + t["embeddings.token_type_embeddings.weight"][types]).astype(np.float64)
    x = norm(x, "embeddings.LayerNorm")
    d = c.hidden // c.heads
    for i in range(c.layers):
        p = f"encoder.layer.{i}"
        q, k, v = (lin(x, f"{p}.attention.self.{n}") for n in ("query", "key", "value"))
        heads = []
        for h in range(c.heads):
            s = q[:, h * d:(h + 1) * d] @ k[:, h * d:(h + 1) * d].T / math.sqrt(d)
            e = np.exp(s - s.max(1, keepdims=True))
            heads.append(e / e.sum(1, keepdims=True) @ v[:, h * d:(h + 1) * d])
        x = norm(lin(np.concatenate(heads, 1), f"{p}.attention.output.dense") + x,
                 f"{p}.attention.output.LayerNorm")
        u = lin(x, f"{p}.intermediate.dense")
        u = 0.5 * u * (1 + np.vectorize(math.erf)(u / math.sqrt(2)))
        x = norm(lin(u, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    return x


def test_float_forward_matches_reference(bert):
    config = config_from_dict(INT8)
    ref = reference(bert, SENTENCES)
    float_rules = rules_for(config, [("*", Precision("float", "float"))])
    runs = []
    linear = core_linear(bert, config, float_rules, ref, runs.append)
    for i, s in enumerate(SENTENCES):
        want = reference_forward(bert, s)
        got = bert.forward(s, linear)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(mean_pool(got), want.mean(0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ref.embeddings[i], want.mean(0), rtol=1e-4, atol=1e-4)
    assert len(runs) == 6 * 2 * len(SENTENCES) and all(r.result is None for r in runs)
    result = accuracy(bert, config, float_rules, ref)
    assert all(math.isinf(x.sqnr_model_db) and math.isinf(x.sqnr_layer_db)
               for x in result.layers)
    assert result.min_cosine > 1 - 1e-6


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_int8_layers_are_the_golden_models(bert, overflow):
    # a narrow accumulator, so that both overflow rules matter somewhere
    config = config_from_dict({**INT8, "acc": 16, "overflow": overflow})
    ref = reference(bert, SENTENCES[:1])
    rules = rules_for(config, [("*", Precision("int8:channel", "int8:tensor", "fp32"))])
    runs = []
    bert.forward(SENTENCES[0], core_linear(bert, config, rules, ref, runs.append))
    assert len(runs) == 12
    overflowed = 0
    for run in runs:
        a = run.a.elements().astype(np.int64)
        w = run.w.elements().astype(np.int64)
        acc = run.result.acc[0]
        np.testing.assert_array_equal(acc, systolic_golden(config, a, w), err_msg=run.name)
        exact = a @ w
        overflowed += int(((exact > config.accumulator.max) |
                           (exact < config.accumulator.min)).sum())
    assert overflowed > 0   # the overflow rule decided some of the results
    # the MAC's golden model on one layer: every output element is one K-long dot product
    mac = config_from_dict({"kind": "mac", "a": "int8", "w": "int8", "acc": 16,
                            "overflow": overflow})
    run = runs[0]
    a, w = run.a.elements().astype(np.int64), run.w.elements().astype(np.int64)
    m, k, n = a.shape[0], a.shape[1], w.shape[1]
    dots = mac_golden(mac, np.repeat(a, n, 0).reshape(-1), np.tile(w.T, (m, 1)).reshape(-1), k)
    np.testing.assert_array_equal(dots.reshape(m, n), run.result.acc[0])


def test_requantization_is_the_engines(bert):
    config = config_from_dict(INT8)
    ref = reference(bert, SENTENCES[:1])
    rules = rules_for(config, [("*", Precision("int8:channel", "int8:tensor", "int8"))])
    runs = []
    bert.forward(SENTENCES[0], core_linear(bert, config, rules, ref, runs.append))
    for run in runs:
        s_out = np.float32(ref.amax[run.name] / 127)
        d = Dyadic.fit(run.a.scales * run.w.scales / float(s_out), 17)
        y = requantize(run.result.acc[0], d, IntFormat(8), 0, "half_up")
        np.testing.assert_array_equal(run.y, (y * float(s_out)).astype(np.float32))
        assert np.abs(run.y).max() <= 128 * s_out * (1 + 1e-6)   # int8 reaches -128


def test_accuracy_figures(bert):
    config = config_from_dict(INT8)
    ref = reference(bert, SENTENCES)
    result = accuracy(bert, config, rules_for(config), ref)
    assert [x.name for x in result.layers] == bert.config.linear_layers()
    assert all(20 < x.sqnr_layer_db < 60 for x in result.layers)
    assert len(result.cosines) == 3 and 0.99 < result.min_cosine <= result.mean_cosine <= 1
    coarse = accuracy(bert, config_from_dict({**INT8, "w": "int2"}), rules_for(
        config_from_dict({**INT8, "w": "int2"})), ref)
    assert coarse.mean_cosine < result.mean_cosine
    assert all(c.sqnr_layer_db < f.sqnr_layer_db for c, f in zip(coarse.layers, result.layers))


def test_block_and_minifloat_cores_sum_exactly(bert):
    ref = reference(bert, SENTENCES[:1])
    for values in ({"kind": "blockdot", "a": "mxfp8_e4m3", "w": "mxfp4", "lanes": 8},
                   {"kind": "fmac", "a": "fp8_e4m3", "w": "fp8_e4m3"}):
        config = config_from_dict(values)
        result = accuracy(bert, config, rules_for(config), ref)
        assert 0.95 < result.min_cosine <= 1


def test_formats_must_fit_the_core(bert):
    config = config_from_dict({**INT8, "w": "int4"})
    ref = reference(bert, SENTENCES[:1])
    with pytest.raises(UsageError, match="weights in int8 do not fit the systolic core's int4"):
        core_linear(bert, config, rules_for(config, [("*.key", Precision("int8", "int8"))]), ref)
    check_precision(config, "x", Precision("ternary:channel", "int8"), "weight")
    with pytest.raises(UsageError, match="float do not run on a core"):
        check_precision(config, "x", Precision("float", "int8"), "weight")


def test_layer_operands(bert):
    config = config_from_dict(INT8)
    ref = reference(bert, SENTENCES[:1])
    ops = layer_operands(bert, config, rules_for(config), ref, "encoder.layer.1.output.dense",
                         SENTENCES[0])
    assert ops.a.shape[1] == 64 and ops.w.shape == (64, 32)
    np.testing.assert_array_equal(ops.acc, systolic_golden(config, ops.a, ops.w))
    with pytest.raises(UsageError, match="not a linear layer"):
        layer_operands(bert, config, rules_for(config), ref, "encoder.layer.9.x", SENTENCES[0])
    with pytest.raises(UsageError, match="group scales"):
        layer_operands(bert, config, rules_for(config, [("*", Precision("int8:g16", "int8"))]),
                       ref, "encoder.layer.0.attention.self.query", SENTENCES[0])


def test_missing_model_files(tmp_path):
    with pytest.raises(UsageError, match="has no config.json, model.safetensors, tokenizer.json"):
        Bert.load(tmp_path)
