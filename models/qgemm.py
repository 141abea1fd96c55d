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
inf·0 or inf-inf; else ±inf); in ``acc`` they count as 0. A NaN scale (E8M0 0xFF) makes its
whole block NaN whatever the elements are, as the OCP MX specification says.

Speed: block sums run as float64 BLAS matmuls wherever a bound proves them exact, limbs where
not; when the accumulators are not kept and the scaled products stay exact, each block is one
matmul of pre-scaled operands.
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from lowbit.errors import UsageError
from lowbit.models.accumulator import Accumulator
from lowbit.models.exact import EXACT_F64, exact_matmul, significand_bound, to_fp32
from lowbit.models.formats import NumberFormat
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


#: element formats up to this width are decoded through a table of all their codes
_TABLE_BITS = 16


@functools.cache
def _unit_table(fmt: NumberFormat) -> tuple[np.ndarray, np.ndarray]:
    """Every code's exact integer units as float64 (NaN where the code is invalid, 0 for inf
    and NaN codes) and which codes are inf or NaN."""
    codes = fmt.codes()
    special = ~fmt.is_finite(codes) if isinstance(fmt, FloatFormat) else np.zeros(codes.size, bool)
    units = np.full(codes.size, np.nan)
    ok = fmt.is_code(codes) & ~special
    units[ok] = fmt.units(codes[ok])
    units[special] = 0.0
    return units, special


@dataclass(frozen=True, eq=False)
class _Operand:
    """An operand as the datapath sees it: integer units (float64, exact), zero-points (same
    units), and where its elements are inf or NaN (``None`` when nowhere)."""

    q: QTensor
    units: np.ndarray
    zero: np.ndarray | None
    special: np.ndarray | None

    @classmethod
    def of(cls, q: QTensor) -> _Operand:
        special = None
        if q.fmt.bits <= _TABLE_BITS:
            table, specials = _unit_table(q.fmt)
            units = table[q.codes.astype(np.intp)]
            if np.isnan(units).any():
                q.fmt.decode(q.codes)  # raises, naming the bad code
            if specials.any():
                special = specials[q.codes.astype(np.intp)]
                special = special if special.any() else None
        else:
            units = q.fmt.units(q.codes).astype(np.float64)
        zero = None if q.zero_points is None else q.expand(q.zero_points).astype(np.float64)
        return cls(q, units, zero, special)

    @functools.cached_property
    def folded(self) -> np.ndarray:
        return self.units if self.zero is None else self.units - self.zero

    @functools.cached_property
    def raw_bound(self) -> int:
        return int(np.abs(self.units).max(initial=0))

    @functools.cached_property
    def bound(self) -> int:
        return self.raw_bound if self.zero is None else int(np.abs(self.folded).max(initial=0))

    @functools.cached_property
    def elements(self) -> np.ndarray:
        return self.q.elements()

    def shared(self, prescale: bool) -> _Operand:
        """Compute, once, what parallel row slabs read from this (weight) operand."""
        _ = self.bound, self.raw_bound
        if self.special is not None:
            _ = self.elements
        if prescale and self.special is None:
            _ = self.prescaled
        return self

    @functools.cached_property
    def prescaled(self) -> np.ndarray:
        """Element values times their scales (float64; exact where the fast path uses it)."""
        return np.ldexp(self.folded * self.q.expand(self.q.scales), self.q.fmt.lsb)

    def scale(self, j: int, block: int) -> np.ndarray:
        """The scales of block j as a column (A) or row (W)."""
        g = (j * block) // self.q.group
        return self.q.scales[:, g:g + 1] if self.q.k_axis == 1 else self.q.scales[g:g + 1, :]


def _check(a: QTensor, w: QTensor) -> None:
    if a.k_axis != 1 or w.k_axis != 0:
        raise UsageError("qgemm takes activations with k_axis=1 (M×K) and weights with "
                         "k_axis=0 (K×N)")
    if a.k != w.k:
        raise UsageError(f"shapes {a.shape} and {w.shape} do not make an M×K by K×N GEMM")


def qgemm(a: QTensor, w: QTensor, acc: Accumulator | None = None, block: int | None = None,
          keep_acc: bool = True) -> GemmResult:
    """``A @ W`` as the module docstring states; see :class:`GemmResult`.

    Rows of the output are independent, so large GEMMs run as row slabs on parallel threads,
    each with single-threaded BLAS (multithreaded BLAS on the many short block matmuls is
    slower than one thread, badly so on a busy machine).

    Parameters
    ----------
    a, w
        The operands: A (M×K, ``k_axis=1``) and W (K×N, ``k_axis=0``).
    acc
        An integer accumulator (width, signedness, wrap/saturate) for integer operands.
    block
        The block length B (a divisor of the default).
    keep_acc
        Keep the exact block sums in the result (``False`` is faster).

    Returns
    -------
    GemmResult
        ``out`` (FP32, M×N) and ``acc`` (the exact block sums).
    """
    _check(a, w)
    span = math.gcd(a.group, w.group)
    block = span if block is None else block
    if block < 1 or span % block:
        raise UsageError(f"block {block} must divide {span}, the K-extent over which both "
                         "operands' scales are constant")
    if acc is not None and not (a.fmt.is_integer and w.fmt.is_integer):
        raise UsageError(f"an integer accumulator needs integer operands; got {a.fmt} × {w.fmt} "
                         "(float and fixed-point operands accumulate exactly)")
    m, n = a.shape[0], w.shape[1]
    ow = _Operand.of(w).shared(prescale=not keep_acc)
    out = np.empty((m, n), dtype=np.float32)
    workers = min(len(os.sched_getaffinity(0)), m) if m * n * a.k >= _PARALLEL_MACS else 1
    slabs = np.array_split(np.arange(m), workers)
    with threadpool_limits(1, user_api="blas"):
        if workers == 1:
            kept = [_rows(a, ow, acc, block, keep_acc, out)]
        else:
            with ThreadPoolExecutor(workers) as pool:
                kept = list(pool.map(lambda r: _rows(a.rows(r), ow, acc, block, keep_acc,
                                                     out[r[0]:r[-1] + 1]), slabs))
    acc_out = None if not keep_acc else kept[0] if len(kept) == 1 else np.concatenate(kept, 1)
    return GemmResult(_tensor_scale(out, a, w), acc_out, a.fmt.lsb + w.fmt.lsb, block)


#: GEMMs of at least this many multiply-accumulates run on parallel row slabs
_PARALLEL_MACS = 1 << 22


@np.errstate(over="ignore", invalid="ignore")  # FP32 sums reach ±inf and NaN as IEEE says
def _rows(a: QTensor, ow: _Operand, acc: Accumulator | None, block: int, keep_acc: bool,
          out: np.ndarray) -> np.ndarray | None:
    """Steps 1-4 for the rows of ``a``: the FP32 accumulators go to ``out``; returns the
    block sums when kept."""
    oa, w = _Operand.of(a), ow.q
    fa, fw = oa.folded, ow.folded
    ba, bw = oa.bound, ow.bound
    raw = block * oa.raw_bound * ow.raw_bound
    # the register never overflows: its rules change nothing and the exact sum is what it holds
    exact = acc is None or (acc.holds(-raw, raw) and acc.holds(-block * ba * bw, block * ba * bw))
    lsb = a.fmt.lsb + w.fmt.lsb
    sig = significand_bound(a.scales) * significand_bound(w.scales)
    out[...] = 0.0
    blocks = range(a.k // block)

    if (exact and not keep_acc and oa.special is None and ow.special is None
            and block * ba * bw * sig < EXACT_F64):
        pa, pw = oa.prescaled, ow.prescaled
        s = np.empty(out.shape)  # reused: a fresh 8 MB result per block costs page faults
        for j in blocks:
            k = slice(j * block, (j + 1) * block)
            np.matmul(pa[:, k], pw[k, :], out=s)
            np.add(out, s, out=out, dtype=np.float32)  # RNE32 of the exact block sum, FP32 add
        return None

    kept = []
    for j in blocks:
        k = slice(j * block, (j + 1) * block)
        if exact:
            d = exact_matmul(fa[:, k], fw[k, :], ba, bw)
        else:
            d = _accumulate(oa, ow, k, acc)
        s = to_fp32(d, lsb, oa.scale(j, block) * ow.scale(j, block))
        if oa.special is not None or ow.special is not None:
            s = _ieee(s, oa, ow, k)
        out += s
        if keep_acc:
            kept.append(d.astype(np.int64) if d.dtype == np.float64 else d)
    return None if not keep_acc else kept[0][None] if len(kept) == 1 else np.stack(kept)


def _accumulate(oa: _Operand, ow: _Operand, k: slice, acc: Accumulator) -> np.ndarray:
    """One block in an integer accumulator register, zero-points folded in at the end."""
    a, w = oa.units[:, k].astype(np.int64), ow.units[k, :].astype(np.int64)
    d = int_gemm(a, w, oa.q.fmt, ow.q.fmt, acc)
    if oa.zero is None and ow.zero is None:
        return d
    za = (oa.zero[:, k][:, :1] if oa.zero is not None else np.zeros((a.shape[0], 1))
          ).astype(np.int64)
    zw = (ow.zero[k, :][:1, :] if ow.zero is not None else np.zeros((1, w.shape[1]))
          ).astype(np.int64)
    size = a.shape[1]
    corr = -zw * a.sum(axis=1, keepdims=True) - za * w.sum(axis=0, keepdims=True) + size * za * zw
    total = d + corr
    return acc.wrap(total) if acc.overflow == "wrap" else acc.clamp(total)


def _ieee(s: np.ndarray, oa: _Operand, ow: _Operand, k: slice) -> np.ndarray:
    """Outputs of a block that meet an inf or NaN element, by IEEE 754 rules."""
    rows = oa.special[:, k].any(axis=1) if oa.special is not None else np.zeros(s.shape[0], bool)
    cols = ow.special[k, :].any(axis=0) if ow.special is not None else np.zeros(s.shape[1], bool)
    va, vw = oa.elements[:, k], ow.elements[k, :]
    out = s.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        if rows.any():
            v = (va[rows][:, :, None] * vw[None, :, :]).sum(axis=1)
            out[rows] = np.where(np.isfinite(v) | np.isnan(s[rows]), s[rows], v)
        if cols.any():
            v = (va[:, :, None] * vw[:, cols][None, :, :]).sum(axis=1)
            out[:, cols] = np.where(np.isfinite(v) | np.isnan(out[:, cols]), out[:, cols], v)
    return out


def exact_dots(a_fmt: NumberFormat, a_codes: np.ndarray, w_fmt: NumberFormat,
               w_codes: np.ndarray, unit_exp: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise dot products of paired code arrays (D×K each): step 2 of :func:`qgemm` for
    D dots instead of an M×N grid, plus the IEEE value of the rows that meet inf or NaN.

    Returns ``(sums, ieee)``: ``sums`` are the exact ``Σ_k a_k·w_k`` in units of
    ``2**(lsb_a + lsb_w + unit_exp)`` as Python integers (object array) with inf/NaN elements
    counting as 0 and, when ``unit_exp`` > 0, every product rounded toward -inf to that unit
    first;
    ``ieee`` is ``Σ_k a_k·w_k`` in float64 where a row meets an inf or NaN element (±inf or NaN
    by IEEE 754, as :func:`qgemm` gives them) and 0 elsewhere.
    """
    ua, sa = _unit_table(a_fmt)
    uw, sw = _unit_table(w_fmt)
    ia, iw = np.asarray(a_codes).astype(np.intp), np.asarray(w_codes).astype(np.intp)
    if np.isnan(ua[ia]).any() or np.isnan(uw[iw]).any():
        a_fmt.decode(a_codes), w_fmt.decode(w_codes)  # raises, naming the bad code
    pa, pw = ua[ia].astype(np.int64).astype(object), uw[iw].astype(np.int64).astype(object)
    products = pa * pw
    if unit_exp:  # Python integers: shifts are exact, and a right shift is floor
        products = products >> unit_exp if unit_exp > 0 else products << -unit_exp
    sums = products.sum(axis=1) if products.shape[1] else np.zeros(len(products), object)
    special = sa[ia] | sw[iw]
    ieee = np.zeros(len(products))
    rows = special.any(axis=1)
    if rows.any():
        with np.errstate(invalid="ignore", over="ignore"):
            ieee[rows] = (a_fmt.decode(a_codes[rows]) * w_fmt.decode(w_codes[rows])).sum(axis=1)
    return sums, ieee


def _tensor_scale(c: np.ndarray, a: QTensor, w: QTensor) -> np.ndarray:
    t = a.tensor_scale * w.tensor_scale  # exact: two FP32 values
    if t == 1.0:
        return c
    return to_fp32(c.astype(np.float64), 0, np.float64(t))
