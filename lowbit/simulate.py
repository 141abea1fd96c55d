"""Config → Verilog → cached simulator build → cocotb run against the golden model.

The simulated top is the core inside its bulk stream harness (:func:`lowbit.sim.bulk.wrap`):
one build serves the GEMM tests, whose beats move in bulk, and the per-beat protocol tests,
which drive the core's own ports through the harness. The build is cached by the harness's
Verilog (the core's included) and its top module's name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lowbit.config import CoreConfig
from lowbit.hw.verilog import GeneratedCore, generate
from lowbit.sim import bench, bulk, runner
from lowbit.sim.bulk import Harness
from lowbit.sim.testbenches import TESTBENCHES


@dataclass
class Simulation:
    """What ``lowbit simulate`` reports: the generated core, its harness, the build and the run."""

    core: GeneratedCore
    harness: Harness
    build: runner.SimBuild
    run: runner.SimRun
    generate_seconds: float

    @property
    def passed(self) -> bool:
        return self.run.passed


def simulate(config: CoreConfig, *, simulator: str = "verilator", waves: bool = False,
             run_dir: Path | None = None, seed: int = 1, options: dict[str, Any] | None = None,
             testcase: str | Sequence[str] | None = None,
             progress: Callable[[str], None] = lambda message: None) -> Simulation:
    """Generate, build (cached) and run the core's testbench; never raises on a mismatch."""
    runner.check_simulator(simulator)
    started = time.monotonic()
    progress(f"generating Verilog for {config.name}")
    core = generate(config)
    generated = time.monotonic() - started
    progress(f"building the {simulator} model")
    harness, sim_build = bulk.build(core, simulator, waves=waves)
    progress(f"running the {config.KIND} testbench")
    run_dir = Path(run_dir or Path("lowbit-out") / core.name / f"sim-{simulator}")
    env = bench.environment(config, {"seed": seed, **(options or {})})
    run = runner.run(sim_build, TESTBENCHES[config.KIND], run_dir, env=env, seed=seed,
                     testcase=testcase)
    return Simulation(core, harness, sim_build, run, generated)
