"""The quantized-GEMM golden model: integer, minifloat, block-scaled and mixed operands.

``qgemm(A, W)`` for :class:`~lowbit.models.qtensor.QTensor` operands A (M×K, ``k_axis=1``) and
W (K×N, ``k_axis=0``) of any element formats computes what the hardware holds, in this order:

1. **Blocks.** K splits into blocks of B: by default the longest run over which the scales and
   zero-points of both operands stay constant (the gcd of their group sizes; K for per-tensor
   and per-channel scaling); a ``block`` that divides it may be given.
2. **Exact block sums.** ``D_j = Σ_{k in block j} a_k · w_k`` exactly, in units of
   ``2**lsb`` with ``lsb = lsb_a + lsb_w``: element significands shifted to a common fixed point
   and summed without rounding (a Kulisch accumulator). Zero-points enter as
   ``(a - z_a)(w - z_w)``. With an integer ``acc`` (:class:`Accumulator`), integer operands
   accumulate in that register instead, as integer hardware does: ``Σ a·w`` with wrap or
   saturate at every step (k in order), then the zero-point correction
   ``- z_w·Σa - z_a·Σw + B·z_a·z_w`` is added once at the end of the block under the same
   overflow rule.
3. **Scaling, one rounding.** ``S_j = RNE32(D_j · 2**lsb · sa_j · sw_j)``: the exact block sum
   times the block's scales, rounded once to FP32 (nearest, ties to even).
4. **FP32 accumulation across blocks**, in block order from +0: ``c = RNE32(c + S_j)``.
5. **Per-tensor scales** (NVFP4): ``out = RNE32(c · ta · tw)``, one rounding; else ``out = c``.

Elements that are inf or NaN (FP8 codes) make their outputs follow IEEE 754 (NaN for NaN,
inf·0 or inf-inf; else ±inf); in ``acc`` they count as 0.

Speed: block sums run as float64 BLAS matmuls wherever a bound proves them exact, limbs where
not; when the accumulators are not kept and the scaled products stay exact, each block is one
matmul of pre-scaled operands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lowbit.errors import UsageError
from lowbit.models.accumulator import Accumulator
from lowbit.models.exact import EXACT_F64, exact_matmul, is_pow2, significand_bound, to_fp32
from lowbit.models.int_gemm import int_gemm
from lowbit.models.minifloat import FloatFormat
from lowbit.models.qtensor import QTensor


@dataclass(frozen=True, eq=False)
class GemmResult:
    """``out``: the FP32 result (M×N). ``acc``: the exact block sums D_j (blocks×M×N; int64, or
    Python integers beyond 63 bits) in units of ``2**lsb``, as the block accumulators hold them."""

    out: np.ndarray
    acc: np.ndarray | None
    lsb: int
    block: int


@dataclass(frozen=True, eq=False)
class _Operand:
    """An operand as the datapath sees it: raw integer units, zero-points, non-finite mask."""

    q: QTensor
    units: np.ndarray
    zero: np.ndarray | None
    special: np.ndarray | None

    @classmethod
    def of(cls, q: QTensor) -> _Operand:
        special = None
        if isinstance(q.fmt, FloatFormat) and q.fmt.has_nan:
            finite = q.fmt.is_finite(q.codes)
            if not finite.all():
                special = ~finite
        units = q.fmt.units(q.codes)
        if special is not None:
            units = np.where(special, 0, units)
        zero = None if q.zero_points is None else q.expand(q.zero_points).astype(np.int64)
        return cls(q, units, zero, special)

    @property
    def folded(self) -> np.ndarray:
        return self.units if self.zero is None else self.units - self.zero

    def bound(self, units: np.ndarray) -> int:
        return int(np.abs(units).max()) if units.size else 0

    def scale(self, j: int, block: int) -> np.ndarray:
        """The scales of block j as a column (A) or row (W)."""
        g = (j * block) // self.q.group
        s = self.q.scales[:, g:g + 1] if self.q.k_axis == 1 else self.q.scales[g:g + 1, :]
        return s


def _check(a: QTensor, w: QTensor) -> None:
    if a.k_axis != 1 or w.k_axis != 0:
        raise UsageError("qgemm takes activations with k_axis=1 (M×K) and weights with "
                         "k_axis=0 (K×N)")
    if a.k != w.k:
        raise UsageError(f"shapes {a.shape} and {w.shape} do not make an M×K by K×N GEMM")


def qgemm(a: QTensor, w: QTensor, acc: Accumulator | None = None, block: int | None = None,
          keep_acc: bool = True) -> GemmResult:
    """``A @ W`` as the module docstring states; see :class:`GemmResult`."""
    _check(a, w)
    span = math.gcd(a.group, w.group)
    block = span if block is None else block
    if block < 1 or span % block:
        raise UsageError(f"block {block} must divide {span}, the K-extent over which both "
                         "operands' scales are constant")
    if acc is not None and not (a.fmt.is_integer and w.fmt.is_integer):
        raise UsageError(f"an integer accumulator needs integer operands; got {a.fmt} × {w.fmt} "
                         "(float and fixed-point operands accumulate exactly)")
    oa, ow = _Operand.of(a), _Operand.of(w)
    fa, fw = oa.folded, ow.folded
    ba, bw = oa.bound(fa), ow.bound(fw)
    raw = block * oa.bound(oa.units) * ow.bound(ow.units)
    # the register never overflows: its rules change nothing and the exact sum is what it holds
    exact = acc is None or (acc.holds(-raw, raw) and acc.holds(-block * ba * bw, block * ba * bw))
    lsb = a.fmt.lsb + w.fmt.lsb
    pow2 = is_pow2(a.scales) and is_pow2(w.scales)
    sig = significand_bound(a.scales) * significand_bound(w.scales)
    m, n = a.shape[0], w.shape[1]
    c = np.zeros((m, n), dtype=np.float32)
    blocks = range(a.k // block)

    if (exact and not keep_acc and oa.special is None and ow.special is None
            and block * ba * bw * sig < EXACT_F64):
        pa = np.ldexp(fa * a.expand(a.scales), a.fmt.lsb)
        pw = np.ldexp(fw * w.expand(w.scales), w.fmt.lsb)
        for j in blocks:
            k = slice(j * block, (j + 1) * block)
            c += (pa[:, k] @ pw[k, :]).astype(np.float32)
        return GemmResult(_tensor_scale(c, a, w), None, lsb, block)

    kept = []
    for j in blocks:
        k = slice(j * block, (j + 1) * block)
        if exact:
            d = exact_matmul(fa[:, k], fw[k, :], ba, bw)
        else:
            d = _accumulate(oa, ow, k, acc)
        s = to_fp32(d, lsb, oa.scale(j, block) * ow.scale(j, block), pow2)
        if oa.special is not None or ow.special is not None:
            s = _ieee(s, oa, ow, k)
        c += s
        if keep_acc:
            kept.append(d.astype(np.int64) if d.dtype == np.float64 else d)
    acc_out = np.stack(kept) if keep_acc else None
    return GemmResult(_tensor_scale(c, a, w), acc_out, lsb, block)


def _accumulate(oa: _Operand, ow: _Operand, k: slice, acc: Accumulator) -> np.ndarray:
    """One block in an integer accumulator register, zero-points folded in at the end."""
    a, w = oa.units[:, k], ow.units[k, :]
    d = int_gemm(a, w, oa.q.fmt, ow.q.fmt, acc)
    if oa.zero is None and ow.zero is None:
        return d
    za = oa.zero[:, k][:, :1] if oa.zero is not None else np.zeros((a.shape[0], 1), np.int64)
    zw = ow.zero[k, :][:1, :] if ow.zero is not None else np.zeros((1, w.shape[1]), np.int64)
    size = a.shape[1]
    corr = -zw * a.sum(axis=1, keepdims=True) - za * w.sum(axis=0, keepdims=True) + size * za * zw
    total = d + corr
    return acc.wrap(total) if acc.overflow == "wrap" else acc.clamp(total)


def _ieee(s: np.ndarray, oa: _Operand, ow: _Operand, k: slice) -> np.ndarray:
    """Outputs of a block that meet an inf or NaN element, by IEEE 754 rules."""
    rows = oa.special[:, k].any(axis=1) if oa.special is not None else np.zeros(s.shape[0], bool)
    cols = ow.special[k, :].any(axis=0) if ow.special is not None else np.zeros(s.shape[1], bool)
    va, vw = oa.q.elements()[:, k], ow.q.elements()[k, :]
    out = s.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        if rows.any():
            v = (va[rows][:, :, None] * vw[None, :, :]).sum(axis=1)
            out[rows] = np.where(np.isfinite(v), s[rows], v)
        if cols.any():
            v = (va[:, :, None] * vw[:, cols][None, :, :]).sum(axis=1)
            out[:, cols] = np.where(np.isfinite(v), out[:, cols], v)
    return out


def _tensor_scale(c: np.ndarray, a: QTensor, w: QTensor) -> np.ndarray:
    t = a.tensor_scale * w.tensor_scale  # exact: two FP32 values
    if t == 1.0:
        return c
    return to_fp32(c.astype(np.float64), 0, np.float64(t))
