"""``lowbit compare REPORTS...``: implementation reports side by side, as a table, CSV and plot."""

from __future__ import annotations

import argparse
from pathlib import Path

from lowbit import compare
from lowbit.boards.report import REPORT_FILE, load
from lowbit.cache import atomic_write
from lowbit.commands.common import console
from lowbit.errors import UsageError

SORT_KEYS = ("config", "device", "luts", "fmax_mhz", "gmacs", "gmacs_per_klut")


def register(verbs) -> None:
    p = verbs.add_parser("compare", help="compare implementation reports",
                         description="Compare reports of `lowbit synth`, `build` or `sweep`: "
                                     "area, Fmax, peak throughput, throughput per area.")
    p.add_argument("reports", nargs="+", metavar="REPORT",
                   help=f"report files, or directories searched for {REPORT_FILE}")
    p.add_argument("--csv", metavar="FILE", help="write every figure to a CSV file")
    p.add_argument("--plot", metavar="FILE",
                   help="write a throughput-vs-area (Pareto) plot, e.g. pareto.png or .svg")
    p.add_argument("--sort", choices=SORT_KEYS, default="device",
                   help="row order (default: device, then LUTs)")
    p.set_defaults(func=run)


def find_reports(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            hits = sorted(path.rglob(REPORT_FILE))
            if not hits:
                raise UsageError(f"no {REPORT_FILE} under {path}")
            found += hits
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"report {path} does not exist")
    return found


def sort_rows(rows: list[compare.Row], key: str) -> list[compare.Row]:
    numeric = key not in ("config", "device")
    return sorted(rows, key=lambda r: (r.device, r.luts) if key == "device" else
                  (-getattr(r, key) if numeric and key != "luts" else getattr(r, key)))


def show(reports: list[dict], *, csv: str | None = None, plot: str | None = None,
         sort: str = "device", title: str = "implementation results") -> list[compare.Row]:
    """Print the table of ``reports`` and write the CSV and plot if asked; a plot whose CSV
    (every figure it shows) has not changed is not drawn again."""
    rows = sort_rows(compare.rows(reports), sort)
    out = console()
    out.print(compare.table(rows, title))
    unchanged = False
    if csv:
        text = compare.csv_text(rows)
        path = Path(csv)
        unchanged = path.is_file() and path.read_text() == text
        if not unchanged:
            atomic_write(path, text)
        out.print(f"CSV: {csv}")
    if plot:
        if not (unchanged and Path(plot).is_file()):   # same figures: the plot stands
            compare.write_plot(rows, Path(plot))
        out.print(f"plot: {plot}")
    return rows


def run(args: argparse.Namespace) -> int:
    reports = [load(p) for p in find_reports(args.reports)]
    show(reports, csv=args.csv, plot=args.plot, sort=args.sort)
    return 0
