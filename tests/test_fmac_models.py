"""The fmac golden model is qgemm's arithmetic; the Kulisch width is tight."""

import numpy as np
import pytest

from lowbit.kinds.fmac import FmacConfig
from lowbit.models.fmac import NAN, NEG_INF, POS_INF, fmac_golden
from lowbit.models.kulisch import OperandFormats, kulisch_bits
from lowbit.models.minifloat import FP8_E4M3, FP8_E5M2
from lowbit.models.qgemm import exact_dots, qgemm
from lowbit.models.qtensor import QTensor

FORMATS = ["fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "int8"]


@pytest.mark.parametrize("a", FORMATS)
@pytest.mark.parametrize("w", ["fp8_e5m2", "fp4_e2m1", "int8"])
def test_exact_dots_are_qgemm_block_sums(a, w):
    """Row d of A with column d of W: qgemm's exact block sum (its diagonal) and its output's
    inf/NaN, for random codes including specials."""
    from lowbit.models.formats import parse_format

    fa, fw = parse_format(a), parse_format(w)
    rng = np.random.default_rng(1)
    d, k = 24, 9
    ca = rng.integers(0, 1 << fa.bits, (d, k), dtype=np.uint64)
    cw = rng.integers(0, 1 << fw.bits, (d, k), dtype=np.uint64)
    one = np.ones((1, 1))
    g = qgemm(QTensor(fa, ca, 1, k, one, "pow2"), QTensor(fw, cw.T.copy(), 0, k, one, "pow2"))
    sums, ieee = exact_dots(fa, ca, fw, cw)
    assert [int(x) for x in np.diagonal(g.acc[0])] == [int(x) for x in sums]
    out = np.diagonal(g.out).astype(np.float64)
    special = ~np.isfinite(out)
    np.testing.assert_array_equal(ieee[special], out[special])


def test_special_codes_follow_ieee():
    cfg = FmacConfig(a="fp8_e5m2", w="fp8_e5m2", k_bits=3)
    enc = FP8_E5M2.encode
    a = enc(np.array([np.inf, 1.0, np.inf, -np.inf, np.nan, 0.0, 2.0, 3.0]))
    w = enc(np.array([0.0, 1.0, 1.0, 1.0, 1.0, 1.0, -np.inf, 4.0]))
    acc, special = fmac_golden(cfg, a, w, 2)
    # inf·0 → NaN; inf + (-inf) → NaN; NaN; 2·(-inf) + 12 → -inf
    assert special.tolist() == [NAN, NAN, NAN, NEG_INF]
    acc, special = fmac_golden(cfg, a[6:], enc(np.array([1.0, 4.0])), 2)
    assert special.tolist() == [0] and int(acc[0]) == 14 * 2 ** -cfg.result_lsb
    _, special = fmac_golden(cfg, a[2:4][::-1].copy(), w[2:4], 1)
    assert special.tolist() == [NEG_INF, POS_INF]


def test_kulisch_width_is_tight():
    """K_max largest products fit in kulisch_bits and would not fit in one bit less."""
    for fa, fw in [(FP8_E4M3, FP8_E5M2), (FP8_E4M3, FP8_E4M3)]:
        k = 1000
        bits = kulisch_bits(fa, fw, k)
        total = k * fa.max_units * fw.max_units
        assert total < 1 << (bits - 1) and total >= 1 << (bits - 2)


def test_operand_set_common_unit():
    s = OperandFormats.parse("fp4_e2m1, int8")
    assert s.lsb == -1 and s.offset(s.formats[1]) == 1
    assert s.max_units == 128 << 1


def test_narrow_register_rounds_each_product_down():
    exact = FmacConfig(a="fp8_e4m3", w="fp8_e4m3", k_bits=4)
    narrow = FmacConfig(a="fp8_e4m3", w="fp8_e4m3", k_bits=4, acc=20, exact=False)
    drop = narrow.drop
    rng = np.random.default_rng(2)
    a, w = (FP8_E4M3.encode(FP8_E4M3.random(rng, 64)) for _ in range(2))
    full, _ = fmac_golden(exact, a, w, 1)
    low, _ = fmac_golden(narrow, a, w, 1)
    assert [int(x) >> drop for x in full] == [int(x) for x in low]
