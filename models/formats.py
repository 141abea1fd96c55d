"""Number formats: the single source of truth for how a value is stored in bits.

The golden models encode and decode with these objects; the generators in ``lowbit.hw`` derive
their port shapes, decoders and multipliers from the same objects. A format is never described
twice.

This module holds the integer-valued formats (two's-complement/unsigned integers, fixed point,
ternary and binary) and :func:`parse_format`, which resolves every format name Lowbit knows,
including the minifloats of :mod:`lowbit.models.minifloat` and the block-scaled formats of
:mod:`lowbit.models.block_formats`. Naming scheme:

==========================  =================================================================
``int1``..``int32``         two's-complement integers; ``uint1``..``uint32`` unsigned
``intN_fF``                 N-bit two's complement with F fraction bits (value = integer·2⁻ᶠ)
``ternary``, ``binary``     {-1, 0, +1} in 2-bit two's complement; {-1, +1} as one bit (0 → -1)
``fpN_eXmY``                minifloat of N bits: sign, X exponent bits, Y mantissa bits, as the
                            OCP specs define it; a suffix names another variant (``fnuz``)
``e8m0``                    the unsigned power-of-two scale of OCP MX
``fp16``/``bf16``/``fp32``  IEEE half, bfloat16, IEEE single
``mxfp8_e4m3`` ...          OCP MX v1.0 block formats; ``nvfp4`` NVIDIA's FP4 block format
``bitmod3``, ``bitmod4``    BitMoD's per-group mixtures of data types (:mod:`lowbit.models.bitmod`)
``olive4``                  OliVe's INT4/abfloat outlier-victim pairs (:mod:`lowbit.models.olive`)
==========================  =================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lowbit.errors import UsageError


class FormatError(UsageError):
    """A value or a name that a format cannot represent."""


class Format:
    """Anything :func:`parse_format` returns: element formats and block-scaled formats."""

    name: str

    def __str__(self) -> str:
        return self.name


class NumberFormat(Format):
    """A format of single values: ``bits``-bit codes, each standing for one value.

    Every finite value is an integer multiple of ``2**lsb``; :meth:`units` gives that integer,
    which is what exact (fixed-point) arithmetic and the hardware datapaths work on.
    """

    bits: int
    lsb: int = 0
    #: whether some code stands for NaN
    has_nan: bool = False
    #: whether some code stands for ±inf
    has_inf: bool = False

    #: the widest format whose codes and values are listed
    MAX_LISTED_BITS = 24

    def codes(self) -> np.ndarray:
        """Every bit pattern, in increasing code order."""
        if self.bits > self.MAX_LISTED_BITS:
            raise FormatError(f"{self.name} has 2**{self.bits} codes, too many to list")
        return np.arange(1 << self.bits, dtype=np.uint64)

    def units(self, codes: np.ndarray) -> np.ndarray:
        """Codes to exact integers ``value / 2**lsb`` (int64); finite codes only."""
        raise NotImplementedError

    def checked_codes(self, codes: np.ndarray) -> np.ndarray:
        """``codes`` as int64, or a FormatError naming the first that is not a ``bits``-bit
        pattern (negative, too wide or not an integer): decoding never wraps a code around."""
        c = np.asarray(codes)
        if c.size and not (np.issubdtype(c.dtype, np.integer) or np.issubdtype(c.dtype, np.bool_)):
            whole = np.isfinite(c) & (c == np.round(c)) if np.issubdtype(c.dtype, np.floating) \
                else np.zeros(c.shape, dtype=bool)
            if not whole.all():
                bad = float(c[~whole].flat[0])
                raise FormatError(f"code {bad:g} is not an integer bit pattern of {self.name}")
        c = c.astype(np.int64) if c.dtype != np.uint64 else c
        bad = (c < 0) | (c > (1 << self.bits) - 1) if c.dtype != np.uint64 else \
            c > np.uint64((1 << self.bits) - 1)
        if c.size and np.any(bad):
            raise FormatError(f"code {int(c[bad].flat[0])} is not a {self.name} code; "
                              f"{self.name} codes are 0..{(1 << self.bits) - 1}")
        return c.astype(np.int64)

    def is_code(self, codes: np.ndarray) -> np.ndarray:
        """Which bit patterns stand for a value (all, except in :class:`LevelFormat`)."""
        return np.ones(np.shape(codes), dtype=bool)

    def is_finite(self, codes: np.ndarray) -> np.ndarray:
        """Which bit patterns stand for a finite value: every code of a value, except a
        float's inf and NaN (so code tables of any element format, e.g. MXINT8's fixed point,
        are read alike)."""
        return self.is_code(codes)

    @property
    def max_units(self) -> int:
        """The largest ``|value| / 2**lsb`` over all finite values (here: integer formats,
        whose units are their values)."""
        return max(-self.min, self.max)

    @property
    def is_integer(self) -> bool:
        """Whether every value is an integer (so integer accumulators apply)."""
        return self.lsb >= 0


class IntRange:
    """``min``/``max`` of a two's-complement (``signed``) or unsigned integer of ``bits`` bits."""

    bits: int
    signed: bool

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1


@dataclass(frozen=True)
class IntFormat(IntRange, NumberFormat):
    """An integer of ``bits`` bits, two's complement when ``signed``.

    Codes are the raw bit patterns as unsigned integers (what sits on a wire); values are the
    integers they stand for.
    """

    bits: int
    signed: bool = True

    MAX_BITS = 32

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= self.MAX_BITS:
            raise FormatError(
                f"integer width {self.bits} is not allowed; widths are 1..{self.MAX_BITS} bits"
            )

    @property
    def name(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}"

    def __str__(self) -> str:
        return self.name

    def values(self) -> np.ndarray:
        """Every representable value, in increasing order."""
        return np.arange(self.min, self.max + 1, dtype=np.int64)

    def valid(self, values: np.ndarray) -> np.ndarray:
        """Which of ``values`` the format can hold."""
        v = np.asarray(values)
        return (v >= self.min) & (v <= self.max)

    def describe_values(self) -> str:
        return f"{self.min}..{self.max}"

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Integer values to bit patterns; a value out of range is an error, not a wrap."""
        v = np.asarray(values)
        if v.size and not np.issubdtype(v.dtype, np.integer):
            if not np.all(np.isfinite(v)) or not np.all(v == np.round(v)):
                raise FormatError(f"{self.name} encodes integers only; got non-integer values")
            v = v.astype(np.int64)
        v = v.astype(np.int64)
        if v.size and (v.min() < self.min or v.max() > self.max):
            bad = v[(v < self.min) | (v > self.max)].flat[0]
            raise FormatError(
                f"value {int(bad)} does not fit {self.name}; allowed {self.min}..{self.max}"
            )
        return (v & ((1 << self.bits) - 1)).astype(np.uint64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Bit patterns to integer values (sign-extended when signed); a code outside
        ``0..2**bits - 1`` is an error (:meth:`checked_codes`), not wrapped."""
        c = self.checked_codes(codes)
        if self.signed:
            c = np.where(c >= (1 << (self.bits - 1)), c - (1 << self.bits), c)
        return c

    units = decode

    def random(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Uniformly random values over the whole range."""
        return rng.integers(self.min, self.max, size=shape, endpoint=True, dtype=np.int64)

    def extremes(self) -> np.ndarray:
        """The values every corner test needs: min, max, 0, ±1 (those the format holds)."""
        return np.unique([v for v in (self.min, self.max, 0, 1, -1) if self.min <= v <= self.max])


@dataclass(frozen=True)
class FixedFormat(NumberFormat):
    """A two's-complement integer ``base`` read with ``frac_bits`` fraction bits.

    Value = integer · 2**-frac_bits (e.g. the INT8 elements of MXINT8: ``int8_f6``, -2..1.984375).
    Encoding rounds to nearest, ties to even, and saturates or raises on overflow.
    """

    base: IntFormat
    frac_bits: int

    def __post_init__(self) -> None:
        if not 0 <= self.frac_bits <= 64:
            raise FormatError(f"fraction bits {self.frac_bits} not allowed; 0..64")

    @property
    def name(self) -> str:
        return f"{self.base.name}_f{self.frac_bits}"

    @property
    def bits(self) -> int:
        return self.base.bits

    @property
    def lsb(self) -> int:
        return -self.frac_bits

    @property
    def min(self) -> float:
        return self.base.min * 2.0 ** self.lsb

    @property
    def max(self) -> float:
        return self.base.max * 2.0 ** self.lsb

    def units(self, codes: np.ndarray) -> np.ndarray:
        return self.base.decode(codes)

    @property
    def max_units(self) -> int:
        return self.base.max_units

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes to exact float64 values."""
        return np.ldexp(self.units(codes).astype(np.float64), self.lsb)

    def values(self) -> np.ndarray:
        return np.ldexp(self.base.values().astype(np.float64), self.lsb)

    def encode(self, x: np.ndarray, saturate: bool = False) -> np.ndarray:
        """Real values to codes: round to nearest even at 2**lsb; overflow saturates or raises."""
        x = np.asarray(x, dtype=np.float64)
        if x.size and not np.all(np.isfinite(x)):
            raise FormatError(f"{self.name} has no NaN or infinity; got a non-finite value")
        n = np.rint(np.ldexp(x, self.frac_bits))
        if saturate:
            n = np.clip(n, self.base.min, self.base.max)
        elif n.size and (n.min() < self.base.min or n.max() > self.base.max):
            raise FormatError(f"a value overflows {self.name} (range {self.min}..{self.max}); "
                              "use saturate=True to clamp")
        return self.base.encode(n.astype(np.int64))

    def random(self, rng: np.random.Generator, shape) -> np.ndarray:
        return np.ldexp(self.base.random(rng, shape).astype(np.float64), self.lsb)


@dataclass(frozen=True)
class LevelFormat(NumberFormat):
    """A format with a few integer levels, each at an explicit code (ternary, binary).

    ``table`` lists ``(code, value)`` pairs; codes not in it are invalid and decoding one is an
    error. Hardware derives its decoder from the same table.
    """

    label: str
    bits: int
    table: tuple[tuple[int, int], ...]

    @property
    def name(self) -> str:
        return self.label

    @property
    def signed(self) -> bool:
        return self.min < 0

    @property
    def min(self) -> int:
        return min(v for _, v in self.table)

    @property
    def max(self) -> int:
        return max(v for _, v in self.table)

    def values(self) -> np.ndarray:
        return np.array(sorted(v for _, v in self.table), dtype=np.int64)

    def valid(self, values: np.ndarray) -> np.ndarray:
        return np.isin(np.asarray(values), self.values())

    def describe_values(self) -> str:
        return "{" + ", ".join(str(v) for v in self.values()) + "}"

    def is_code(self, codes: np.ndarray) -> np.ndarray:
        return np.isin(np.asarray(codes), [code for code, _ in self.table])

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Level values to codes; anything that is not a level is an error."""
        v = np.asarray(values)
        if v.size and not np.all(self.valid(v)):
            bad = v[~self.valid(v)].flat[0]
            raise FormatError(f"value {bad} is not a {self.name} level; allowed "
                              f"{self.describe_values()}")
        lut = {val: code for code, val in self.table}
        out = np.zeros(v.shape, dtype=np.uint64)
        for val, code in lut.items():
            out[v == val] = code
        return out

    def decode(self, codes: np.ndarray) -> np.ndarray:
        c = self.checked_codes(codes)
        lut = np.full(1 << self.bits, np.iinfo(np.int64).min, dtype=np.int64)
        for code, val in self.table:
            lut[code] = val
        out = lut[c]
        if out.size and np.any(out == np.iinfo(np.int64).min):
            bad = c[out == np.iinfo(np.int64).min].flat[0]
            raise FormatError(f"code {bad} is not a {self.name} code; codes are "
                              f"{', '.join(str(code) for code, _ in self.table)}")
        return out

    units = decode

    def random(self, rng: np.random.Generator, shape) -> np.ndarray:
        return rng.choice(self.values(), size=shape)

    def extremes(self) -> np.ndarray:
        """Every level (there are few): what corner tests pair with the other operand."""
        return self.values()


def sign_codes(fmt: NumberFormat) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The codes standing for +1 and for -1 of a format whose every value is -1, 0 or +1
    (ternary, binary, int1, uint1), which an add/subtract/skip datapath takes in place of a
    multiplier; ``None`` for any other format. Codes that stand for no value are in neither."""
    if not isinstance(fmt, (IntFormat, LevelFormat)) or fmt.bits > 2:
        return None
    codes = [int(c) for c in fmt.codes() if fmt.is_code(c)]
    values = [int(fmt.decode(np.array([c]))[0]) for c in codes]
    if any(v not in (-1, 0, 1) for v in values):
        return None
    return (tuple(c for c, v in zip(codes, values) if v == 1),
            tuple(c for c, v in zip(codes, values) if v == -1))


#: {-1, 0, +1} as 2-bit two's complement (code 2 unused), so an int2 datapath computes it
TERNARY = LevelFormat("ternary", 2, ((0, 0), (1, 1), (3, -1)))
#: {-1, +1} in one bit: 0 → -1, 1 → +1 (as FINN's bipolar type; XNOR-popcount hardware)
BINARY = LevelFormat("binary", 1, ((0, -1), (1, 1)))

_INT_NAME = re.compile(r"(u?)int(\d+)")
_FIXED_NAME = re.compile(r"int(\d+)_f(\d+)")


def named_formats() -> dict[str, Format]:
    """Every format with a fixed name (integers and fixed point are parsed from their names)."""
    from lowbit.models.bitmod import BITMOD_FORMATS
    from lowbit.models.block_formats import BLOCK_FORMATS
    from lowbit.models.minifloat import FLOAT_FORMATS
    from lowbit.models.olive import OLIVE_FORMATS

    return {"ternary": TERNARY, "binary": BINARY, **FLOAT_FORMATS, **BLOCK_FORMATS,
            **BITMOD_FORMATS, **OLIVE_FORMATS}


def allowed_names() -> str:
    return (f"int1..int{IntFormat.MAX_BITS}, uint1..uint{IntFormat.MAX_BITS}, intN_fF (fixed "
            f"point), {', '.join(named_formats())}")


def parse_format(name: str) -> Format:
    """A format from its name, e.g. ``int8``, ``uint5``, ``fp8_e4m3``, ``mxfp4``, ``nvfp4``.

    Parameters
    ----------
    name
        A format's name (the table above).

    Returns
    -------
    Format
        The one object of that format; an unknown name is a :class:`FormatError` listing every
        allowed name.
    """
    text = str(name).strip().lower()
    if m := _INT_NAME.fullmatch(text):
        return IntFormat(int(m.group(2)), signed=not m.group(1))
    if m := _FIXED_NAME.fullmatch(text):
        return FixedFormat(IntFormat(int(m.group(1))), int(m.group(2)))
    formats = named_formats()
    if text in formats:
        return formats[text]
    raise FormatError(f"unknown number format {name!r}; allowed: {allowed_names()}")
