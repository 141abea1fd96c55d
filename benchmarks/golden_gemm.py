"""Speed of the bit-exact golden GEMMs against numpy.matmul in float64, measured in one run.

    python benchmarks/golden_gemm.py [--size N] [--repeat R]

Times (best of R) an N×N×N INT8×INT4 GEMM with a 32-bit wrapping accumulator (``int_gemm``,
the raw accumulators; and ``qgemm``, which also applies per-channel FP32 scales) and an
MXFP4×MXFP8(E4M3) GEMM (``qgemm``, FP32 result, block accumulators not kept), and prints each
next to ``numpy.matmul`` of float64 N×N matrices. Goals: integer within 2×, MX within 5×.
Operands are quantized before timing starts; only the GEMMs are timed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

from lowbit.models.accumulator import Accumulator
from lowbit.models.formats import IntFormat
from lowbit.models.int_gemm import int_gemm
from lowbit.models.qgemm import qgemm
from lowbit.models.quantize import quantize


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="M = N = K (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; best is kept")
    args = parser.parse_args()
    n = args.size
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((n, n)), rng.standard_normal((n, n))

    i8, i4 = IntFormat(8), IntFormat(4)
    a8, w4 = i8.random(rng, (n, n)), i4.random(rng, (n, n))
    acc = Accumulator(32, True, "wrap")
    qa, qw = quantize(x, "int8:channel", 1), quantize(y, "int4:channel", 0)
    ma, mw = quantize(x, "mxfp4", 1), quantize(y, "mxfp8_e4m3", 0)

    reference = best_of(args.repeat, lambda: np.matmul(x, y))
    cases = [
        ("INT8×INT4 int_gemm (raw accumulators)", 2.0, lambda: int_gemm(a8, w4, i8, i4, acc)),
        ("INT8×INT4 qgemm (accumulators + FP32 scales)", 2.0, lambda: qgemm(qa, qw, acc=acc)),
        ("MXFP4×MXFP8 E4M3 qgemm (FP32 result)", 5.0,
         lambda: qgemm(ma, mw, keep_acc=False)),
    ]
    table = Table(title=f"golden GEMM {n}×{n}×{n}, best of {args.repeat}; reference "
                        f"numpy.matmul float64: {reference * 1e3:.1f} ms")
    for col in ("model", "ms", "× matmul", "goal", "met"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, goal, fn in cases:
        t = best_of(args.repeat, fn)
        ratio = t / reference
        table.add_row(name, f"{t * 1e3:.1f}", f"{ratio:.2f}", f"≤ {goal:g}",
                      "yes" if ratio <= goal else "no")
    Console().print(table)


if __name__ == "__main__":
    main()
