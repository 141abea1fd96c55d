"""The FPGA flow pipeline: a core config to an out-of-context implementation or a board
bitstream, cached by content hash.

Steps (each timed, each with its own log in the run directory)::

    generate  config → Verilog (lowbit.hw.verilog, cached)
    selftest  board builds: the golden checksum, and the board top simulated to reach it
    wrap, synth, fit, pnr, timing, pack   the tool steps of :mod:`lowbit.boards.steps`

A run is cached by the content hash of the config, the core's Verilog, the flow's sources,
the tools and every option; it is built in a temporary directory and renamed into place when
complete. A failed step raises :class:`~lowbit.boards.steps.FlowError` naming the step, the key
lines of the tool's log and where the whole log is; no report is written for it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from amaranth.back import verilog

from lowbit.boards import report as rpt
from lowbit.boards.board_top import SIM_TOP
from lowbit.boards.engine_top import engine_core_clock
from lowbit.boards.selftest import Expectation, SelfTestTop, expectation
from lowbit.boards.steps import (
    FlowError,
    FlowOptions,
    Progress,
    Steps,
    Target,
    constrained_clocks,
    fit,
    pack,
    pnr,
    router_for,
    synth,
    timing,
    tool_identity,
    tools_for,
    wrap,
)
from lowbit.cache import atomic_write, cache_root, cached_dir, digest, discard, source_digest
from lowbit.config import CoreConfig
from lowbit.errors import ConfigError, UsageError
from lowbit.hw.interface import CLOCK_PORTS, CoreInterface, port_bits
from lowbit.hw.verilog import GeneratedCore, generate, generator_versions, ports_of
from lowbit.registry import get_kind
from lowbit.sim import bench, runner
from lowbit.tools import Tool, tool_version

CACHE_CATEGORY = "impl"


@dataclass
class Implementation:
    """A finished run: its report and the directory holding it with every file of the run."""

    report: dict[str, Any]
    path: Path
    cached: bool

    @property
    def bitstream(self) -> Path | None:
        name = (self.report.get("bitstream") or {}).get("file")
        return self.path / name if name else None


@cache
def _flow_sources() -> str:
    """The flow's own sources: the board steps and tops, and this pipeline."""
    return digest(source_digest("lowbit.boards"), Path(__file__).read_text())


def run_key(config: CoreConfig, core: GeneratedCore, target: Target, options: FlowOptions,
            tools: dict[str, Tool]) -> str:
    """The cache key of a run: everything its results depend on."""
    return digest("impl", target.mode, config.to_dict(), core.manifest["verilog"]["sha256"],
                  target.to_dict(), target.device.totals(),
                  target.board.name if target.board else None,
                  options.seed, options.freq_mhz, options.router,
                  {n: tool_identity(t) for n, t in tools.items()},
                  options.engine and (dataclasses.asdict(options.engine),
                                      source_digest("lowbit.hw", "lowbit.host")),
                  _flow_sources(), generator_versions())


def check_cells_family(config: CoreConfig, target: Target) -> None:
    """A config that instantiates one family's cells (``family`` other than generic: ECP5's
    CCU2C/MULT18X18D, iCE40's SB_MAC16) is refused on another family's device, before any tool
    runs: the cells would be black boxes there. On Gowin only ``generic`` exists: ``mul=infer``
    reaches its multipliers (Yosys maps them), the kinds instantiate no Gowin cell."""
    cells, device = getattr(config, "family", "generic"), target.device
    if cells in ("generic", device.family.name):
        return
    mine = "generic" if device.family.name == "gowin" else f"generic or {device.family.name}"
    how = (" (no Gowin DSP block is instantiated yet: mul=infer maps products to MULT9X9 / "
           "MULT18X18, mul=lut with family=generic builds fabric rows)"
           if device.family.name == "gowin" else "")
    raise ConfigError("family", cells, f"{device.name} is in the {device.family.name} family, "
                      f"and family={cells} instantiates {cells} cells; allowed there: {mine}{how}",
                      context=config.name)


def _prepare(config: CoreConfig, target: Target, options: FlowOptions):
    """The tools, the generated core and the cache key of a run."""
    if target.board and options.freq_mhz is not None:
        raise UsageError(f"freq={options.freq_mhz:g} is not allowed for a board build; the "
                         f"board's clock ({target.board.clock_mhz:g} MHz) is its timing target")
    if target.board and options.engine is None:
        get_kind(config.KIND).selftest(config)  # a config without a self-test fails here
    if target.board and options.engine is not None:
        engine_core_clock(target.board, options.engine)   # a clock the PLL cannot make
    check_cells_family(config, target)
    tools = tools_for(target, options.tools)
    core = generate(config)
    return tools, core, run_key(config, core, target, options, tools)


def _complete(entry: Path) -> bool:
    """Whether a cache entry holds a report that loads and says ``ok`` (one damaged after it
    was written, e.g. truncated, does not count: it is discarded and run again)."""
    try:
        return rpt.load(entry).get("status") == "ok"
    except UsageError:
        return False


def lookup(config: CoreConfig, target: Target,
           options: FlowOptions = FlowOptions()) -> Implementation | None:
    """The cached implementation of a run, or None when it has not run or its entry is
    damaged (which is then discarded; nothing is built).

    Parameters
    ----------
    config, target, options
        As for :func:`implement`.

    Returns
    -------
    Implementation or None
        The cached run, or None.
    """
    _, _, key = _prepare(config, target, options)
    path = cache_root() / CACHE_CATEGORY / key
    if not path.is_dir():
        return None
    if not _complete(path):
        discard(path)
        return None
    return Implementation(rpt.load(path), path, True)


def implement(config: CoreConfig, target: Target, options: FlowOptions = FlowOptions(), *,
              out: Path | None = None, failed_out: Path | None = None,
              progress: Progress = lambda message: None) -> Implementation:
    """Implement ``config`` on ``target`` (cached), copying the run's files to ``out`` if given.

    A failed run's files (logs included, no report) go to ``out``, else ``failed_out``, else a
    new temporary directory, and the :class:`FlowError` raised points at its log there.

    Parameters
    ----------
    config
        The core.
    target
        A device (out of context) or a board (a bitstream): :meth:`Target.parse(device=...)
        <lowbit.boards.steps.Target.parse>` or ``Target.parse(board=...)``.
    options
        Seed, timing target, tools and (board builds) the engine instead of the self-test.
    out
        A directory to receive a copy of the run's files (report, logs, intermediate files).
    failed_out
        Where a failed run's files go when ``out`` is not given.
    progress
        Called with a line of text at every step.

    Returns
    -------
    Implementation
        The report (``report.json``, schema ``lowbit-report/1``) and the directory holding it.

    Raises
    ------
    FlowError
        A step failed (a design that does not fit, a tool error, a timing target missed).
    """
    started = time.monotonic()
    progress(f"generating Verilog for {config.name}")
    tools, core, key = _prepare(config, target, options)
    generate_seconds = time.monotonic() - started

    def build(tmp: Path) -> None:
        run = Steps(tmp, tools, progress)
        run.steps["generate"] = {"seconds": round(generate_seconds, 3)}
        try:
            report = _implement(run, config, core, target, options)
            try:
                atomic_write(tmp / rpt.REPORT_FILE, json.dumps(report, indent=2) + "\n")
            except OSError as e:   # e.g. a full disk: no report, no entry; the next run redoes it
                raise FlowError("report", f"cannot write {rpt.REPORT_FILE}: "
                                          f"{e.strerror or e}") from None
        except FlowError as e:
            failed = out or failed_out or Path(tempfile.mkdtemp(prefix=f"lowbit-{config.name}-"))
            publish(tmp, failed)
            raise e.moved(_moved(e.log, tmp, Path(failed))) from None

    path, hit = cached_dir(CACHE_CATEGORY, key, build, valid=_complete)
    if out is not None:
        publish(path, out)
    return Implementation(rpt.load(path), Path(out or path), hit)


def _moved(log: Path | None, old: Path, new: Path) -> Path | None:
    """Where ``log`` is after directory ``old`` was copied to ``new``."""
    if log is None:
        return None
    try:
        return new / Path(log).resolve().relative_to(old.resolve())
    except ValueError:
        return log


def publish(src: Path, dest: Path) -> None:
    """Replace directory ``dest`` with a copy of ``src`` (copied aside, then renamed in)."""
    dest = Path(dest).absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        shutil.copytree(src, staging, dirs_exist_ok=True)
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old.", dir=dest.parent))
            os.rename(dest, old / "d")
            os.rename(staging, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def checked_selftest(config: CoreConfig, core: GeneratedCore, iface: CoreInterface,
                     run_dir: Path) -> Expectation:
    """The golden expectation, after the board-independent top reached it in simulation."""
    expect = expectation(config, iface)
    top = SelfTestTop(iface, expect)
    text = verilog.convert(top, name=SIM_TOP, ports=top.ports(), emit_src=False)
    build = runner.build(core.verilog + text, SIM_TOP, opt="O0")   # a short run
    run = runner.run(build, "lowbit.sim.tb_selftest", run_dir,
                     env=bench.environment(config, expect.to_dict()))
    if not run.passed:
        raise FlowError("selftest", f"the board top of {core.name} does not reach the golden "
                        f"checksum {expect.to_dict()['checksum']} in simulation", run.log,
                        run.failures)
    return expect


def _implement(run: Steps, config: CoreConfig, core: GeneratedCore, target: Target,
               options: FlowOptions) -> dict[str, Any]:
    """Every step of one run in ``run.work``; returns the report."""
    iface = CoreInterface.from_manifest(core.manifest)
    (run.work / f"{core.name}.v").write_text(core.verilog)
    selftest = None
    if target.board and options.engine is None:
        with run.step("selftest", "computing the self-test's golden checksum and simulating "
                                  "the board top"):
            selftest = checked_selftest(config, core, iface, run.work / "selftest-sim")
    with run.step("wrap", "wrapping the core in its board top" if target.board
                  else "wrapping the core in the out-of-context harness"):
        top, sources, constraints = wrap(run.work, config, core, iface, target, selftest,
                                         options.engine)
    with run.step("synth", f"synthesizing with Yosys ({target.device.synth_command})"):
        cells = synth(run, core.name, top, sources, target.device)
    resources = target.device.family.count(cells)
    with run.step("fit", "checking the core fits the device"):
        fit(run, core.name, resources, target.device)
    enforced = options.freq_mhz is not None or target.board is not None
    freq = target.board.clock_mhz if target.board else options.freq_mhz or \
        target.device.default_mhz
    with run.step("pnr", f"placing and routing with {target.device.family.nextpnr}"):
        # a board's clock is in its pin constraints, where the family's carry it
        constrained = target.board is not None and target.device.family.constrained_clock
        router = router_for(options.router, resources)
        nextpnr, log = pnr(run, target, constraints, options.seed, None if constrained else freq,
                           router)
    clocks = rpt.clocks(nextpnr)
    core_clock = _core_clock(target, options)
    with run.step("timing", "checking timing"):
        timing(clocks, enforced, f"{core.name} on {target.name}", log)
        if core_clock:
            core_clock["clock"] = constrained_clocks(clocks, target.board.clock_mhz,
                                                     core_clock["achieved_mhz"], log)
    bitstream = None
    if target.board:
        with run.step("pack", f"packing the bitstream with {target.device.family.packer}"):
            bitstream = pack(run, top, target)

    util = rpt.placed(target.device.family, nextpnr)
    return {
        "schema": rpt.SCHEMA,
        "status": "ok",
        "mode": target.mode,
        "kind": config.KIND,
        "name": core.name,
        "config": config.to_dict(),
        "config_hash": config.hash,
        "verilog_sha256": core.manifest["verilog"]["sha256"],
        "device": target.to_dict(),
        "board": target.board.name if target.board else None,
        "top": top,
        "seed": options.seed,
        "router": router,
        "target_mhz": freq,
        "target_enforced": enforced,
        "resources": {**resources, "io": util["io"]["used"] if target.board else
                      port_bits(iface.ports) + len(CLOCK_PORTS), "cells": cells},
        "device_totals": {res: u["available"] for res, u in util.items()},
        "utilization": util,
        "clocks": clocks,
        "untimed_cells": rpt.untimed_cells(target.device.family,
                                           json.loads((run.work / "stat.json").read_text())),
        "perf": {"peak_macs_per_cycle":
                 get_kind(config.KIND).perf_model(config).peak_macs_per_cycle},
        "selftest": selftest.to_dict() if selftest else None,
        "engine": options.engine and dataclasses.asdict(options.engine),
        "core_clock": core_clock,
        "bitstream": bitstream,
        "tools": {**{n: tool_version(t) for n, t in run.tools.items()}, **generator_versions()},
        "tool_sources": {n: t.source for n, t in run.tools.items()},
        "steps": run.steps,
        "files": sorted(p.name for p in run.work.iterdir() if p.is_file()),
    }


def _core_clock(target: Target, options: FlowOptions) -> dict[str, Any] | None:
    """The engine's PLL core clock of a board build (requested, achieved, settings), if any."""
    if target.board is None or options.engine is None:
        return None
    clock = engine_core_clock(target.board, options.engine)
    return clock.to_dict() if clock else None


def implement_component(component, name: str, target: Target, *,
                        progress: Progress = lambda message: None) -> dict[str, Any]:
    """A bare Amaranth component (not a kind's core: a multiplier, a probe) through the
    out-of-context steps, cached by its Verilog; ``{"resources": ..., "clocks": ...}``."""
    text = verilog.convert(component, name=name, emit_src=False)
    core = GeneratedCore(name, text, {"name": name, "ports": ports_of(component)}, False)
    tools = tools_for(target, "pypi")
    key = digest("bare", hashlib.sha256(text.encode()).hexdigest(), target.to_dict(),
                 target.device.synth_command, {n: tool_identity(t) for n, t in tools.items()},
                 _flow_sources())

    def build(tmp: Path) -> None:
        run = Steps(tmp, tools, progress)
        (tmp / f"{name}.v").write_text(text)
        iface = CoreInterface.from_manifest(core.manifest)
        top, sources, constraints = wrap(tmp, None, core, iface, target, None, None)
        cells = synth(run, name, top, sources, target.device)
        nextpnr, _ = pnr(run, target, constraints, 1, target.device.default_mhz)
        stat = json.loads((tmp / "stat.json").read_text())
        atomic_write(tmp / "bare.json", json.dumps({
            "resources": target.device.family.count(cells), "clocks": rpt.clocks(nextpnr),
            "untimed_cells": rpt.untimed_cells(target.device.family, stat)}))

    path, _ = cached_dir("bare", key, build)
    return json.loads((path / "bare.json").read_text())

