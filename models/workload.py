"""Workloads: a model described as the list of GEMMs it runs, with shapes and operand roles.

Three sources give the same :class:`Workload`:

* :func:`from_toml` — a plain list of GEMMs (``[[gemm]]`` tables, see :func:`from_toml`);
* :func:`from_hf_config` — a Hugging Face style ``config.json`` of a BERT encoder or a
  Llama-style decoder at a batch size and sequence length, prefill or decode;
* :func:`from_onnx` — an ONNX graph (MatMul, Gemm, Conv as im2col) after ONNX shape inference.

Every GEMM is ``C (M×N) = A (M×K) @ W (K×N)``, ``count`` times. A is always an activation;
W is a stored weight, an activation computed in the same pass (attention in prefill) or the KV
cache (attention in decode) — its *role*, which says where its bytes come from.

Counting rules (stated once here; docs/guide/workloads.md repeats them):

* **Linear layers** fold batch and sequence into M (``M = batch·seq`` tokens; decode: ``batch``).
* **Attention** is two GEMMs per layer, per KV head and batch element (``count = batch·kv_heads``):
  scores ``Q·Kᵀ`` (M = group·S_q, N = S_kv, K = head_dim) and context ``P·V`` (M = group·S_q,
  N = head_dim, K = S_kv), where group = heads / kv_heads query heads share one K/V head and are
  stacked along M (grouped-query attention; group = 1 for BERT). Causal masking is not skipped:
  the full S_q × S_kv product is counted, as a dense core computes it.
* **Decode** is one new token per sequence at position ``seq``: it attends to ``seq`` keys and
  values (the ``seq − 1`` cached ones and its own), read from the KV cache.
* **lm_head** (decoders) counts the logits of one position per sequence, the ones generation
  needs, in prefill and decode alike. Embedding lookups and BERT's pooler are not GEMMs of the
  encoder's output (sentence-transformers' mean pooling uses no pooler) and are left out.
* **Conv** is im2col: ``M = batch·∏ output spatial``, ``K = (C_in / group)·∏ kernel``,
  ``N = C_out / group``, ``count = group``; A is the im2col patch matrix as the core streams it.
* **ONNX MatMul** follows numpy: a 2-D weight folds A's batch dimensions into M; batched
  products of two activations count one GEMM per batch element.
"""

from __future__ import annotations

import math
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lowbit.errors import UsageError

#: where the W operand's bytes come from
W_ROLES: tuple[str, ...] = ("weight", "activation", "kv_cache")
PHASES: tuple[str, ...] = ("prefill", "decode")


@dataclass(frozen=True)
class Gemm:
    """One GEMM of a workload, ``count`` times: ``C (M×N) = A (M×K) @ W (K×N)``."""

    name: str
    m: int
    n: int
    k: int
    count: int = 1
    w_role: str = "weight"
    op: str = "linear"     # what it comes from: linear, attention_scores, conv, matmul, ...

    def __post_init__(self) -> None:
        if min(self.m, self.n, self.k, self.count) < 1:
            raise UsageError(f"GEMM {self.name}: m, n, k and count must be at least 1; got "
                             f"{self.m}x{self.n}x{self.k} × {self.count}")
        if self.w_role not in W_ROLES:
            raise UsageError(f"GEMM {self.name}: w_role {self.w_role!r} is not allowed; one of "
                             f"{', '.join(W_ROLES)}")

    @property
    def macs(self) -> int:
        return self.count * self.m * self.n * self.k


@dataclass(frozen=True)
class Workload:
    """A model as GEMMs. ``tokens`` per inference give tokens/s (None: inferences/s only);
    ``unmapped`` counts the ops that carry no GEMM (by op type), ``notes`` say how it was
    counted; ``precision`` holds the layer-format rules a TOML workload brings."""

    name: str
    gemms: tuple[Gemm, ...]
    tokens: int | None = None
    unmapped: tuple[tuple[str, int], ...] = ()
    notes: tuple[str, ...] = ()
    precision: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.gemms:
            raise UsageError(f"workload {self.name} has no GEMM")
        seen = Counter(g.name for g in self.gemms)
        twice = [n for n, c in seen.items() if c > 1]
        if twice:
            raise UsageError(f"workload {self.name}: layer name {twice[0]!r} appears twice; "
                             "layer names pick formats and layers, so they must be unique")

    @property
    def macs(self) -> int:
        return sum(g.macs for g in self.gemms)


# ---- TOML -------------------------------------------------------------------------------

_TOML_KEYS = {"name", "tokens", "gemm", "precision"}
_GEMM_KEYS = {"name", "m", "n", "k", "count", "w_role", "op"}


def from_toml(path: str | Path) -> Workload:
    """A workload read from a TOML file, which looks like this::

        name = "mlp"            # optional (default: the file name)
        tokens = 128            # optional: tokens per inference, for tokens/s
        [[gemm]]
        name = "fc1"
        m = 128
        n = 512
        k = 256
        count = 1               # optional
        w_role = "weight"       # optional: weight, activation or kv_cache
        [[precision]]           # optional layer formats, first match wins
                                # (see lowbit.models.precision)
        layers = "fc*"
        w = "int4:g128"
        a = "int8"

    An unreadable file, invalid TOML, an unknown key, a missing field or a bad value is a
    ``UsageError`` naming it.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read workload {path}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"workload {path} is not valid TOML: {e}") from None
    unknown = sorted(set(data) - _TOML_KEYS)
    if unknown:
        raise UsageError(f"workload {path}: unknown key {unknown[0]!r}; allowed: "
                         f"{', '.join(sorted(_TOML_KEYS))}")
    tables = data.get("gemm", [])
    if not isinstance(tables, list) or not tables:
        raise UsageError(f"workload {path} lists no GEMM; add [[gemm]] tables with name, m, n, k")
    gemms = []
    for i, t in enumerate(tables):
        where = f"workload {path}, [[gemm]] #{i + 1}"
        bad = sorted(set(t) - _GEMM_KEYS)
        if bad:
            raise UsageError(f"{where}: unknown key {bad[0]!r}; allowed: "
                             f"{', '.join(sorted(_GEMM_KEYS))}")
        missing = [key for key in ("name", "m", "n", "k") if key not in t]
        if missing:
            raise UsageError(f"{where}: missing {', '.join(missing)}")
        for key in ("m", "n", "k", "count"):
            if key in t and (not isinstance(t[key], int) or isinstance(t[key], bool)):
                raise UsageError(f"{where}: {key} must be an integer, got {t[key]!r}")
        gemms.append(Gemm(str(t["name"]), t["m"], t["n"], t["k"], t.get("count", 1),
                          str(t.get("w_role", "weight")), str(t.get("op", "gemm"))))
    rules = data.get("precision", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise UsageError(f"workload {path}: precision must be [[precision]] tables")
    tokens = data.get("tokens")
    if tokens is not None and (not isinstance(tokens, int) or tokens < 1):
        raise UsageError(f"workload {path}: tokens must be a positive integer, got {tokens!r}")
    return Workload(str(data.get("name", path.stem)), tuple(gemms), tokens,
                    notes=(f"GEMM list from {path.name}",), precision=tuple(rules))


# ---- Hugging Face config.json -----------------------------------------------------------

#: model types read as BERT-layout encoders and as Llama-layout decoders
ENCODERS: tuple[str, ...] = ("bert", "roberta")
DECODERS: tuple[str, ...] = ("llama", "mistral", "qwen2")


def _field(config: Mapping[str, Any], key: str, where: str) -> int:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"{where}: {key} must be a positive integer, got {value!r}")
    return value


def from_hf_config(config: Mapping[str, Any], *, batch: int = 1, seq: int = 128,
                   phase: str = "prefill", name: str | None = None) -> Workload:
    """The GEMMs of one forward pass of a BERT encoder or a Llama-style decoder (module
    docstring for the counting rules); layer names are the Hugging Face module names."""
    kind = config.get("model_type")
    name = name or str(config.get("_name_or_path") or kind or "model")
    where = f"config of {name}"
    if batch < 1 or seq < 1:
        raise UsageError(f"batch={batch}, seq={seq}: both must be at least 1")
    if phase not in PHASES:
        raise UsageError(f"phase {phase!r} is not allowed; one of {', '.join(PHASES)}")
    hidden = _field(config, "hidden_size", where)
    heads = _field(config, "num_attention_heads", where)
    layers = _field(config, "num_hidden_layers", where)
    inter = _field(config, "intermediate_size", where)
    if kind in ENCODERS:
        if phase == "decode":
            raise UsageError(f"{name} is an encoder ({kind}); it has no decode phase")
        return _encoder(name, hidden, heads, layers, inter, batch, seq)
    if kind in DECODERS:
        kv = config.get("num_key_value_heads") or heads
        head_dim = config.get("head_dim") or hidden // heads
        if not isinstance(kv, int) or kv < 1 or heads % kv:
            raise UsageError(f"{where}: num_key_value_heads={kv!r} must divide "
                             f"num_attention_heads={heads}")
        vocab = _field(config, "vocab_size", where)
        return _decoder(name, hidden, heads, kv, head_dim, layers, inter, vocab, batch, seq,
                        phase)
    raise UsageError(f"{where}: model_type {kind!r} is not supported; encoders: "
                     f"{', '.join(ENCODERS)}; decoders: {', '.join(DECODERS)}")


def _attention(prefix: str, *, count: int, rows: int, kv_len: int, head_dim: int,
               w_role: str) -> list[Gemm]:
    return [Gemm(f"{prefix}.scores", rows, kv_len, head_dim, count, w_role, "attention_scores"),
            Gemm(f"{prefix}.context", rows, head_dim, kv_len, count, w_role,
                 "attention_context")]


def _encoder(name, hidden, heads, layers, inter, batch, seq) -> Workload:
    if hidden % heads:
        raise UsageError(f"config of {name}: hidden_size={hidden} is not a multiple of "
                         f"num_attention_heads={heads}")
    t, d = batch * seq, hidden // heads
    gemms = []
    for i in range(layers):
        p = f"encoder.layer.{i}"
        gemms += [Gemm(f"{p}.attention.self.{x}", t, hidden, hidden)
                  for x in ("query", "key", "value")]
        gemms += _attention(f"{p}.attention.self", count=batch * heads, rows=seq, kv_len=seq,
                            head_dim=d, w_role="activation")
        gemms += [Gemm(f"{p}.attention.output.dense", t, hidden, hidden),
                  Gemm(f"{p}.intermediate.dense", t, inter, hidden),
                  Gemm(f"{p}.output.dense", t, hidden, inter)]
    return Workload(name, tuple(gemms), tokens=t, notes=(
        f"BERT encoder, batch {batch} × sequence {seq}: {layers} layers of Q, K, V, "
        f"attention scores and context ({heads} heads of {d}), output, FFN {hidden}→{inter}→"
        f"{hidden}; embeddings and pooler not counted",))


def _decoder(name, hidden, heads, kv, d, layers, inter, vocab, batch, seq, phase) -> Workload:
    group = heads // kv
    decode = phase == "decode"
    t = batch if decode else batch * seq
    q_rows = group * (1 if decode else seq)
    gemms = []
    for i in range(layers):
        p = f"model.layers.{i}"
        gemms += [Gemm(f"{p}.self_attn.q_proj", t, heads * d, hidden),
                  Gemm(f"{p}.self_attn.k_proj", t, kv * d, hidden),
                  Gemm(f"{p}.self_attn.v_proj", t, kv * d, hidden)]
        gemms += _attention(f"{p}.self_attn", count=batch * kv, rows=q_rows, kv_len=seq,
                            head_dim=d, w_role="kv_cache" if decode else "activation")
        gemms += [Gemm(f"{p}.self_attn.o_proj", t, hidden, heads * d),
                  Gemm(f"{p}.mlp.gate_proj", t, inter, hidden),
                  Gemm(f"{p}.mlp.up_proj", t, inter, hidden),
                  Gemm(f"{p}.mlp.down_proj", t, hidden, inter)]
    gemms.append(Gemm("lm_head", batch, vocab, hidden))
    what = (f"decode of one token per sequence at position {seq} (attends to {seq} cached "
            "keys/values)" if decode else f"prefill of {seq} tokens")
    return Workload(name, tuple(gemms), tokens=t, notes=(
        f"Llama-style decoder, batch {batch}, {what}: {layers} layers, {heads} query heads "
        f"sharing {kv} KV heads (groups of {group} stacked along M), head_dim {d}, gated MLP "
        f"{hidden}→{inter}→{hidden}; lm_head for one position per sequence",))


# ---- ONNX ---------------------------------------------------------------------------------

#: ONNX ops that carry no GEMM: counted and reported as not mapped (element-wise arithmetic,
#: activations, normalization, reductions, pooling, shape and data movement)
NO_GEMM_OPS: frozenset[str] = frozenset("""
    Abs Add And ArgMax ArgMin AveragePool BatchNormalization BiasGelu Cast CastLike Ceil Celu
    Clip Compress Concat Constant ConstantOfShape CumSum DepthToSpace DequantizeLinear Div
    Dropout Elu Equal Erf Exp Expand FastGelu Flatten Floor Gather GatherElements GatherND
    Gelu GlobalAveragePool GlobalMaxPool Greater GreaterOrEqual GroupNormalization HardSigmoid
    HardSwish Identity InstanceNormalization LayerNormalization LeakyRelu Less LessOrEqual Log
    LogSoftmax LpNormalization LRN Max MaxPool Mean Min Mish Mod Mul Neg NonZero Not Or Pad
    Pow PRelu QuantizeLinear Range Reciprocal ReduceL2 ReduceMax ReduceMean ReduceMin
    ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize Round ScatterElements ScatterND
    Selu Shape Sigmoid Sign SimplifiedLayerNormalization Sin Cos Size SkipLayerNormalization
    Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tanh Tile TopK
    Transpose Trilu Unsqueeze Upsample Where Xor
""".split())
GEMM_OPS: tuple[str, ...] = ("MatMul", "Gemm", "Conv")


def from_onnx(source, dims: Mapping[str, int] | None = None, name: str | None = None) -> Workload:
    """The GEMMs of an ONNX model (a path or a ``ModelProto``) after ONNX shape inference.

    ``dims`` sets symbolic input dimensions (e.g. ``{"batch": 1, "sequence": 128}``). An op
    that is neither a GEMM op (:data:`GEMM_OPS`) nor in :data:`NO_GEMM_OPS` is an error that
    lists every such op by type and node name; ops without a GEMM are counted as not mapped.
    """
    import onnx

    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            model = onnx.load(str(path), load_external_data=False)
        except OSError as e:
            raise UsageError(f"cannot read ONNX model {path}: {e.strerror or e}") from None
        except Exception as e:   # protobuf's DecodeError and friends: not an ONNX file
            raise UsageError(f"{path} is not an ONNX model: {type(e).__name__}: {e}") from None
        name = name or path.stem
    else:
        model, name = source, name or (source.graph.name or "onnx")
    graph = model.graph
    nodes = [(node.name or f"{node.op_type}_{i}", node) for i, node in enumerate(graph.node)]
    unsupported = [(n, node.op_type) for n, node in nodes
                   if node.op_type not in GEMM_OPS and node.op_type not in NO_GEMM_OPS]
    if unsupported:
        by_op: dict[str, list[str]] = {}
        for n, op in unsupported:
            by_op.setdefault(op, []).append(n)
        listed = "; ".join(f"{op} ({', '.join(repr(n) for n in names[:3])}"
                           f"{', ...' if len(names) > 3 else ''})" for op, names in by_op.items())
        raise UsageError(f"ONNX model {name}: ops Lowbit cannot map to GEMMs: {listed}. "
                         f"Mapped: {', '.join(GEMM_OPS)}; ops without a GEMM (element-wise, "
                         "normalization, pooling, shape) are counted as not mapped")
    model = _with_dims(model, dims or {})
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except (onnx.shape_inference.InferenceError, RuntimeError) as e:
        raise UsageError(f"ONNX shape inference failed on {name}: {e}") from None
    shapes, weights = _shapes(inferred.graph)
    gemms, skipped = [], Counter()
    for n, node in nodes:
        if node.op_type in GEMM_OPS:
            gemms.append(_onnx_gemm(n, node, shapes, weights, name))
        else:
            skipped[node.op_type] += 1
    if not gemms:
        raise UsageError(f"ONNX model {name} has no MatMul, Gemm or Conv node")
    return Workload(name, tuple(gemms), unmapped=tuple(sorted(skipped.items())), notes=(
        "ONNX graph after shape inference: MatMul (numpy batching), Gemm (transA/transB), Conv "
        "as im2col; biases and other ops are not GEMMs",))


def _with_dims(model, dims: Mapping[str, int]):
    """A copy of ``model`` whose symbolic input dimensions named in ``dims`` are fixed."""
    import onnx

    model = onnx.ModelProto.FromString(model.SerializeToString())
    used = set()
    for value in model.graph.input:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param and dim.dim_param in dims:
                used.add(dim.dim_param)
                dim.dim_value = int(dims[dim.dim_param])
    unknown = sorted(set(dims) - used)
    if unknown:
        raise UsageError(f"--dim {unknown[0]}: the model's inputs have no symbolic dimension of "
                         "that name")
    return model


def _shapes(graph) -> tuple[dict[str, tuple], set[str]]:
    """Known tensor shapes (a dimension is an int, or its symbolic name) and the initializers."""
    shapes: dict[str, tuple] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        t = value.type.tensor_type
        if t.HasField("shape"):
            shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else
                                       (d.dim_param or "?") for d in t.shape.dim)
    weights = set()
    for init in graph.initializer:
        shapes[init.name] = tuple(init.dims)
        weights.add(init.name)
    return shapes, weights


def _shape(shapes, tensor: str, node: str, model: str) -> tuple[int, ...]:
    shape = shapes.get(tensor)
    if shape is None:
        raise UsageError(f"ONNX model {model}: node {node!r}: no shape for {tensor!r} after "
                         "shape inference")
    unknown = [d for d in shape if not isinstance(d, int) or d < 1]
    if unknown:
        raise UsageError(f"ONNX model {model}: node {node!r}: {tensor!r} has shape "
                         f"{list(shape)}; set its symbolic dimensions with --dim NAME=VALUE "
                         f"(e.g. --dim {unknown[0]}=1)")
    return shape


def _attr(node, key: str, default):
    import onnx

    for a in node.attribute:
        if a.name == key:
            return onnx.helper.get_attribute_value(a)
    return default


def _onnx_gemm(name: str, node, shapes, weights, model: str) -> Gemm:
    op = node.op_type
    a = _shape(shapes, node.input[0], name, model)
    b = _shape(shapes, node.input[1], name, model)
    role = "weight" if node.input[1] in weights else "activation"
    if op == "Gemm":
        m, k = (a[1], a[0]) if _attr(node, "transA", 0) else a
        n, kb = (b[0], b[1]) if _attr(node, "transB", 0) else (b[1], b[0])
        if k != kb:
            raise UsageError(f"ONNX model {model}: Gemm {name!r}: K of A ({k}) and B ({kb}) differ")
        return Gemm(name, m, n, k, 1, role, "gemm")
    if op == "Conv":
        y = _shape(shapes, node.output[0], name, model)
        group = int(_attr(node, "group", 1))
        batch, c_in, c_out = a[0], a[1], b[0]
        return Gemm(name, batch * math.prod(y[2:]), c_out // group,
                    (c_in // group) * math.prod(b[2:]), group, role, "conv")
    a2 = (1, a[0]) if len(a) == 1 else a[-2:]
    b2 = (b[0], 1) if len(b) == 1 else b[-2:]
    if a2[1] != b2[0]:
        raise UsageError(f"ONNX model {model}: MatMul {name!r}: shapes {list(a)} and {list(b)} "
                         "do not multiply")
    batch_a, batch_b = a[:-2], b[:-2]
    if not batch_b:   # one matrix for every batch element: the batch folds into M
        return Gemm(name, math.prod(batch_a) * a2[0], b2[1], a2[1], 1, role, "matmul")
    count = math.prod(_broadcast(batch_a, batch_b, name, model))
    return Gemm(name, a2[0], b2[1], a2[1], count, role, "matmul")


def _broadcast(x: tuple, y: tuple, name: str, model: str) -> tuple:
    out = []
    for i in range(1, max(len(x), len(y)) + 1):
        p = x[-i] if i <= len(x) else 1
        q = y[-i] if i <= len(y) else 1
        if p != q and 1 not in (p, q):
            raise UsageError(f"ONNX model {model}: MatMul {name!r}: batch dimensions "
                             f"{list(x)} and {list(y)} do not broadcast")
        out.append(max(p, q))
    return tuple(out)
