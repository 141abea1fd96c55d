"""The FPGA flow: a core config to an out-of-context implementation or a board bitstream.

Steps (each timed, each with its own log in the run directory)::

    generate  config → Verilog (lowbit.generate, cached)
    selftest  board builds: the golden checksum, and the board top simulated to reach it
    wrap      out of context: the core inside the register harness (lowbit.boards.harness);
              board builds: the board top through the amaranth-boards platform (pins, clock)
    synth     Yosys synth_<family>; cell counts from ``stat -json``
    fit       the core's cells against the device's totals
    pnr       nextpnr-<family>, report JSON (utilization, Fmax, critical paths)
    timing    an enforced target (``--freq``, or a board's clock) missed is a failure; an
              engine with a PLL core clock must have both clocks timed, each at its frequency
    pack      board builds: icepack / ecppack, and a check of the bitstream's preamble

A run is cached by the content hash of the config, the core's Verilog, the flow's sources,
the tools and every option; it is built in a temporary directory and renamed into place when
complete. A failed step raises :class:`FlowError` naming the step, the key lines of the tool's
log and where the whole log is; no report is written for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from lowbit.boards import report as rpt
from lowbit.boards.devices import RESOURCE_NAMES, Device, get_device
from lowbit.hw.interface import CLOCK_PORTS, CoreInterface, port_bits
from lowbit.boards.platforms import Board, get_board
from lowbit.cache import atomic_write, cache_root, cached_dir, digest, source_digest
from lowbit.config import CoreConfig
from lowbit.errors import LowbitError, UsageError
from lowbit.hw.verilog import GeneratedCore, generate, generator_versions
from lowbit.registry import get_kind
from lowbit.tools import PREFERENCES, Preference, Tool, require_tool, tool_version

Progress = Callable[[str], None]
CACHE_CATEGORY = "impl"
KEY_LINE = re.compile(r"error|fail|unable|not enough|too many|exceed|abort|terminat|assert",
                      re.IGNORECASE)


class FlowError(LowbitError):
    """A flow step failed: names the step, quotes the tool's key lines, points at the log."""

    exit_code = 1

    def __init__(self, step: str, message: str, log: Path | None = None,
                 lines: Sequence[str] = ()):
        self.step, self.message, self.log, self.lines = step, message, log, list(lines)
        super().__init__(self._text())

    def _text(self) -> str:
        text = f"{self.step} failed: {self.message}"
        if self.lines:
            text += "\n  " + "\n  ".join(self.lines)
        if self.log:
            text += f"\nfull log: {self.log}"
        return text

    def moved(self, log: Path | None) -> FlowError:
        """The same error with its log now at ``log``."""
        return FlowError(self.step, self.message, log, self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "message": self.message, "lines": self.lines,
                "log": str(self.log) if self.log else None}


def key_lines(log: Path, limit: int = 8) -> list[str]:
    """The lines of a tool log that say what went wrong (else its last lines)."""
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    hits = [line.strip() for line in text if KEY_LINE.search(line) and line.strip()]
    return (hits or [line.strip() for line in text if line.strip()])[-limit:]


@dataclass(frozen=True)
class Target:
    """Where a core goes: a device out of context, or a board (its device) to a bitstream."""

    device: Device
    board: Board | None = None

    @classmethod
    def parse(cls, device: str | None = None, board: str | None = None) -> Target:
        if board is not None:
            b = get_board(board)
            return cls(b.device, b)
        if device is None:
            raise UsageError("say where to implement the core: --device NAME")
        return cls(get_device(device))

    @property
    def mode(self) -> str:
        return "board" if self.board else "ooc"

    @property
    def name(self) -> str:
        return self.board.name if self.board else self.device.name

    @property
    def package(self) -> str:
        return self.board.package if self.board else self.device.package

    @property
    def speed(self) -> str | None:
        return self.board.speed if self.board else self.device.speed

    def to_dict(self) -> dict[str, Any]:
        d = self.device
        return {"name": d.name, "family": d.family.name, "part": d.part,
                "package": self.package, "speed": self.speed}


@dataclass(frozen=True)
class FlowOptions:
    """``freq_mhz`` given is an enforced target; without it an out-of-context run aims at the
    device's default and only reports, and a board build must meet the board's clock."""

    seed: int = 1
    freq_mhz: float | None = None
    tools: Preference = "pypi"
    engine: Any = None      # board builds: an EngineOptions builds the GEMM engine's top

    def __post_init__(self) -> None:
        if self.tools not in PREFERENCES:
            raise UsageError(f"tools={self.tools!r} is not allowed; one of "
                             f"{', '.join(PREFERENCES)}")
        if self.freq_mhz is not None and not self.freq_mhz > 0:
            raise UsageError(f"freq={self.freq_mhz} is not allowed; a frequency in MHz above 0")


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


@dataclass
class _Run:
    """One run in progress: its working directory, the tools it uses, the step timings."""

    work: Path
    tools: dict[str, Tool]
    progress: Progress
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str, message: str) -> Iterator[None]:
        """Time a step (also when it fails) and say what it does."""
        self.progress(message)
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps.setdefault(name, {})["seconds"] = round(time.monotonic() - started, 3)

    def tool(self, step: str, tool: str, args: Sequence[str], log_name: str) -> Path:
        """Run a tool in the work directory with its output in ``log_name``; a non-zero exit
        is a FlowError quoting the log."""
        t = self.tools[tool]
        log = self.work / log_name
        with open(log, "w") as f:
            try:
                done = subprocess.run([*t.command, *args], cwd=self.work, env=t.environ(),
                                      stdout=f, stderr=subprocess.STDOUT)
            except OSError as e:
                raise FlowError(step, f"{tool} ({t.command[0]}) does not run: {e}", log) from None
        if done.returncode != 0:
            raise FlowError(step, f"{tool} exited with code {done.returncode}", log,
                            key_lines(log))
        self.steps.setdefault(step, {})["log"] = log_name
        return log


@cache
def _find_tools(names: tuple[str, ...], prefer: str) -> tuple[tuple[str, Tool], ...]:
    return tuple((name, require_tool(name, prefer)) for name in names)


def _tools(target: Target, prefer: str) -> dict[str, Tool]:
    family = target.device.family
    names = ("yosys", family.nextpnr) + ((family.packer,) if target.board else ())
    return dict(_find_tools(names, prefer))


@cache
def _tool_identity(tool: Tool) -> str:
    """What decides a tool's output, cheaply: a PyPI tool's distribution version; a native
    tool's version line and file stamp."""
    if tool.source.startswith("PyPI"):
        return f"{tool.source} {metadata.version(tool.source.split()[1])}"
    stat = os.stat(tool.command[0])
    return f"{tool.source} {tool_version(tool)} {stat.st_size} {stat.st_mtime_ns}"


@cache
def _flow_sources() -> str:
    return source_digest("lowbit.boards")


def run_key(config: CoreConfig, core: GeneratedCore, target: Target, options: FlowOptions,
            tools: dict[str, Tool]) -> str:
    """The cache key of a run: everything its results depend on."""
    return digest("impl", target.mode, config.to_dict(), core.manifest["verilog"]["sha256"],
                  target.to_dict(), target.device.totals(),
                  target.board.name if target.board else None,
                  options.seed, options.freq_mhz, {n: _tool_identity(t) for n, t in tools.items()},
                  options.engine and (dataclasses.asdict(options.engine),
                                      source_digest("lowbit.hw", "lowbit.host")),
                  _flow_sources(), generator_versions())


def _prepare(config: CoreConfig, target: Target, options: FlowOptions):
    """The tools, the generated core and the cache key of a run."""
    if target.board and options.freq_mhz is not None:
        raise UsageError(f"freq={options.freq_mhz:g} is not allowed for a board build; the "
                         f"board's clock ({target.board.clock_mhz:g} MHz) is its timing target")
    if target.board and options.engine is None:
        from lowbit.boards.selftest import selftest_of

        selftest_of(config)   # a kind without a board self-test fails here, cached or not
    if target.board and options.engine is not None:
        from lowbit.boards.engine_top import engine_core_clock

        engine_core_clock(target.board, options.engine)   # a clock the PLL cannot make
    tools = _tools(target, options.tools)
    core = generate(config)
    return tools, core, run_key(config, core, target, options, tools)


def lookup(config: CoreConfig, target: Target,
           options: FlowOptions = FlowOptions()) -> Implementation | None:
    """The cached implementation of a run, or None when it has not run (nothing is built)."""
    _, _, key = _prepare(config, target, options)
    path = cache_root() / CACHE_CATEGORY / key
    return Implementation(rpt.load(path), path, True) if path.is_dir() else None


def implement(config: CoreConfig, target: Target, options: FlowOptions = FlowOptions(), *,
              out: Path | None = None, failed_out: Path | None = None,
              progress: Progress = lambda message: None) -> Implementation:
    """Implement ``config`` on ``target`` (cached), copying the run's files to ``out`` if given.

    A failed run's files (logs included, no report) go to ``out``, else ``failed_out``, else a
    new temporary directory, and the :class:`FlowError` raised points at its log there.
    """
    started = time.monotonic()
    progress(f"generating Verilog for {config.name}")
    tools, core, key = _prepare(config, target, options)
    generate_seconds = time.monotonic() - started

    def build(tmp: Path) -> None:
        run = _Run(tmp, tools, progress)
        run.steps["generate"] = {"seconds": round(generate_seconds, 3)}
        try:
            report = _implement(run, config, core, target, options)
        except FlowError as e:
            failed = out or failed_out or Path(tempfile.mkdtemp(prefix=f"lowbit-{config.name}-"))
            publish(tmp, failed)
            raise e.moved(_moved(e.log, tmp, Path(failed))) from None
        atomic_write(tmp / rpt.REPORT_FILE, json.dumps(report, indent=2) + "\n")

    path, hit = cached_dir(CACHE_CATEGORY, key, build)
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


def _implement(run: _Run, config: CoreConfig, core: GeneratedCore, target: Target,
               options: FlowOptions) -> dict[str, Any]:
    """Every step of one run in ``run.work``; returns the report."""
    iface = CoreInterface.from_manifest(core.manifest)
    (run.work / f"{core.name}.v").write_text(core.verilog)
    selftest = None
    if target.board and options.engine is None:
        with run.step("selftest", "computing the self-test's golden checksum and simulating "
                                  "the board top"):
            from lowbit.boards.board_top import checked_selftest

            selftest = checked_selftest(config, core, iface, run.work / "selftest-sim")
    with run.step("wrap", "wrapping the core in its board top" if target.board
                  else "wrapping the core in the out-of-context harness"):
        top, sources, constraints = _wrap(run.work, config, core, iface, target, selftest,
                                          options.engine)
    with run.step("synth", f"synthesizing with Yosys ({target.device.synth_command})"):
        cells = _synth(run, core.name, top, sources, target.device)
    resources = target.device.family.count(cells)
    with run.step("fit", "checking the core fits the device"):
        _fit(run, core.name, resources, target.device)
    enforced = options.freq_mhz is not None or target.board is not None
    freq = target.board.clock_mhz if target.board else options.freq_mhz or \
        target.device.default_mhz
    with run.step("pnr", f"placing and routing with {target.device.family.nextpnr}"):
        nextpnr, log = _pnr(run, target, constraints, options.seed,
                            None if target.board else freq)   # a board's clock is constrained
    clocks = rpt.clocks(nextpnr)
    core_clock = _core_clock(target, options)
    with run.step("timing", "checking timing"):
        _timing(clocks, enforced, f"{core.name} on {target.name}", log)
        if core_clock:
            core_clock["clock"] = _constrained_clocks(clocks, target.board.clock_mhz,
                                                      core_clock["achieved_mhz"], log)
    bitstream = None
    if target.board:
        with run.step("pack", f"packing the bitstream with {target.device.family.packer}"):
            bitstream = _pack(run, top, target)

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
        "target_mhz": freq,
        "target_enforced": enforced,
        "resources": {**resources, "io": util["io"]["used"] if target.board else
                      port_bits(iface.ports) + len(CLOCK_PORTS), "cells": cells},
        "device_totals": {res: u["available"] for res, u in util.items()},
        "utilization": util,
        "clocks": clocks,
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


def _synth(run: _Run, core: str, top: str, sources: list[str], device: Device) -> dict[str, int]:
    """Yosys on ``sources`` with the core kept as its own module; the core's cells by type."""
    script = [*(f"read_verilog {s}" for s in sources if s.endswith(".v")),
              *(f"read_rtlil {s}" for s in sources if s.endswith(".il")),
              f"hierarchy -top {top}",
              # Amaranth names the lanes of array-layout views `payload[0]`; ABC inside
              # YoWASP's Yosys exits without a message on wire names with brackets, so such
              # aliases become internal names (ports and registers keep theirs).
              "rename -hide w:*[[]*",
              f"setattr -mod -set keep_hierarchy 1 {core}",
              f"{device.synth_command} -top {top}",
              "tee -q -o stat.json stat -json",
              "write_json netlist.json"]
    (run.work / "synth.ys").write_text("\n".join(script) + "\n")
    run.tool("synth", "yosys", ["synth.ys"], "yosys.log")
    return rpt.module_cells(json.loads((run.work / "stat.json").read_text()), core)


def _fit(run: _Run, core: str, resources: dict[str, int], device: Device) -> None:
    totals = device.totals()
    over = [f"{resources[r]:,} {RESOURCE_NAMES[r]} where {device.name} has {totals[r]:,}"
            for r in totals if resources[r] > totals[r]]
    if over:
        raise FlowError("fit", f"{core} does not fit {device.name}: it needs " + "; ".join(over),
                        run.work / "yosys.log")


def _pnr(run: _Run, target: Target, constraints: list[str], seed: int,
         freq: float | None) -> tuple[dict[str, Any], Path]:
    """nextpnr on the netlist; its report JSON and its log."""
    args = [*target.device.nextpnr_args, "--package", target.package,
            *(["--speed", target.speed] if target.speed else []),
            "--json", "netlist.json", "--report", "nextpnr.json", "--seed", str(seed),
            "--timing-allow-fail", *constraints, *(["--freq", f"{freq:g}"] if freq else [])]
    log = run.tool("pnr", target.device.family.nextpnr, args, "nextpnr.log")
    return json.loads((run.work / "nextpnr.json").read_text()), log


def _timing(clocks: dict[str, Any], enforced: bool, what: str, log: Path) -> None:
    if not clocks:
        raise FlowError("timing", "nextpnr reported no clock: no register is clocked from the "
                        "clock input", log, key_lines(log))
    missed = [f"clock {name}: {c['achieved_mhz']:.2f} MHz achieved, target "
              f"{c['target_mhz']:.2f} MHz" + (
                  f"; critical path {c['critical_path']['from']} → {c['critical_path']['to']} "
                  f"({c['critical_path']['delay_ns']} ns)" if c["critical_path"] else "")
              for name, c in clocks.items() if not c["met"]]
    if enforced and missed:
        raise FlowError("timing", f"{what} misses its timing target", log, missed)


def _core_clock(target: Target, options: FlowOptions) -> dict[str, Any] | None:
    """The engine's PLL core clock of a board build (requested, achieved, settings), if any."""
    if target.board is None or options.engine is None:
        return None
    from lowbit.boards.engine_top import engine_core_clock

    clock = engine_core_clock(target.board, options.engine)
    return clock.to_dict() if clock else None


def _constrained_clocks(clocks: dict[str, Any], board_mhz: float, core_mhz: float,
                        log: Path) -> str:
    """The name of the core clock among nextpnr's clocks; a FlowError unless nextpnr timed
    both the board clock and the PLL's output against their frequencies (an unconstrained
    clock would be checked against nothing)."""
    def named(mhz: float) -> str | None:     # nextpnr keeps periods in whole picoseconds
        return next((name for name, c in clocks.items()
                     if abs(c["target_mhz"] - mhz) <= 1e-3 * mhz), None)

    board, core = named(board_mhz), named(core_mhz)
    if board is None or core is None:
        targets = ", ".join(f"{name} {c['target_mhz']:g} MHz" for name, c in clocks.items())
        raise FlowError("timing", f"nextpnr did not constrain the board clock ({board_mhz:g} "
                        f"MHz) and the core clock ({core_mhz:g} MHz); it timed {targets}", log,
                        key_lines(log))
    return core


def _pack(run: _Run, top: str, target: Target) -> dict[str, Any]:
    family = target.device.family
    name = f"{target.board.name}{family.bitstream_suffix}"
    placed = top + family.placed[1]
    run.tool("pack", family.packer, [a.format(placed=placed, bitstream=name)
                                     for a in family.pack_args], "pack.log")
    return check_bitstream(run.work / name, family.preamble)


def _wrap(work: Path, config: CoreConfig, core: GeneratedCore, iface: CoreInterface,
          target: Target, selftest, engine):
    """The top module, the source files Yosys reads and nextpnr's arguments for the top."""
    core_file = f"{core.name}.v"
    if target.board:
        from lowbit.boards.board_top import TOP, board_files
        from lowbit.boards.engine_top import engine_board_files

        files = (engine_board_files(target.board, config, core, engine, core_file) if engine
                 else board_files(target.board, iface, selftest, core_file, core.verilog))
        for name, text in files.items():
            (work / name).write_text(text)
        family = target.device.family
        return TOP, [core_file, f"{TOP}.il"], [
            family.constraints[0], TOP + family.constraints[1],
            family.placed[0], TOP + family.placed[1]]
    from amaranth.back import rtlil

    from lowbit.boards.harness import Harness

    harness = Harness(iface)
    (work / "harness.il").write_text(rtlil.convert(harness, name="harness",
                                                   ports=harness.ports()))
    return "harness", [core_file, "harness.il"], (
        ["--out-of-context"] if target.device.family.native_ooc else [])


def check_bitstream(path: Path, preamble: bytes) -> dict[str, Any]:
    """Size, hash and the offset of the family's sync word; a bitstream without it is an error."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FlowError("pack", f"the packer wrote no bitstream {path.name}: {e.strerror}") \
            from None
    offset = data.find(preamble, 0, 4096)
    if offset < 0:
        raise FlowError("pack", f"{path.name} ({len(data)} bytes) has no preamble "
                        f"{preamble.hex().upper()} in its first 4 kB; not a bitstream")
    return {"file": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "preamble_offset": offset}

