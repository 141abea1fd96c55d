"""Exact (Kulisch) accumulation of minifloat and integer products: which operand formats a
datapath takes, the fixed point it brings them to, and how wide its register must be — all
derived from the format objects.

Every finite value of an operand format is ``units · 2**lsb`` with an integer ``units``
(:meth:`~lowbit.models.formats.NumberFormat.units`). A datapath may take several formats per
operand, chosen at run time (:class:`OperandFormats`); it brings every one to the set's common
unit ``2**lsb_set`` (``lsb_set`` = the smallest ``lsb``, so a format's units shift left by
``lsb - lsb_set``). A product is then an integer in units of ``2**(lsb_set_a + lsb_set_w)``
and the register that holds every sum of up to K_max products exactly is

    kulisch_bits = bit_length(K_max · U_a · U_w) + 1

where ``U`` is the largest ``|units| · 2**(lsb - lsb_set)`` over the set's formats (for one
format: its ``max_units``) and the +1 is the sign. Inf and NaN elements do not enter the
register; they set sticky flags beside it (see :mod:`lowbit.models.fmac`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lowbit.models.formats import (
    FixedFormat,
    Format,
    FormatError,
    IntFormat,
    NumberFormat,
    parse_format,
)
from lowbit.models.minifloat import FloatFormat

#: the widest floats a decoder takes (their special codes are listed from the format object)
MAX_FLOAT_BITS = 8
#: the widest integers a decoder takes
MAX_INT_BITS = 16
#: the widest exact register a generator builds
MAX_KULISCH_BITS = 96

ALLOWED_OPERANDS = (
    f"allowed: minifloats of at most {MAX_FLOAT_BITS} bits with a zero (fp8_e4m3, fp8_e5m2, "
    f"fp6_e3m2, "
    f"fp6_e2m3, fp4_e2m1, fp8_e3m4, fp8_e4m3fnuz, fp8_e5m2fnuz) or int1..int{MAX_INT_BITS} / "
    f"uint1..uint{MAX_INT_BITS}")
#: the same for a list of formats picked among at run time
ALLOWED_OPERAND_LISTS = f"{ALLOWED_OPERANDS}; several, comma-separated, for a run-time choice"


def operand_allowed(fmt: Format) -> bool:
    """Whether a minifloat/integer datapath takes ``fmt`` as an operand."""
    if isinstance(fmt, FloatFormat):
        return fmt.bits <= MAX_FLOAT_BITS and fmt.has_zero
    if isinstance(fmt, FixedFormat):
        fmt = fmt.base
    return isinstance(fmt, IntFormat) and fmt.bits <= MAX_INT_BITS


@dataclass(frozen=True)
class OperandFormats:
    """The operand formats a datapath takes on one side, the run-time select picking one."""

    formats: tuple[NumberFormat, ...]

    @classmethod
    def parse(cls, text: str) -> OperandFormats:
        """``"fp8_e4m3,fp8_e5m2"`` → both; a FormatError naming what is allowed otherwise."""
        names = [n.strip() for n in str(text).split(",")]
        if not any(names):
            raise FormatError(f"no operand format given; {ALLOWED_OPERAND_LISTS}")
        if not all(names):
            raise FormatError(f"{text!r} has an empty entry; {ALLOWED_OPERAND_LISTS}")
        formats = tuple(parse_format(n) for n in names)
        for f in formats:
            if not operand_allowed(f):
                raise FormatError(f"{f} is not an operand format; {ALLOWED_OPERAND_LISTS}")
        if len(set(formats)) != len(formats):
            raise FormatError(f"{text!r} names a format twice")
        return cls(formats)

    @property
    def names(self) -> str:
        return ",".join(f.name for f in self.formats)

    @property
    def lsb(self) -> int:
        """The common unit's exponent: the finest ``lsb`` of the set."""
        return min(f.lsb for f in self.formats)

    def offset(self, fmt: NumberFormat) -> int:
        """How far ``fmt``'s units shift left to the common unit."""
        return fmt.lsb - self.lsb

    @property
    def max_units(self) -> int:
        return max(f.max_units << self.offset(f) for f in self.formats)

    @property
    def code_bits(self) -> int:
        return max(f.bits for f in self.formats)

    @property
    def select_bits(self) -> int:
        """Width of the run-time format select (0 for a single format)."""
        return (len(self.formats) - 1).bit_length()


class operand_format:
    """A config ``check`` for one operand format."""

    allowed = ALLOWED_OPERANDS

    def __call__(self, fmt: Format) -> str | None:
        return None if operand_allowed(fmt) else ALLOWED_OPERANDS


class operand_formats:
    """A config ``check`` for a comma-separated list of operand formats."""

    allowed = ALLOWED_OPERAND_LISTS

    def __call__(self, text: str) -> str | None:
        try:
            OperandFormats.parse(text)
        except FormatError as e:
            return str(e)
        return None


def register_bits(max_product: int, k_max: int) -> int:
    """Width of the signed register that sums up to ``k_max`` products of magnitude at most
    ``max_product`` (in the register's units) exactly."""
    return (k_max * max_product).bit_length() + 1


def kulisch_bits(a: NumberFormat | OperandFormats, w: NumberFormat | OperandFormats,
                 k_max: int) -> int:
    """Width of the register that sums up to ``k_max`` ``a × w`` products exactly (signed)."""
    return register_bits(a.max_units * w.max_units, k_max)
