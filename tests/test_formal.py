"""Formal checks with SymbiYosys (lowbit.sim.formal; Z3 from z3-solver): every kind's stream
rules at a small config, and small arithmetic units equal to a reference expression. The full
set is ``pytest -m slow``; the default suite proves one tiny unit and shows a broken one fails."""

from __future__ import annotations

import pytest

from lowbit.hw.mul.fabric import FabricMultiplier
from lowbit.hw.mul.packed import PackedMultiplier
from lowbit.hw.mul.shape import InferredMultiplier
from lowbit.models.formats import IntFormat, parse_format
from lowbit.models.packing import MULT18X18, packings
from lowbit.registry import get_kind
from lowbit.sim import formal

#: a small config of every kind (its smallest run is a few beats deep)
SMALL = {
    "mac": {"a": "int3", "w": "int2", "acc": 8, "k_bits": 3},
    "systolic": {"a": "int2", "w": "int2", "acc": 6, "k_bits": 3, "rows": 2, "cols": 2,
                 "depth": 2},
    "lut": {"a": "int2", "w_bits": 2, "g": 2, "cols": 2, "acc": 6, "k_bits": 3},
    "bitserial": {"a": "int2", "w": "int2", "acc": 6, "k_bits": 3, "lanes": 2, "cols": 2},
    "fmac": {"a": "fp4_e2m1", "w": "fp4_e2m1", "k_bits": 3},
    "fusion": {"acc": 18, "k_bits": 2},
    "blockdot": {"a": "mxfp4", "w": "mxfp4", "lanes": 32, "blocks_bits": 1},
}

I4, U4, I8, U8 = IntFormat(4), IntFormat(4, False), IntFormat(8), IntFormat(8, False)


def test_every_kind_has_a_small_config():
    from lowbit.registry import kinds

    assert set(SMALL) == set(kinds())


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(SMALL))
def test_stream_rules(kind, tmp_path):
    config = get_kind(kind).config.from_dict(SMALL[kind])
    result = formal.stream_rules(config, tmp_path)
    assert result.passed, f"{result.status}: {result.log}"


def _int_units():
    out = [(f"pe_{a}x{w}", formal.ProductUnit(a, w)) for a, w in
           ((I4, I4), (U4, I4), (I8, I8), (U8, U8), (I8, U4))]
    out += [(f"fabric_{a}x{w}_s{s}", FabricMultiplier(a, w, stages=s)) for a, w, s in
            ((I4, I4, 0), (U4, I4, 1), (I8, I8, 0), (U8, I8, 2))]
    out.append(("inferred_int8_s2", InferredMultiplier(I8, I8, stages=2)))
    pack = packings(I4, I4, MULT18X18)[0]
    out.append((f"packed_{pack.count}x_int4", PackedMultiplier(
        pack, lambda a, w: InferredMultiplier(a, w))))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name, unit", _int_units(), ids=lambda x: x if isinstance(x, str)
                         else "")
def test_integer_multipliers_equal_shift_and_add(name, unit, tmp_path):
    result = formal.equivalence(unit, formal.shift_add, name, tmp_path)
    assert result.passed, f"{result.status}: {result.log}"


@pytest.mark.slow
@pytest.mark.parametrize("a, w", [("fp4_e2m1", "fp4_e2m1"), ("fp8_e4m3", "fp4_e2m1"),
                                  ("fp6_e3m2", "fp6_e2m3"), ("fp8_e5m2", "int4"),
                                  ("fp8_e4m3", "fp8_e5m2")])
def test_minifloat_products_equal_the_format_tables(a, w, tmp_path):
    fa, fw = parse_format(a), parse_format(w)
    result = formal.equivalence(formal.ProductUnit(fa, fw), formal.units_product(fa, fw),
                                f"product_{a}_{w}", tmp_path)
    assert result.passed, f"{result.status}: {result.log}"


#: exponents around FP32's subnormal range, small normals and the overflow to inf
ROUNDER_EXPS = [*range(-157, -145), *range(-3, 2), *range(121, 126)]


@pytest.mark.slow
def test_fp32_rounder_equals_ieee_rounding(tmp_path):
    mag = 6
    exps = set(ROUNDER_EXPS)
    unit = formal.RoundUnit(mag, 9)
    result = formal.equivalence(unit, formal.fp32_rounding(ROUNDER_EXPS, mag), "fp32_round",
                                tmp_path, assume=lambda a, w: _one_of(w, exps))
    assert result.passed, f"{result.status}: {result.log}"


def _one_of(value, choices):
    out = value == min(choices)
    for c in choices:
        out = out | (value == c)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("a, w", [(I4, I4), (U8, I8)])
def test_a_broken_product_fails_its_proof(a, w, tmp_path):
    result = formal.equivalence(formal.ProductUnit(a, w, broken=True), formal.shift_add,
                                "broken", tmp_path)
    assert result.status == "FAIL", f"{result.status}: {result.log}"


def test_tiny_proof_passes_and_its_broken_twin_fails(tmp_path):
    """The default suite's cheap check that the prover runs and can fail."""
    i2 = IntFormat(2)
    good = formal.equivalence(formal.ProductUnit(i2, i2), formal.shift_add, "tiny", tmp_path)
    bad = formal.equivalence(formal.ProductUnit(i2, i2, broken=True), formal.shift_add,
                             "tiny_broken", tmp_path)
    assert (good.status, bad.status) == ("PASS", "FAIL"), (good.log, bad.log)
