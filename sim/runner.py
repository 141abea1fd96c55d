"""The simulator runner: cached Verilator/Icarus builds and cocotb runs through ``cocotb_tools``.

A build is keyed by the hash of the Verilog, the top module, the simulator and its version, the
cocotb version and the folder of its VPI libraries (a Verilator model links to them by path, so
a build made from another virtual environment would not load), the build flags, whether
waves are traced and the contents of the FPGA primitives' models compiled with the design
(:mod:`lowbit.hw.sim_models`); an unchanged design is never rebuilt. Each run happens in its own
directory (log, results, waves), so runs never collide.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import cocotb_tools.config as cocotb_config

from lowbit.cache import cached_dir, digest
from lowbit.errors import SimulationError, UsageError
from lowbit.hw.sim_models import models_for
from lowbit.tools import Tool, require_tool, tool_version

SIMULATORS: dict[str, str] = {"verilator": "verilator", "icarus": "iverilog"}
TIMESCALE = ("1ns", "1ps")
CLOCK_PERIOD_NS = 10
_BUILD_ARGS = {
    # Amaranth's Verilog trips Verilator's lint warnings (e.g. WIDTHEXPAND), harmless here.
    "verilator": ["-Wno-fatal", "-Wno-lint"],
    "icarus": [],
}


@dataclass(frozen=True)
class SimBuild:
    """A compiled simulation model in the cache."""

    simulator: str
    top: str
    path: Path
    cached: bool
    seconds: float
    waves: bool


@dataclass(frozen=True)
class TestOutcome:
    """One cocotb test's result as cocotb reported it."""

    name: str
    passed: bool
    sim_time_ns: float
    real_time_s: float
    message: str = ""


@dataclass
class SimRun:
    """A finished run: per-test outcomes, the testbench's own records and where the files are."""

    build: SimBuild
    outcomes: list[TestOutcome]
    records: list[dict[str, Any]]
    run_dir: Path
    log: Path
    waves: Path | None
    seconds: float
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)

    @property
    def cycles(self) -> int:
        return int(sum(o.sim_time_ns for o in self.outcomes) // CLOCK_PERIOD_NS)


def check_simulator(name: str) -> str:
    if name not in SIMULATORS:
        raise UsageError(f"simulator {name!r} is not supported; allowed: {', '.join(SIMULATORS)}")
    return name


#: Verilator's makefile prefixes every compile with $(OBJCACHE): the run-time library's objects
#: come from the cache (:mod:`lowbit.sim.objcache`), so each build compiles only its design
OBJCACHE = {"OBJCACHE": f"{shlex.quote(sys.executable)} -m lowbit.sim.objcache"}


@contextlib.contextmanager
def _environ(tool: Tool, extra: Mapping[str, str] = {}) -> Iterator[None]:
    """Run the cocotb runner with the tool's environment and outside pytest's reach.

    The runner reads PATH/VERILATOR_ROOT from ``os.environ`` and, when it sees
    ``PYTEST_CURRENT_TEST``, exits the process on a failed test; Lowbit reads the results
    itself instead.
    """
    saved = dict(os.environ)
    os.environ.update({**dict(tool.env), **extra})
    os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@cache
def _have_lz4() -> bool:
    """Verilator's FST writer needs lz4.h (Debian: liblz4-dev); without it, waves are VCD."""
    probe = subprocess.run(["g++", "-E", "-x", "c++", "-"], input="#include <lz4.h>\n",
                           capture_output=True, text=True)
    return probe.returncode == 0


def _runner(simulator: str):
    from cocotb_tools.runner import get_runner

    return get_runner(simulator)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


#: Verilator flags by what a testbench may reach through VPI: ``all`` (cocotb's default: every
#: signal), ``top`` (the top module's signals: every Lowbit testbench), ``marked`` (only what
#: the Verilog marks ``/*verilator public_flat_rw*/``: the bulk harness's ports). The less is
#: public, the more Verilator optimizes the design below it (as in a bare C++ harness) and the
#: smaller its VPI symbol table (faster to compile).
PUBLIC: dict[str, list[str]] = {
    "all": [],
    "top": ["--no-public-flat-rw", "--public-depth", "1"],
    "marked": ["--no-public-flat-rw"],
}
#: C++ optimization of a Verilator model's own code by what it is built for: ``O2`` for long
#: runs (about twice the cycles/s of the makefile's -Os; builds take about twice as long as at
#: -O0), with the run-time library at -O2 too, as a bare C++ loop compiled with -O2 has it
#: (cocotb's loop enters its VPI code a few times per clock edge: about 8% of a 16×16 array's
#: bulk run at the makefile's -Os, 6% at -O2), ``O0`` for short ones (the tests' GEMMs: half
#: the build time, runs 2-3x slower; the run-time library at -Os). The run-time library's
#: objects come from :mod:`lowbit.sim.objcache`, compiled once per set of flags.
OPT: dict[str, str] = {"O0": "OPT_FAST=-O0 OPT_SLOW=-O0", "O2": "OPT_FAST=-O2 OPT_GLOBAL=-O2"}


def build(verilog: str, top: str, simulator: str = "verilator", *, waves: bool = False,
          public: str = "top", opt: str = "O2") -> SimBuild:
    """Compile ``verilog`` (top module ``top``) for ``simulator``, or take it from the cache;
    ``public`` says what the testbench reaches (:data:`PUBLIC`), ``opt`` how the model is
    optimized (:data:`OPT`; both Verilator only).

    The models of the FPGA primitives ``verilog`` instantiates
    (:func:`lowbit.hw.sim_models.models_for`) are compiled with it, their folders on the
    include path."""
    tool = require_tool(SIMULATORS[check_simulator(simulator)])
    if public not in PUBLIC:
        raise UsageError(f"public={public!r} is not allowed; allowed: {', '.join(PUBLIC)}")
    if opt not in OPT:
        raise UsageError(f"opt={opt!r} is not allowed; allowed: {', '.join(OPT)}")
    models = models_for(verilog)
    verilator = simulator == "verilator"
    build_args = list(_BUILD_ARGS[simulator]) + (PUBLIC[public] if verilator else [])
    make = OPT[opt] if verilator else ""
    if waves and simulator == "verilator" and _have_lz4():
        build_args.append("--trace-fst")
    model_hashes = [hashlib.sha256(p.read_bytes()).hexdigest() for p in models]
    key = digest("sim", simulator, top, hashlib.sha256(verilog.encode()).hexdigest(),
                 tool_version(tool), metadata.version("cocotb"), str(cocotb_config.libs_dir),
                 build_args, waves, make,
                 *([model_hashes] if models else []))
    started = time.monotonic()

    def compile_into(tmp: Path) -> None:
        source = tmp / f"{top}.v"
        source.write_text(verilog)
        log = tmp / "build.log"
        extra = {**OBJCACHE, "MAKEFLAGS": f"{dict(tool.env).get('MAKEFLAGS', '')} {make}"} \
            if verilator else {}
        with _environ(tool, extra):
            try:
                _runner(simulator).build(
                    sources=[source, *models], includes=sorted({p.parent for p in models}),
                    hdl_toplevel=top, build_dir=tmp, build_args=build_args, timescale=TIMESCALE,
                    waves=waves, log_file=log, always=True)
            except (RuntimeError, SystemExit) as e:
                raise SimulationError(
                    f"{simulator} build of {top} failed ({e}); last lines of its log:\n"
                    f"{_tail(log)}") from None
        if verilator:  # keep the model binary, drop the object files
            for junk in tmp.glob("*.[oad]"):
                junk.unlink()
            for junk in tmp.glob("*.cpp"):
                junk.unlink()

    path, hit = cached_dir(f"sim-{simulator}", key, compile_into)
    return SimBuild(simulator, top, path, hit, time.monotonic() - started, waves)



def test_names(test_module: str) -> list[str]:
    """The cocotb tests a testbench module declares, in order (what ``@cocotb.test()``
    leaves in the module: an object wrapping the test function)."""
    module = importlib.import_module(test_module)
    return [name for name, value in vars(module).items()
            if callable(getattr(value, "func", None)) and hasattr(value, "generate_tests")]


def checked_tests(test_module: str, testcase: str | Sequence[str]) -> list[str]:
    """The test names of ``testcase`` (comma-separated or a sequence); a name the module does
    not declare is a :class:`UsageError` listing the ones it does."""
    names = testcase.split(",") if isinstance(testcase, str) else list(testcase)
    names = [n.strip() for n in names]
    known = test_names(test_module)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"test={','.join(unknown)!r} is not allowed; {test_module} has the "
                         f"tests {', '.join(known)}")
    return names

#: the environment of every simulation, unless the caller's says otherwise:
#:
#: * the simulator's Python: cocotb rewrites the asserts of every module imported after its
#:   test discovery starts (default pattern ``*.py``: numpy, Amaranth, all of Lowbit,
#:   recompiled on every run where bytecode is not written) and loads every installed pytest
#:   plugin to do it. Rewriting only the testbenches (the modules whose asserts check the core)
#:   keeps their failure messages and cuts a run's start-up CPU about threefold (about 3 s to
#:   1 s for a small core);
#: * one BLAS thread: the testbench shares the simulator's process, and BLAS worker threads
#:   left spinning after a golden model's matmul take the other core's time (and count in the
#:   run's CPU time) while the model runs on one.
SIM_ENV: dict[str, str] = {
    "COCOTB_REWRITE_ASSERTION_FILES": "tb_*.py gemm_bench.py bench.py",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


def run(sim_build: SimBuild, test_module: str, run_dir: Path, *,
        env: Mapping[str, str] | None = None, seed: int | None = None,
        testcase: str | Sequence[str] | None = None) -> SimRun:
    """Run the cocotb tests of ``test_module`` (all, or those named by ``testcase``) against a
    build, in ``run_dir``."""
    tool = require_tool(SIMULATORS[sim_build.simulator])
    run_dir = Path(run_dir).resolve()
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    results, log, records = run_dir / "results.xml", run_dir / "sim.log", run_dir / "records.jsonl"
    plusargs = []
    waves_file = None
    if sim_build.waves:
        fst = sim_build.simulator == "icarus" or _have_lz4()
        waves_file = run_dir / ("dump.fst" if fst else "dump.vcd")
        if sim_build.simulator == "icarus":
            plusargs.append(f"+dumpfile_path={waves_file}")
    extra_env = {**{name: os.environ.get(name, value) for name, value in SIM_ENV.items()},
                 **(env or {}), "LOWBIT_REPORT": str(records)}
    test_filter = None
    if testcase is not None:
        # exact names: cocotb's own testcase= runs every test whose name ends in one given
        # (testcase="backpressure" would run bulk_backpressure too)
        names = checked_tests(test_module, testcase)
        test_filter = r"\.(" + "|".join(re.escape(n.strip()) for n in names) + ")$"
    started = time.monotonic()
    with _environ(tool):
        # the results file (or its absence) says what happened
        with contextlib.suppress(RuntimeError, SystemExit):
            _runner(sim_build.simulator).test(
                test_module=test_module, hdl_toplevel=sim_build.top, hdl_toplevel_lang="verilog",
                build_dir=sim_build.path, test_dir=run_dir, results_xml=str(results),
                extra_env=extra_env, seed=seed, test_filter=test_filter, waves=sim_build.waves,
                plusargs=plusargs, timescale=TIMESCALE, log_file=log)
    seconds = time.monotonic() - started
    outcomes = _read_results(results)
    if not outcomes:
        raise SimulationError(f"the simulation of {sim_build.top} produced no test results; "
                              f"last lines of {log}:\n{_tail(log)}")
    recs = ([json.loads(line) for line in records.read_text().splitlines()]
            if records.exists() else [])
    return SimRun(sim_build, outcomes, recs, run_dir, log,
                  waves_file if waves_file and waves_file.exists() else None, seconds,
                  [f"{o.name}: {o.message}" for o in outcomes if not o.passed])


def _read_results(path: Path) -> list[TestOutcome]:
    if not path.exists():
        return []
    outcomes = []
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        message = "" if failure is None else (failure.get("message") or failure.text or "failed")
        outcomes.append(TestOutcome(
            name=case.get("name", "?"),
            passed=failure is None and case.find("skipped") is None,
            sim_time_ns=float(props.get("sim_time_duration") or 0.0),
            real_time_s=float(case.get("time") or 0.0),
            message=message.strip(),
        ))
    return outcomes
