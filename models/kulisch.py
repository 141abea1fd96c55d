"""Exact (Kulisch) accumulation of minifloat and integer products: which operand formats a
datapath takes and how wide its fixed-point register must be, derived from the formats.

Every finite value of an operand format is ``units · 2**lsb`` with an integer ``units``
(:meth:`~lowbit.models.formats.NumberFormat.units`), so a product is ``ua·uw`` units of
``2**(lsb_a + lsb_w)`` and a sum of K products is an integer in the same units. The register
that holds every such sum exactly for any K ≤ K_max is

    kulisch_bits = bit_length(K_max · U_a · U_w) + 1        (U = the format's max_units)

(the +1 is the sign). Inf and NaN elements do not enter the register; they set sticky flags
beside it (see :mod:`lowbit.models.fmac`).
"""

from __future__ import annotations

from lowbit.models.formats import IntFormat, NumberFormat
from lowbit.models.minifloat import FloatFormat

#: the widest floats a decoder takes (their special codes are listed from the format object)
MAX_FLOAT_BITS = 8
#: the widest integers a decoder takes
MAX_INT_BITS = 16
#: the widest exact register a generator builds
MAX_KULISCH_BITS = 96


ALLOWED_OPERANDS = (
    f"allowed: minifloats of at most {MAX_FLOAT_BITS} bits (fp8_e4m3, fp8_e5m2, fp6_e3m2, "
    f"fp6_e2m3, fp4_e2m1, fp8_e3m4, fp8_e4m3fnuz, fp8_e5m2fnuz) or int1..int{MAX_INT_BITS} / "
    f"uint1..uint{MAX_INT_BITS}")


class operand_format:
    """A config ``check`` for an operand of a minifloat/integer datapath."""

    allowed = ALLOWED_OPERANDS

    def __call__(self, fmt: NumberFormat) -> str | None:
        if isinstance(fmt, FloatFormat) and fmt.bits <= MAX_FLOAT_BITS:
            return None
        if isinstance(fmt, IntFormat) and fmt.bits <= MAX_INT_BITS:
            return None
        return ALLOWED_OPERANDS


def units_bits(fmt: NumberFormat) -> int:
    """Bits of ``fmt``'s largest |units| (the magnitude of its fixed-point form)."""
    return fmt.max_units.bit_length()


def kulisch_bits(a: NumberFormat, w: NumberFormat, k_max: int) -> int:
    """Width of the register that sums up to ``k_max`` ``a × w`` products exactly (signed)."""
    return (k_max * a.max_units * w.max_units).bit_length() + 1
