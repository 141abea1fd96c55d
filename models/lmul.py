"""L-Mul: the approximate floating-point product of Luo & Sun, "Addition is All You Need for
Energy-Efficient Language Models" (arXiv:2410.00907, 2024), §2 "Method", the L-Mul equation:

    Mul(x, y)   = (1 + xm)·(1 + ym)·2**(xe + ye) = (1 + xm + ym + xm·ym)·2**(xe + ye)
    L-Mul(x, y) = (1 + xm + ym + 2**-l(m))·2**(xe + ye),  l(m) = m (m ≤ 3), 3 (m = 4), 4 (m > 4)

with ``x = ±(1 + xm)·2**xe`` (``0 ≤ xm < 1``) and ``m`` the mantissa bits: the significand
product becomes one addition and a fixed offset, the sign is the XOR of the signs.

The paper states this for normal numbers of one format; what this model (and the ``fmac``
hardware built with ``mul = "lmul"``) does beyond it:

* **mixed formats**: ``m`` is the larger mantissa width of the two operand formats;
* **significand ≥ 2** (``xm + ym + 2**-l ≥ 1``): kept as the equation's value, with no
  renormalisation — the Kulisch register takes a fixed-point value, so nothing needs
  normalising. (The paper's bit-pattern adder of its Figure 2 carries into the exponent instead,
  which gives ``2**(xe+ye+1)·(xm + ym + 2**-l)`` there; we follow the equation, which is what
  the paper's error analysis is about.);
* **subnormals** are normalised like any other nonzero value (``xe`` below the format's
  ``emin``), so L-Mul is a function of the two values alone;
* **zero** times anything is 0, and **inf/NaN** follow IEEE 754 as the exact product does
  (:mod:`lowbit.models.fmac`): L-Mul keeps finite products finite and zero products zero.

Exactness: ``2**xe`` and ``xm·2**xe = |x| - 2**xe`` are multiples of ``2**lsb_x``, so every
L-Mul product is an integer in units of ``2**(lsb_a + lsb_w - l)`` — one the Kulisch register
holds once it has ``l`` more low bits (:func:`offset_bits`).
"""

from __future__ import annotations

import numpy as np

from lowbit.models.kulisch import OperandFormats
from lowbit.models.minifloat import FloatFormat


def offset_exponent(m: int) -> int:
    """The paper's ``l(m)``: the offset is ``2**-l(m)`` for ``m`` mantissa bits."""
    return m if m <= 3 else 3 if m == 4 else 4


def pair_offset(fa: FloatFormat, fw: FloatFormat) -> int:
    """``l`` of an L-Mul of ``fa`` by ``fw`` codes (``m`` = the larger mantissa width)."""
    return offset_exponent(max(fa.man_bits, fw.man_bits))


def _pairs(a: OperandFormats, w: OperandFormats):
    return [(fa, fw) for fa in a.formats for fw in w.formats]


def offset_bits(a: OperandFormats, w: OperandFormats) -> int:
    """Low bits the register needs below ``2**(lsb_a + lsb_w)`` for every pair's offset."""
    return max(pair_offset(fa, fw) for fa, fw in _pairs(a, w))


def lmul_products(fa: FloatFormat, a_codes: np.ndarray, fw: FloatFormat, w_codes: np.ndarray,
                  unit_exp: int = 0) -> np.ndarray:
    """Elementwise L-Mul of two code arrays, in units of ``2**(fa.lsb + fw.lsb + unit_exp)``,
    as Python integers (object array; inf and NaN elements count as 0); when the unit is
    coarser than a product, the product is rounded toward -inf (as ``exact_dots`` does)."""
    x, y = fa.decode(np.asarray(a_codes)), fw.decode(np.asarray(w_codes))
    live = np.isfinite(x) & np.isfinite(y) & (x != 0) & (y != 0)
    x, y = np.where(live, x, 1.0), np.where(live, y, 1.0)
    (mx, ex), (my, ey) = np.frexp(np.abs(x)), np.frexp(np.abs(y))  # |x| = mx·2**ex, mx in [.5, 1)
    frac = max(fa.man_bits, fw.man_bits)  # the significand sum's fraction bits (l ≤ frac)
    sig = (2 * mx - 1) + (2 * my - 1) + 1 + 2.0 ** -pair_offset(fa, fw)  # 1 + xm + ym + 2**-l
    sig = np.ldexp(sig, frac).astype(np.int64)  # exact: a few bits
    sig = np.where(live, np.where(np.signbit(x) ^ np.signbit(y), -sig, sig), 0)
    shift = (ex - 1) + (ey - 1) - frac - (fa.lsb + fw.lsb + unit_exp)
    left, right = np.maximum(shift, 0).astype(object), np.maximum(-shift, 0).astype(object)
    return (sig.astype(object) << left) >> right  # Python integers: >> is floor


def lmul_sums(fa: FloatFormat, a_codes: np.ndarray, fw: FloatFormat, w_codes: np.ndarray,
              unit_exp: int = 0) -> np.ndarray:
    """Row sums of L-Mul products of D×K code arrays (units as :func:`lmul_products`)."""
    products = lmul_products(fa, a_codes, fw, w_codes, unit_exp)
    return products.sum(axis=1) if products.shape[1] else np.zeros(len(products), object)


def max_units(a: OperandFormats, w: OperandFormats) -> int:
    """The largest ``|L-Mul|`` over every pair of the sets, in units of
    ``2**(lsb_a + lsb_w - offset_bits)`` (L-Mul grows with each operand's magnitude, so it is
    the product of the two largest codes)."""
    unit = a.lsb + w.lsb - offset_bits(a, w)
    return max(int(lmul_products(fa, np.array([fa.max_mag_code]), fw,
                                 np.array([fw.max_mag_code]), unit - fa.lsb - fw.lsb)[0])
               for fa, fw in _pairs(a, w))
