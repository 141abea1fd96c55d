"""``lowbit sweep SWEEP.toml``: a grid of configs × targets × seeds, in parallel, cached."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from lowbit.commands.common import console
from lowbit.commands.compare import show
from lowbit.errors import UsageError
from lowbit.sweep import load_sweep, run_sweep


def register(verbs) -> None:
    p = verbs.add_parser("sweep", help="implement a grid of configs and compare them",
                         description="Implement every point of a sweep file (configs × devices "
                                     "or boards × seeds), reusing cached results, and compare.")
    p.add_argument("file", metavar="SWEEP.toml", help="the sweep file (see `lowbit docs`: sweeps)")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="output directory (default: lowbit-out/sweep-<file name>)")
    p.add_argument("-j", "--workers", type=int, metavar="N",
                   help=f"local worker processes (default: {os.cpu_count()}, the CPU count)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the points on a Dask distributed cluster, e.g. tcp://host:8786")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"workers={args.workers} is not allowed; at least 1")
    sweep = load_sweep(args.file)
    out_dir = Path(args.out or Path("lowbit-out") / f"sweep-{sweep.name}")
    out = console()
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else \
        f"{args.workers or os.cpu_count()} local processes"
    out.print(f"sweep {sweep.name}: {len(sweep.points)} points on {where}; results in {out_dir}")
    counts = {"ok": 0, "cached": 0, "failed": 0}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=out) as progress:
        task = progress.add_task("implementing", total=len(sweep.points))

        def on_result(point, result) -> None:
            if result["status"] == "ok":
                counts["cached" if result.get("cached") else "ok"] += 1
            else:
                counts["failed"] += 1
                err = result["error"]
                progress.console.print(
                    f"[red]failed[/] {point.target} {point.config}: {err['step']}: "
                    f"{err['message']}" + (f" (log: {err['log']})" if err.get("log") else ""),
                    markup=True, soft_wrap=True)
            progress.update(task, advance=1, description=(
                f"implementing: {counts['ok']} run, {counts['cached']} cached, "
                f"{counts['failed']} failed"))

        results = run_sweep(sweep, out_dir, workers=args.workers, scheduler=args.scheduler,
                            on_result=on_result)
    reports = [r["report"] for _, r in results if r["status"] == "ok"]
    if reports:
        show(reports, csv=str(out_dir / "compare.csv"), plot=str(out_dir / "pareto.png"),
             title=f"sweep {sweep.name}")
    out.print(f"summary: {out_dir / 'sweep.json'}")
    if counts["failed"]:
        out.print(f"[red]{counts['failed']} of {len(sweep.points)} points failed[/]")
        return 1
    return 0
