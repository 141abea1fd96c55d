"""Minifloats ExMy: the bit-level definition, exact decode, and round-to-nearest-even encode.

A :class:`FloatFormat` states everything hardware needs to build a decoder or multiplier:
sign bit, exponent bits, mantissa bits, bias, the subnormal rule and the special-value policy.
Codes are laid out ``[sign | exponent | mantissa]`` from the top bit down (no sign bit when
``signed`` is false). With ``f`` the biased exponent field and ``m`` the mantissa field:

* normal (``f ≥ 1``, or any ``f`` without subnormals): ``(-1)^s · (2^M + m) · 2^(f - bias - M)``
* subnormal (``f = 0`` with subnormals): ``(-1)^s · m · 2^(1 - bias - M)``

Special-value policies (``specials``):

* ``ieee``: the all-ones exponent holds ±inf (``m = 0``) and NaN (``m ≠ 0``), as IEEE 754
  (FP8 E5M2, FP16, BF16, FP32).
* ``fn``: finite; the one all-ones pattern (exponent and mantissa) is NaN, with either sign
  (OCP FP8 E4M3; E8M0, whose NaN is 0xFF).
* ``fnuz``: finite, no negative zero; the code ``1000…0`` is the only NaN (ml_dtypes'
  ``float8_e4m3fnuz``/``float8_e5m2fnuz``).
* ``none``: no inf and no NaN; every code is a number (OCP FP6 and FP4).

Encoding (:meth:`FloatFormat.encode`) rounds the exact input once to the nearest representable
value, ties to an even integer significand (for E8M0, whose significand is always 1, ties go
up). Overflow saturates to ±max when ``saturate`` is set — infinite inputs included, as the
saturating conversion of the OCP OFP8 specification (and ONNX's ``Cast(saturate=1)``) maps ±inf
to ±max; otherwise it gives ±inf where the format has infinities, else NaN where it has NaN,
else a :class:`FormatError`. NaN stays NaN either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from lowbit.models.formats import FormatError, NumberFormat

Specials = Literal["ieee", "fn", "fnuz", "none"]
SPECIALS: tuple[str, ...] = ("ieee", "fn", "fnuz", "none")


@dataclass(frozen=True)
class FloatFormat(NumberFormat):
    """A binary floating-point format of ``signed + exp_bits + man_bits`` bits."""

    name: str
    exp_bits: int
    man_bits: int
    bias: int
    specials: Specials = "ieee"
    signed: bool = True
    subnormals: bool = True

    def __post_init__(self) -> None:
        if self.specials not in SPECIALS:
            raise FormatError(f"special-value policy {self.specials!r} not allowed; one of "
                              f"{', '.join(SPECIALS)}")
        if not (1 <= self.exp_bits <= 11 and 0 <= self.man_bits <= 52 and self.bits <= 64):
            raise FormatError(f"{self.name}: E{self.exp_bits}M{self.man_bits} is not allowed; "
                              "1..11 exponent bits, 0..52 mantissa bits")
        if self.specials == "fnuz" and not self.signed:
            raise FormatError(f"{self.name}: the fnuz policy needs a sign bit")

    # ---- the bit-level definition -------------------------------------------------------

    @property
    def bits(self) -> int:
        return int(self.signed) + self.exp_bits + self.man_bits

    @property
    def sign_mask(self) -> int:
        """The sign bit of a code (0 for unsigned formats)."""
        return (1 << (self.bits - 1)) if self.signed else 0

    @property
    def _mag_mask(self) -> int:
        return (1 << (self.exp_bits + self.man_bits)) - 1

    @property
    def _field_top(self) -> int:
        return (1 << self.exp_bits) - 1

    @property
    def has_inf(self) -> bool:
        return self.specials == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.specials != "none"

    @property
    def has_zero(self) -> bool:
        return self.subnormals

    @property
    def max_mag_code(self) -> int:
        """Magnitude bits (exponent and mantissa fields) of the largest finite value."""
        m_top = (1 << self.man_bits) - 1
        if self.specials == "ieee":
            return ((self._field_top - 1) << self.man_bits) | m_top
        if self.specials == "fn":
            return self._mag_mask - 1
        return self._mag_mask

    @property
    def emin(self) -> int:
        """Unbiased exponent of the smallest normal value."""
        return (1 if self.subnormals else 0) - self.bias

    @property
    def emax(self) -> int:
        """Unbiased exponent of the largest finite value."""
        return (self.max_mag_code >> self.man_bits) - self.bias

    @property
    def lsb(self) -> int:
        """Exponent of the smallest step: every finite value is a multiple of ``2**lsb``."""
        return self.emin - self.man_bits

    @property
    def max(self) -> float:
        """The largest finite value."""
        return float(self.decode(np.array([self.max_mag_code]))[0])

    @property
    def min_normal(self) -> float:
        return float(np.ldexp(1.0, self.emin))

    @property
    def min_subnormal(self) -> float:
        """The smallest positive value (the smallest normal when there are no subnormals)."""
        return float(np.ldexp(1.0, self.lsb if self.subnormals else self.emin))

    @property
    def max_units(self) -> int:
        return ((1 << self.man_bits) | (self.max_mag_code & ((1 << self.man_bits) - 1))) << (
            self.emax - self.emin)

    @property
    def nan_code(self) -> int:
        """The NaN this model's encoder writes (positive where NaN has a sign)."""
        if self.specials == "ieee":
            return (self._field_top << self.man_bits) | (1 << max(self.man_bits - 1, 0))
        if self.specials == "fn":
            return self._mag_mask
        if self.specials == "fnuz":
            return self.sign_mask
        raise FormatError(f"{self.name} has no NaN")

    def fields(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Codes to ``(sign, biased exponent, mantissa)`` fields (int64 arrays); a code outside
        ``0..2**bits - 1`` is an error, not wrapped."""
        c = self.checked_codes(codes)
        sign = (c >> (self.bits - 1)) & 1 if self.signed else np.zeros_like(c)
        return sign, (c >> self.man_bits) & self._field_top, c & ((1 << self.man_bits) - 1)

    def exact(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Finite codes to ``(sign, significand, exponent)`` with value
        ``(-1)**sign · significand · 2**exponent`` and an integer significand (int64 arrays)."""
        sign, f, m = self.fields(codes)
        if self.subnormals:
            sub = f == 0
            sig = np.where(sub, m, m | (1 << self.man_bits))
            exp = np.where(sub, 1, f) - self.bias - self.man_bits
        else:
            sig, exp = m | (1 << self.man_bits), f - self.bias - self.man_bits
        return sign, sig, exp

    def is_nan(self, codes: np.ndarray) -> np.ndarray:
        c = np.asarray(codes).astype(np.int64)
        mag = c & self._mag_mask
        if self.specials == "ieee":
            mantissa = mag & ((1 << self.man_bits) - 1)
            return (mag >> self.man_bits == self._field_top) & (mantissa != 0)
        if self.specials == "fn":
            return mag == self._mag_mask
        if self.specials == "fnuz":
            return c == self.sign_mask
        return np.zeros(c.shape, dtype=bool)

    def is_inf(self, codes: np.ndarray) -> np.ndarray:
        c = np.asarray(codes).astype(np.int64)
        if self.specials == "ieee":
            return c & self._mag_mask == self._field_top << self.man_bits
        return np.zeros(c.shape, dtype=bool)

    def is_finite(self, codes: np.ndarray) -> np.ndarray:
        return ~(self.is_nan(codes) | self.is_inf(codes))

    # ---- values ----------------------------------------------------------------------------

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes to their exact values as float64 (every format here fits float64 exactly)."""
        sign, sig, exp = self.exact(codes)
        value = np.ldexp(sig.astype(np.float64), exp.astype(np.int32))
        value = np.where(sign == 1, -value, value)
        special = np.where(self.is_inf(codes), np.inf, np.where(self.is_nan(codes), np.nan, 0.0))
        special = np.where(sign == 1, -special, special)
        return np.where(special != 0.0, special, value)

    def units(self, codes: np.ndarray) -> np.ndarray:
        """Finite codes to exact integers ``value / 2**lsb`` (int64)."""
        if self.max_units >= 1 << 63:
            raise FormatError(f"{self.name} spans {self.max_units.bit_length()} bits of fixed "
                              "point, beyond the 63 an exact int64 datapath model holds")
        sign, sig, exp = self.exact(codes)
        u = sig << (exp - self.lsb)
        return np.where(sign == 1, -u, u)

    def values(self) -> np.ndarray:
        """Every finite value once (one zero), in increasing order."""
        codes = self.codes()
        return np.unique(self.decode(codes[self.is_finite(codes)]) + 0.0)

    def extremes(self) -> np.ndarray:
        """±max, ±1, 0, ±the smallest subnormal and the format's inf and NaN."""
        tiny = self.min_subnormal
        specials = [np.inf] * self.has_inf + [np.nan] * self.has_nan
        return np.array([-self.max, self.max, 0.0, 1.0, -1.0, tiny, -tiny, *specials])

    def random(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Random finite values, uniform over the finite codes."""
        codes = self.codes()
        return self.decode(rng.choice(codes[self.is_finite(codes)], size=shape))

    def encode(self, x: np.ndarray, saturate: bool = False) -> np.ndarray:
        """Real values (converted exactly to float64) to codes; see the module docstring."""
        x = np.asarray(x)
        if x.dtype != np.float64:
            with np.errstate(invalid="ignore"):  # ml_dtypes NaNs cast to NaN, with a warning
                x = x.astype(np.float64)  # exact for every narrower float type
        nan = np.isnan(x)
        neg = np.signbit(x)
        a = np.abs(np.where(nan, 0.0, x))
        over = a >= np.ldexp(1.0, self.emax + 1)  # includes inf
        a = np.where(over, 0.0, a)

        e = np.where(a > 0, np.maximum(np.frexp(a)[1].astype(np.int64) - 1, self.emin),
                     self.emin)
        n = np.rint(np.ldexp(a, (self.man_bits - e).astype(np.int32))).astype(np.int64)  # RNE
        if not self.subnormals:
            n = np.maximum(n, 1 << self.man_bits)  # no zero, no subnormals: underflow to min
        mag = ((e + self.bias) << self.man_bits) + n - (1 << self.man_bits)
        over |= mag > self.max_mag_code

        to_nan = nan | (neg & ~nan & (not self.signed)) | ((x == 0) & (not self.has_zero))
        if not self.has_nan and np.any(to_nan):
            what = "NaN" if np.any(nan) else "a negative or zero value"
            raise FormatError(f"{what} cannot be encoded in {self.name}, which has no NaN")
        to_inf = np.zeros_like(over)
        if np.any(over):
            if saturate:
                mag = np.where(over, self.max_mag_code, mag)
            elif self.has_inf:
                to_inf = over
            elif self.has_nan:
                to_nan |= over
            else:
                big = x[over].flat[0]
                raise FormatError(f"value {big:g} overflows {self.name} (max {self.max:g}), which "
                                  "has no inf or NaN; use saturate=True to clamp")
        mag = np.where(to_inf, self._field_top << self.man_bits, mag)

        code = mag
        if self.signed:
            keep_sign = neg & (mag != 0) if self.specials == "fnuz" else neg
            code = np.where(keep_sign, mag | self.sign_mask, mag)
        if self.has_nan:
            nan_code = self.nan_code
            if self.specials in ("ieee", "fn") and self.signed:
                nan_code = np.where(neg, nan_code | self.sign_mask, nan_code)
            code = np.where(to_nan, nan_code, code)
        return np.asarray(code).astype(np.uint64)


def _f(name: str, e: int, m: int, bias: int, specials: Specials, **kw) -> FloatFormat:
    return FloatFormat(name, e, m, bias, specials, **kw)


#: OCP 8-bit floating point (OFP8) E4M3: finite, max 448, one NaN pattern per sign
FP8_E4M3 = _f("fp8_e4m3", 4, 3, 7, "fn")
#: OCP OFP8 E5M2: IEEE-like inf and NaN, max 57344
FP8_E5M2 = _f("fp8_e5m2", 5, 2, 15, "ieee")
#: OCP MX FP6 E3M2 (max 28) and E2M3 (max 7.5); FP4 E2M1 (max 6): no inf, no NaN
FP6_E3M2 = _f("fp6_e3m2", 3, 2, 3, "none")
FP6_E2M3 = _f("fp6_e2m3", 2, 3, 1, "none")
FP4_E2M1 = _f("fp4_e2m1", 2, 1, 1, "none")
#: OCP MX scale: unsigned power of two 2**-127..2**127, 0xFF is NaN, no zero
E8M0 = _f("e8m0", 8, 0, 127, "fn", signed=False, subnormals=False)
#: the AMD/Graphcore FP8 variants (bias 8/16, NaN = 0x80, no negative zero)
FP8_E4M3FNUZ = _f("fp8_e4m3fnuz", 4, 3, 8, "fnuz")
FP8_E5M2FNUZ = _f("fp8_e5m2fnuz", 5, 2, 16, "fnuz")
FP8_E3M4 = _f("fp8_e3m4", 3, 4, 3, "ieee")
FP16 = _f("fp16", 5, 10, 15, "ieee")
BF16 = _f("bf16", 8, 7, 127, "ieee")
FP32 = _f("fp32", 8, 23, 127, "ieee")

FLOAT_FORMATS: dict[str, FloatFormat] = {f.name: f for f in (
    FP8_E4M3, FP8_E5M2, FP6_E3M2, FP6_E2M3, FP4_E2M1, E8M0, FP8_E4M3FNUZ, FP8_E5M2FNUZ,
    FP8_E3M4, FP16, BF16, FP32)}
