"""A numpy BERT encoder: weights from ``safetensors``, tokens from ``tokenizers``, and every
linear layer through a hook, so a core's numerics can replace the float GEMM layer by layer.

The layout is Hugging Face's ``BertModel`` (``embeddings.*``, ``encoder.layer.N.*``; a
``bert.`` prefix is accepted); the forward pass is the one sentence-transformers' MiniLM
models run: embeddings (word + position + token type) → LayerNorm → per layer: self-attention
(Q, K, V linear layers, softmax(Q·Kᵀ/√d)·V per head, output linear layer, residual,
LayerNorm) and the feed-forward block (linear, exact erf GELU, linear, residual, LayerNorm).
The sentence embedding is the mean of the token states (:func:`mean_pool`), as
sentence-transformers' all-MiniLM-L6-v2 pools. One sentence is run at a time, so no padding or
attention mask is involved. Everything is FP32 except what the linear hook does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lowbit.errors import UsageError

#: ``linear(name, x, w)``: the layer's ``x (T×K) @ w (K×N)`` (no bias) in FP32
Linear = Callable[[str, np.ndarray, np.ndarray], np.ndarray]

#: the files a model directory holds
CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE = "config.json", "model.safetensors", "tokenizer.json"

#: the fixed sentence set accuracy is measured on: plain statements of varied length and topic
SENTENCES: tuple[str, ...] = (
    "The cat sat quietly on the warm windowsill.",
    "A field-programmable gate array can be reconfigured after manufacturing.",
    "Quantization maps real numbers to a small set of integers.",
    "She ordered a coffee and read the morning paper.",
    "The train to the coast leaves at seven every evening.",
    "Rain is expected over the mountains for the rest of the week.",
    "Matrix multiplication dominates the cost of transformer inference.",
    "He forgot his umbrella and got soaked on the way home.",
    "The museum opened a new exhibition about ancient navigation.",
    "Low-precision arithmetic trades accuracy for speed and energy.",
    "Our team won the regional chess tournament last spring.",
    "Fresh bread is baked in the village every morning before dawn.",
    "The committee postponed its decision until more data arrives.",
    "A systolic array passes operands between neighbouring processing elements.",
    "Children played football in the park until the sun went down.",
    "The recipe calls for two eggs, flour, sugar and a pinch of salt.",
)


@dataclass(frozen=True)
class BertConfig:
    """The shape of a BERT encoder, from its ``config.json``."""

    hidden: int
    heads: int
    layers: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float

    @classmethod
    def from_dict(cls, c: dict) -> BertConfig:
        if c.get("model_type") not in ("bert", "roberta") or c.get("hidden_act", "gelu") != "gelu":
            raise UsageError(f"the accuracy pass runs BERT encoders with GELU; this config has "
                             f"model_type={c.get('model_type')!r}, "
                             f"hidden_act={c.get('hidden_act')!r}")
        try:
            out = cls(int(c["hidden_size"]), int(c["num_attention_heads"]),
                      int(c["num_hidden_layers"]), int(c["intermediate_size"]),
                      int(c["vocab_size"]), int(c["max_position_embeddings"]),
                      int(c.get("type_vocab_size", 2)), float(c.get("layer_norm_eps", 1e-12)))
        except KeyError as e:
            raise UsageError(f"BERT config has no {e.args[0]!r}") from None
        if out.hidden % out.heads:
            raise UsageError(f"hidden_size={out.hidden} is not a multiple of "
                             f"num_attention_heads={out.heads}")
        return out

    def linear_layers(self) -> list[str]:
        """Names of every linear layer, in forward order (as :func:`lowbit.models.workload`
        names them)."""
        names = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            names += [f"{p}.attention.self.{x}" for x in ("query", "key", "value")]
            names += [f"{p}.attention.output.dense", f"{p}.intermediate.dense",
                      f"{p}.output.dense"]
        return names

    def tensors(self) -> dict[str, tuple[int, ...]]:
        """Every tensor the forward pass reads, with its shape (Hugging Face layout)."""
        h, i = self.hidden, self.intermediate
        out = {"embeddings.word_embeddings.weight": (self.vocab, h),
               "embeddings.position_embeddings.weight": (self.max_positions, h),
               "embeddings.token_type_embeddings.weight": (self.type_vocab, h),
               "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,)}
        for n in range(self.layers):
            p = f"encoder.layer.{n}"
            for name, (rows, cols) in {
                    **{f"attention.self.{x}": (h, h) for x in ("query", "key", "value")},
                    "attention.output.dense": (h, h), "intermediate.dense": (i, h),
                    "output.dense": (h, i)}.items():
                out[f"{p}.{name}.weight"], out[f"{p}.{name}.bias"] = (rows, cols), (rows,)
            for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
                out[f"{p}.{norm}.weight"] = out[f"{p}.{norm}.bias"] = (h,)
        return out


@dataclass(frozen=True, eq=False)
class Bert:
    """A BERT encoder's config, FP32 tensors and tokenizer."""

    config: BertConfig
    tensors: dict[str, np.ndarray]
    tokenizer: object

    @classmethod
    def load(cls, directory: str | Path) -> Bert:
        """``config.json``, ``model.safetensors`` and ``tokenizer.json`` from ``directory``."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        d = Path(directory)
        missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE) if not (d / f).is_file()]
        if missing:
            raise UsageError(f"model directory {d} has no {', '.join(missing)}")
        try:
            config = json.loads((d / CONFIG_FILE).read_text())
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read {d / CONFIG_FILE}: {e}") from None
        config = BertConfig.from_dict(config)
        try:
            raw = load_file(str(d / WEIGHTS_FILE))
            tokenizer = Tokenizer.from_file(str(d / TOKENIZER_FILE))
        except Exception as e:   # safetensors' and tokenizers' own error types
            raise UsageError(f"cannot load the model in {d}: {type(e).__name__}: {e}") from None
        tensors = {k.removeprefix("bert."): v.astype(np.float32) for k, v in raw.items()}
        for name, shape in config.tensors().items():
            if name not in tensors:
                raise UsageError(f"{d / WEIGHTS_FILE} has no tensor {name!r} (BERT layout)")
            if tuple(tensors[name].shape) != shape:
                raise UsageError(f"{d / WEIGHTS_FILE}: {name} has shape "
                                 f"{tuple(tensors[name].shape)}, the config says {shape}")
        tokenizer.no_padding()
        tokenizer.enable_truncation(config.max_positions)
        return cls(config, tensors, tokenizer)

    def tokens(self, sentence: str) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and token-type ids of one sentence ([CLS] … [SEP])."""
        enc = self.tokenizer.encode(sentence)
        return np.asarray(enc.ids, dtype=np.int64), np.asarray(enc.type_ids, dtype=np.int64)

    def weight(self, layer: str) -> np.ndarray:
        """A linear layer's weight as the GEMM's W (K×N): the stored (N×K) transposed."""
        return np.ascontiguousarray(self.tensors[f"{layer}.weight"].T)

    def forward(self, sentence: str, linear: Linear = None) -> np.ndarray:
        """The token states (T×hidden, FP32) of ``sentence``; ``linear`` computes every linear
        layer's ``x @ W`` (default: FP32 matmul)."""
        linear = linear or float_linear
        c, t = self.config, self.tensors
        ids, types = self.tokens(sentence)
        x = (t["embeddings.word_embeddings.weight"][ids]
             + t["embeddings.position_embeddings.weight"][np.arange(len(ids))]
             + t["embeddings.token_type_embeddings.weight"][types])
        x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], c.eps)

        def dense(name: str, v: np.ndarray) -> np.ndarray:
            y = linear(name, v, self.weight(name))
            return (y + t[f"{name}.bias"]).astype(np.float32)

        for i in range(c.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (dense(f"{p}.attention.self.{n}", x) for n in ("query", "key", "value"))
            context = attention(q, k, v, c.heads)
            a = dense(f"{p}.attention.output.dense", context)
            x = layer_norm(a + x, t[f"{p}.attention.output.LayerNorm.weight"],
                           t[f"{p}.attention.output.LayerNorm.bias"], c.eps)
            h = gelu(dense(f"{p}.intermediate.dense", x))
            y = dense(f"{p}.output.dense", h)
            x = layer_norm(y + x, t[f"{p}.output.LayerNorm.weight"],
                           t[f"{p}.output.LayerNorm.bias"], c.eps)
        return x

    def embed(self, sentences: Sequence[str], linear: Linear = None) -> np.ndarray:
        """Sentence embeddings (mean-pooled token states), one row per sentence."""
        return np.stack([mean_pool(self.forward(s, linear)) for s in sentences])


def float_linear(name: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32) @ w.astype(np.float32)).astype(np.float32)


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + np.float32(eps)) * gamma + beta).astype(np.float32)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact GELU BERT uses: ``x · Φ(x) = x/2 · (1 + erf(x/√2))``."""
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(np.float32)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, heads: int) -> np.ndarray:
    """Multi-head scaled dot-product attention of one sequence (T×hidden each), in FP32."""
    t, h = q.shape
    d = h // heads
    split = [z.reshape(t, heads, d).transpose(1, 0, 2) for z in (q, k, v)]
    scores = split[0] @ split[1].transpose(0, 2, 1) / np.float32(math.sqrt(d))
    out = softmax(scores.astype(np.float32)) @ split[2]
    return out.transpose(1, 0, 2).reshape(t, h).astype(np.float32)


def mean_pool(states: np.ndarray) -> np.ndarray:
    """The mean of a sentence's token states (sentence-transformers' mean pooling)."""
    return states.mean(axis=0)


def cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    num = (x * y).sum(axis=-1)
    return num / (np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1))
