"""models/packing.py: every packing it offers recovers every product exactly, over every
operand combination; impossible packings are refused."""

import itertools

import numpy as np
import pytest

from lowbit.models.formats import IntFormat
from lowbit.models.packing import (
    MAC16_16X16,
    MULT18X18,
    MultiplierPorts,
    Packing,
    PackingError,
    cheapest,
    min_shift,
    packings,
    range_bits,
)

FORMATS = [IntFormat(b, s) for b in (2, 3, 4, 8) for s in (True, False)]
PAIRS = [(a, w) for a in FORMATS for w in FORMATS]
#: the most operand combinations one exhaustive check may take
MAX_COMBINATIONS = 1 << 22


def offered(a, w):
    """Every packing :func:`packings` offers for ``a``×``w`` on either DSP, by correction too."""
    found = {p for ports in (MULT18X18, MAC16_16X16) for p in packings(a, w, ports)}
    return sorted(found, key=lambda p: (p.count, p.shift, p.correction))


def all_combinations(packing):
    """Every ``a`` and every tuple of ``count`` weights, as aligned arrays."""
    a_vals, w_vals = packing.a.values(), packing.w.values()
    lanes = np.array(list(itertools.product(w_vals, repeat=packing.count)), dtype=np.int64)
    a = np.repeat(a_vals, len(lanes))
    w = np.tile(lanes, (len(a_vals), 1))
    return a, w


CASES = [p for a, w in PAIRS for p in offered(a, w)
         if len(a.values()) * len(w.values()) ** p.count <= MAX_COMBINATIONS]


@pytest.mark.parametrize("packing", CASES,
                         ids=lambda p: f"{p.a}x{p.count}{p.w}_s{p.shift}_{p.correction}")
def test_every_offered_packing_is_exact_over_every_combination(packing):
    a, w = all_combinations(packing)
    wide = a * packing.pack(w)
    assert np.array_equal(packing.unpack(wide), a[:, None] * w)
    lo, hi = packing.w_range
    W = packing.pack(w)
    assert W.min() == lo and W.max() == hi
    # only the low top_bits of the wide product are read
    assert np.array_equal(packing.unpack(wide & ((1 << packing.top_bits) - 1)), a[:, None] * w)


def test_cases_cover_signed_unsigned_and_every_correction():
    assert {p.correction for p in CASES} == {"none", "sign", "offset"}
    assert any(p.a.signed and not p.w.signed for p in CASES)
    assert any(not p.a.signed and p.w.signed for p in CASES)
    assert len(CASES) > 40


@pytest.mark.parametrize("correction", ["none", "sign", "offset"])
def test_every_correction_at_its_least_shift_for_small_formats(correction):
    """Each correction at its own least shift, 2 and 3 lanes, whether or not a DSP holds it."""
    checked = 0
    for a, w in PAIRS:
        if a.bits > 4 or w.bits > 4:
            continue
        for count in (2, 3):
            try:
                packing = Packing(a, w, count, min_shift(a, w, correction), correction)
            except PackingError:
                continue
            x, y = all_combinations(packing)
            assert np.array_equal(packing.unpack(x * packing.pack(y)), x[:, None] * y)
            checked += 1
    assert checked >= 8


def test_which_packings_fit_the_ecp5_18x18():
    def best(a, w):
        p = packings(a, w, MULT18X18)
        return (p[0].count, p[0].shift, p[0].correction) if p else None

    i = IntFormat
    assert best(i(8), i(4)) == (2, 12, "sign")
    assert best(i(4), i(4)) == (2, 8, "sign")
    assert best(i(4, False), i(4, False)) == (2, 8, "none")
    assert best(i(8), i(2)) == (2, 10, "sign")          # three int2 do not fit
    assert cheapest(i(8), i(2), 3, MULT18X18) is None
    assert best(i(4), i(2)) == (4, 5, "offset")
    assert best(i(2, False), i(2, False)) == (5, 4, "none")
    assert best(i(8), i(8)) is None                     # 16 + 8 bits of W


def test_sign_correction_is_refused_where_a_lower_part_leaves_its_field():
    """int2×uint1 products are -2..1 (2 bits, the least is -2^1): at shift 2 the lower part of
    three lanes reaches -2·(1 + 4) = -10 < -2^3, and its sign bit no longer tells its borrow."""
    a, w = IntFormat(2), IntFormat(1, False)
    with pytest.raises(PackingError, match="lower part"):
        Packing(a, w, 3, 2, "sign")
    packing = Packing(a, w, 3, 3, "sign")
    x, y = all_combinations(packing)
    assert np.array_equal(packing.unpack(x * packing.pack(y)), x[:, None] * y)
    # what the refused packing would decode: some combination comes out wrong
    shifts = np.array([0, 2, 4])
    wide = x * np.sum(y << shifts, axis=-1)
    borrow = [(wide >> (s - 1)) & 1 if s else 0 for s in shifts]
    fields = np.stack([(((wide >> s) + b) & 3) for s, b in zip(shifts, borrow)], axis=-1)
    fields = np.where(fields >= 2, fields - 4, fields)
    assert not np.array_equal(fields, x[:, None] * y)


@pytest.mark.parametrize("args, message", [
    ((IntFormat(8), IntFormat(4), 2, 11, "sign"), "shift ≥ 12"),
    ((IntFormat(8), IntFormat(4), 2, 12, "none"), "negative"),
    ((IntFormat(4, False), IntFormat(4, False), 2, 8, "sign"), "never negative"),
    ((IntFormat(4), IntFormat(4), 0, 8, "sign"), "≥ 1"),
    ((IntFormat(4), IntFormat(4), 2, 8, "magic"), "one of none, sign, offset"),
])
def test_impossible_packings_are_refused(args, message):
    with pytest.raises(PackingError, match=message):
        Packing(*args)


def test_pack_checks_the_lane_count():
    with pytest.raises(PackingError, match="2 lanes"):
        Packing(IntFormat(8), IntFormat(4), 2, 12, "sign").pack(np.zeros((5, 3)))


def test_range_bits_and_ports():
    assert range_bits(-1016, 1024) == (12, True)
    assert range_bits(0, 225) == (8, False)
    assert range_bits(0, 0) == (1, False)
    assert range_bits(-1, 0) == (1, True)
    p = Packing(IntFormat(8), IntFormat(4), 2, 12, "sign")
    assert p.fits(MULT18X18) and not p.fits(MultiplierPorts(18, 15, 36))
    assert p.top_bits == 24 and not p.fits(MultiplierPorts(18, 18, 23))
