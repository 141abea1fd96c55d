"""``lowbit fit KIND --device D [config flags]``: the highest post-route GMAC/s a kind reaches
on a device within a LUT budget (see :mod:`lowbit.fit`)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rich.table import Table

from lowbit.boards.devices import DEVICES, get_device
from lowbit.cache import atomic_write
from lowbit.commands.common import console
from lowbit.commands.compare import show
from lowbit.config import read_config_file
from lowbit.errors import ConfigError, UsageError
from lowbit.fit import STRATEGIES, FitResult, check_budget, fit
from lowbit.registry import get_kind


def register(verbs) -> None:
    p = verbs.add_parser("fit", help="size a core kind to fill a device",
                         description="Probe small configs of the kind (for systolic, of every "
                                     "multiplier choice), model their area and clock, "
                                     "implement the largest that fit the LUT budget, and "
                                     "report the best after place and route against the "
                                     "device bound. mac, fmac and fusion have no size: one "
                                     "unit is implemented.")
    sub = p.add_subparsers(dest="kind", metavar="KIND", parser_class=type(p))
    sub.required = True
    for name in STRATEGIES:
        kind = get_kind(name)
        k = sub.add_parser(name, help=kind.summary, description=f"fit {name}: {kind.summary}")
        k.add_argument("--device", required=True, metavar="DEVICE",
                       help=f"the device to fill: {', '.join(DEVICES)}")
        k.add_argument("--budget", type=float, default=0.85,
                       help="share of the device's LUTs the core may take (default 0.85)")
        k.add_argument("--runs", type=int, default=3,
                       help="full-size configs to implement, best predicted first (default 3)")
        k.add_argument("--quick", action="store_true",
                       help="one full-size run (and one probe per systolic multiplier choice)")
        k.add_argument("--config", metavar="FILE", help="TOML or JSON file of base fields")
        k.add_argument("-o", "--out", metavar="DIR",
                       help="output directory (default: lowbit-out/fit-KIND-DEVICE)")
        k.add_argument("-j", "--workers", type=int, metavar="N",
                       help=f"local worker processes (default: {os.cpu_count()})")
        k.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on a Dask distributed cluster, e.g. tcp://host:8786")
        kind.config.add_arguments(k)
        k.set_defaults(func=run)


def _base(args: argparse.Namespace) -> dict:
    kind = get_kind(args.kind)
    base = read_config_file(args.config) if args.config else {}
    base.pop("kind", None)
    for name in kind.config.__dataclass_fields__:
        value = getattr(args, name, None)
        if value is not None:
            base[name] = value
    # fields fit chooses itself; giving them is an error rather than silently overridden
    given = [name for name in STRATEGIES[args.kind].CHOSEN if name in base]
    if given:
        raise ConfigError(given[0], base[given[0]], "chosen by lowbit fit; give the formats, "
                          "accumulator and run-time registers only", context="fit")
    kind.config.from_dict(base)   # the base fields themselves must be valid
    return base


def run(args: argparse.Namespace) -> int:
    check_budget(args.budget)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"workers={args.workers} is not allowed; at least 1")
    device = get_device(args.device)
    base = _base(args)
    out_dir = Path(args.out or Path("lowbit-out") / f"fit-{args.kind}-{device.name}")
    out = console()
    with out.status(f"fitting {args.kind} to {device.name}") as status:
        def progress(message: str) -> None:
            status.update(message)
            out.print(message, markup=False, soft_wrap=True)

        result = fit(args.kind, base, device, budget=args.budget, quick=args.quick,
                     runs=args.runs, out=out_dir, workers=args.workers,
                     scheduler=args.scheduler, progress=progress)
    report(result, out_dir)
    return 0 if result.best else 1


def report(result: FitResult, out_dir: Path) -> None:
    """The frontier, the best point and the bound; ``fit.json`` and the Pareto plot."""
    out = console()
    reports = [p.report for p in result.points]
    if reports:
        show(reports, csv=str(out_dir / "fit.csv"), plot=str(out_dir / "pareto.png"),
             title=f"fit on {result.device.name}")
    b = result.bound
    table = Table(title=f"device bound of {result.device.name} (speed {b.speed or '-'}), "
                        f"{result.budget:.0%} of its LUTs")
    for col in ("DSP MACs", "fabric MACs", "LUT4 per fabric MAC", "MACs/cycle", "clock MHz",
                "GMAC/s"):
        table.add_column(col, justify="right")
    table.add_row(f"{b.dsp_macs:,}", f"{b.fabric_macs:,}", str(b.fabric_mac_luts),
                  f"{b.macs_per_cycle:,}", f"{b.ceiling_mhz:.1f}", f"{b.gmacs:.1f}")
    out.print(table)
    best = result.best
    for c, err in result.failed:
        out.print(f"[red]failed[/] {c.role} {c.config.name}: {err['step']}: {err['message']}",
                  soft_wrap=True)
    summary = {"device": result.device.name, "budget": result.budget,
               "bound": b.to_dict(),
               "points": [{"role": p.candidate.role, "choice": p.candidate.choice,
                           "config": p.candidate.config.to_dict(), "luts": p.luts,
                           "fmax_mhz": p.fmax, "gmacs": round(p.gmacs, 3),
                           "predicted_luts": p.candidate.predicted_luts,
                           "predicted_gmacs": p.candidate.predicted_gmacs}
                          for p in result.points],
               "best": best and best.candidate.config.to_dict()}
    atomic_write(out_dir / "fit.json", json.dumps(summary, indent=2) + "\n")
    if best is None:
        out.print(f"[red]no implemented config fits {result.budget:.0%} of "
                  f"{result.device.name}'s LUTs[/]")
        return
    share = best.gmacs / b.gmacs if b.gmacs else 0.0
    out.print(f"[bold]best[/]: {best.candidate.config.name}: {best.gmacs:.2f} GMAC/s at "
              f"{best.fmax:.1f} MHz, {best.luts:,} LUTs "
              f"({best.luts / result.device.luts:.1%}), {share:.1%} of the device bound")
    out.print(f"summary: {out_dir / 'fit.json'}")
