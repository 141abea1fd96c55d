"""Every format name resolves to its one object; bad names and values give clear errors."""

import numpy as np
import pytest

from lowbit.models.block_formats import BLOCK_FORMATS, MXINT8, NVFP4, BlockFormat
from lowbit.models.formats import (
    BINARY,
    TERNARY,
    FixedFormat,
    FormatError,
    IntFormat,
    parse_format,
)
from lowbit.models.minifloat import E8M0, FLOAT_FORMATS, FP4_E2M1, FP8_E4M3, FloatFormat


@pytest.mark.parametrize("name", ["int8", "uint5", "int8_f6", "ternary", "binary", "fp8_e4m3",
                                  "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "e8m0",
                                  "fp16", "bf16", "fp32", "mxfp8_e4m3", "mxfp8_e5m2",
                                  "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8", "nvfp4"])
def test_every_name_resolves_to_an_object_with_that_name(name):
    fmt = parse_format(name.upper())
    assert fmt.name == name and str(fmt) == name
    assert parse_format(name) == fmt


@pytest.mark.parametrize("name", ["int8", "uint3", "int8_f6", "ternary", "binary", "fp8_e4m3",
                                  "fp8_e5m2", "fp6_e3m2", "fp4_e2m1", "e8m0", "fp16", "mxint8",
                                  "mxfp4", "nvfp4"])
def test_every_element_format_says_which_codes_are_finite(name):
    """``is_finite`` and ``has_inf`` for any element format, not only floats (MXINT8's elements
    are fixed point; the blockdot testbench reads both off whichever it gets)."""
    fmt = parse_format(name)
    fmt = getattr(fmt, "element", fmt)
    codes = fmt.codes()
    values = fmt.decode(codes[fmt.is_code(codes)]).astype(np.float64)
    finite = fmt.is_finite(codes)
    assert np.isfinite(fmt.decode(codes[finite]).astype(np.float64)).all()
    assert finite.sum() == np.isfinite(values).sum()
    assert fmt.has_inf == bool(np.isinf(values).any())
    assert fmt.has_nan == bool(np.isnan(values).any())


def test_registry_objects_are_the_named_instances():
    assert parse_format("fp8_e4m3") is FP8_E4M3 and parse_format("e8m0") is E8M0
    assert all(parse_format(n) is f for n, f in {**FLOAT_FORMATS, **BLOCK_FORMATS}.items())
    assert parse_format("int8_f6") == FixedFormat(IntFormat(8), 6) == MXINT8.element


@pytest.mark.parametrize("name", ["fp8", "int0", "int33", "mxfp5", "e4m3", "", "int8_fx"])
def test_unknown_names_list_what_is_allowed(name):
    with pytest.raises(FormatError) as e:
        parse_format(name)
    text = str(e.value)
    assert len(text.splitlines()) == 1
    assert "allowed:" in text or "widths are 1..32" in text
    if "allowed:" in text:
        for known in ("int1..int32", "fp8_e4m3", "e8m0", "mxfp4", "nvfp4", "ternary"):
            assert known in text


def test_block_formats_expose_their_parts():
    mx = parse_format("mxfp8_e5m2")
    assert isinstance(mx, BlockFormat) and mx.block == 32 and mx.scale is E8M0
    assert mx.element.name == "fp8_e5m2" and mx.elem_emax == 15 and mx.bits_per_element == 8.25
    assert NVFP4.block == 16 and NVFP4.scale is FP8_E4M3 and NVFP4.element is FP4_E2M1
    assert NVFP4.tensor_scale.name == "fp32" and NVFP4.bits_per_element == 4.5
    assert MXINT8.elem_emax == 0
    assert {f.elem_emax for f in BLOCK_FORMATS.values()} == {8, 15, 4, 2, 0}


def test_minifloat_definitions_for_hardware():
    """The fields issue 6's generators read: sign/exponent/mantissa bits, bias, rules."""
    f = FP8_E4M3
    assert (f.signed, f.exp_bits, f.man_bits, f.bias, f.subnormals, f.specials) == \
        (True, 4, 3, 7, True, "fn")
    assert (E8M0.signed, E8M0.exp_bits, E8M0.man_bits, E8M0.bias, E8M0.subnormals) == \
        (False, 8, 0, 127, False)
    assert FP8_E4M3.nan_code == 0x7F and E8M0.nan_code == 0xFF
    with pytest.raises(FormatError, match="policy 'odd' not allowed"):
        FloatFormat("x", 4, 3, 7, "odd")


def test_ternary_and_binary():
    np.testing.assert_array_equal(TERNARY.encode([-1, 0, 1]), [3, 0, 1])
    np.testing.assert_array_equal(TERNARY.decode([3, 0, 1]), [-1, 0, 1])
    np.testing.assert_array_equal(TERNARY.encode([-1, 0, 1]), IntFormat(2).encode([-1, 0, 1]))
    np.testing.assert_array_equal(BINARY.decode([0, 1]), [-1, 1])
    assert (TERNARY.min, TERNARY.max, BINARY.bits, TERNARY.max_units) == (-1, 1, 1, 1)
    with pytest.raises(FormatError, match="value 0 is not a binary level; allowed {-1, 1}"):
        BINARY.encode([1, 0])
    with pytest.raises(FormatError, match="code 2 is not a ternary code"):
        TERNARY.decode([2])


def test_fixed_point():
    f = parse_format("int8_f6")
    assert (f.min, f.max, f.lsb) == (-2.0, 127 / 64, -6)
    np.testing.assert_array_equal(f.decode(f.encode([-2.0, 1 / 128, 3 / 128, 1.984375])),
                                  [-2.0, 0, 2 / 64, 1.984375])  # ties to even
    assert f.decode(f.encode([5.0], saturate=True))[0] == 127 / 64
    with pytest.raises(FormatError, match="overflows int8_f6"):
        f.encode([5.0])


def test_huge_formats_refuse_to_list_codes():
    with pytest.raises(FormatError, match="too many to list"):
        parse_format("fp32").codes()
