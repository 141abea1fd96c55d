"""Quantizers: real tensors to :class:`~lowbit.models.qtensor.QTensor` operands.

A :class:`QuantSpec` says how: the element format, the granularity (per tensor, per channel,
or per group of G along K), symmetric or asymmetric (zero-point), and the scale type
(``float32``, ``pow2``: a power of two held as its exponent, or ``e8m0``). The block-scaled
formats (:mod:`lowbit.models.block_formats`) quantize with the rules of their specifications.

Stated rules (``amax`` is the largest magnitude of a group, ``max``/``min`` the format's range):

* Inputs are taken as FP32 (converted with round-to-nearest-even if given wider) and must be
  finite. Scale arithmetic is FP32 arithmetic (IEEE, round to nearest even), as in PyTorch.
* Symmetric integers and floats: ``scale = amax / max``; elements ``clip(rne(x / scale))``
  (integers) or the format's saturating encode of ``x / scale`` (floats).
* Asymmetric integers: the range ``[lo, hi] = [min(x, 0), max(x, 0)]``; ``scale = (hi - lo) /
  (max - min)``; ``zero_point = clip(rne(min - lo / scale))``; elements
  ``clip(rne(x / scale) + zero_point)``.
* ``pow2``/``e8m0`` scales: the smallest power of two ``≥`` the FP32 ratio above, so nothing
  clips (e8m0 clamps the exponent to -127..127, pow2 to the int8 exponent range).
* Binary: ``x ≥ 0 → +1`` else ``-1``, ``scale = mean|x|`` (XNOR-Net). Ternary: threshold
  ``Δ = 0.7·mean|x|``, elements ``sign(x)·[|x| > Δ]``, ``scale`` = mean of ``|x|`` above Δ
  (TWN). With pow2/e8m0 those scales go to the nearest power of two (ties up).
* An all-zero group gets scale 1 (zero-point 0 when symmetric).
* An FP32 scale must be a normal FP32 number: a group whose scale would overflow FP32 (an
  asymmetric range ``hi - lo`` above FP32's max, e.g. ``[3e38, -3e38]``) or fall below the
  smallest normal ``2**-126`` (``amax`` below ``max · 2**-126``; a zero or subnormal scale
  would zero the group or clip its largest elements) is refused with a :class:`FormatError`
  naming the group; ``pow2``/``e8m0`` scales take such groups (their exponent clamps: nothing
  clips, and elements below the smallest scale's step round to zero).

``x / scale`` is one float64 division of an FP32 value by a scale of at most 24 significant
bits, then one rounding to the element format: the quotient lies at least 2**-31 (relative)
from every rounding tie of an element format with at most 27 significant bits, so the float64
rounding error (2**-53) never changes the result. Wider integer formats need ``pow2`` scales.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lowbit.errors import UsageError
from lowbit.models.formats import (
    BINARY,
    TERNARY,
    FixedFormat,
    FormatError,
    IntFormat,
    LevelFormat,
    NumberFormat,
    parse_format,
)
from lowbit.models.minifloat import FloatFormat
from lowbit.models.qtensor import (
    GRANULARITIES,
    SCALE_FORMATS,
    QTensor,
    check_group,
    check_k_axis,
    from_groups,
    orient,
    to_groups,
)

SCALE_TYPES: tuple[str, ...] = ("float32", "pow2", "e8m0")
#: the widest integer format that FP32 scales quantize exactly (see the module docstring)
MAX_BITS_FP32_SCALE = 27


def as_input(x: np.ndarray) -> np.ndarray:
    """A 2-D, finite FP32 tensor, or a clear error."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise UsageError(f"quantizers take 2-D GEMM operands; got shape {x.shape}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise FormatError("the input holds NaN or infinity; quantizers need finite values")
    return x


def floor_log2(x: np.ndarray) -> np.ndarray:
    """``floor(log2(x))`` exactly, for positive x (int64)."""
    return np.frexp(x)[1].astype(np.int64) - 1


def pow2_at_least(num: np.ndarray, den: float) -> np.ndarray:
    """The smallest integer e with ``den · 2**e ≥ num`` (exact; 0 where num is 0)."""
    num, den = np.asarray(num, dtype=np.float64), np.float64(den)  # an int would mean float16
    e = np.frexp(num)[1].astype(np.int64) - np.frexp(den)[1] - 1
    for _ in range(3):
        e = e + (np.ldexp(den, e.astype(np.int32)) < num)
    return np.where(num > 0, e, 0)


def pow2_nearest(x: np.ndarray) -> np.ndarray:
    """The exponent of the power of two nearest to positive x (ties up; 0 where x is 0)."""
    m, e = np.frexp(np.asarray(x, dtype=np.float64))
    return np.where(x > 0, e.astype(np.int64) - (m < 0.75), 0)


def fp32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def check_fp32_scales(num: np.ndarray, scale: np.ndarray, what: str, *, group: bool = True,
                      fix: str = "rescale the input, or use pow2 or e8m0 scales") -> None:
    """A FormatError for the first group with non-zero ``num`` whose FP32 ``scale`` is not a
    normal number (inf, zero or subnormal): see the module docstring's rule."""
    bad = (np.asarray(num) != 0) & ~(np.isfinite(scale) & (np.abs(scale) >= _FP32_TINY))
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        n, s = float(np.asarray(num)[index]), float(scale[index])
        problem = "overflows FP32" if not np.isfinite(s) else \
            "is below the smallest normal FP32 (2**-126)"
        where = f"group {index}: its" if group else "the"
        raise FormatError(f"{where} FP32 scale ({what} {n:g} → {s:g}) {problem}; an FP32 scale "
                          f"must be a normal FP32 number: {fix}")


_FP32_TINY = float(np.finfo(np.float32).tiny)


def round_scale(num: np.ndarray, den: float, scale_type: str, what: str = "amax") -> np.ndarray:
    """The scale ``num / den`` of each group, as a value of ``scale_type`` (float64, exact)."""
    if scale_type == "float32":
        with np.errstate(over="ignore", under="ignore"):
            s = (fp32(num) / np.float32(den)).astype(np.float64)
        check_fp32_scales(num, s, f"{what} / {den:g}:")
        return np.where(s > 0, s, 1.0)
    e = pow2_at_least(num, den)
    return _pow2_scale(e, scale_type)


def _pow2_scale(e: np.ndarray, scale_type: str) -> np.ndarray:
    fmt = SCALE_FORMATS[scale_type]
    lo, hi = (fmt.min, fmt.max) if scale_type == "pow2" else (fmt.emin, fmt.emax)
    return np.ldexp(1.0, np.clip(e, lo, hi).astype(np.int32))


@dataclass(frozen=True)
class QuantSpec:
    """How to quantize a GEMM operand: element format, granularity, symmetry, scale type."""

    fmt: NumberFormat
    granularity: str = "tensor"
    group: int | None = None
    symmetric: bool = True
    scale: str = "float32"

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise UsageError(f"granularity {self.granularity!r} is not allowed; one of "
                             f"{', '.join(GRANULARITIES)}")
        if (self.granularity == "group") != (self.group is not None):
            raise UsageError("a group size goes with granularity 'group' and only with it")
        if self.group is not None and self.group < 1:
            raise UsageError(f"group size {self.group} is not allowed; it must be at least 1")
        if self.scale not in SCALE_TYPES:
            raise UsageError(f"scale type {self.scale!r} is not allowed; one of "
                             f"{', '.join(SCALE_TYPES)}")
        if not (isinstance(self.fmt, (IntFormat, FloatFormat, FixedFormat))
                or self.fmt in (TERNARY, BINARY)):
            raise UsageError(f"{self.fmt} is not an element format; block formats quantize "
                             "with their own scales (use the format itself)")
        if not self.symmetric and not isinstance(self.fmt, IntFormat):
            raise UsageError(f"asymmetric (zero-point) quantization needs an integer format; "
                             f"{self.fmt} is not one")
        if self.symmetric and isinstance(self.fmt, IntFormat) and self.fmt.max < 1:
            raise UsageError(f"{self.fmt} holds {self.fmt.min}..{self.fmt.max}: symmetric "
                             "quantization (scale = amax / max) needs a positive max; use "
                             f"{self.fmt}:asym, uint1 or binary")
        if (isinstance(self.fmt, IntFormat) and self.scale == "float32"
                and self.fmt.bits > MAX_BITS_FP32_SCALE):
            raise UsageError(f"{self.fmt} with float32 scales is beyond the exactly modelled "
                             f"range (up to {MAX_BITS_FP32_SCALE} bits); use pow2 scales")

    @property
    def name(self) -> str:
        parts = [self.fmt.name, "tensor" if self.granularity == "tensor" else
                 "channel" if self.granularity == "channel" else f"g{self.group}"]
        if not self.symmetric:
            parts.append("asym")
        if self.scale != "float32":
            parts.append(self.scale)
        return ":".join(parts)

    def __str__(self) -> str:
        return self.name

    def quantize(self, x: np.ndarray, k_axis: int = 1) -> QTensor:
        """``x`` (2-D, K along ``k_axis``) to a QTensor by this spec's rules."""
        check_k_axis(k_axis)
        x = as_input(x)
        k = x.shape[k_axis]
        group = self.group if self.granularity == "group" else k
        check_group(group, k)
        g = to_groups(x, k_axis, self.granularity, group).astype(np.float64)
        zero_points = None
        if isinstance(self.fmt, LevelFormat):
            q, scale = self._levels(g)
        elif not self.symmetric:
            q, scale, zp = self._asymmetric(g)
            zero_points = orient(zp, k_axis)
        else:
            amax = np.abs(g).max(axis=2)
            scale = round_scale(amax, self.fmt.max, self.scale)
            ratio = g / scale[..., None]
            if isinstance(self.fmt, IntFormat):
                q = np.clip(np.rint(ratio), self.fmt.min, self.fmt.max).astype(np.int64)
                q = self.fmt.encode(q)
            else:
                q = self.fmt.encode(ratio, saturate=True)
        codes = from_groups(q, k_axis, x.shape)
        scales = orient(np.broadcast_to(scale, g.shape[:2]), k_axis)
        return QTensor(self.fmt, codes, k_axis, group, np.ascontiguousarray(scales),
                       self.scale, zero_points)

    def _asymmetric(self, g: np.ndarray):
        lo = np.minimum(g.min(axis=2), 0.0)
        hi = np.maximum(g.max(axis=2), 0.0)
        levels = self.fmt.max - self.fmt.min
        if self.scale == "float32":
            with np.errstate(over="ignore"):
                scale = ((fp32(hi) - fp32(lo)) / np.float32(levels)).astype(np.float64)
            check_fp32_scales(hi - lo, scale, f"range hi - lo / {levels}:")
            scale = np.where(scale > 0, scale, 1.0)
        else:
            scale = round_scale(hi - lo, levels, self.scale)
        zp = np.clip(np.rint(self.fmt.min - lo / scale), self.fmt.min, self.fmt.max)
        q = np.clip(np.rint(g / scale[..., None]) + zp[..., None], self.fmt.min, self.fmt.max)
        return self.fmt.encode(q.astype(np.int64)), scale, zp.astype(np.int64)

    def _levels(self, g: np.ndarray):
        mag = np.abs(g)
        if self.fmt == TERNARY:
            delta = 0.7 * mag.mean(axis=2, keepdims=True)
            keep = mag > delta
            q = np.where(keep, np.where(g < 0, -1, 1), 0)
            alpha = (mag * keep).sum(axis=2) / np.maximum(keep.sum(axis=2), 1)
        else:
            q = np.where(g < 0, -1, 1)
            alpha = mag.mean(axis=2)
        if self.scale == "float32":
            with np.errstate(under="ignore"):
                scale = alpha.astype(np.float32).astype(np.float64)
            check_fp32_scales(alpha, scale, "mean magnitude")
            scale = np.where(scale > 0, scale, 1.0)
        else:
            scale = _pow2_scale(pow2_nearest(alpha), self.scale)
        return self.fmt.encode(q), scale


_GROUP = re.compile(r"g(\d+)")


def parse_quantizer(text: str):
    """A quantizer from ``FORMAT[:GRANULARITY][:asym][:SCALE]``, e.g. ``int4:g128:asym:pow2``,
    ``int8:channel``, ``fp8_e4m3``, or a block format (``mxfp4``, ``nvfp4``)."""
    from lowbit.models.block_formats import BlockFormat

    fmt_name, *opts = [p.strip() for p in str(text).lower().split(":")]
    fmt = parse_format(fmt_name)
    if isinstance(fmt, BlockFormat):
        if opts:
            raise UsageError(f"{fmt} sets its own block size and scales; drop "
                             f"':{':'.join(opts)}' from {text!r}")
        return fmt
    kw: dict = {}
    for opt in opts:
        if opt in ("tensor", "channel"):
            kw["granularity"] = opt
        elif m := _GROUP.fullmatch(opt):
            kw["granularity"], kw["group"] = "group", int(m.group(1))
        elif opt in ("asym", "sym"):
            kw["symmetric"] = opt == "sym"
        elif opt in SCALE_TYPES:
            kw["scale"] = opt
        else:
            raise UsageError(f"quantizer option {opt!r} in {text!r} is not allowed; use tensor, "
                             f"channel or gN (group size), sym or asym, and a scale type "
                             f"({', '.join(SCALE_TYPES)})")
    return QuantSpec(fmt, **kw)


def quantize(x: np.ndarray, quantizer, k_axis: int = 1) -> QTensor:
    """Quantize ``x`` with a :class:`QuantSpec`, a block format, or a quantizer string.

    Parameters
    ----------
    x
        A real 2-D operand.
    quantizer
        A :class:`QuantSpec`, a block format or a string ``FORMAT[:tensor|channel|gN][:sym|asym]
        [:float32|pow2|e8m0]``.
    k_axis
        1 for activations (M×K), 0 for weights (K×N).

    Returns
    -------
    QTensor
        Element codes, scales, zero-points and layout.
    """
    if isinstance(quantizer, str):
        quantizer = parse_quantizer(quantizer)
    return quantizer.quantize(x, k_axis)
