"""``lowbit quant-error``: SQNR by format and granularity on Gaussian, heavy-tailed and
outlier-channel data, as a table and a bar chart (PNG); with ``--mul lmul``, the error of the
L-Mul approximate multiplier against the exact product, per format pair."""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path

from rich.table import Table

from lowbit.cache import atomic_write
from lowbit.commands.common import console, seed
from lowbit.errors import UsageError
from lowbit.models.formats import FormatError
from lowbit.models.kulisch import OperandFormats
from lowbit.models.minifloat import FloatFormat
from lowbit.models.quant_error import (
    DATASETS,
    DEFAULT_MUL_FORMATS,
    DEFAULT_QUANTIZERS,
    ErrorRow,
    MulErrorRow,
    error_quantizer,
    mul_error,
    quant_error,
)


def register(verbs) -> None:
    p = verbs.add_parser(
        "quant-error", help="quantization error (SQNR) by format and granularity",
        description="Quantize Gaussian, Student-t and outlier-channel matrices with each "
        "quantizer and report the signal-to-quantization-noise ratio in dB.")
    p.add_argument("-q", "--quantizers", metavar="LIST",
                   help="comma-separated quantizers FORMAT[:tensor|channel|gN][:asym]"
                        "[:float32|pow2|e8m0], block formats, bitmod3/bitmod4[:gN] or "
                        "olive4[:tensor|channel] (default: a set of int, FP8, MX, NVFP4, BitMoD "
                        "and OliVe choices)")
    p.add_argument("--mul", choices=("lmul",),
                   help="report an approximate multiplier instead: lmul (L-Mul, Luo & Sun "
                        "2024) against the exact product, per pair of --formats")
    p.add_argument("--formats", metavar="LIST",
                   help="with --mul: comma-separated minifloats, every pair of them is "
                        f"reported (default: {','.join(DEFAULT_MUL_FORMATS)})")
    p.add_argument("--shape", metavar="MxK", default="256x1024",
                   help="matrix shape; K is the quantized axis (default: 256x1024)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default: 0)")
    p.add_argument("-o", "--plot", metavar="PNG", default="lowbit-out/quant-error.png",
                   help="where the bar chart goes (default: lowbit-out/quant-error.png)")
    p.set_defaults(func=run)


def _shape(text: str) -> tuple[int, int]:
    try:
        m, k = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise UsageError(f"--shape {text!r} is not allowed; expected MxK, e.g. 256x1024") from None
    if m < 1 or k < 1 or m * k > _MAX_ELEMENTS:
        raise UsageError(f"--shape {text!r} is not allowed; both dimensions at least 1 and "
                         f"M·K at most {_MAX_ELEMENTS:,}")
    return m, k


#: the largest matrix the report quantizes (a few hundred MB of float64 work arrays)
_MAX_ELEMENTS = 1 << 24


def _names(text: str, option: str, example: str) -> list[str]:
    names = [q.strip() for q in text.split(",") if q.strip()]
    if not names:
        raise UsageError(f"{option} is empty; give at least one, e.g. {example}")
    return names


def _mul_formats(text: str) -> list[str]:
    """The --formats list, every name checked: a minifloat L-Mul takes (fmac's rule)."""

    names = _names(text, "--formats", "fp8_e4m3")
    try:
        formats = OperandFormats.parse(",".join(names)).formats
    except FormatError as e:
        raise UsageError(f"--formats: {e}") from None
    for f in formats:
        if not isinstance(f, FloatFormat):
            raise UsageError(f"--formats: {f} is not a minifloat; L-Mul takes minifloats "
                             f"(e.g. {','.join(DEFAULT_MUL_FORMATS)})")
    return names


def run(args: argparse.Namespace) -> int:
    out = console()
    shape = _shape(args.shape)
    if args.mul and args.quantizers is not None:
        raise UsageError("--quantizers does not apply with --mul; choose formats with --formats")
    if args.formats is not None and not args.mul:
        raise UsageError("--formats applies with --mul lmul only; without it, use --quantizers")
    plot = Path(args.plot)
    if plot.suffix.lower() != ".png":
        raise UsageError(f"--plot {plot} is not allowed; the chart is a PNG, name it *.png")
    if args.mul:
        listed = ",".join(DEFAULT_MUL_FORMATS) if args.formats is None else args.formats
        formats = _mul_formats(listed)
        with out.status("multiplying") as status:
            mul_rows = mul_error(formats, shape, args.seed, progress=status.update)
        out.print(_mul_table(mul_rows, shape))
        atomic_write(plot, _mul_chart(mul_rows, shape))
    else:
        given = args.quantizers
        names = _names(",".join(DEFAULT_QUANTIZERS) if given is None else given, "--quantizers",
                       "int8:channel")
        for name in names:  # every name is checked before any work starts
            error_quantizer(name)
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


def _figure(n_groups: int):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(8.0, 0.55 * n_groups + 2), 5), layout="constrained")
    return fig, fig.add_subplot()


def _bars(ax, labels: list[str], series: dict[str, list[float]]) -> None:
    """Grouped bars: one group per label, one bar per series."""
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))], values,
               width, label=name)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return buf.getvalue()


def _chart(rows: list[ErrorRow], shape: tuple[int, int]) -> bytes:
    fig, ax = _figure(len(rows))
    _bars(ax, [f"{r.quantizer}\n{r.bits_per_element:.3g} b" for r in rows],
          {name: [min(r.sqnr[name], 200.0) for r in rows] for name in DATASETS})
    ax.set_ylabel("SQNR (dB)")
    ax.set_title(f"Quantization error by format, {shape[0]}×{shape[1]} along K")
    return _png(fig)


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _mul_table(rows: list[MulErrorRow], shape: tuple[int, int]) -> Table:
    table = Table(title="L-Mul (lmul) vs the exact product: relative error in % over all code "
                        "pairs (bias: the mean signed error) and of dot products (rnd: the exact "
                        "product rounded to m mantissa "
                        f"bits; dots: {shape[0]} of length {shape[1]}, Gaussian data quantized "
                        "per tensor)")
    for col in ("a×w", "m", "l", "code pairs", "lmul mean", "lmul max", "lmul bias", "rnd mean",
                "rnd max", "dot lmul", "dot rnd"):
        table.add_column(col, justify="left" if col == "a×w" else "right", no_wrap=True)
    for r in rows:
        table.add_row(f"{r.a}×{r.w}", str(r.m), str(r.l_m), f"{r.pairs:,}", _pct(r.lmul_mean),
                      _pct(r.lmul_max), _pct(r.lmul_bias), _pct(r.round_mean), _pct(r.round_max),
                      _pct(r.lmul_dot), _pct(r.round_dot))
    return table


def _mul_chart(rows: list[MulErrorRow], shape: tuple[int, int]) -> bytes:
    fig, ax = _figure(len(rows))
    _bars(ax, [f"{r.a}×{r.w}" for r in rows],
          {"L-Mul, products": [100 * r.lmul_mean for r in rows],
           "rounded to m bits, products": [100 * r.round_mean for r in rows],
           "L-Mul, dots": [100 * r.lmul_dot for r in rows],
           "rounded to m bits, dots": [100 * r.round_dot for r in rows]})
    ax.set_ylabel("relative error (%)")
    ax.set_title(f"L-Mul vs exact: mean over code pairs; {shape[0]}×{shape[1]} Gaussian dots")
    return _png(fig)
