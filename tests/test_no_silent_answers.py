"""Inputs that once gave a silently wrong or surprising answer now give a clear error or follow a
stated rule (the rule's text is in the module docstring named in each test)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lowbit.errors import UsageError
from lowbit.hw import generators
from lowbit.hw.verilog import ports_of
from lowbit.models.block_formats import NVFP4
from lowbit.models.formats import BINARY, TERNARY, FormatError, IntFormat
from lowbit.models.minifloat import FP4_E2M1, FP8_E4M3, FP8_E5M2
from lowbit.models.quantize import QuantSpec, quantize
from lowbit.registry import get_kind


def test_asymmetric_range_beyond_fp32_is_refused():
    """lowbit.models.quantize: an FP32 scale must be a normal FP32 number."""
    x = np.array([[3e38, -3e38, 1, 0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no RuntimeWarning on the way to the error either
        with pytest.raises(FormatError, match=r"group \(0, 0\).*6e\+38.*overflows FP32.*pow2"):
            quantize(x, "int8:asym")
    q = quantize(x, "int8:asym:pow2")          # the suggested way out works
    assert np.all(np.isfinite(q.dequantize()))
    assert abs(q.dequantize()[0, 0] - 3e38) / 3e38 < 0.01


@pytest.mark.parametrize("fmt, codes", [
    (FP4_E2M1, [16, 24, 31]), (FP4_E2M1, [-1]), (FP8_E4M3, [256]), (IntFormat(4), [16]),
    (IntFormat(4, signed=False), [1 << 40]), (TERNARY, [4]), (BINARY, [2])])
def test_decoding_a_code_outside_the_format_is_an_error(fmt, codes):
    """lowbit.models.formats.NumberFormat.checked_codes: codes are never wrapped around."""
    with pytest.raises(FormatError, match=f"code {codes[0]} is not a {fmt.name} code"):
        fmt.decode(np.array(codes))
    with pytest.raises(FormatError):
        fmt.decode(np.array(codes, dtype=np.uint64) if codes[0] >= 0 else np.array(codes))


def test_every_code_in_range_still_decodes():
    assert list(FP4_E2M1.decode(np.arange(16))[[0, 8, 15]]) == [0.0, -0.0, -6.0]
    assert FP4_E2M1.decode(np.array([15], dtype=np.uint64))[0] == -6.0
    assert list(IntFormat(4).decode(np.array([15, 8]))) == [-1, -8]
    with pytest.raises(FormatError, match="not an integer bit pattern"):
        FP4_E2M1.decode(np.array([1.5]))


@pytest.mark.parametrize("quantizer, x", [
    ("int8", 1e-40),            # scale 1e-40/127 is subnormal: largest elements would clip
    ("int8", 1e-44),            # scale underflows to 0: the group would become all zeros
    ("int4:g2", 1e-38),
    ("fp8_e4m3:channel", 1e-40),
    ("ternary", 1e-39),         # mean magnitude subnormal
    ("int8:asym", 1e-41),
])
def test_a_nonzero_group_whose_fp32_scale_underflows_is_refused(quantizer, x):
    data = np.array([[x, -x / 2, 0, x / 4]], np.float32)
    with pytest.raises(FormatError, match="below the smallest normal FP32"):
        quantize(data, quantizer)


def test_all_zero_groups_and_power_of_two_scales_keep_their_rules():
    """An all-zero group gets scale 1; pow2 scales take tiny groups (nothing clips)."""
    q = quantize(np.zeros((2, 4), np.float32), "int8")
    assert np.all(q.scales == 1) and not q.dequantize().any()
    x = np.array([[1e-40, -1e-40, 0, 0]], np.float32)
    q = quantize(x, "int8:pow2")
    assert np.all(np.abs(q.dequantize()) <= np.abs(x.astype(np.float64)))
    smallest_normal = float(np.finfo(np.float32).tiny)
    q = quantize(np.array([[127 * smallest_normal, 0, 0, 0]], np.float32), "int8")
    assert q.dequantize()[0, 0] == pytest.approx(127 * smallest_normal, rel=1e-6)


def test_symmetric_int1_is_refused():
    """int1 holds -1..0: scale = amax / max would divide by zero."""
    with pytest.raises(UsageError, match="int1 holds -1..0.*int1:asym, uint1 or binary"):
        QuantSpec(IntFormat(1))
    quantize(np.array([[1, -2, 3, 0]], np.float32), "int1:asym")


def test_nvfp4_tensor_scale_underflow_is_refused():
    """lowbit.models.block_formats: the NVFP4 tensor scale must be a normal FP32 number."""
    for amax in (1e-42, 1e-36):
        with pytest.raises(FormatError, match="nvfp4 tensor scale.*below the smallest normal"):
            NVFP4.quantize(np.full((1, 16), amax, np.float32))
    x = np.full((1, 16), 1e-30, np.float32)      # tiny, but its tensor scale is normal
    q = NVFP4.quantize(x)
    assert np.allclose(q.dequantize(), x.astype(np.float64), rtol=1e-6)
    assert NVFP4.quantize(np.zeros((1, 16), np.float32)).tensor_scale == 1.0


@pytest.mark.parametrize("fmt", [FP8_E5M2, FP8_E4M3, FP4_E2M1])
def test_saturating_encode_maps_infinities_to_max(fmt):
    """lowbit.models.minifloat: saturation follows OCP OFP8's saturating conversion."""
    codes = fmt.encode(np.array([np.inf, -np.inf, 1e9]), saturate=True)
    assert list(fmt.decode(codes)) == [fmt.max, -fmt.max, fmt.max]
    if fmt.has_inf:
        assert list(fmt.decode(fmt.encode(np.array([np.inf, -np.inf])))) == [np.inf, -np.inf]


@pytest.mark.parametrize("kind, stream", [
    ("systolic", "result"), ("lut", "result"), ("bitserial", "result"), ("systolic", "a")])
def test_manifest_records_signed_lanes(kind, stream):
    """hw/verilog.ports_of: a payload of two's-complement lanes says so per lane."""
    ports = {p["name"]: p for p in ports_of(generators.build(get_kind(kind).config()))}
    port = ports[f"{stream}__payload"]
    lanes = port["elements"]
    assert lanes["signed"] is True and port["signed"] is False
    assert lanes["count"] * lanes["width"] == port["width"]


def test_manifest_of_whole_numbers_and_fields():
    mac = {p["name"]: p for p in ports_of(generators.build(get_kind("mac").config()))}
    assert mac["result__payload"]["signed"] is True and "elements" not in mac["result__payload"]
    fields = mac["operands__payload"]["fields"]
    assert fields["a"] == {"offset": 0, "width": 8, "signed": True}
    fmac = {p["name"]: p for p in ports_of(generators.build(get_kind("fmac").config()))}
    acc = fmac["result__payload"]["fields"]["acc"]
    assert acc["signed"] is True and acc["offset"] == 0
