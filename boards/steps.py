"""The FPGA flow's tool steps: where a core goes, and Yosys, nextpnr and the packers on it.

Each step runs in a run's working directory with its own log (:class:`Steps`); a failed step
raises :class:`FlowError` naming the step, the key lines of the tool's log and where the whole
log is. The pipeline that strings them together, caches and publishes a run is
:mod:`lowbit.flow`::

    wrap      out of context: the core inside the register harness (lowbit.boards.harness;
              on Gowin its three ports on pins named by the chip database);
              board builds: the board top through the amaranth-boards platform (pins, clock)
    synth     Yosys synth_<family>; cell counts from ``stat -json``
    fit       the core's cells against the device's totals
    pnr       nextpnr-<family>, report JSON (utilization, Fmax, critical paths)
    timing    an enforced target (``--freq``, or a board's clock) missed is a failure; an
              engine with a PLL core clock must have both clocks timed, each at its frequency
    pack      board builds: icepack / ecppack / gowin_pack, and a check of the bitstream's
              preamble
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from amaranth.back import rtlil

from lowbit.boards import report as rpt
from lowbit.boards.board_top import TOP, board_files
from lowbit.boards.devices import RESOURCE_NAMES, Device, get_device
from lowbit.boards.engine_top import engine_board_files
from lowbit.boards.harness import Harness
from lowbit.boards.platforms import Board, get_board
from lowbit.boards.selftest import Expectation
from lowbit.config import CoreConfig
from lowbit.errors import LowbitError, UsageError
from lowbit.hw.interface import CoreInterface
from lowbit.hw.verilog import GeneratedCore
from lowbit.tools import PREFERENCES, Preference, Tool, require_tool, tool_version

Progress = Callable[[str], None]
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
        """The speed grade nextpnr times the design at (None: iCE40 parts have none)."""
        return self.board.speed if self.board else self.device.speed

    @property
    def part_number(self) -> str:
        """The full part number, where the family selects its parts by one (Gowin), else ''."""
        if not self.device.part_number:
            return ""
        return self.board.part_number if self.board else self.device.full_part_number()

    def nextpnr_args(self) -> list[str]:
        """The arguments that select the part, its package and its speed grade."""
        d = self.device
        return [a.format(package=self.package, speed=self.speed, part_number=self.part_number,
                         chipdb=d.chipdb) for a in d.nextpnr_args]

    def to_dict(self) -> dict[str, Any]:
        d = self.device
        out = {"name": d.name, "family": d.family.name, "part": d.part,
               "package": self.package, "speed": self.speed}
        return {**out, "part_number": self.part_number} if self.part_number else out


#: nextpnr's routers, and ``auto``: :data:`ROUTER2_CELLS` decides
ROUTERS = ("auto", "router1", "router2")
#: ``auto`` routes a netlist of more LUTs plus flip-flops than this with router2. router1, the
#: default of nextpnr 0.11, converges slowly on large congested designs: a 288-MAC ECP5 array
#: (16,159 LUTs, 21,368 FFs) still had 53,338 arcs to route after 697 s, and router2 routed it
#: in 122 s; the 144-MAC array (5,809 LUTs, 11,328 FFs) routes well with router1.
ROUTER2_CELLS = 20_000


def router_for(choice: str, resources: dict[str, int]) -> str:
    """The router ``choice`` names, or for ``auto`` the one for a netlist of ``resources``."""
    if choice != "auto":
        return choice
    return "router2" if resources["luts"] + resources["ffs"] > ROUTER2_CELLS else "router1"


@dataclass(frozen=True)
class FlowOptions:
    """``freq_mhz`` given is an enforced target; without it an out-of-context run aims at the
    device's default and only reports, and a board build must meet the board's clock."""

    seed: int = 1
    freq_mhz: float | None = None
    tools: Preference = "pypi"
    engine: Any = None      # board builds: an EngineOptions builds the GEMM engine's top
    router: str = "auto"

    def __post_init__(self) -> None:
        if self.tools not in PREFERENCES:
            raise UsageError(f"tools={self.tools!r} is not allowed; one of "
                             f"{', '.join(PREFERENCES)}")
        if self.router not in ROUTERS:
            raise UsageError(f"router={self.router!r} is not allowed; one of "
                             f"{', '.join(ROUTERS)}")
        if self.freq_mhz is not None and not self.freq_mhz > 0:
            raise UsageError(f"freq={self.freq_mhz} is not allowed; a frequency in MHz above 0")


@dataclass
class Steps:
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
                raise FlowError(step, f"{tool} ({' '.join(t.command)}) does not run: {e}",
                                log) from None
        if done.returncode < 0:
            name = signal.Signals(-done.returncode).name
            raise FlowError(step, f"{tool} was killed by signal {-done.returncode} ({name}) "
                                  "before it finished", log, key_lines(log))
        if done.returncode != 0:
            raise FlowError(step, f"{tool} exited with code {done.returncode}", log,
                            key_lines(log))
        self.steps.setdefault(step, {})["log"] = log_name
        return log


@cache
def _find_tools(names: tuple[str, ...], prefer: str) -> tuple[tuple[str, Tool], ...]:
    return tuple((name, require_tool(name, prefer)) for name in names)


def tools_for(target: Target, prefer: str) -> dict[str, Tool]:
    """The tools a run on ``target`` needs (a ToolError names a missing one)."""
    family = target.device.family
    names = ("yosys", family.nextpnr) + ((family.packer,) if target.board else ())
    return dict(_find_tools(names, prefer))


@cache
def tool_identity(tool: Tool) -> str:
    """What decides a tool's output, cheaply: a PyPI tool's distribution version; a native
    tool's version line and file stamp."""
    if tool.source.startswith("PyPI"):
        return f"{tool.source} {metadata.version(tool.source.split()[1])}"
    stat = os.stat(tool.command[0])
    return f"{tool.source} {tool_version(tool)} {stat.st_size} {stat.st_mtime_ns}"


def synth(run: Steps, core: str, top: str, sources: list[str],
          device: Device) -> dict[str, int]:
    """Yosys on ``sources`` with the core kept as its own module; the core's cells by type."""
    family = device.family
    for name, text in (family.synth_files or {}).items():
        (run.work / name).write_text(text)
    script = [*(f"read_verilog {s}" for s in sources if s.endswith(".v")),
              *(f"read_rtlil {s}" for s in sources if s.endswith(".il")),
              f"hierarchy -top {top}",
              # Amaranth names the lanes of array-layout views `payload[0]`; ABC inside
              # YoWASP's Yosys exits without a message on wire names with brackets, so such
              # aliases become internal names (ports and registers keep theirs).
              "rename -hide w:*[[]*",
              f"setattr -mod -set keep_hierarchy 1 {core}",
              f"{device.synth_command} -top {top}",
              *(command.format(top=top) for command in family.post_synth),
              "tee -q -o stat.json stat -json",
              "write_json netlist.json"]
    (run.work / "synth.ys").write_text("\n".join(script) + "\n")
    run.tool("synth", "yosys", ["synth.ys"], "yosys.log")
    return rpt.module_cells(json.loads((run.work / "stat.json").read_text()), core)


def fit(run: Steps, core: str, resources: dict[str, int], device: Device) -> None:
    """A core with more cells of a kind than the device has fails here, before nextpnr."""
    totals = device.totals()
    over = [f"{resources[r]:,} {RESOURCE_NAMES[r]} where {device.name} has {totals[r]:,}"
            for r in totals if resources[r] > totals[r]]
    if over:
        raise FlowError("fit", f"{core} does not fit {device.name}: it needs " + "; ".join(over),
                        run.work / "yosys.log")


def pnr(run: Steps, target: Target, constraints: list[str], seed: int,
        freq: float | None, router: str) -> tuple[dict[str, Any], Path]:
    """nextpnr on the netlist; its report JSON and its log."""
    args = [*target.nextpnr_args(), "--json", "netlist.json", "--report", "nextpnr.json",
            "--seed", str(seed), "--router", router, "--timing-allow-fail", *constraints,
            *(["--freq", f"{freq:g}"] if freq else [])]
    log = run.tool("pnr", target.device.family.nextpnr, args, "nextpnr.log")
    return json.loads((run.work / "nextpnr.json").read_text()), log


def timing(clocks: dict[str, Any], enforced: bool, what: str, log: Path) -> None:
    """An enforced target missed on any clock is a FlowError naming its critical path."""
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


def constrained_clocks(clocks: dict[str, Any], board_mhz: float, core_mhz: float,
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


def pack(run: Steps, top: str, target: Target) -> dict[str, Any]:
    """The board's packer on the placed design; the bitstream's file, size, hash, preamble."""
    family = target.device.family
    name = f"{target.board.name}{family.bitstream_suffix}"
    placed = top + family.placed[1]
    args = [a.format(placed=placed, bitstream=name, chipdb=target.device.chipdb)
            for a in family.pack_args]
    run.tool("pack", family.packer, [*target.board.pack_options, *args], "pack.log")
    return check_bitstream(run.work / name, family.preamble, family.text_bitstream)


def wrap(work: Path, config: CoreConfig, core: GeneratedCore, iface: CoreInterface,
         target: Target, selftest: Expectation | None, engine):
    """The top module, the source files Yosys reads and nextpnr's arguments for the top."""
    core_file = f"{core.name}.v"
    family = target.device.family
    if target.board:
        files = (engine_board_files(target.board, config, core, engine, core_file) if engine
                 else board_files(target.board, iface, selftest, core_file, core.verilog))
        for name, text in files.items():
            (work / name).write_text(text)
        return TOP, [core_file, f"{TOP}.il"], [*_file_args(family.constraints, TOP),
                                               *_file_args(family.placed, TOP)]
    harness = Harness(iface)
    (work / "harness.il").write_text(rtlil.convert(harness, name="harness",
                                                   ports=harness.ports()))
    if family.native_ooc:
        return "harness", [core_file, "harness.il"], ["--out-of-context"]
    if family.pinned_ooc:   # the harness's three ports on pins the chip database names
        pins = target.device.chip_facts()["pins"]
        (work / f"harness{family.constraints[1]}").write_text(
            "".join(f'IO_LOC "{port}" {pin};\n' for port, pin in pins.items()))
        return "harness", [core_file, "harness.il"], _file_args(family.constraints, "harness")
    return "harness", [core_file, "harness.il"], []


def _file_args(template: tuple[tuple[str, ...], str], stem: str) -> list[str]:
    """nextpnr's arguments naming the file ``stem`` + suffix of a family's file template."""
    args, suffix = template
    return [a.format(file=stem + suffix) for a in args]


def check_bitstream(path: Path, preamble: bytes, text: bool = False) -> dict[str, Any]:
    """Size, hash and the offset of the family's sync word; a bitstream without it is an error.

    A ``text`` bitstream (Gowin's .fs) holds its bytes as lines of ASCII '0'/'1' after ``//``
    comment lines; it is decoded before the search, and the offset is in the decoded bytes.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FlowError("pack", f"the packer wrote no bitstream {path.name}: {e.strerror}") \
            from None
    offset = (decode_text_bitstream(data) if text else data).find(preamble, 0, 4096)
    if offset < 0:
        raise FlowError("pack", f"{path.name} ({len(data)} bytes) has no preamble "
                        f"{preamble.hex().upper()} in its first 4 kB; not a bitstream")
    return {"file": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "preamble_offset": offset}



def decode_text_bitstream(data: bytes, limit: int = 4096) -> bytes:
    """The first ``limit`` bytes of an ASCII bitstream (lines of '0'/'1', ``//`` comments);
    a line that is not whole bytes of bits ends the decoding."""
    out = bytearray()
    for line in data.splitlines():
        line = line.strip()
        if not line or line.startswith(b"//"):
            continue
        if len(line) % 8 or line.strip(b"01"):
            break
        out += int(line, 2).to_bytes(len(line) // 8, "big")
        if len(out) >= limit:
            break
    return bytes(out)
