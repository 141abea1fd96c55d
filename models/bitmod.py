"""BitMoD's mixture of data types: per-group 3- and 4-bit types with special values.

From Chen et al., "BitMoD: Bit-serial Mixture-of-Datatype LLM Acceleration" (HPCA 2025). A
weight group (e.g. 128 weights along K of one output channel) is quantized with whichever of
four data types gives it the least error, and the choice (2 bits) is stored with the group
beside its scale. Each type is a small float whose redundant negative zero is re-purposed as
one *special value*:

========  =================================================================================
base      FP3 = E2M0 (±1, ±2, ±4, 0) or FP4 = E2M1 in units of its half step (±1, ±2, ±3,
          ±4, ±6, ±8, ±12, 0): :class:`~lowbit.models.minifloat.FloatFormat` objects
``er+``   extra resolution: the code of -0 stands for +3 (FP3) / +10 (FP4), a value between
          the two largest ones
``er-``   the same value negated
``ea+``   extra asymmetry: the code of -0 stands for +6 (FP3) / +16 (FP4), beyond the range
``ea-``   the same value negated
========  =================================================================================

Values are integers (units of the base format's ``2**lsb``), so an integer datapath computes
with them exactly; the group scale absorbs the unit.

**The unified representation** a bit-serial PE decodes every type into: a nonzero value is
``(-1)^s · m · 2^e`` with odd ``m`` (FP4: m ∈ {1, 3, 5}, e ≤ 4; FP3: m ∈ {1, 3}, e ≤ 2), zero
is m = 0. The PE shifts the activation by ``e`` and feeds m's bits serially: ``serial_bits``
cycles per weight (3 for FP4, 2 for FP3) instead of the 4 or 3 of plain INT4/INT3.

**Quantizer** (:class:`BitmodSpec`, ``bitmod4:g128``). Per group and per type, as the paper
does: ``scale = amax / qmax`` (qmax = the type's largest magnitude; FP32 arithmetic; an
all-zero group gets scale 1), every element goes to the type's nearest value, and the type of
least squared error wins. What the paper leaves open, chosen here: a tie between two values
goes to the one of smaller magnitude; a tie between types goes to the first in the order
``er+, er-, ea+, ea-`` (the type ids 0..3); codes of a value are unique within a type.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from lowbit.errors import UsageError
from lowbit.models.formats import Format, FormatError, IntFormat
from lowbit.models.minifloat import FP4_E2M1, FloatFormat
from lowbit.models.qtensor import check_group, check_k_axis, orient, to_groups
from lowbit.models.quantize import as_input, check_fp32_scales

#: the four data types of a BitMoD precision, in type-id order
TYPE_NAMES: tuple[str, ...] = ("er+", "er-", "ea+", "ea-")
TYPE_BITS = 2
UINT8 = IntFormat(8, signed=False)


@dataclass(frozen=True)
class BitmodFormat(Format):
    """A BitMoD precision: ``base`` codes whose negative-zero code means one special value per
    type (``resolution`` for the ER types, ``asymmetry`` for the EA types, in units)."""

    name: str
    base: FloatFormat
    resolution: int
    asymmetry: int

    #: the decoded value is signed; codes are ``bits``-bit patterns
    signed = True

    @property
    def bits(self) -> int:
        return self.base.bits

    @property
    def type_bits(self) -> int:
        return TYPE_BITS

    @property
    def special_code(self) -> int:
        """The code of the base format's negative zero, which each type re-purposes."""
        return self.base.sign_mask

    @property
    def specials(self) -> tuple[int, int, int, int]:
        """The special value of each type id (units)."""
        return (self.resolution, -self.resolution, self.asymmetry, -self.asymmetry)

    def table(self) -> np.ndarray:
        """Units of every (type id, code): a (4, 2**bits) int64 array."""
        return _table(self)

    def decode(self, codes: np.ndarray, types: np.ndarray) -> np.ndarray:
        """Integer units of ``codes`` under the type ids ``types`` (broadcast together); a
        code or type id out of range is an error."""
        c = np.asarray(codes)
        t = np.asarray(types)
        for what, arr, top in (("code", c, 1 << self.bits), ("type id", t, 1 << TYPE_BITS)):
            if arr.size and (arr.min() < 0 or arr.max() >= top):
                bad = int(arr[(arr < 0) | (arr >= top)].flat[0])
                raise FormatError(f"{what} {bad} is not a {self.name} {what}; allowed "
                                  f"0..{top - 1}")
        return self.table()[t.astype(np.int64), c.astype(np.int64)]

    def values(self, type_id: int) -> np.ndarray:
        """The values of one type, in increasing order (each once)."""
        return np.unique(self.table()[type_id])

    def encode(self, values: np.ndarray, types: np.ndarray) -> np.ndarray:
        """Values to codes under the type ids ``types``; a value the type lacks is an error."""
        v = np.asarray(values, dtype=np.int64)
        t = np.broadcast_to(np.asarray(types, dtype=np.int64), v.shape)
        out = np.zeros(v.shape, dtype=np.uint64)
        done = np.zeros(v.shape, dtype=bool)
        for type_id, row in enumerate(self.table()):
            for code, value in enumerate(row):
                hit = (t == type_id) & (v == value) & ~done
                out[hit], done[hit] = code, True
        if v.size and not done.all():
            i = np.argwhere(~done)[0]
            raise FormatError(f"value {int(v[tuple(i)])} is not a {self.name} "
                              f"{TYPE_NAMES[int(t[tuple(i)])]} value")
        return out

    @property
    def max_units(self) -> int:
        return int(np.abs(self.table()).max())

    @property
    def value_format(self) -> IntFormat:
        """The narrowest two's-complement integer holding every value (for integer GEMMs)."""
        return IntFormat(self.max_units.bit_length() + 1)

    def terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The unified representation of every (type id, code): sign (0/1), odd mantissa m
        (0 for zero) and shift e, so that value = (-1)^sign · m · 2^e."""
        return _terms(self)

    @property
    def serial_bits(self) -> int:
        """Bits of the largest mantissa m: cycles a bit-serial PE spends on one weight."""
        return int(self.terms()[1].max()).bit_length()

    @property
    def max_shift(self) -> int:
        return int(self.terms()[2].max())

    def random(self, rng: np.random.Generator, shape) -> tuple[np.ndarray, np.ndarray]:
        """Uniformly random codes and type ids of ``shape`` (every code is a value)."""
        return (rng.integers(0, 1 << self.bits, size=shape).astype(np.uint64),
                rng.integers(0, 1 << TYPE_BITS, size=shape).astype(np.uint64))


@cache
def _table(fmt: BitmodFormat) -> np.ndarray:
    base = fmt.base.units(fmt.base.codes()).astype(np.int64)
    out = np.repeat(base[None, :], len(TYPE_NAMES), axis=0)
    out[:, fmt.special_code] = fmt.specials
    out.setflags(write=False)
    return out


@cache
def _terms(fmt: BitmodFormat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = fmt.table()
    mag = np.abs(v)
    shift = np.zeros(v.shape, dtype=np.int64)
    for _ in range(int(mag.max()).bit_length()):
        even = (mag > 0) & ((mag >> shift) % 2 == 0)
        shift += even
    sign = (v < 0).astype(np.int64)
    return sign, mag >> shift, shift


#: FP3 (E2M0, ±1 ±2 ±4) with +-3 (extra resolution) or +-6 (extra asymmetry)
FP3_E2M0 = FloatFormat("fp3_e2m0", 2, 0, 1, "none")
BITMOD3 = BitmodFormat("bitmod3", FP3_E2M0, 3, 6)
#: FP4 (E2M1 in half steps: ±1 ±2 ±3 ±4 ±6 ±8 ±12) with +-10 or +-16
BITMOD4 = BitmodFormat("bitmod4", FP4_E2M1, 10, 16)
BITMOD_FORMATS: dict[str, BitmodFormat] = {f.name: f for f in (BITMOD3, BITMOD4)}


def nearest(levels: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each of ``x`` rounded to the nearest of the sorted ``levels``; a tie goes to the level
    of smaller magnitude; beyond the ends, the end (saturation)."""
    levels = np.asarray(levels, dtype=np.float64)
    i = np.clip(np.searchsorted(levels, x), 1, len(levels) - 1)
    lo, hi = levels[i - 1], levels[i]
    below, above = x - lo, hi - x
    take_hi = (above < below) | ((above == below) & (np.abs(hi) < np.abs(lo)))
    return np.where(take_hi, hi, lo)


@dataclass(frozen=True, eq=False)
class BitmodTensor:
    """A BitMoD-quantized operand: codes, and per group a type id and an FP32 scale (arrays in
    the operand's orientation, K counted in groups, as :class:`~lowbit.models.qtensor.QTensor`
    holds scales)."""

    fmt: BitmodFormat
    codes: np.ndarray
    types: np.ndarray
    scales: np.ndarray
    k_axis: int
    group: int

    def expand(self, per_group: np.ndarray) -> np.ndarray:
        out = np.repeat(per_group, self.group, axis=self.k_axis)
        return np.broadcast_to(out, self.codes.shape)

    def elements(self) -> np.ndarray:
        """Element values in units (int64), before the scales."""
        return self.fmt.decode(self.codes, self.expand(self.types))

    def dequantize(self) -> np.ndarray:
        return self.elements() * self.expand(self.scales)

    @property
    def bits_per_element(self) -> float:
        """Element bits plus each group's FP32 scale and type id, shared by its elements."""
        return self.fmt.bits + (32 + TYPE_BITS) * self.scales.size / self.codes.size

    def integer_scales(self, fmt: IntFormat = UINT8) -> tuple[np.ndarray, np.ndarray]:
        """The scales as integer codes of ``fmt`` times one FP32 scale per channel, for a
        datapath that multiplies group sums by integers (the ``bitserial`` core's ``int`` and
        ``serial`` scales): ``scale ≈ code · base``, ``base = max(scale) / fmt.max`` over the
        channel's groups, codes rounded to nearest (ties to even) and clipped to 1..max.
        Returns (codes in the scales' orientation, bases: one per channel)."""
        if fmt.signed or fmt.max < 1:
            raise UsageError(f"integer scales are unsigned codes; {fmt} is not (use uint2..)")
        s = self.scales if self.k_axis == 1 else self.scales.T
        base = (s.max(axis=1, keepdims=True) / fmt.max).astype(np.float32).astype(np.float64)
        codes = np.clip(np.rint(s / base), 1, fmt.max).astype(np.int64)
        return orient(codes, self.k_axis), base[:, 0]


@dataclass(frozen=True)
class BitmodSpec:
    """The BitMoD quantizer: groups of ``group`` along K (``None``: one group per channel)."""

    fmt: BitmodFormat
    group: int | None = 128

    @property
    def name(self) -> str:
        return f"{self.fmt.name}:{'channel' if self.group is None else f'g{self.group}'}"

    def quantize(self, x: np.ndarray, k_axis: int = 1) -> BitmodTensor:
        """``x`` (2-D, K along ``k_axis``) quantized group by group with the least-error type."""
        check_k_axis(k_axis)
        x = as_input(x)
        k = x.shape[k_axis]
        group = k if self.group is None else self.group
        check_group(group, k)
        g = to_groups(x, k_axis, "channel" if self.group is None else "group", group
                      ).astype(np.float64)
        amax = np.abs(g).max(axis=2)
        table = self.fmt.table()
        errors, picks, scales = [], [], []
        for type_id in range(len(TYPE_NAMES)):
            levels = np.unique(table[type_id]).astype(np.float64)
            qmax = float(np.abs(levels).max())
            with np.errstate(under="ignore"):
                s = (amax.astype(np.float32) / np.float32(qmax)).astype(np.float64)
            check_fp32_scales(amax, s, f"amax / {qmax:g}:")
            s = np.where(s > 0, s, 1.0)
            q = nearest(levels, g / s[..., None])
            errors.append(((g - q * s[..., None]) ** 2).sum(axis=2))
            picks.append(q)
            scales.append(s)
        best = np.argmin(np.stack(errors), axis=0)      # the first of equal errors
        q = np.take_along_axis(np.stack(picks), best[None, ..., None], axis=0)[0]
        scale = np.take_along_axis(np.stack(scales), best[None], axis=0)[0]
        codes = self.fmt.encode(q.astype(np.int64), best[..., None])
        xt_shape = x.shape if k_axis == 1 else x.shape[::-1]
        codes = codes.reshape(xt_shape)
        return BitmodTensor(self.fmt, codes if k_axis == 1 else codes.T,
                            orient(best.astype(np.int64), k_axis), orient(scale, k_axis),
                            k_axis, group)


def parse_bitmod(text: str) -> BitmodSpec | None:
    """``bitmod4[:gN|:channel]`` → a :class:`BitmodSpec` (default groups of 128); ``None``
    when ``text`` names no BitMoD format."""
    name, *opts = [p.strip() for p in str(text).lower().split(":")]
    if name not in BITMOD_FORMATS:
        return None
    group: int | None = 128
    for opt in opts:
        if opt == "channel":
            group = None
        elif opt.startswith("g") and opt[1:].isdigit() and int(opt[1:]) > 0:
            group = int(opt[1:])
        else:
            raise UsageError(f"quantizer option {opt!r} in {text!r} is not allowed; "
                             f"{name} takes gN (group size, default g128) or channel")
    return BitmodSpec(BITMOD_FORMATS[name], group)
