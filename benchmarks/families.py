"""Every PE family sized by ``lowbit fit`` to one device and LUT budget: a table and a plot.

For every device × format, each kind whose strategy computes the pair (:data:`lowbit.fit.
STRATEGIES`: ``systolic``, ``lut``, ``bitserial``, ``fusion``, ``mac`` for integer weights ×
INT8; ``systolic`` and ``fmac`` for FP8 × FP8; ``blockdot`` for MX) is sized by
:func:`lowbit.fit.fit` to the same share of the device's LUTs, and the best implemented point
is a row: its config, LUTs (% of the device), DSP blocks, Fmax, MACs/cycle, GMAC/s, GMAC/s per
kLUT and the fraction of the device bound (:mod:`lowbit.boards.bounds`; for a floating format
the bound of its significands as integers, the most generous of the kinds' registers). ★ marks
the most GMAC/s per kLUT among the kinds sized to the budget, ▲ the most GMAC/s. ``mac``,
``fmac`` and ``fusion`` have no size: one unit, marked ``unit`` (a single MAC on a DSP block
has few LUTs to divide by, so it is not a family filling the budget). MACs/cycle are the
kind's perf model at the format's run-time precision (what the RTL's cycles are checked
against); LUTs, DSPs and Fmax are the post-route report's. Nothing is extrapolated: a kind
whose fill did not fit or failed says so.

Every implementation is cached by content hash (rerunning resumes). Keep to one place and
route at a time on a shared machine:

    flock /tmp/lowbit-pnr.lock nice -n 10 python benchmarks/families.py [--quick]
        [--devices ice40-up5k,ecp5-85f] [--formats W2A8,FP8] [--budget 0.85] [-o DIR]

``--quick``: W2A8, FP8 × FP8 and MXFP4 × MXFP4 (one pair of each kind of format); one probe per
systolic multiplier choice, one fill per kind; ECP5-85F at 0.1 of its LUTs (full fills take an
hour or more each) unless ``--budget`` is given. The table and ``families.png`` (GMAC/s per
kLUT per family and format, one panel per device) go to the output directory, with
``families.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lowbit.boards.devices import get_device
from lowbit.cache import atomic_write
from lowbit.errors import LowbitError
from lowbit.fit import FORMAT_PAIRS, STRATEGIES, Implemented, check_budget, fit, format_pairs
from lowbit.models.formats import parse_format

#: the pairs compared (:data:`lowbit.fit.FORMAT_PAIRS`), in the table's order
FORMATS = ("W1A8", "W2A8", "W4A8", "W8A8", "FP8", "MXFP4", "MXINT8")
#: one pair of each kind of format: integer weights, minifloat, block scaled
QUICK_FORMATS = ("W2A8", "FP8", "MXFP4")
#: the LUT share of each device in --quick (ECP5-85F: a tenth, so that a fill takes minutes)
QUICK_BUDGET = {"ecp5-85f": 0.1}
DEFAULT_BUDGET = 0.85


def design(best: Implemented) -> str:
    """A config summary: the kind's name for it."""
    return best.candidate.config.name


def rows_for(device, label: str, budget: float, quick: bool, runs: int, out: Path,
             workers: int, log) -> tuple[list[dict], float]:
    """One row per kind that computes ``label`` on ``device``, and the device bound (GMAC/s)."""
    a, w, acc = (parse_format(f) if i < 2 else f for i, f in enumerate(FORMAT_PAIRS[label]))
    rows, bounds = [], []
    for kind, strategy in STRATEGIES.items():
        base = strategy.base(a, w, acc)
        if base is None:
            continue
        row = {"device": device.name, "format": label, "kind": kind}
        try:
            result = fit(kind, base, device, budget=budget, quick=quick and runs == 1, runs=runs,
                         out=out / device.name / label / kind, workers=workers,
                         runtime=strategy.runtime(a, w), progress=log)
        except LowbitError as e:      # e.g. every probe failed
            rows.append({**row, "error": str(e)})
            continue
        bounds.append(result.bound.gmacs)
        best = result.best
        if best is None:
            reasons = "; ".join(f"{c.config.name}: {e['message']}" for c, e in result.failed)
            rows.append({**row, "error": reasons or f"no implemented {kind} config fits "
                                                    f"{budget:.0%} of the LUTs"})
            continue
        rows.append({**row, "design": design(best), "role": best.candidate.role,
                     "unit": best.candidate.choice == "unit",
                     "choice": best.candidate.choice, "luts": best.luts, "dsp": best.dsps,
                     "bram": best.brams, "fmax_mhz": round(best.fmax, 2), "macs": best.macs,
                     "gmacs": round(best.gmacs, 4),
                     "gmacs_per_klut": round(best.gmacs / (best.luts / 1000), 4)})
    bound = max(bounds, default=0.0)
    for row in rows:
        if "gmacs" in row and bound:
            row["of_bound"] = row["gmacs"] / bound
    return rows, bound


def densest(rows: list[dict]) -> dict | None:
    """The row with the most GMAC/s per kLUT among the kinds sized to the budget (all units if
    none is)."""
    ok = [r for r in rows if "gmacs" in r]
    return max([r for r in ok if not r["unit"]] or ok, key=lambda r: r["gmacs_per_klut"],
               default=None)


def verdict(rows: list[dict]) -> str:
    """Which kind wins per kLUT, by how much over the next kind, and which has most GMAC/s."""
    ok = sorted((r for r in rows if "gmacs" in r), key=lambda r: -r["gmacs_per_klut"])
    head = densest(rows)
    if head is None:
        return f"{rows[0]['format']} on {rows[0]['device']}: nothing implemented"
    text = (f"{head['format']} on {head['device']}: {head['kind']} wins per kLUT with "
            f"{head['gmacs_per_klut']:.3f} GMAC/s/kLUT")
    others = [r for r in ok if r is not head and not r["unit"]]
    if others:
        text += (f", {head['gmacs_per_klut'] / others[0]['gmacs_per_klut']:.2f}× "
                 f"{others[0]['kind']}")
    units = [r for r in ok if r["unit"] and r is not head
             and r["gmacs_per_klut"] > head["gmacs_per_klut"]]
    if units:
        text += (f" (one {units[0]['kind']} unit: {units[0]['gmacs_per_klut']:.3f}, "
                 f"{units[0]['dsp']} DSP)")
    most = max(ok, key=lambda r: r["gmacs"])
    return text + f"; most GMAC/s: {most['kind']} ({most['gmacs']:.2f})"


def plot(rows: list[dict], devices: list[str], formats: list[str], budgets: dict,
         path: Path) -> None:
    """GMAC/s per kLUT per family and format, one panel per device (grouped bars)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in STRATEGIES if any(r["kind"] == k and "gmacs" in r for r in rows)]
    colors = {k: plt.get_cmap("tab10")(i) for i, k in enumerate(kinds)}
    fig, axes = plt.subplots(len(devices), 1, figsize=(10, 3.6 * len(devices)), squeeze=False)
    for ax, name in zip(axes[:, 0], devices):
        labelled = set()
        for j, label in enumerate(formats):   # the kinds of this pair side by side
            here = [r for r in rows if (r["device"], r["format"]) == (name, label)
                    and "gmacs" in r]
            width = 0.8 / max(4, len(here))
            for i, r in enumerate(here):
                ax.bar(j + (i - (len(here) - 1) / 2) * width, r["gmacs_per_klut"], width,
                       color=colors[r["kind"]],
                       label=None if r["kind"] in labelled else r["kind"])
                labelled.add(r["kind"])
        ax.set_xticks(range(len(formats)), formats)
        ax.set_ylabel("GMAC/s per kLUT")
        ax.set_title(f"{name}, {budgets[name]:.0%} of the LUTs (post-route)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small", ncols=min(len(kinds), 7))
    fig.tight_layout()
    fig.savefig(path.with_suffix(".tmp.png"), dpi=120)
    path.with_suffix(".tmp.png").replace(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"formats {', '.join(QUICK_FORMATS)}; ECP5-85F at "
                             f"{QUICK_BUDGET['ecp5-85f']:g} of its LUTs; one fill per kind")
    parser.add_argument("--devices", default="ice40-up5k,ecp5-85f")
    parser.add_argument("--formats", default=None, help=f"of {', '.join(FORMATS)}")
    parser.add_argument("--budget", type=float, default=None,
                        help=f"share of each device's LUTs (default {DEFAULT_BUDGET}; --quick: "
                             "ECP5-85F 0.1)")
    parser.add_argument("--runs", type=int, default=1,
                        help="fills per kind, the best predicted first (default 1; more: the "
                             "best of them after place and route, and systolic probed at both "
                             "sizes as without --quick)")
    parser.add_argument("-j", "--workers", type=int, default=1,
                        help="place-and-route jobs at once (1)")
    parser.add_argument("-o", "--out", default="lowbit-out/families")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the tables as GitHub Markdown (as in the docs)")
    args = parser.parse_args()
    formats = (args.formats.split(",") if args.formats else
               list(QUICK_FORMATS if args.quick else FORMATS))
    try:
        format_pairs(formats, FORMATS)
        devices = [get_device(d).name for d in args.devices.split(",")]
        if args.budget is not None:
            check_budget(args.budget)
    except LowbitError as e:
        parser.error(str(e))
    if args.runs < 1 or args.workers < 1:
        parser.error("--runs and --workers take at least 1")
    out_dir = Path(args.out)
    console = Console(width=max(Console().width, 150))   # the table unwrapped

    def log(message: str) -> None:
        console.log(message, markup=False)

    budgets = {d: args.budget if args.budget is not None else
               QUICK_BUDGET.get(d, DEFAULT_BUDGET) if args.quick else DEFAULT_BUDGET
               for d in devices}
    every, verdicts, bounds, tables = [], [], {}, []
    columns = ("format", "kind", "design", "LUTs %", "DSPs", "Fmax MHz", "MAC/cyc", "GMAC/s",
               "GMAC/s/kLUT", "of bound", "")
    for name in devices:
        device = get_device(name)
        table = Table(title=f"PE families on {name} at {budgets[name]:.0%} of its "
                            f"{device.luts:,} LUTs (out of context, post-route)")
        for col in columns:
            table.add_column(col, justify="left" if col in ("format", "kind", "design", "")
                             else "right")
        tables.append(table)
        for label in formats:
            rows, bound = rows_for(device, label, budgets[name], args.quick, args.runs,
                                   out_dir, args.workers, log)
            bounds[f"{name} {label}"] = bound
            every += rows
            verdicts.append(verdict(rows))
            dense = densest(rows)
            fast = max((r for r in rows if "gmacs" in r), key=lambda r: r["gmacs"],
                       default=None)
            for i, r in enumerate(rows):
                last = i == len(rows) - 1
                if "error" in r:
                    table.add_row(label, r["kind"], Text(r["error"], style="red"), *[""] * 8,
                                  end_section=last)
                    continue
                mark = ("★" if r is dense else "") + ("▲" if r is fast else "") + \
                    (" unit" if r["unit"] else "")
                table.add_row(label, r["kind"], r["design"],
                              f"{100 * r['luts'] / device.luts:.1f}",
                              f"{r['dsp']}/{device.dsp}", f"{r['fmax_mhz']:.1f}",
                              f"{r['macs']:g}", f"{r['gmacs']:.2f}",
                              f"{r['gmacs_per_klut']:.3f}",
                              f"{r['of_bound']:.1%}" if "of_bound" in r else "-", mark,
                              end_section=last)
        console.print(table)
    for line in verdicts:
        console.print(line, markup=False)
    if args.markdown:
        for table in tables:
            print(f"\n{table.title}\n\n| {' | '.join(columns)} |\n|{'---|' * len(columns)}")
            for row in zip(*(c.cells for c in table.columns)):
                print(f"| {' | '.join(map(str, row))} |")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "families.json", json.dumps(
        {"budgets": budgets, "bounds_gmacs": bounds, "rows": every}, indent=2) + "\n")
    plot(every, devices, formats, budgets, out_dir / "families.png")
    console.print(f"rows: {out_dir / 'families.json'}; plot: {out_dir / 'families.png'}")


if __name__ == "__main__":
    main()
