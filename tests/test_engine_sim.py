"""Whole-system simulation of the GEMM engine: the host driver over the UART pins of the
simulated board top, for a ``mac`` and a ``systolic`` core, each in one clock domain and with
its core side in a second one (one Verilator build each, every cocotb test of a build in one
simulator run; see ``lowbit.sim.tb_engine``)."""

import json
from dataclasses import asdict, replace

import pytest

from lowbit.hw.engine import engine_verilog
from lowbit.hw.protocol import EngineOptions
from lowbit.registry import config_from_dict
from lowbit.sim import runner
from lowbit.sim.bench import CLOCK_PERIOD_NS

DIVISOR = 8                 # clock cycles per UART bit in simulation
SIM_BAUD = round(1e9 / (DIVISOR * CLOCK_PERIOD_NS))

CASES = {
    # saturating 16-bit accumulator: K cannot be split, every sum of max operands saturates;
    # 200 two-byte beats per dot product take two WRITE frames
    "mac": ({"kind": "mac", "a": "int8", "w": "int8", "acc": 16, "overflow": "saturate",
             "k_bits": 8},
            EngineOptions(depth=256, baud=SIM_BAUD, timeout_bytes=16),
            [(4, 5, 20), (2, 3, 200), (1, 1, 255)], (3, 4, 9)),
    # wrapping 14-bit accumulator: K above the buffers is split; ws passes deeper than the core
    "systolic": ({"kind": "systolic", "rows": 3, "cols": 4, "dataflow": "ws", "a": "int8",
                  "w": "int4", "acc": 14, "depth": 8, "k_bits": 8},
                 EngineOptions(depth=32, baud=SIM_BAUD, timeout_bytes=16),
                 [(10, 9, 20), (5, 5, 70), (1, 13, 3)], (4, 5, 10)),
}
# the same engines with the core side in its own clock domain: 143 MHz against the 100 MHz of
# the UART side (periods 7 and 10 ns, not multiples), and a core slower than the UART side
CASES["systolic-143mhz-core"] = (*CASES["systolic"][:1],
                                 replace(CASES["systolic"][1], core_mhz=143),
                                 *CASES["systolic"][2:])
CASES["mac-61mhz-core"] = (*CASES["mac"][:1], replace(CASES["mac"][1], core_mhz=61),
                           *CASES["mac"][2:])


@pytest.fixture(scope="module", params=sorted(CASES))
def engine_run(request, tmp_path_factory):
    values, options, shapes, requant_shape = CASES[request.param]
    config = config_from_dict(values)
    assert options.divisor(1e9 / CLOCK_PERIOD_NS) == DIVISOR
    verilog = engine_verilog(config, options, DIVISOR, "engine_top")
    assert ("input core_clk" in verilog) == (options.core_mhz is not None)
    build = runner.build(verilog, "engine_top")
    run = runner.run(build, "lowbit.sim.tb_engine", tmp_path_factory.mktemp(request.param), env={
        "LOWBIT_CONFIG": json.dumps(config.to_dict()),
        "LOWBIT_OPTIONS": json.dumps({"engine": asdict(options), "divisor": DIVISOR,
                                      "shapes": shapes, "requant_shape": requant_shape,
                                      "seed": 5})})
    return config, options, shapes, run


def test_every_test_passes(engine_run):
    *_, run = engine_run
    assert run.passed, "\n".join(run.failures)
    assert {o.name for o in run.outcomes} >= {"gemm_shapes", "requantized", "faults",
                                              "checker_catches_wrong_answer"}


def test_gemms_were_larger_than_the_buffers(engine_run):
    config, options, shapes, run = engine_run
    records = [r for r in run.records if r["test"] == "gemm_shapes"]
    assert len(records) == len(shapes) + 2
    assert max(r["jobs_per_k_chunk"] for r in records) >= 3
    if config.overflow == "wrap":
        assert max(r["k_chunks"] for r in records) >= 2, "no GEMM split its K"
    assert all(r["cycles"] > 0 for r in records)


def test_faults_were_reported(engine_run):
    *_, run = engine_run
    faults = next(r for r in run.records if r["test"] == "faults")
    assert "not executed" in faults["BAD_CRC"] and "dropped" in faults["TIMEOUT"]
    assert "reset during the GEMM" in faults["reset"] and "did not finish" in faults["hung"]
    wrong = next(r for r in run.records if r["test"] == "checker_catches_wrong_answer")
    assert "differ from the golden model" in wrong["message"]
    assert next(r for r in run.records if r["test"] == "requantized")["results"] > 0
