"""Config → Verilog → cached simulator build → cocotb run against the golden model.

The simulated top is the core inside its bulk stream harness (:func:`lowbit.sim.bulk.wrap`):
one build serves the GEMM tests, whose beats move in bulk, and the per-beat protocol tests,
which drive the core's own ports through the harness. The build is cached by the harness's
Verilog (the core's included) and its top module's name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lowbit.config import CoreConfig
from lowbit.hw.verilog import GeneratedCore, generate
from lowbit.registry import get_kind
from lowbit.sim import bench, bulk, runner
from lowbit.sim.bulk import Harness
from lowbit.sim.testbenches import OPERANDS_OPTION, TESTBENCHES


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


#: GEMM cycles (at the peak rate) from which a model is built for speed (``O2``) rather than
#: for a quick build (``O0``): about where -O2's faster run pays for its longer build
LONG_RUN = 500_000


def build_opt(config: CoreConfig, options: Mapping[str, Any] | None) -> str:
    """``O2`` when the requested GEMM (``options["gemm"]``, or the ``operands`` file's
    shape) takes at least :data:`LONG_RUN` cycles at the core's peak rate, else ``O0``."""
    options = options or {}
    if "gemm" in options:
        m, n, k = options["gemm"]
    elif OPERANDS_OPTION in options:
        with np.load(options[OPERANDS_OPTION]) as data:
            (m, k), n = data["a"].shape, data["w"].shape[1]
    else:
        return "O0"
    peak = get_kind(config.KIND).perf_model(config).peak_macs_per_cycle
    return "O2" if m * n * k >= LONG_RUN * peak else "O0"


def simulate(config: CoreConfig, *, simulator: str = "verilator", waves: bool = False,
             run_dir: Path | None = None, seed: int = 1, options: dict[str, Any] | None = None,
             testcase: str | Sequence[str] | None = None, opt: str | None = None,
             progress: Callable[[str], None] = lambda message: None) -> Simulation:
    """Generate, build (cached; ``opt`` as :data:`lowbit.sim.runner.OPT`, by default
    :func:`build_opt`) and run the core's testbench; never raises on a mismatch.

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
        Run only this test (or these tests) of the kind's testbench.
    opt
        The Verilator optimization level (default: :func:`build_opt`).
    progress
        Called with a line of text at every stage.

    Returns
    -------
    Simulation
        The generated core, the build (and whether it was cached) and the run's test results;
        ``passed`` says whether every test passed.
    """
    runner.check_simulator(simulator)
    if testcase is not None:
        runner.checked_tests(TESTBENCHES[config.KIND], testcase)
    started = time.monotonic()
    progress(f"generating Verilog for {config.name}")
    core = generate(config)
    generated = time.monotonic() - started
    progress(f"building the {simulator} model")
    harness, sim_build = bulk.build(core, simulator, waves=waves,
                                    opt=opt or build_opt(config, options))
    progress(f"running the {config.KIND} testbench")
    run_dir = Path(run_dir or Path("lowbit-out") / core.name / f"sim-{simulator}")
    env = bench.environment(config, {"seed": seed, **(options or {})})
    run = runner.run(sim_build, TESTBENCHES[config.KIND], run_dir, env=env, seed=seed,
                     testcase=testcase)
    return Simulation(core, harness, sim_build, run, generated)
