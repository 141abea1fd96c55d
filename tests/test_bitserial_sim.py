"""The ``bitserial`` core in simulation, bit-exact against the golden model and cycle-exact
against the performance model.

Five Verilator builds cover the acceptance matrix: w-, a- and both-serial; MSB- and LSB-first;
signed, unsigned and mixed operands; no scale, pow2 (shift) and int (multiplier, signed and
unsigned) group scales; 1×1 up to 4×3 arrays. Each build runs every cocotb test of
``lowbit.sim.tb_bitserial`` in one simulator call: the tiled GEMM (over 4× the array each way)
at several precisions, every run-time precision 1..max (both-serial: every pair), extreme values
at every precision and codes with bits above the precision, group sizes 1, 2, 3, 9 slices
(partial last groups), random idle inputs and stalled results.
"""

import json

import pytest

from lowbit.kinds.bitserial import BitserialConfig
from lowbit.models.bitserial import BitserialPerf
from lowbit.models.perf import GemmShape
from lowbit.sim import runner
from lowbit.sim.tb_bitserial import precision_grid
from lowbit.simulate import simulate

B = BitserialConfig
CONFIGS = [
    B(serial="w", order="msb", a="int8", w="int8", lanes=4, cols=3, acc=24, scale="int",
      scale_fmt="int5"),
    B(serial="a", order="lsb", a="uint8", w="int4", lanes=3, cols=2, acc=20, scale="pow2",
      scale_fmt="uint3"),
    B(serial="both", order="msb", a="int8", w="uint8", lanes=4, cols=2, acc=28),
    B(serial="both", order="lsb", a="uint8", w="int8", lanes=2, cols=3, acc=30, scale="int",
      scale_fmt="uint4"),
    B(serial="w", order="lsb", a="int4", w="uint8", lanes=1, cols=1, acc=14, k_bits=6, g_bits=2),
]
EXPECTED_TESTS = {"gemm_tiled", "every_precision", "corner_values", "group_scaling",
                  "backpressure"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_bitserial_bit_exact(config, tmp_path):
    side = 4 * max(config.lanes, config.cols)
    shape = GemmShape(side + 1, side + 2, side + 3)
    result = simulate(config, run_dir=tmp_path, seed=5, options={"gemm": [shape.m, shape.n, shape.k]})
    assert {o.name for o in result.run.outcomes} == EXPECTED_TESTS
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = result.run.records
    tiled = [r for r in records if r["test"].startswith("gemm_tiled")]
    assert len(tiled) >= 3 and all(r["gemm"] == str(shape) for r in tiled)
    for r in tiled:   # the bound is 5%; the testbench itself requires equality
        model = BitserialPerf(config, r.get("pa"), r.get("pw")).gemm_cycles(shape)
        assert r["model_cycles"] == model and abs(r["cycles"] - model) <= 0.05 * model
    # cycles scale with the bits used: 1-bit runs are (nearly) P times faster
    by_bits = {(r.get("pa", 1), r.get("pw", 1)): r["cycles"] for r in tiled}
    assert by_bits[min(by_bits)] < by_bits[max(by_bits)] / 3
    every = [r for r in records if r["test"].startswith("every_precision")]
    assert len(every) == len(precision_grid(config, full=True))
    groups = [r for r in records if r["test"].startswith("group_scaling g=")]
    assert len(groups) >= 2


def test_testbench_catches_a_wrong_golden_model(tmp_path):
    """Tell the testbench the int8 activations are uint8: the results must differ."""
    core_config = CONFIGS[0]
    claimed = BitserialConfig.from_dict({**core_config.to_dict(), "a": "uint8"})
    from lowbit.hw.verilog import generate

    core = generate(core_config)
    build = runner.build(core.verilog, core.name)
    run = runner.run(build, "lowbit.sim.tb_bitserial", tmp_path,
                     env={"LOWBIT_CONFIG": json.dumps(claimed.to_dict())},
                     testcase="every_precision")
    assert not run.passed and "differ" in run.failures[0]


def test_board_self_test_reaches_the_golden_checksum(tmp_path):
    """The board top around a scaled both-serial core reaches the golden model's checksum."""
    from lowbit.boards.board_top import checked_selftest
    from lowbit.hw.interface import CoreInterface
    from lowbit.hw.verilog import generate

    config = CONFIGS[3]
    core = generate(config)
    expect = checked_selftest(config, core, CoreInterface.from_manifest(core.manifest), tmp_path)
    assert expect.results == (32,) and set(expect.params) == {"k", "g", "pa", "pw"}


def test_cli_simulate_summary(cli, tmp_path):
    code, out, _ = cli("simulate", "bitserial", "--lanes", "4", "--cols", "3", "--scale", "int",
                       "--scale-fmt", "int5", "--acc", "24", "--gemm", "17x13x19",
                       "--test", "gemm_tiled", "--run-dir", tmp_path)
    assert code == 0, out
    assert "gemm_tiled W8: GEMM 17x13x19" in out and "gemm_tiled W1" in out
    assert "measured/model 1.000" in out and "utilization" in out
