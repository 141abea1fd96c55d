"""BitMoD (Chen et al., HPCA 2025) in Lowbit: the data types, the per-group least-error
quantizer with its stated tie rules, the golden model of the bit-serial core with BitMoD weights
and bit-serial dequantization, and the core itself in simulation (random, every code under every
type, overflow, back-pressure, and weights from the quantizer)."""

import numpy as np
import pytest
from array_checks import first_by_default, simulate_checked

from lowbit.errors import ConfigError, UsageError
from lowbit.kinds.bitserial import BitserialConfig
from lowbit.models.bitmod import (
    BITMOD3,
    BITMOD4,
    TYPE_NAMES,
    BitmodSpec,
    nearest,
    parse_bitmod,
)
from lowbit.models.bitserial import BitserialPerf, BitserialTiler, bitserial_golden
from lowbit.models.formats import IntFormat, parse_format
from lowbit.models.perf import GemmShape
from lowbit.models.quant_error import quant_error
from lowbit.models.tiling import Run
from lowbit.sim.tb_bitserial import BitserialBench
from lowbit.simulate import simulate

#: the paper's value sets (in units of the base type's step), type by type
PAPER = {
    BITMOD3: {"er+": [-4, -2, -1, 0, 1, 2, 3, 4], "er-": [-4, -3, -2, -1, 0, 1, 2, 4],
              "ea+": [-4, -2, -1, 0, 1, 2, 4, 6], "ea-": [-6, -4, -2, -1, 0, 1, 2, 4]},
    BITMOD4: {"er+": [-12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 10, 12],
              "er-": [-12, -10, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12],
              "ea+": [-12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12, 16],
              "ea-": [-16, -12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12]},
}


@pytest.mark.parametrize("fmt", [BITMOD3, BITMOD4], ids=str)
def test_types_are_the_papers_and_the_unified_form_rebuilds_every_value(fmt):
    for t, name in enumerate(TYPE_NAMES):
        assert fmt.values(t).tolist() == PAPER[fmt][name]
    sign, man, shift = fmt.terms()
    assert np.array_equal((-1) ** sign * man * (1 << shift), fmt.table())
    assert set(man.ravel()) <= {0, 1, 3, 5} and np.all((man == 0) | (man % 2 == 1))
    assert (fmt.serial_bits, fmt.max_shift) == ((2, 2) if fmt is BITMOD3 else (3, 4))
    assert parse_format(fmt.name) is fmt
    codes, types = fmt.random(np.random.default_rng(0), (50, 7))
    assert np.array_equal(fmt.encode(fmt.decode(codes, types), types), codes)


def test_decode_refuses_codes_and_types_out_of_range():
    with pytest.raises(UsageError, match="code 16 is not a bitmod4 code"):
        BITMOD4.decode(np.array([16]), np.array([0]))
    with pytest.raises(UsageError, match="type id 4"):
        BITMOD4.decode(np.array([1]), np.array([4]))
    with pytest.raises(UsageError, match="value 10 is not a bitmod4 ea"):
        BITMOD4.encode(np.array([10]), np.array([2]))


def test_value_ties_go_to_the_smaller_magnitude_and_ends_saturate():
    levels = np.array([-4.0, -2, -1, 0, 1, 2, 3, 4])
    got = nearest(levels, np.array([1.5, -1.5, 0.5, -0.5, 2.5, 3.5, 9.0, -9.0, 2.4]))
    assert got.tolist() == [1, -1, 0, 0, 2, 3, 4, -4, 2]


def _per_type(spec, x):
    """Squared error of every type on one group (a reference that tries them one by one)."""
    out = []
    for t in range(4):
        levels = spec.fmt.values(t).astype(float)
        s = float(np.float32(np.abs(x).max()) / np.float32(np.abs(levels).max()))
        out.append(float(((x - nearest(levels, x / s) * s) ** 2).sum()))
    return out


def test_quantizer_picks_the_least_error_type_per_group():
    rng = np.random.default_rng(1)
    x = (rng.standard_t(3, (6, 256)) * rng.uniform(0.1, 3, (6, 1))).astype(np.float32)
    for spec, k_axis in ((BitmodSpec(BITMOD4, 64), 1), (BitmodSpec(BITMOD3, 32), 0)):
        data = x if k_axis == 1 else x.T
        q = spec.quantize(data, k_axis)
        types = q.types if k_axis == 1 else q.types.T
        groups = x.reshape(6, -1, spec.group)
        for r in range(6):
            for g in range(groups.shape[1]):
                errors = _per_type(spec, groups[r, g].astype(np.float64))
                assert types[r, g] == int(np.argmin(errors))
        assert len(set(types.ravel())) > 1, "every group chose the same type"


def test_type_ties_go_to_the_first_type():
    """er+ and er- share the scale (qmax 12); a group without ±10-ish values ties: er+ wins."""
    x = np.array([[12.0, 6, -3, 1, 0, -8, 4, 2]], dtype=np.float32)
    q = BitmodSpec(BITMOD4, 8).quantize(x, 1)
    assert q.types.tolist() == [[0]] and np.array_equal(q.dequantize(), x)
    assert BitmodSpec(BITMOD4, 8).quantize(-x, 1).types.tolist() == [[0]]
    # a group whose largest magnitude is negative and needs -16: ea- (id 3)
    y = np.array([[-16.0, 12, 1, 0, 0, 0, 0, 0]], dtype=np.float32)
    assert BitmodSpec(BITMOD4, 8).quantize(y, 1).types.tolist() == [[3]]


def test_bitmod_beats_the_plain_types_it_extends():
    rows = {r.quantizer: r.sqnr for r in quant_error(
        ["int4:g128", "fp4_e2m1:g128", "bitmod4:g128", "int3:g128", "bitmod3:g128"],
        (64, 512))}
    for data in ("gaussian", "student-t", "outliers"):
        assert rows["bitmod4:g128"][data] > rows["fp4_e2m1:g128"][data]
        assert rows["bitmod4:g128"][data] > rows["int4:g128"][data]
        assert rows["bitmod3:g128"][data] > rows["int3:g128"][data]
    q = BitmodSpec(BITMOD4, 128).quantize(np.ones((2, 256), np.float32))
    assert q.bits_per_element == 4 + 34 / 128


def test_quantizer_syntax_and_errors():
    assert parse_bitmod("bitmod4").name == "bitmod4:g128"
    assert parse_bitmod("bitmod3:g32").group == 32 and parse_bitmod("int4:g32") is None
    assert parse_bitmod("bitmod4:channel").group is None
    with pytest.raises(UsageError, match="takes gN"):
        parse_bitmod("bitmod4:asym")
    with pytest.raises(UsageError, match="does not divide K=100"):
        BitmodSpec(BITMOD4, 64).quantize(np.ones((2, 100), np.float32))


def test_integer_scales_approximate_the_fp32_ones():
    rng = np.random.default_rng(2)
    q = BitmodSpec(BITMOD4, 32).quantize(rng.standard_normal((128, 8)).astype(np.float32), 0)
    codes, base = q.integer_scales(IntFormat(8, signed=False))
    assert codes.shape == q.scales.shape and codes.min() >= 1 and codes.max() == 255
    assert np.all(np.abs(codes * base[None, :] - q.scales) <= base[None, :] / 2 + 1e-12)


def _exact(config, a, w, t, s, group):
    """Python-integer reference: Σ over groups of scale · Σ a·value, wrapped once."""
    fmt, (m, k), n = config.w, a.shape, w.shape[1]
    out = np.zeros((m, n), dtype=object)
    for i in range(m):
        for j in range(n):
            total = 0
            for g0 in range(0, k, group):
                part = sum(int(a[i, kk]) * int(fmt.table()[t[g0 // group, j], w[kk, j]])
                           for kk in range(g0, min(g0 + group, k)))
                total += part * int(config.scale_fmt.decode(np.array([s[g0 // group, j]]))[0])
            out[i, j] = total
    return config.accumulator.wrap(np.array([[v % (1 << 64) for v in row] for row in out],
                                            dtype=np.uint64))


@pytest.mark.parametrize("config", [
    BitserialConfig(a="int8", w="bitmod4", lanes=4, cols=3, acc=20, scale="serial",
                    scale_fmt="uint6"),
    BitserialConfig(a="uint5", w="bitmod3", lanes=3, cols=2, acc=16, scale="int",
                    scale_fmt="int4", order="lsb"),
], ids=lambda c: c.name)
def test_golden_model_against_python_integers(config):
    rng = np.random.default_rng(3)
    m, k, n, group = 5, 23, 4, 2 * config.lanes
    a = config.a.random(rng, (m, k))
    w, _ = config.w.random(rng, (k, n))
    t = rng.integers(0, 4, (-(-k // group), n))
    s = config.scale_fmt.encode(config.scale_fmt.random(rng, t.shape))
    got = bitserial_golden(config, a, w, scales=s, group=group, types=t)
    assert np.array_equal(got, _exact(config, a, w, t, s, group))


def test_serial_scale_waits_for_short_groups():
    """D = 6 scale bits, P = 3 cycles per slice: a 1-slice group waits 3 cycles, a 2-slice
    group none; the run's first group never."""
    c = BitserialConfig(a="int8", w="bitmod4", lanes=4, cols=2, acc=24, scale="serial",
                        scale_fmt="uint6")
    perf = BitserialPerf(c, g=1)
    run = Run({}, ((0, 0), (1, 0)), 1, 4 * 5)        # two tiles of 5 one-slice groups
    assert perf.waits(run) == 2 * 5 * 3 - 3
    assert BitserialPerf(c, g=2).waits(run) == 2 * (0 + 0 + 3) - 0
    assert perf.latency == 5 + 1 + 6 and perf.cycles_per_slice == 3   # select stage: +1
    assert BitserialPerf(BitserialConfig(a="int8", w="int4", scale="int")).waits(run) == 0


@pytest.mark.parametrize("values, field, allowed", [
    ({"w": "bitmod4"}, "scale", "every group brings its data type"),
    ({"w": "bitmod4", "scale": "int", "serial": "a"}, "serial", "w with w=bitmod4"),
    ({"w": "bitmod4", "scale": "int", "acc": 12}, "acc", "14..64 bits"),
    ({"w": "bitmod5"}, "w", "bitmod3, bitmod4"),
    ({"w": "fp4_e2m1"}, "w", "bitmod3, bitmod4"),
])
def test_impossible_bitmod_configs(values, field, allowed):
    with pytest.raises(ConfigError) as e:
        BitserialConfig(a="int8", **values)
    assert e.value.field == field and allowed in str(e.value)


def test_bitmod_runs_full_precision_only():
    c = BitserialConfig(a="int8", w="bitmod4", scale="int")
    with pytest.raises(ValueError, match="take all 3 mantissa bits"):
        BitserialTiler(c, pw=2)


CONFIGS = [
    BitserialConfig(a="int8", w="bitmod4", lanes=4, cols=2, acc=24, scale="serial",
                    scale_fmt="uint5"),
    BitserialConfig(a="uint6", w="bitmod3", lanes=3, cols=3, acc=20, scale="int",
                    scale_fmt="int4", order="lsb"),
    BitserialConfig(a="int8", w="int4", lanes=2, cols=3, acc=22, scale="serial",
                    scale_fmt="int5", order="lsb"),
]


@pytest.mark.parametrize("config", first_by_default(CONFIGS), ids=lambda c: c.name)
def test_bitmod_core_bit_and_cycle_exact(config, tmp_path):
    """Every test of the bit-serial testbench (GEMM skeleton): random codes and types per
    group, group sizes 1, 2, 3, 9 slices (a serial scale waits on the short ones), edge shapes,
    every code under every type at the extreme activations, long runs that overflow the
    accumulator, idle inputs and stalled results; cycles equal the model everywhere."""
    side = 4 * max(config.lanes, config.cols)
    simulate_checked(config, BitserialBench, GemmShape(side + 1, side + 2, side + 3), tmp_path,
                     seed=5, overflows=config.bitmod)


def test_quantized_weights_run_bit_exactly(tmp_path):
    """The quantizer's codes, types and integer scales of Gaussian weights (groups of 32) on
    the core: its result is the golden model's, which dequantizes to the float GEMM."""
    config = CONFIGS[0]
    rng = np.random.default_rng(4)
    k, n, m, group = 96, 6, 5, 32
    w_real = rng.standard_normal((k, n)).astype(np.float32)
    q = BitmodSpec(BITMOD4, group).quantize(w_real, k_axis=0)
    s, base = q.integer_scales(config.scale_fmt)
    a = config.a.random(rng, (m, k))
    path = tmp_path / "operands.npz"     # beside the run directory, which a run empties
    np.savez(path, a=a, w=q.codes, t=q.types, s=s)
    result = simulate(config, run_dir=tmp_path / "run", seed=1, testcase="gemm_tiled",
                      options={"operands": str(path), "g": group // config.lanes})
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    acc = bitserial_golden(config, a, q.codes, scales=s, group=group, types=q.types)
    deq = q.elements() * np.repeat(s, group, axis=0) * base[None, :]
    assert np.allclose(acc * base[None, :], a @ deq)
