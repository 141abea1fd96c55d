"""Board self-tests of the ``fmac`` and ``fusion`` kinds: the expected checksum is the golden
model's answer to the board's stimulus (recomputed here by hand, specials included), and the
self-test top around the generated core reaches it in simulation.

That the verdict logic latches ``failed`` on a wrong checksum is the kind-independent part,
simulated in tests/test_flow_build.py; here each top is built once, and a corrupted expectation
(one result off, a special code changed, the other signedness) is shown to give a checksum
other than the one the simulated RTL computed.
"""

from fractions import Fraction

import numpy as np
import pytest

from lowbit.hw.interface import CoreInterface
from lowbit.boards.selftest import checksum, expectation, stimulus
from lowbit.hw.verilog import generate
from lowbit.hw.fmac import result_layout
from lowbit.kinds.fmac import FmacConfig
from lowbit.kinds.fusion import FusionConfig
from lowbit.models.fmac import FINITE, NAN, NEG_INF, POS_INF
from selftest_sim import simulate_top

#: a side whose widest format is the narrower code (E3M2 in an 8-bit field), and E5M2 with
#: its inf and NaN codes
FMAC = FmacConfig(a="fp8_e3m4,fp6_e3m2", w="int4,fp8_e5m2")
FUSION = FusionConfig()
SATURATING = FusionConfig(acc=18, overflow="saturate")


def _expect(config):
    return expectation(config, CoreInterface.from_manifest(generate(config).manifest))


def _fmac_by_hand(config, sel: tuple[int, int], k: int) -> list[int]:
    """The fmac's result payloads for the board's stimulus, from exact rationals and IEEE
    rules: the sum of the finite products (specials count 0) in units of 2**result_lsb, and
    the special code of the dot product."""
    fa, fw = config.a_set.formats[sel[0]], config.w_set.formats[sel[1]]
    a_bits = config.a_set.code_bits
    beats = stimulus(0, a_bits + config.w_set.code_bits, 32 * k)
    codes = [((p & ((1 << fa.bits) - 1)), (p >> a_bits) & ((1 << fw.bits) - 1)) for p in beats]
    special_at = result_layout(config)["special"].offset
    out = []
    for t in range(0, len(codes), k):
        a = fa.decode(np.array([c[0] for c in codes[t:t + k]]))
        w = fw.decode(np.array([c[1] for c in codes[t:t + k]]))
        finite = np.isfinite(a) & np.isfinite(w)
        total = sum(Fraction(float(x)) * Fraction(float(y)) for x, y in zip(a[finite], w[finite]))
        units = total / Fraction(2) ** config.result_lsb
        assert units.denominator == 1
        with np.errstate(invalid="ignore"):
            ieee = float(np.sum(a * w))
        special = (FINITE if np.isfinite(ieee) else NAN if np.isnan(ieee)
                   else POS_INF if ieee > 0 else NEG_INF)
        out.append((special << special_at) | (int(units) & ((1 << config.acc_bits) - 1)))
    return out


def test_fmac_selftest_picks_the_widest_formats_and_follows_the_golden_specials():
    expect = _expect(FMAC)
    assert expect.params == {"k": 16, "clear": 0, "a_sel": 1, "w_sel": 1}
    results = _fmac_by_hand(FMAC, (1, 1), 16)
    assert expect.results == (32,)
    assert expect.checksum == checksum([results], [FMAC.acc_bits + 2])
    specials = [r >> FMAC.acc_bits for r in results]
    assert {POS_INF, NEG_INF, NAN} <= set(specials) and FINITE in specials


def _fusion_by_hand(config, beats: int, a_signed=True, w_signed=False) -> list[int]:
    """Beat t: lane 0 of a is the low byte of the first stimulus word, lane 0 of w the low byte
    of the second; 16 beats a result, the accumulator stepped once per beat; the rest of each
    word is ignored in 8×8 mode."""
    acc, results, total = config.accumulator, [], 0
    for t, p in enumerate(stimulus(0, 64, beats)):
        a, w = p & 0xFF, (p >> 32) & 0xFF
        a, w = a - (a >> 7 << 8) * a_signed, w - (w >> 7 << 8) * w_signed
        total = int(acc.clamp(total + a * w)) if acc.overflow == "saturate" else total + a * w
        if t % 16 == 15:
            results.append(int(acc.encode(np.array([total]))[0]))
            total = 0
    return results


@pytest.mark.parametrize("config", [FUSION, SATURATING], ids=lambda c: c.name)
def test_fusion_selftest_is_int8_by_uint8_dots(config):
    expect = _expect(config)
    assert expect.params == {"k": 16, "clear": 0, "a_prec": 0, "w_prec": 0,
                             "a_signed": 1, "w_signed": 0}
    assert expect.checksum == checksum([_fusion_by_hand(config, expect.beats)], [config.acc])


@pytest.mark.parametrize("config", [FMAC, FUSION], ids=["fmac", "fusion"])
def test_selftest_top_reaches_the_golden_checksum(config, tmp_path):
    expect = _expect(config)
    run = simulate_top(config, expect, tmp_path)
    assert run.passed and run.records[0]["passed"] == 1
    rtl = run.records[0]["checksum"]
    assert rtl == expect.checksum
    # the checksum tells a wrong answer from the right one
    width = CoreInterface.from_manifest(generate(config).manifest).results[0].width
    if config is FMAC:
        good = _fmac_by_hand(config, (1, 1), 16)
        wrong = [_fmac_by_hand(config, (0, 1), 16),                     # the other a format
                 [good[0] ^ (1 << config.acc_bits), *good[1:]]]         # one special code
    else:
        good = _fusion_by_hand(config, expect.beats)
        wrong = [_fusion_by_hand(config, expect.beats, w_signed=True),  # the other sign rule
                 _fusion_by_hand(config, expect.beats, a_signed=False)]
    assert checksum([good], [width]) == rtl
    for bad in [*wrong, [good[0] ^ 1, *good[1:]], good[::-1]]:          # one sum off; order
        assert checksum([bad], [width]) != rtl
