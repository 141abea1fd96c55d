"""Golden model, tiling plan and performance model of the ``systolic`` core kind.

The golden result of any M×N×K GEMM is :func:`lowbit.models.int_gemm.int_gemm`: every output
element accumulates k = 0..K-1 in order with the overflow rule applied at every step, which is
the order in which both dataflows add (see :mod:`lowbit.hw.systolic`). Minifloat operands
accumulate exactly (the config demands a Kulisch-wide register): the result is
:func:`lowbit.models.qgemm.qgemm`'s exact block sum.

:func:`plan` says how an M×N×K GEMM is cut into what the core runs (ws: passes of ≤ ``depth``
rows × C columns; os: R×C tiles), grouped into *runs*: back-to-back streams with one setting of
the run-time registers. The testbench feeds exactly this plan and the performance model counts
its cycles, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowbit.models.accumulator import product_bits
from lowbit.models.kulisch import kulisch_bits
from lowbit.models.int_gemm import int_gemm
from lowbit.models.qgemm import qgemm
from lowbit.models.qtensor import QTensor
from lowbit.models.perf import GemmShape


def systolic_golden(config, a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``A (M×K) @ W (K×N)`` exactly as the core's accumulators hold it: for minifloat
    operands qgemm's exact block sum in units of ``2**(lsb_a + lsb_w)``, inf/NaN as 0."""
    if config.integer:
        return int_gemm(a, w, config.a, config.w, config.accumulator)
    acc = qgemm(QTensor.of_values(a, config.a, 1), QTensor.of_values(w, config.w, 0)).acc
    return acc[0].astype(np.int64) if acc.shape[0] else np.zeros((a.shape[0], w.shape[1]), np.int64)


def ceil_div(x: int, y: int) -> int:
    """⌈x / y⌉ for positive integers: how many tiles of y cover x."""
    return -(-x // y)


def a_beats(config, x: np.ndarray) -> np.ndarray:
    """The ``a`` beats (R lanes each) of one block of activation codes, in the core's order.

    ws: ``x`` is a pass's rows × (⌈K/R⌉·R) codes, zero-padded; beats go K-tile by K-tile, row
    by row. os: ``x`` is a tile's R × K codes; beat k is column k.
    """
    if config.dataflow == "os":
        return x.T
    R = config.rows
    return x.reshape(len(x), -1, R).transpose(1, 0, 2).reshape(-1, R)


@dataclass(frozen=True)
class Run:
    """Blocks streamed back to back with one setting of ``k`` (and ``m`` for ws).

    ``blocks`` are ``(m0, n0)`` corners: a ws pass covers rows m0..m0+rows-1 and columns
    n0..n0+C-1; an os tile covers rows m0..m0+R-1 and columns n0..n0+C-1.
    """

    k: int
    rows: int
    blocks: tuple[tuple[int, int], ...]


def plan(config, shape: GemmShape) -> list[Run]:
    """The runs an M×N×K GEMM takes on ``config`` (row blocks outer, column blocks inner)."""
    C = config.cols
    col_blocks = range(0, shape.n, C)
    if config.dataflow == "os":
        R = config.rows
        return [Run(shape.k, R, tuple((m0, n0) for m0 in range(0, shape.m, R) for n0 in col_blocks))]
    depth = config.depth
    runs = []
    full = shape.m // depth
    if full:
        runs.append(Run(shape.k, depth, tuple((i * depth, n0) for i in range(full) for n0 in col_blocks)))
    if shape.m % depth:
        runs.append(Run(shape.k, shape.m % depth, tuple((full * depth, n0) for n0 in col_blocks)))
    return runs


class SystolicPerf:
    """Cycles, peak rate and storage of an R×C array (formulas in the README).

    Cycles count from the first input handshake to the last result handshake with inputs always
    offered and results always taken; a GEMM's runs are summed (the core drains between runs).
    """

    def __init__(self, config):
        self.config = config

    def run_cycles(self, run: Run) -> int:
        c = self.config
        R, C, K, mr = c.rows, c.cols, run.k, int(c.mul_reg)
        blocks = len(run.blocks)
        if c.dataflow == "os":
            # a tile every max(K, R) cycles (K beats; a column bus carries R rows), then the
            # last tile's last beat crosses the array and the result pipeline.
            return (blocks - 1) * max(K, R) + K + R + C + 2 + mr
        M, T = run.rows, ceil_div(K, R)
        first_load = min(R, K)           # weight rows before the first activation beat
        latency = R + C + mr             # activation beat → its partial-sum row written back
        within = max(M, latency)         # next K-tile of a pass: M rows, and row 0 written back
        between = max(M, first_load)     # first K-tile of the next pass: M rows, weights loaded
        return (first_load + blocks * (T - 1) * within + (blocks - 1) * between
                + M + latency + 1)

    def gemm_cycles(self, shape: GemmShape) -> int:
        return sum(self.run_cycles(run) for run in plan(self.config, shape))

    def utilization(self, shape: GemmShape, cycles: int | None = None) -> float:
        """Useful MACs over the array's MAC slots during ``cycles`` (default: the model's)."""
        cycles = self.gemm_cycles(shape) if cycles is None else cycles
        return shape.macs / (cycles * self.peak_macs_per_cycle)

    @property
    def peak_macs_per_cycle(self) -> float:
        return float(self.config.rows * self.config.cols)

    @property
    def storage_bits(self) -> int:
        """Flip-flop bits plus (ws) the partial-sum buffer, counted from the structure.

        Registers a neighbour never reads (the east edge, and the south edge of os) are left
        out, as synthesis removes them; the ws buffer's read register is counted (it is the
        block RAM's output register on an FPGA).
        """
        c = self.config
        R, C, a, w, acc, mr = c.rows, c.cols, c.a.bits, c.w.bits, c.acc, int(c.mul_reg)
        tri_r, tri_c = R * (R - 1) // 2, C * (C - 1) // 2
        product = product_bits(c.a, c.w) if c.integer else kulisch_bits(c.a, c.w, 1)
        result = C * acc + 1
        if c.dataflow == "os":
            pes = (R * C * (acc + 1 + mr * (product + 2))       # sum, done, product and flags
                   + R * (C - 1) * (a + 2) + (R - 1) * C * w)   # east and south registers
            skews = (R + tri_r) * (a + 2) + (C + tri_c) * w + (C + tri_c) * acc
            control = c.k_bits + (R - 1).bit_length() + 1       # beat, cool-down, row done
            return pes + skews + control + result
        row_bits = (R - 1).bit_length()
        latency = R + C + mr
        pes = R * C * (acc + 2 * w + mr * product) + R * (C - 1) * (a + 1)
        skews = ((R + tri_r) * (a + 1) + (C + tri_c) * (1 + row_bits + w)   # activations, weights
                 + (mr * C + tri_c) * acc + tri_c * acc)                    # sums in and out
        loader = 1 + row_bits + c.k_bits * (R > 1)  # with R = 1 every weight row ends a tile
        control = (loader + c.k_bits + 2 * (c.depth - 1).bit_length()
                   + (latency + 1).bit_length() + 3 * latency)              # counters, tokens
        buffer = c.depth * C * acc + C * acc                                # rows + read register
        return pes + skews + control + buffer + result
