"""A linear layer computed as a core computes it: the ``linear`` hook of the BERT forward pass.

For each layer (its :class:`~lowbit.models.precision.Precision` picked by name):

1. the weights are quantized once by the ``w`` quantizer (K×N, K along axis 0);
2. the activations are quantized on the fly, per call, by the ``a`` quantizer (T×K);
3. the GEMM is :func:`lowbit.models.qgemm.qgemm` on the two QTensors with ``acc`` — the core's
   integer accumulator (wrap or saturate at every step, as integer hardware and the integer
   cores' golden models accumulate), or None for cores that sum exactly (minifloat, block
   formats);
4. the result leaves the core either as qgemm's FP32 output (``out = fp32``: the block sums
   scaled and summed in FP32) or, with an integer ``out`` format, as the engine's
   requantization: ``y = clip(round_shift(acc · b, c) + 0)`` with ``b / 2**c`` fitted to
   ``s_a · s_w / s_out`` (:mod:`lowbit.models.requant`, ``half_up``), ``s_out`` a static
   per-tensor output scale (``out_scales``, from calibration), and ``y · s_out`` goes on in
   FP32. Requantization takes one block's accumulators, so it needs per-tensor or per-channel
   scales on both operands.

The quantizer ``float`` leaves an operand in FP32; the GEMM is then an FP32 matmul of the
(dequantized) operands. Every call may be recorded (:class:`LayerRun`) for per-layer error
figures and for running one layer's GEMM through the RTL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from lowbit.errors import UsageError
from lowbit.models.accumulator import Accumulator
from lowbit.models.precision import Precision, quantizer
from lowbit.models.qgemm import GemmResult, qgemm
from lowbit.models.qtensor import QTensor
from lowbit.models.requant import Dyadic, requantize

ROUNDING = "half_up"   # the engine's requantizer adds half and shifts


@dataclass(frozen=True, eq=False)
class LayerRun:
    """One call of a layer: its FP32 input, the quantized operands and the core's result
    (None where an operand stayed FP32), and the FP32 output (no bias)."""

    name: str
    x: np.ndarray
    a: QTensor | None
    w: QTensor | None
    result: GemmResult | None
    y: np.ndarray


class CoreLinear:
    """``linear(name, x, w)`` computing each layer by its precision with a core's numerics.

    ``multiplier_bits`` is the requantizer's multiplier width (``b < 2**multiplier_bits``);
    ``out_scales`` maps a layer with an integer ``out`` to its output scale; ``record`` gets
    every :class:`LayerRun`.
    """

    def __init__(self, precision: Callable[[str], Precision], acc: Accumulator | None, *,
                 multiplier_bits: int, out_scales: Mapping[str, float] | None = None,
                 record: Callable[[LayerRun], None] = lambda run: None):
        self.precision, self.acc = precision, acc
        self.multiplier_bits = multiplier_bits
        self.out_scales = dict(out_scales or {})
        self.record = record
        self._weights: dict[str, QTensor | None] = {}

    def weights(self, name: str, w: np.ndarray) -> QTensor | None:
        """The layer's quantized weights (quantized once)."""
        if name not in self._weights:
            q = quantizer(self.precision(name).w)
            self._weights[name] = None if q is None else q.quantize(w, k_axis=0)
        return self._weights[name]

    def __call__(self, name: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        p = self.precision(name)
        qa = quantizer(p.a)
        a = None if qa is None else qa.quantize(x, k_axis=1)
        wq = self.weights(name, w)
        result = None
        if a is None or wq is None:
            xa = x if a is None else a.dequantize()
            ww = w if wq is None else wq.dequantize()
            y = (xa.astype(np.float32) @ ww.astype(np.float32)).astype(np.float32)
        else:
            result = qgemm(a, wq, acc=self.acc)
            y = self._output(name, p, a, wq, result)
        self.record(LayerRun(name, x, a, wq, result, y))
        return y

    def _output(self, name: str, p: Precision, a: QTensor, w: QTensor,
                r: GemmResult) -> np.ndarray:
        out = p.out_format
        if out is None:
            return r.out
        if r.acc is None or r.acc.shape[0] != 1:
            raise UsageError(f"layer {name}: requantization to {out} takes one block of "
                             f"accumulators; {p.w} × {p.a} has {r.acc.shape[0]} blocks "
                             "(group scales): use out = fp32")
        if name not in self.out_scales:
            raise UsageError(f"layer {name}: no output scale calibrated for {out}")
        s_out = self.out_scales[name]
        m = (a.scales * a.tensor_scale) * (w.scales * w.tensor_scale) / s_out
        d = Dyadic.fit(m, self.multiplier_bits + 1)
        y = requantize(r.acc[0], d, out, 0, ROUNDING)
        return (y * s_out).astype(np.float32)


def output_scale(amax: float, out) -> float:
    """The static per-tensor scale of an integer output format for outputs up to ``amax``."""
    return float(np.float32(amax / out.max)) if amax > 0 else 1.0
