"""The ``fusion`` core in simulation: one build, every run-time mode, bit-exact.

The precision pair and the signedness of each operand are run-time inputs, so one Verilator
model runs all 9 precision pairs × 4 signedness combinations: random words at several K with
back-pressure, every pair of lane extremes in every lane, wrap-around runs, a GEMM whose cycles
match the performance model, and clear.
"""

import pytest

from lowbit.kinds.fusion import FusionConfig
from lowbit.models.fusion import FusionPerf, fusion_golden, modes, products_per_beat
from lowbit.models.perf import GemmShape
from lowbit.simulate import simulate

import numpy as np

CONFIG = FusionConfig(acc=20)


def test_every_mode_bit_exact(tmp_path):
    result = simulate(CONFIG, run_dir=tmp_path, seed=2, options={"mode": [8, 2]})
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = {r["test"]: r for r in result.run.records}
    assert records["every_mode_random"]["runs"] == 9 * 4 * 3
    assert records["every_mode_extremes"]["wrapped"] > 0, "no run wrapped the accumulator"
    gemm = records["gemm_full_rate"]
    assert gemm["cycles"] == gemm["model_cycles"] and gemm["mode"] == "8x2"


def test_throughput_grows_as_precision_shrinks():
    rates = {m: products_per_beat(*m) for m in modes()}
    assert rates[(8, 8)] == 1 and rates[(8, 4)] == 2 and rates[(4, 4)] == 4
    assert rates[(2, 2)] == 16 and rates[(4, 2)] == rates[(2, 4)] == 8
    shape = GemmShape(4, 4, 64)
    assert FusionPerf(CONFIG, 8, 8).gemm_cycles(shape) == 16 * 64 + 1
    assert FusionPerf(CONFIG, 2, 2).gemm_cycles(shape) == 16 * 4 + 1


def test_golden_model_is_int_dot_over_lanes():
    """Two 4-bit lanes of a against two 8-bit lanes... in 4×8 mode, by hand."""
    a = np.array([0x0000_00F3], dtype=np.uint64)          # lanes 3, -1
    w = np.array([0x0000_80_05], dtype=np.uint64)         # lanes 5, -128
    assert fusion_golden(CONFIG, a, w, 1, 4, 8).tolist() == [3 * 5 + (-1) * (-128)]
    assert fusion_golden(CONFIG, a, w, 1, 4, 8, a_signed=False).tolist() == [15 + 15 * -128]
