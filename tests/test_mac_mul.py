"""The mac kind's multiplier choice (``mul``, ``family``, ``mul_stages``): what each config
builds, what it refuses, and that the default stays ``a * w``."""

import pytest

from lowbit.errors import ConfigError
from lowbit.hw.verilog import generate
from lowbit.kinds.mac import MacConfig
from lowbit.models.mac import MacPerf
from lowbit.models.perf import GemmShape


@pytest.mark.parametrize("values, field, allowed", [
    ({"family": "ecp5"}, "family", "allowed: generic"),
    ({"mul_stages": 2}, "mul_stages", "applies to mul=lut"),
    ({"mul": "dsp"}, "family", "allowed ecp5 (MULT18X18D) or ice40 (SB_MAC16)"),
    ({"mul": "dsp", "family": "ecp5", "mul_stages": 1}, "mul_stages", "use in_reg/mul_reg"),
    ({"mul": "dsp", "family": "ice40", "a": "int9"}, "a", "at most 8 bits"),
    ({"mul": "dsp", "family": "ice40", "w": "uint12"}, "w", "uint1..uint8"),
    ({"mul": "lut", "family": "ice40"}, "family", "use family=generic"),
    ({"mul": "booth"}, "mul", "one of infer, lut, dsp"),
    ({"mul": "lut", "family": "gowin"}, "family", "one of generic, ecp5, ice40"),
    ({"mul": "lut", "mul_stages": 17}, "mul_stages", "allowed 0..16"),
])
def test_impossible_multiplier_choices_name_field_value_and_what_is_allowed(values, field,
                                                                           allowed):
    with pytest.raises(ConfigError) as e:
        MacConfig.from_dict({"a": "int8", "w": "int8", **values})
    assert e.value.field == field and allowed in str(e.value)
    shown = values.get(field, "generic")
    assert f"mac: {field}={shown!r} is not allowed" in str(e.value)


def test_latency_and_cycles_count_the_multipliers_registers():
    lut = MacConfig(a="int8", w="int4", acc=24, mul="lut", mul_stages=2, in_reg=True)
    dsp = MacConfig(a="int8", w="int4", acc=24, mul="dsp", family="ecp5", in_reg=True,
                    mul_reg=True)
    assert lut.latency == 4 and dsp.latency == 3
    assert MacPerf(lut).gemm_cycles(GemmShape(2, 3, 4)) == 24 + 4


def test_default_is_infer_and_keeps_its_name():
    c = MacConfig(a="int8", w="int4", acc=24)
    assert (c.mul, c.family, c.mul_stages) == ("infer", "generic", 0)
    assert c.name == "mac_int8_int4_acc24_wrap_k16"
    assert MacConfig(a="int8", w="int4", acc=24, mul="lut", family="ecp5",
                     mul_stages=2).name == "mac_int8_int4_acc24_wrap_lut_ecp5_s2_k16"


@pytest.mark.parametrize("values, cell", [
    ({}, None),
    ({"mul": "lut"}, None),
    ({"mul": "lut", "family": "ecp5"}, "CCU2C"),
    ({"mul": "dsp", "family": "ecp5", "in_reg": True}, "MULT18X18D"),
    ({"mul": "dsp", "family": "ice40"}, "SB_MAC16"),
])
def test_each_choice_instantiates_its_cells(values, cell):
    text = generate(MacConfig(a="int8", w="int4", acc=24, **values)).verilog
    for name in ("CCU2C", "MULT18X18D", "SB_MAC16"):
        assert (f"  {name} " in text) == (name == cell)
    if not values:
        assert " * " in text
