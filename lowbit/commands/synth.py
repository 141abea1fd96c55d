"""``lowbit synth KIND ... --device D``: out-of-context implementation of a core.

Also holds what ``lowbit build`` shares: the flow options and the summary of a report.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from lowbit.boards import report as rpt
from lowbit.boards.devices import DEVICES, RESOURCES
from lowbit.boards.steps import ROUTER2_CELLS, ROUTERS, FlowOptions, Target
from lowbit.commands.common import add_core_verb, config_from_args, console, seed
from lowbit.commands.run import engine_options
from lowbit.errors import UsageError
from lowbit.flow import Implementation, implement
from lowbit.tools import PREFERENCES


def add_flow_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=seed, default=1, help="nextpnr placement seed (default: 1)")
    p.add_argument("--tools", choices=PREFERENCES, default="pypi",
                   help="PyPI (YoWASP) tools, the default, or native yosys/nextpnr on PATH "
                        "when they are new enough")
    p.add_argument("--router", choices=ROUTERS, default="auto",
                   help="nextpnr's router (default: auto, router2 for a netlist of more than "
                        f"{ROUTER2_CELLS:,} LUTs and flip-flops, else router1)")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="directory for the report, logs and outputs of the run")


def register(verbs) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--device", required=True, metavar="DEVICE",
                       help=f"FPGA device: {', '.join(DEVICES)}")
        p.add_argument("--freq", type=float, metavar="MHZ",
                       help="timing target in MHz; missing it fails the run (default: the "
                            "device's default target, reported but not enforced)")
        add_flow_options(p)
    add_core_verb(verbs, "synth", "implement a core out of context: area and timing", run, extra)


def run(args: argparse.Namespace) -> int:
    return run_flow(args, Target.parse(device=args.device), "synth")


def run_flow(args: argparse.Namespace, target: Target, verb: str) -> int:
    """Implement the config of ``args`` on ``target`` and print the summary."""
    config = config_from_args(args)
    engine = None
    if getattr(args, "engine", False):

        engine = engine_options(args)
    elif getattr(args, "core_mhz", None) is not None:
        raise UsageError("--core-mhz clocks the GEMM engine's core; it needs --engine")
    options = FlowOptions(seed=args.seed, freq_mhz=getattr(args, "freq", None), tools=args.tools,
                          engine=engine, router=args.router)
    verb = "engine" if engine else verb
    out_dir = Path(args.out or
                   Path("lowbit-out") / config.name / f"{verb}-{target.name}-s{args.seed}")
    with console().status("starting") as status:
        impl = implement(config, target, options, out=out_dir, progress=status.update)
    summary(impl)
    return 0


def summary(impl: Implementation) -> None:
    """Resources against the device, clocks against their targets, step times, files."""
    out, r = console(), impl.report
    dev = r["device"]
    where = f"{r['board']} ({dev['name']})" if r["board"] else f"{dev['name']}, out of context"
    grade = f"speed grade {dev['speed']}" if dev.get("speed") else "no speed grades"
    router = f", nextpnr {r['router']}" if r.get("router") else ""
    out.print(f"[bold]{r['name']}[/] on {where}, {grade}, seed {r['seed']}{router}"
              + (" [dim](cached: nothing was re-run)[/]" if impl.cached else ""))
    t = Table(title="resources of the core (Yosys) against the device (nextpnr)")
    for col in ("resource", "core", "device", "%", "placed (whole design)"):
        t.add_column(col, justify="left" if col == "resource" else "right")
    for res in RESOURCES:
        used, total = r["resources"][res], r["device_totals"].get(res)
        placed = (r["utilization"].get(res) or {}).get("used")
        if res == "io" and r["mode"] == "ooc":   # the core's port bits; no pins out of context
            res, total = "io (port bits)", None
        t.add_row(res, f"{used:,}", f"{total:,}" if total is not None else "-",
                  f"{100 * used / total:.1f}" if total else "-",
                  f"{placed:,}" if placed is not None else "-")
    out.print(t)
    for name, c in r["clocks"].items():
        ok = "[green]met[/]" if c["met"] else ("[red]missed[/]" if r["target_enforced"]
                                               else "[yellow]below (not enforced)[/]")
        out.print(f"clock {name}: Fmax {c['achieved_mhz']:.2f} MHz, target "
                  f"{c['target_mhz']:.2f} MHz {ok}")
        if cp := c["critical_path"]:
            out.print(f"  critical path {cp['from']} → {cp['to']}: {cp['delay_ns']} ns, "
                      f"{cp['logic_levels']} logic steps", soft_wrap=True)
    if untimed := r.get("untimed_cells"):
        out.print(f"[yellow]Fmax leaves out paths through {', '.join(untimed)}[/]: "
                  f"nextpnr-{dev['family']} has no timing model for them", soft_wrap=True)
    peak = r["perf"]["peak_macs_per_cycle"]
    fmax = rpt.fmax_mhz(r) or 0
    out.print(f"peak {peak:g} MAC/cycle → {peak * fmax / 1000:.3f} GMAC/s at Fmax")
    if st := r.get("selftest"):
        out.print(f"self-test: {st['beats']} beats per input stream, {sum(st['results'])} results, "
                  f"expected checksum {st['checksum']} from the {st['source']}")
    if cc := r.get("core_clock"):
        settings = ", ".join(f"{name}={value}" for name, value in cc["parameters"].items())
        out.print(f"core clock {cc['clock']}: {cc['achieved_mhz']:g} MHz from the PLL "
                  f"(requested {cc['requested_mhz']:g} MHz; {cc['input_mhz']:g} MHz in, VCO "
                  f"{cc['vco_mhz']:g} MHz; {settings})", soft_wrap=True)
    if bit := r.get("bitstream"):
        out.print(f"bitstream: {impl.path / bit['file']} ({bit['bytes']:,} bytes)")
    steps = ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in r["steps"].items())
    out.print(f"steps: {steps}", soft_wrap=True)
    out.print(f"report: {impl.path / 'report.json'}")
