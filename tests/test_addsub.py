"""The add/subtract/skip PE of ternary and binary weights (``mul=addsub`` in ``mac`` and
``systolic``): the component against every operand pair, the configs it refuses, and the cores
bit- and cycle-exact in simulation."""

import itertools

import numpy as np
import pytest
from amaranth.sim import Simulator

from lowbit.errors import ConfigError
from lowbit.hw.mul.addsub import AddSubMultiplier
from lowbit.hw.verilog import generate
from lowbit.kinds.mac import MacConfig
from lowbit.kinds.systolic import SystolicConfig
from lowbit.models.formats import BINARY, TERNARY, IntFormat, sign_codes
from lowbit.simulate import simulate


def products(a_fmt, w_fmt) -> dict[tuple[int, int], int]:
    """``p`` of the component for every (a value, w code) pair (Amaranth's simulator)."""
    unit = AddSubMultiplier(a_fmt, w_fmt)
    out = {}

    async def bench(ctx):
        for a, code in itertools.product(a_fmt.values(), range(1 << w_fmt.bits)):
            ctx.set(unit.a, int(a))
            ctx.set(unit.w, code - (1 << w_fmt.bits) * (code >> (w_fmt.bits - 1))
                    if w_fmt.signed else code)
            out[int(a), code] = ctx.get(unit.p)

    sim = Simulator(unit)
    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("w_fmt", [TERNARY, BINARY, IntFormat(1), IntFormat(1, False)],
                         ids=str)
@pytest.mark.parametrize("a_fmt", [IntFormat(8), IntFormat(5, False)], ids=str)
def test_every_pair_is_the_product_and_unused_codes_skip(a_fmt, w_fmt):
    plus, minus = sign_codes(w_fmt)
    for (a, code), p in products(a_fmt, w_fmt).items():
        want = a if code in plus else -a if code in minus else 0
        assert p == want, f"{a_fmt} {a} × {w_fmt} code {code}: {p}, want {want}"
        if w_fmt.is_code(code):
            assert want == a * int(w_fmt.decode(np.array([code]))[0])


def test_ternary_code_10_is_skipped():
    """Ternary's unused code (2'b10, "minus zero") adds nothing: the stated choice."""
    assert not TERNARY.is_code(2)
    assert all(p == 0 for (a, code), p in products(IntFormat(4), TERNARY).items() if code == 2)


@pytest.mark.parametrize("make, field, allowed", [
    (lambda: SystolicConfig(w="ternary"), "w", "ternary weights take mul=addsub"),
    (lambda: SystolicConfig(w="int2", mul="addsub"), "w", "ternary, binary, int1 or uint1"),
    (lambda: SystolicConfig(a="fp8_e4m3", w="ternary", mul="addsub"), "a", "int1..int16"),
    (lambda: SystolicConfig(w="ternary", mul="addsub", pack=2, cols=4), "pack", "1 with"),
    (lambda: SystolicConfig(w="nvfp4", mul="addsub"), "w", "or ternary, binary"),
    (lambda: MacConfig(w="binary"), "w", "binary weights take mul=addsub"),
    (lambda: MacConfig(w="int3", mul="addsub"), "w", "ternary, binary, int1 or uint1"),
    (lambda: MacConfig(w="ternary", mul="addsub", family="ecp5"), "family", "generic"),
    (lambda: MacConfig(w="fp4_e2m1"), "w", "or ternary, binary (with mul=addsub)"),
])
def test_impossible_addsub_configs_name_the_field(make, field, allowed):
    with pytest.raises(ConfigError) as e:
        make()
    assert e.value.field == field and allowed in str(e.value)


def test_addsub_cores_have_no_multiplier_and_the_default_is_unchanged():
    for config in (MacConfig(a="int8", w="ternary", acc=20, mul="addsub"),
                   SystolicConfig(rows=2, cols=2, a="int8", w="binary", acc=16, mul="addsub")):
        assert " * " not in generate(config).verilog
    assert SystolicConfig().mul == "infer" and MacConfig().mul == "infer"
    assert MacConfig(a="int8", w="ternary", acc=20, mul="addsub").name == \
        "mac_int8_ternary_acc20_wrap_addsub_k16"


#: a mac and an array in the default suite; the other two (a Verilator build each) under
#: ``pytest -m slow``
@pytest.mark.parametrize("config", [
    MacConfig(a="int8", w="ternary", acc=20, mul="addsub"),
    pytest.param(MacConfig(a="uint8", w="binary", acc=14, mul="addsub", overflow="saturate",
                           in_reg=True, mul_reg=True, k_bits=10), marks=pytest.mark.slow),
    pytest.param(SystolicConfig(rows=4, cols=3, a="uint6", w="ternary", acc=14, mul="addsub",
                                mul_stages=1, mul_reg=True, k_bits=10, depth=16),
                 marks=pytest.mark.slow),
    SystolicConfig(rows=3, cols=4, dataflow="os", a="int8", w="binary", acc=16, mul="addsub",
                   overflow="saturate", k_bits=10),
], ids=lambda c: c.name)
def test_addsub_cores_bit_and_cycle_exact(config, tmp_path):
    """Every test of the kind's testbench: random GEMMs, edge shapes, extreme values, overflow
    (saturating up and down), back-pressure; measured cycles equal the model's."""
    result = simulate(config, run_dir=tmp_path, seed=3)
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    overflowed = [r.get("overflowed", 0) for r in result.run.records]
    assert sum(overflowed) > 0, "no test overflowed the accumulator"
