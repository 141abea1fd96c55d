"""Golden, bit-level and cycle models of the ``bitserial`` kind, and its config checks."""

import numpy as np
import pytest

from lowbit.errors import ConfigError
from lowbit.kinds.bitserial import BitserialConfig
from lowbit.models.accumulator import Accumulator
from lowbit.models.bitserial import (
    BitserialPerf,
    GroupScale,
    at_precision,
    bit_serial_dot,
    bitserial_golden,
)
from lowbit.models.formats import IntFormat, parse_format
from lowbit.models.int_gemm import int_gemm
from lowbit.models.perf import GemmShape


@pytest.mark.parametrize("fmt", ["int1", "int2", "int5", "int8", "uint1", "uint3", "uint8"])
@pytest.mark.parametrize("order", ["msb", "lsb"])
def test_bit_planes_add_up_to_the_products(fmt, order):
    """Bit plane by bit plane, sign bit subtracted, both orders: exactly the dot product."""
    s_fmt = parse_format(fmt)
    gen = np.random.default_rng(3)
    x = IntFormat(8).random(gen, (50, 6))
    s = np.concatenate([s_fmt.random(gen, (48, 6)), np.full((1, 6), s_fmt.min),
                        np.full((1, 6), s_fmt.max)])
    want = (x.astype(object) * s.astype(object)).sum(axis=1)
    assert list(bit_serial_dot(x, s, s_fmt, order)) == list(want)


def test_golden_without_scale_is_int_gemm():
    c = BitserialConfig(a="int8", w="int8", acc=20)
    gen = np.random.default_rng(1)
    a, w = c.a.random(gen, (5, 40)), IntFormat(3).random(gen, (40, 6))
    assert np.array_equal(bitserial_golden(c, a, w, pw=3),
                          int_gemm(a, w, c.a, IntFormat(3), c.accumulator))


def test_precision_reads_the_low_bits():
    """At pw=3 the code of 13 (0b00001101) reads as 0b101 = -3; unsigned as 5."""
    assert at_precision(np.array([13, -4, 3]), IntFormat(8), 3).tolist() == [-3, -4, 3]
    assert at_precision(np.array([13]), IntFormat(8, False), 3).tolist() == [5]
    c = BitserialConfig(serial="a", a="int8", w="int4", acc=20)
    assert bitserial_golden(c, np.array([[13]]), np.array([[2]]), pa=3).tolist() == [[-6]]


@pytest.mark.parametrize("kind,fmt", [("int", "int5"), ("int", "uint4"), ("pow2", "uint3")])
def test_group_scaling_against_python_integers(kind, fmt):
    c = BitserialConfig(a="int8", w="int4", lanes=4, acc=30, scale=kind, scale_fmt=fmt)
    gen = np.random.default_rng(7)
    M, N, K, G = 3, 5, 23, 8                       # three groups, the last one of 7 products
    a, w = c.a.random(gen, (M, K)), c.w.random(gen, (K, N))
    scales = GroupScale(kind, c.scale_fmt).random(gen, (3, N))
    got = bitserial_golden(c, a, w, scales=scales, group=G)
    values = c.scale_fmt.decode(scales)
    mult = [[(1 << int(v)) if kind == "pow2" else int(v) for v in row] for row in values]
    for m in range(M):
        for n in range(N):
            total = sum(mult[g][n] * sum(int(a[m, k]) * int(w[k, n])
                                         for k in range(g * G, min(K, (g + 1) * G)))
                        for g in range(3))
            assert got[m, n] == int(c.accumulator.wrap(np.array([total]))[0])


def test_golden_wraps_like_the_accumulator():
    c = BitserialConfig(a="int8", w="int8", acc=16, scale="int", scale_fmt="int8")
    a, w = np.full((1, 8), -128), np.full((8, 1), -128)
    got = bitserial_golden(c, a, w, scales=np.array([[127]]), group=8)
    assert got[0, 0] == Accumulator(16).wrap(np.array([8 * 128 * 128 * 127]))[0]


def test_cycle_model():
    c = BitserialConfig(lanes=8, cols=4, serial="both", scale="int")
    perf = BitserialPerf(c, pa=3, pw=5)
    shape = GemmShape(10, 9, 17)                   # 10 rows · 3 column blocks · 3 slices
    assert perf.cycles_per_slice == 15
    # select, tree (one inner register: three levels), part, outer, group, acc, result
    assert perf.gemm_cycles(shape) == 90 * 15 + perf.latency == 90 * 15 + 8
    assert perf.peak_macs_per_cycle == 32 / 15
    assert BitserialPerf(BitserialConfig()).peak_macs_per_cycle == 32 / 8
    assert 0 < perf.utilization(shape) <= 1


@pytest.mark.parametrize("fields,message", [
    ({"overflow": "saturate"}, "wrap only"),
    ({"scale": "pow2", "scale_fmt": "int4"}, "exponent is unsigned"),
    ({"scale": "pow2", "scale_fmt": "uint7"}, "uint1..uint6"),
    ({"lanes": 0}, "allowed 1..64"),
    ({"serial": "x"}, "one of w, a, both"),
    ({"order": "middle"}, "one of msb, lsb"),
    ({"acc": 8}, "at least 16 bits"),
])
def test_config_errors_name_the_field(fields, message):
    with pytest.raises(ConfigError) as e:
        BitserialConfig(**fields)
    assert message in str(e.value) and str(e.value).startswith("bitserial: ")


def test_cli_rejects_a_saturating_bitserial_core(cli):
    code, _, err = cli("generate", "bitserial", "--overflow", "saturate", "-o", "/nonexistent")
    assert code == 2 and "overflow='saturate' is not allowed" in err


@pytest.mark.parametrize("pw", [0, 9])
def test_run_time_precision_out_of_range_is_refused(pw):
    from lowbit.models.bitserial import precisions

    config = BitserialConfig(serial="w")
    with pytest.raises(ValueError, match="run-time precision of w is 1..8"):
        precisions(config, pw=pw)
    assert precisions(config) == {"w": 8}
