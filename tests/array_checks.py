"""What every array kind's simulation must show (shared by the test_<kind>_sim modules):
every test of the GEMM skeleton ran and passed, the requested GEMM and every shape were
cycle-exact, every run-time setting ran, and narrow accumulators overflowed."""

import pytest

from lowbit.models.perf import GemmShape
from lowbit.registry import get_kind
from lowbit.simulate import simulate

GEMM_TESTS = {"gemm_tiled", "every_setting", "gemm_shapes", "corner_values", "backpressure",
              "bulk_backpressure", "paths_agree", "reset_mid_run"}


def first_by_default(configs: list) -> list:
    """Parameters that simulate the first config in the default suite and the others (further
    corners of the same datapath, a Verilator build each) only under ``pytest -m slow``."""
    return [configs[0], *(pytest.param(c, marks=pytest.mark.slow) for c in configs[1:])]


def simulate_checked(config, bench_class, shape: GemmShape, run_dir, seed: int,
                     overflows: bool):
    """Simulate ``config`` with ``--gemm shape`` and check the records; returns them."""
    result = simulate(config, run_dir=run_dir, seed=seed,
                      options={"gemm": [shape.m, shape.n, shape.k]})
    assert {o.name for o in result.run.outcomes} == GEMM_TESTS
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = result.run.records
    tb = bench_class(None, config, {})
    tiled = next(r for r in records if r["test"] == "gemm_tiled")
    model = get_kind(config.KIND).perf_model(config, **tb.full()).gemm_cycles(shape)
    assert tiled["gemm"] == str(shape) and tiled["model_cycles"] == model == tiled["cycles"]
    assert len([r for r in records if r["test"] == "gemm_shapes"]) == len(tb.edge_shapes())
    assert len([r for r in records if r["test"] == "every_setting"]) == len(tb.settings())
    corners = next(r for r in records if r["test"] == "corner_values")
    if overflows:
        assert corners["overflowed"] > 0, "the long runs never overflowed the accumulator"
    return records
