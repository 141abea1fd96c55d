"""L-Mul (``fmac --mul lmul``): the golden model against the paper's equation, the register
width. The L-Mul hardware and bad configs are checked in ``test_fmac_sim.py``."""

import math
from fractions import Fraction

import numpy as np
import pytest

from lowbit.kinds.fmac import FmacConfig
from lowbit.models.fmac import fmac_golden
from lowbit.models.formats import parse_format
from lowbit.models.kulisch import OperandFormats
from lowbit.models.lmul import lmul_products, max_units, offset_bits, offset_exponent
from lowbit.models.minifloat import FP8_E4M3

FLOATS = "fp8_e4m3,fp8_e5m2,fp6_e3m2,fp6_e2m3,fp4_e2m1"


def paper_lmul(x: float, y: float, m: int) -> Fraction:
    """L-Mul by the paper's equation, one pair, in exact rationals (independent of the model's
    vectorised code): ``±(1 + xm + ym + 2**-l(m))·2**(xe + ye)``."""
    if x == 0 or y == 0:
        return Fraction(0)
    (mx, ex), (my, ey) = math.frexp(abs(x)), math.frexp(abs(y))
    xm, ym = Fraction(mx) * 2 - 1, Fraction(my) * 2 - 1
    value = (1 + xm + ym + Fraction(1, 2 ** offset_exponent(m))) * Fraction(2) ** (ex + ey - 2)
    return -value if (x < 0) != (y < 0) else value


def all_pairs(fa, fw):
    ca, cw = np.meshgrid(fa.codes(), fw.codes(), indexing="ij")
    ca, cw = ca.reshape(-1), cw.reshape(-1)
    finite = fa.is_finite(ca) & fw.is_finite(cw)
    return ca[finite], cw[finite]


def test_offset_exponent_is_the_papers():
    assert [offset_exponent(m) for m in range(8)] == [0, 1, 2, 3, 3, 4, 4, 4]


def test_known_products():
    """1.5·1.5 = 2.25 becomes 1 + .5 + .5 + 2**-3; 1·1 becomes 1.125; signs multiply; zero
    stays zero; the smallest subnormals are normalised (2**-9 = 1.0·2**-9)."""
    cfg = FmacConfig(a="fp8_e4m3", w="fp8_e4m3", mul="lmul")
    enc = FP8_E4M3.encode
    a = enc(np.array([1.5, 1.0, -1.5, 0.0, 2.0 ** -9, 448.0]))
    w = enc(np.array([1.5, 1.0, 1.5, 3.0, 2.0 ** -9, -448.0]))
    acc, special = fmac_golden(cfg, a, w, 1)
    got = [float(int(v)) * 2.0 ** cfg.result_lsb for v in acc]
    assert got == [2.125, 1.125, -2.125, 0.0, 1.125 * 2.0 ** -18, -2.625 * 2.0 ** 16]
    assert not special.any()


@pytest.mark.parametrize("a, w", [("fp8_e4m3", "fp8_e4m3"), ("fp8_e5m2", "fp6_e2m3"),
                                  ("fp6_e3m2", "fp4_e2m1"), ("fp4_e2m1", "fp4_e2m1")])
def test_model_is_the_papers_equation_on_every_code_pair(a, w):
    fa, fw = parse_format(a), parse_format(w)
    ca, cw = all_pairs(fa, fw)
    unit = fa.lsb + fw.lsb - offset_bits(OperandFormats((fa,)), OperandFormats((fw,)))
    got = lmul_products(fa, ca, fw, cw, unit - fa.lsb - fw.lsb)
    m = max(fa.man_bits, fw.man_bits)
    want = [paper_lmul(x, y, m) / Fraction(2) ** unit
            for x, y in zip(fa.decode(ca).tolist(), fw.decode(cw).tolist())]
    assert all(v.denominator == 1 for v in want)  # the unit holds every product exactly
    assert [int(v) for v in got] == [int(v) for v in want]
    # and the largest product is what the register width is derived from
    assert max(abs(int(v)) for v in got) == max_units(OperandFormats((fa,)), OperandFormats((fw,)))


def test_lmul_register_is_tight_and_holds_k_max_products():
    for fmts in ("fp8_e4m3", "fp8_e5m2", FLOATS):
        cfg = FmacConfig(a=fmts, w=fmts, mul="lmul", k_bits=10)
        total = cfg.k_max * max_units(cfg.a_set, cfg.w_set)
        assert total < 1 << (cfg.kulisch_bits - 1) and total >= 1 << (cfg.kulisch_bits - 2)


def test_narrow_lmul_register_rounds_each_product_down():
    full = FmacConfig(a="fp8_e4m3", w="fp8_e5m2", mul="lmul", k_bits=4)
    narrow = FmacConfig(a="fp8_e4m3", w="fp8_e5m2", mul="lmul", k_bits=4, acc=24, exact=False)
    rng = np.random.default_rng(2)
    a, w = (f.encode(f.random(rng, 64)) for f in (full.a_set.formats[0], full.w_set.formats[0]))
    exact, _ = fmac_golden(full, a, w, 1)
    low, _ = fmac_golden(narrow, a, w, 1)
    assert [int(x) >> narrow.drop for x in exact] == [int(x) for x in low]


def test_lmul_differs_from_exact_and_keeps_ieee_specials():
    exact, lmul = FmacConfig(a="fp8_e5m2", w="fp8_e5m2"), FmacConfig(a="fp8_e5m2", w="fp8_e5m2",
                                                                      mul="lmul")
    codes = np.arange(256, dtype=np.uint64)
    a, w = np.repeat(codes, 256), np.tile(codes, 256)
    (e_acc, e_sp), (l_acc, l_sp) = fmac_golden(exact, a, w, 1), fmac_golden(lmul, a, w, 1)
    np.testing.assert_array_equal(e_sp, l_sp)
    assert (e_acc != 0).sum() == (l_acc != 0).sum()  # zero exactly where the exact product is
    shift = exact.result_lsb - lmul.result_lsb
    assert sum(int(x) << shift != int(y) for x, y in zip(e_acc, l_acc)) > 10_000
