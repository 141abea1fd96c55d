"""``lowbit generate KIND ...``: write a core's Verilog and its JSON manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from lowbit.commands.common import add_core_verb, config_from_args, console
from lowbit.hw.verilog import generate


def register(verbs) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("-o", "--out", metavar="DIR", default=".",
                       help="directory for <name>.v and <name>.json (default: .)")
    add_core_verb(verbs, "generate", "write a core's Verilog and manifest", run, extra)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    core = generate(config)
    v_path, m_path = core.write(Path(args.out))
    out = console()
    out.print(f"[bold]{core.name}[/] ({config.KIND}, config {config.hash[:12]})")
    out.print(f"  Verilog   {v_path}  ({len(core.verilog.splitlines())} lines, "
              f"sha256 {core.manifest['verilog']['sha256'][:12]})", soft_wrap=True)
    out.print(f"  manifest  {m_path}")
    ports = ", ".join(f"{p['name']}[{p['width']}]" for p in core.manifest["ports"])
    out.print(f"  ports     {ports}", soft_wrap=True)
    return 0
