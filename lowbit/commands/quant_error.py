"""``lowbit quant-error``: SQNR by format and granularity on Gaussian, heavy-tailed and
outlier-channel data, as a table and a bar chart (PNG)."""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path

from rich.table import Table

from lowbit.cache import atomic_write
from lowbit.commands.common import console
from lowbit.errors import UsageError
from lowbit.models.quant_error import DATASETS, DEFAULT_QUANTIZERS, ErrorRow, quant_error
from lowbit.models.quantize import parse_quantizer


def register(verbs) -> None:
    p = verbs.add_parser(
        "quant-error", help="quantization error (SQNR) by format and granularity",
        description="Quantize Gaussian, Student-t and outlier-channel matrices with each "
        "quantizer and report the signal-to-quantization-noise ratio in dB.")
    p.add_argument("-q", "--quantizers", metavar="LIST", default=",".join(DEFAULT_QUANTIZERS),
                   help="comma-separated quantizers FORMAT[:tensor|channel|gN][:asym]"
                        "[:float32|pow2|e8m0] or block formats (default: a set of int, FP8, MX "
                        "and NVFP4 choices)")
    p.add_argument("--shape", metavar="MxK", default="256x1024",
                   help="matrix shape; K is the quantized axis (default: 256x1024)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("-o", "--plot", metavar="PNG", default="lowbit-out/quant-error.png",
                   help="where the bar chart goes (default: lowbit-out/quant-error.png)")
    p.set_defaults(func=run)


def _shape(text: str) -> tuple[int, int]:
    try:
        m, k = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise UsageError(f"--shape {text!r} is not allowed; expected MxK, e.g. 256x1024") from None
    if m < 1 or k < 1:
        raise UsageError(f"--shape {text!r} is not allowed; both dimensions must be at least 1")
    return m, k


def run(args: argparse.Namespace) -> int:
    out = console()
    shape = _shape(args.shape)
    names = [q.strip() for q in args.quantizers.split(",") if q.strip()]
    if not names:
        raise UsageError("--quantizers is empty; give at least one, e.g. int8:channel")
    plot = Path(args.plot)
    if plot.suffix.lower() != ".png":
        raise UsageError(f"--plot {plot} is not allowed; the chart is a PNG, name it *.png")
    for name in names:  # every name is checked before any work starts
        parse_quantizer(name)
    with out.status("quantizing") as status:
        rows = quant_error(names, shape, args.seed, progress=status.update)
    out.print(_table(rows, shape))
    atomic_write(plot, _chart(rows, shape))
    out.print(f"plot: {plot}")
    return 0


def _db(value: float) -> str:
    return "exact" if math.isinf(value) else f"{value:.1f}"


def _table(rows: list[ErrorRow], shape: tuple[int, int]) -> Table:
    table = Table(title=f"SQNR in dB (higher is better), {shape[0]}×{shape[1]} matrices "
                        "quantized along K")
    table.add_column("quantizer")
    table.add_column("bits/elem", justify="right")
    for name in DATASETS:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(row.quantizer, f"{row.bits_per_element:.3g}",
                      *(_db(row.sqnr[name]) for name in DATASETS))
    return table


def _chart(rows: list[ErrorRow], shape: tuple[int, int]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(8.0, 0.55 * len(rows) + 2), 5), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(DATASETS)
    for i, name in enumerate(DATASETS):
        values = [min(r.sqnr[name], 200.0) for r in rows]
        ax.bar([x + (i - (len(DATASETS) - 1) / 2) * width for x in range(len(rows))], values,
               width, label=name)
    ax.set_xticks(range(len(rows)), [f"{r.quantizer}\n{r.bits_per_element:.3g} b" for r in rows],
                  rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("SQNR (dB)")
    ax.set_title(f"Quantization error by format, {shape[0]}×{shape[1]} along K")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return buf.getvalue()
