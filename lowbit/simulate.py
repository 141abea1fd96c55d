"""Config → Verilog → cached simulator build → cocotb run against the golden model."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lowbit.config import CoreConfig
from lowbit.hw.verilog import GeneratedCore, generate
from lowbit.sim import bench, runner
from lowbit.sim.testbenches import TESTBENCHES


@dataclass
class Simulation:
    """What ``lowbit simulate`` reports: the generated core, the build and the run."""

    core: GeneratedCore
    build: runner.SimBuild
    run: runner.SimRun
    generate_seconds: float

    @property
    def passed(self) -> bool:
        return self.run.passed


def simulate(config: CoreConfig, *, simulator: str = "verilator", waves: bool = False,
             run_dir: Path | None = None, seed: int = 1, options: dict[str, Any] | None = None,
             testcase: str | None = None,
             progress: Callable[[str], None] = lambda message: None) -> Simulation:
    """Generate, build (cached) and run the core's testbench; never raises on a mismatch.

    Parameters
    ----------
    config
        The core to generate and test.
    simulator
        ``verilator`` (default) or ``icarus``.
    waves
        Write waveforms (FST; VCD when Verilator has no ``lz4.h``).
    run_dir
        Where the run's log, ``results.xml`` and waves go (default: a directory per config and
        simulator under ``lowbit-out``).
    seed
        The testbench's random seed.
    options
        Testbench run options, e.g. ``{"gemm": "64x48x100"}`` or ``{"operands": "ops.npz"}``.
    testcase
        Run only this test of the kind's testbench.
    progress
        Called with a line of text at every stage.

    Returns
    -------
    Simulation
        The generated core, the build (and whether it was cached) and the run's test results;
        ``passed`` says whether every test passed.
    """
    runner.check_simulator(simulator)
    started = time.monotonic()
    progress(f"generating Verilog for {config.name}")
    core = generate(config)
    generated = time.monotonic() - started
    progress(f"building the {simulator} model")
    sim_build = runner.build(core.verilog, core.name, simulator, waves=waves)
    progress(f"running the {config.KIND} testbench")
    run_dir = Path(run_dir or Path("lowbit-out") / core.name / f"sim-{simulator}")
    env = bench.environment(config, {"seed": seed, **(options or {})})
    run = runner.run(sim_build, TESTBENCHES[config.KIND], run_dir, env=env, seed=seed,
                     testcase=testcase)
    return Simulation(core, sim_build, run, generated)
