"""Hugging Face config.json → GEMM lists, checked against hand-computed lists: a BERT encoder,
a Llama-style decoder with grouped-query attention in prefill and decode; the TOML GEMM list."""

import pytest

from lowbit.errors import UsageError
from lowbit.models.workload import Gemm, from_hf_config, from_toml

BERT = {"model_type": "bert", "hidden_size": 384, "num_attention_heads": 12,
        "num_hidden_layers": 2, "intermediate_size": 1536}
LLAMA = {"model_type": "llama", "hidden_size": 512, "num_attention_heads": 8,
         "num_key_value_heads": 2, "num_hidden_layers": 1, "intermediate_size": 1376,
         "vocab_size": 1000}


def test_bert_prefill():
    w = from_hf_config(BERT, batch=2, seq=16)
    t = 2 * 16
    layer = lambda i: [   # noqa: E731 — one layer, by hand: d = 384/12 = 32, count = B·H = 24
        Gemm(f"encoder.layer.{i}.attention.self.query", t, 384, 384),
        Gemm(f"encoder.layer.{i}.attention.self.key", t, 384, 384),
        Gemm(f"encoder.layer.{i}.attention.self.value", t, 384, 384),
        Gemm(f"encoder.layer.{i}.attention.self.scores", 16, 16, 32, 24, "activation",
             "attention_scores"),
        Gemm(f"encoder.layer.{i}.attention.self.context", 16, 32, 16, 24, "activation",
             "attention_context"),
        Gemm(f"encoder.layer.{i}.attention.output.dense", t, 384, 384),
        Gemm(f"encoder.layer.{i}.intermediate.dense", t, 1536, 384),
        Gemm(f"encoder.layer.{i}.output.dense", t, 384, 1536)]
    assert list(w.gemms) == layer(0) + layer(1)
    assert w.tokens == 32
    per_layer = 4 * t * 384 * 384 + 2 * 24 * 16 * 16 * 32 + 2 * t * 384 * 1536
    assert w.macs == 2 * per_layer


def test_llama_gqa_prefill():
    w = from_hf_config(LLAMA, batch=1, seq=10)
    # d = 512/8 = 64; 2 KV heads, groups of 4 query heads stacked along M: M = 4·10
    assert list(w.gemms) == [
        Gemm("model.layers.0.self_attn.q_proj", 10, 512, 512),
        Gemm("model.layers.0.self_attn.k_proj", 10, 128, 512),
        Gemm("model.layers.0.self_attn.v_proj", 10, 128, 512),
        Gemm("model.layers.0.self_attn.scores", 40, 10, 64, 2, "activation", "attention_scores"),
        Gemm("model.layers.0.self_attn.context", 40, 64, 10, 2, "activation",
             "attention_context"),
        Gemm("model.layers.0.self_attn.o_proj", 10, 512, 512),
        Gemm("model.layers.0.mlp.gate_proj", 10, 1376, 512),
        Gemm("model.layers.0.mlp.up_proj", 10, 1376, 512),
        Gemm("model.layers.0.mlp.down_proj", 10, 512, 1376),
        Gemm("lm_head", 1, 1000, 512)]
    assert w.tokens == 10


def test_llama_gqa_decode():
    w = from_hf_config({**LLAMA, "head_dim": 32}, batch=3, seq=100, phase="decode")
    # one token per sequence; it attends to 100 keys from the KV cache
    got = {g.name.split(".")[-1]: g for g in w.gemms}
    assert got["q_proj"] == Gemm("model.layers.0.self_attn.q_proj", 3, 256, 512)
    assert got["k_proj"] == Gemm("model.layers.0.self_attn.k_proj", 3, 64, 512)
    assert got["scores"] == Gemm("model.layers.0.self_attn.scores", 4, 100, 32, 6, "kv_cache",
                                 "attention_scores")
    assert got["context"] == Gemm("model.layers.0.self_attn.context", 4, 32, 100, 6,
                                  "kv_cache", "attention_context")
    assert got["o_proj"] == Gemm("model.layers.0.self_attn.o_proj", 3, 512, 256)
    assert got["lm_head"] == Gemm("lm_head", 3, 1000, 512)
    assert w.tokens == 3


@pytest.mark.parametrize("config,kw,message", [
    (BERT, {"phase": "decode"}, "encoder .* no decode phase"),
    ({**BERT, "model_type": "t5"}, {}, "model_type 't5' is not supported"),
    ({**LLAMA, "num_key_value_heads": 3}, {}, "must divide num_attention_heads=8"),
    ({k: v for k, v in BERT.items() if k != "intermediate_size"}, {}, "intermediate_size"),
    (BERT, {"seq": 0}, "at least 1"),
])
def test_bad_configs(config, kw, message):
    with pytest.raises(UsageError, match=message):
        from_hf_config(config, **kw)


def test_toml_list(tmp_path):
    path = tmp_path / "toy.toml"
    path.write_text('tokens = 64\n[[gemm]]\nname = "fc1"\nm = 64\nn = 128\nk = 256\n'
                    '[[gemm]]\nname = "attn"\nm = 64\nn = 64\nk = 32\ncount = 4\n'
                    'w_role = "activation"\n[[precision]]\nlayers = "fc*"\nw = "int4:g128"\n')
    w = from_toml(path)
    assert w.name == "toy" and w.tokens == 64
    assert w.gemms == (Gemm("fc1", 64, 128, 256, 1, "weight", "gemm"),
                       Gemm("attn", 64, 64, 32, 4, "activation", "gemm"))
    assert w.precision == ({"layers": "fc*", "w": "int4:g128"},)
    path.write_text('[[gemm]]\nname = "x"\nm = 1\nn = 2\n')
    with pytest.raises(UsageError, match="missing k"):
        from_toml(path)
    path.write_text('[[gemm]]\nname = "x"\nm = 1\nn = 2\nk = 3\nrole = "w"\n')
    with pytest.raises(UsageError, match="unknown key 'role'"):
        from_toml(path)
    path.write_text('[[gemm]]\nname = "x"\nm = 1\nn = 2\nk = 3\n[[gemm]]\nname = "x"\nm = 1\n'
                    'n = 2\nk = 3\n')
    with pytest.raises(UsageError, match="appears twice"):
        from_toml(path)
