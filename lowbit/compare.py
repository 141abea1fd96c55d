"""Putting implementation reports side by side: the table, CSV and Pareto plot of
``lowbit compare`` and of the end of ``lowbit sweep``.

Throughput is the performance model's peak MACs per cycle at the achieved Fmax::

    GMAC/s          = peak MACs/cycle × Fmax [MHz] / 1000
    GMAC/s per kLUT = GMAC/s / (LUTs / 1000)
    of bound        = GMAC/s / the device bound's GMAC/s (integer operands; see
                      :mod:`lowbit.boards.bounds`)

LUTs are the core's own LUT4s after synthesis (see ``lowbit.boards.devices``). A run is
Pareto-optimal on its device when no other run on that device has at most its LUTs and more
GMAC/s, or fewer LUTs and at least its GMAC/s.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from lowbit.boards.bounds import DeviceBound, device_bound
from lowbit.boards.devices import get_device
from lowbit.boards.report import fmax_mhz
from lowbit.cache import atomic_write
from lowbit.errors import LowbitError
from lowbit.models.formats import IntFormat
from lowbit.registry import config_from_dict

COLUMNS = ("config", "device", "luts", "ffs", "dsp", "bram", "fmax_mhz", "peak_macs_per_cycle",
           "gmacs", "gmacs_per_klut", "of_bound")
HEADERS = {"config": "config", "device": "device", "luts": "LUTs", "ffs": "FFs", "dsp": "DSPs",
           "bram": "BRAM", "fmax_mhz": "Fmax MHz", "peak_macs_per_cycle": "MACs/cycle",
           "gmacs": "GMAC/s", "gmacs_per_klut": "GMAC/s per kLUT", "of_bound": "of bound"}


@dataclass(frozen=True)
class Row:
    """One report's figures for the table."""

    config: str
    device: str
    luts: int
    ffs: int
    dsp: int
    bram: int
    fmax_mhz: float
    peak_macs_per_cycle: float
    gmacs: float
    gmacs_per_klut: float
    of_bound: float | None
    pareto: bool
    report: Mapping[str, Any]


def label_fields(reports: Sequence[Mapping[str, Any]]) -> list[str]:
    """Config fields whose values differ between the reports (what tells the rows apart)."""
    keys: dict[str, set] = {}
    for r in reports:
        for k, v in r["config"].items():
            keys.setdefault(k, set()).add(str(v))
    return [k for k, values in keys.items() if len(values) > 1 or
            any(k not in r["config"] for r in reports)]


def label(report: Mapping[str, Any], fields: Iterable[str]) -> str:
    shown = [f"{k}={report['config'][k]}" for k in fields if k in report["config"]]
    if report.get("seed", 1) != 1:
        shown.append(f"seed={report['seed']}")
    return " ".join(shown) or report["name"]


def rows(reports: Sequence[Mapping[str, Any]]) -> list[Row]:
    """Table rows of ``reports`` with throughput figures and Pareto flags.

    Parameters
    ----------
    reports
        Implementation reports (the JSON of ``report.json``).

    Returns
    -------
    list of Row
        One row per report: its label, LUTs, FFs, DSPs, BRAM, Fmax, GMAC/s, GMAC/s per kLUT, the
        fraction of the device bound and whether it is Pareto-optimal on its device.
    """
    fields = label_fields(reports)
    figures = []
    for r in reports:
        fmax = fmax_mhz(r) or 0.0
        peak = float(r["perf"]["peak_macs_per_cycle"])
        gmacs = peak * fmax / 1000
        luts = int(r["resources"]["luts"])
        figures.append((r, fmax, peak, gmacs, luts))
    out = []
    for r, fmax, peak, gmacs, luts in figures:
        rivals = [(lu, g) for other, _, _, g, lu in figures
                  if other is not r and other["device"]["name"] == r["device"]["name"]]
        dominated = any((lu <= luts and g > gmacs) or (lu < luts and g >= gmacs)
                        for lu, g in rivals)
        res = r["resources"]
        bound = bound_of(r)
        out.append(Row(label(r, fields), r["board"] or r["device"]["name"], luts,
                       int(res["ffs"]), int(res["dsp"]), int(res["bram"]), fmax, peak, gmacs,
                       gmacs / (luts / 1000) if luts else 0.0,
                       gmacs / bound.gmacs if bound and bound.gmacs else None,
                       not dominated, r))
    return out


def operand_formats(config) -> tuple[IntFormat, IntFormat] | None:
    """A config's integer operand formats (``lut``: its widest weight), None for others."""
    a = getattr(config, "a", None)
    w = getattr(config, "w", None)
    if w is None and hasattr(config, "w_bits"):
        w = IntFormat(config.w_bits)
    if isinstance(a, IntFormat) and isinstance(w, IntFormat):
        return a, w
    return None


def bound_of(report: Mapping[str, Any]) -> DeviceBound | None:
    """The device bound of a report's config and device (integer operands only)."""
    try:
        config = config_from_dict(dict(report["config"]))
        device = get_device(report["device"]["name"])
    except LowbitError:
        return None
    formats = operand_formats(config)
    acc = getattr(config, "acc", None)
    if formats is None or not isinstance(acc, int):
        return None
    return device_bound(device, *formats, acc)


def _cell(row: Row, column: str) -> str:
    value = getattr(row, column)
    if value is None:
        return "-"
    if column == "of_bound":
        return f"{value:.1%}"
    if column in ("fmax_mhz",):
        return f"{value:.1f}"
    if column in ("gmacs", "gmacs_per_klut"):
        return f"{value:.3f}"
    if column == "peak_macs_per_cycle":
        return f"{value:g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(rows_: Sequence[Row], title: str = "implementation results") -> Table:
    """A rich table; Pareto-optimal rows are marked ``*``.

    Parameters
    ----------
    rows_
        Rows from :func:`rows`.
    title
        The table's title.

    Returns
    -------
    rich.table.Table
    """
    t = Table(title=title, caption="* Pareto-optimal on its device (fewest LUTs for its GMAC/s)")
    t.add_column("")
    for c in COLUMNS:
        t.add_column(HEADERS[c], justify="left" if c in ("config", "device") else "right",
                     no_wrap=c != "config")    # only the config label may wrap
    for row in rows_:
        t.add_row("*" if row.pareto else "", *(_cell(row, c) for c in COLUMNS),
                  style="bold" if row.pareto else None)
    return t


def csv_text(rows_: Sequence[Row]) -> str:
    """Every figure plus the full config (JSON columns stay one cell each).

    Parameters
    ----------
    rows_
        Rows from :func:`rows`.

    Returns
    -------
    str
        The CSV text, one line per row after the header.
    """
    import json

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*COLUMNS, "pareto", "kind", "name", "seed", "config_hash", "config_json",
                "report"])
    for row in rows_:
        r = row.report
        w.writerow([*(getattr(row, c) for c in COLUMNS), int(row.pareto), r["kind"], r["name"],
                    r["seed"], r["config_hash"], json.dumps(r["config"], sort_keys=True),
                    r.get("path", "")])
    return buf.getvalue()


def write_plot(rows_: Sequence[Row], path: Path) -> None:
    """Throughput against area, one colour per device, each device's Pareto front joined.

    Parameters
    ----------
    rows_
        Rows from :func:`rows`.
    path
        The image; PNG, SVG or PDF by its suffix (written atomically).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    devices = sorted({row.device for row in rows_})
    for i, device in enumerate(devices):
        mine = [row for row in rows_ if row.device == device]
        colour = f"C{i % 10}"
        ax.scatter([r.luts for r in mine], [r.gmacs for r in mine], color=colour, label=device,
                   alpha=0.8)
        front = sorted((r for r in mine if r.pareto), key=lambda r: r.luts)
        ax.plot([r.luts for r in front], [r.gmacs for r in front], color=colour, linewidth=1)
        for r in front:
            ax.annotate(r.config, (r.luts, r.gmacs), fontsize=7, xytext=(4, 4),
                        textcoords="offset points")
    ax.set_xlabel("LUTs (LUT4, core after synthesis)")
    ax.set_ylabel("GMAC/s at Fmax (peak)")
    ax.set_title("Throughput vs area (line: Pareto front per device)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
    atomic_write(Path(path), buf.getvalue())
