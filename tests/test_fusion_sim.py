"""The ``fusion`` core in simulation: every run-time mode, bit-exact, wrapping and saturating.

The precision pair and the signedness of each operand are run-time inputs, so one Verilator
model runs all 9 precision pairs × 4 signedness combinations: random words at several K with
back-pressure, every pair of lane extremes in every lane, the register driven past its range in
every mode and direction, a GEMM whose cycles match the performance model, and clear. The
overflow rule is built in, so there are two builds: wrapping and saturating.
"""

import numpy as np
import pytest

from lowbit.errors import ConfigError
from lowbit.kinds.fusion import FusionConfig
from lowbit.models.fusion import FusionPerf, fusion_golden, modes, products_per_beat
from lowbit.models.perf import GemmShape
from lowbit.simulate import simulate

CONFIG = FusionConfig(acc=18)                                   # fully pipelined (default)
SATURATING = FusionConfig(acc=18, overflow="saturate", stages=2)
#: mode × signedness × direction runs that can leave the range (unsigned × unsigned: up only)
OVERFLOW_RUNS = 9 * 4 * 2 - 9


@pytest.mark.parametrize("config, mode", [(CONFIG, [8, 2]), (SATURATING, [2, 4])],
                         ids=["wrap", "saturate"])
def test_every_mode_bit_exact(config, mode, tmp_path):
    result = simulate(config, run_dir=tmp_path, seed=2, options={"mode": mode})
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = {r["test"]: r for r in result.run.records}
    assert records["every_mode_random"]["runs"] == 9 * 4 * 3
    overflows = records["every_mode_overflows"]
    assert overflows["overflow"] == config.overflow
    # every run's partial sums left the range, and its result matched the golden model
    assert overflows["runs"] == overflows["left_range"] == OVERFLOW_RUNS
    if config.overflow == "saturate":   # a clamp loses what the exact sum had past the bound
        assert overflows["differ_from_exact"] == OVERFLOW_RUNS
    gemm = records["gemm_full_rate"]
    assert gemm["cycles"] == gemm["model_cycles"] and [gemm["a_bits"], gemm["w_bits"]] == mode
    assert overflows["skipped"] == 0


def test_short_k_and_a_wide_register(tmp_path):
    """k_bits=2 and the default 32-bit register: every test keeps to K <= 3, and the overflow
    runs that would need more beats than K holds are skipped and counted, not failed."""
    config = FusionConfig(k_bits=2, stages=0)   # and the unpipelined unit
    result = simulate(config, run_dir=tmp_path, seed=3)
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = {r["test"]: r for r in result.run.records}
    assert records["every_mode_random"]["runs"] == 9 * 4 * 2          # K = 1 and 3
    assert records["every_mode_overflows"]["skipped"] == OVERFLOW_RUNS
    assert records["gemm_full_rate"]["cycles"] == records["gemm_full_rate"]["model_cycles"]


def test_saturation_is_once_per_beat():
    """The golden model saturates the beat's exact sum, not each product: at the top of the
    range, a beat of +1024 and -896 (8×4 mode) leaves the register at its maximum, where
    saturating product by product would give max - 896."""
    top = SATURATING.accumulator.max
    a = np.array([0x80_80] * 64 + [0x80_80], dtype=np.uint64)   # int8 lanes -128, -128
    w = np.array([0x88] * 64 + [0x78], dtype=np.uint64)         # int4 lanes -8, -8; then -8, 7
    assert fusion_golden(SATURATING, a, w, 65, 8, 4).tolist() == [top]
    assert fusion_golden(CONFIG, a, w, 65, 8, 4).tolist() == [64 * 2048 + 128 - (1 << 18)]


def test_overflow_option():
    assert SATURATING.name == "fusion_acc18_sat_k16_s2" and CONFIG.name == "fusion_acc18_k16_s5"
    assert SATURATING.accumulator.overflow == "saturate"
    with pytest.raises(ConfigError, match="overflow"):
        FusionConfig(overflow="clamp")


def test_throughput_grows_as_precision_shrinks():
    rates = {m: products_per_beat(*m) for m in modes()}
    assert rates[(8, 8)] == 1 and rates[(8, 4)] == 2 and rates[(4, 4)] == 4
    assert rates[(2, 2)] == 16 and rates[(4, 2)] == rates[(2, 4)] == 8
    shape = GemmShape(4, 4, 64)
    # 16 results of K/P beats, then the pipeline (5 stages by default) and the accumulator
    assert FusionPerf(CONFIG, 8, 8).gemm_cycles(shape) == 16 * 64 + 5 + 1
    assert FusionPerf(CONFIG, 2, 2).gemm_cycles(shape) == 16 * 4 + 5 + 1
    assert FusionPerf(FusionConfig(stages=0), 2, 2).gemm_cycles(shape) == 16 * 4 + 1


def test_golden_model_is_int_dot_over_lanes():
    """Two 4-bit lanes of a against two 8-bit lanes... in 4×8 mode, by hand."""
    a = np.array([0x0000_00F3], dtype=np.uint64)          # lanes 3, -1
    w = np.array([0x0000_80_05], dtype=np.uint64)         # lanes 5, -128
    assert fusion_golden(CONFIG, a, w, 1, 4, 8).tolist() == [3 * 5 + (-1) * (-128)]
    assert fusion_golden(CONFIG, a, w, 1, 4, 8, a_signed=False).tolist() == [15 + 15 * -128]
