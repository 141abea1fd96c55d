"""Golden model, tiling plan and performance model of the ``systolic`` core kind.

The golden result of any M×N×K GEMM is :func:`lowbit.models.int_gemm.int_gemm`: every output
element accumulates k = 0..K-1 in order with the overflow rule applied at every step, which is
the order in which both dataflows add (see :mod:`lowbit.hw.systolic`). Minifloat operands
accumulate exactly (the config demands a Kulisch-wide register): the result is
:func:`lowbit.models.qgemm.qgemm`'s exact block sum.

:class:`SystolicTiler` says how an M×N×K GEMM is cut into what the core runs (ws: passes of
≤ ``depth`` rows × C columns; os: R×C tiles), grouped into *runs*: back-to-back streams with one
setting of the run-time registers. The testbench, the host driver and the board self-test feed
exactly these beats and the performance model counts their cycles, so none can drift apart.
"""

from __future__ import annotations

import numpy as np

from lowbit.models.accumulator import Accumulator, product_bits
from lowbit.models.blockram import fabric_bits
from lowbit.models.int_gemm import int_gemm
from lowbit.models.kulisch import kulisch_bits
from lowbit.models.olive import OvpFormat, TermFormat
from lowbit.models.perf import GemmShape
from lowbit.models.qgemm import qgemm
from lowbit.models.qtensor import QTensor
from lowbit.models.tiling import Operands, Run, TiledPerf, Tiler, block_index, ceil_div


def systolic_golden(config, a: np.ndarray, w: np.ndarray, *, scales: np.ndarray | None = None,
                    group: int | None = None) -> np.ndarray:
    """``A (M×K) @ W (K×N)`` exactly as the core's accumulators hold it: for minifloat
    operands qgemm's exact block sum in units of ``2**(lsb_a + lsb_w)``, inf/NaN as 0; OliVe
    operands (:mod:`lowbit.models.olive`) as their decoded integer values.

    With per-group scales (``scale = pow2``; MixPE's dequantization after the group's integer
    dot product), ``scales`` holds exponent codes (⌈K/group⌉ × N): each group of ``group``
    products along K sums exactly, is shifted left by its exponent and enters the accumulator
    under its overflow rule, group after group (the last group may be shorter).

    Parameters
    ----------
    config
        The array's :class:`~lowbit.kinds.systolic.SystolicConfig`.
    a, w
        Operand values, M×K and K×N.
    scales, group
        Per-group exponent codes and the group size, for a ``pow2``-scaled config.

    Returns
    -------
    numpy.ndarray
        M×N int64.
    """
    if config.integer and config.scale != "none":
        return group_scaled(config, a, w, scales, group)
    if config.integer:
        return int_gemm(a, w, *config.value_formats, config.accumulator)
    acc = qgemm(QTensor.of_values(a, config.a, 1), QTensor.of_values(w, config.w, 0)).acc
    return acc[0].astype(np.int64) if acc.shape[0] else np.zeros((a.shape[0], w.shape[1]), np.int64)


def group_scaled(config, a: np.ndarray, w: np.ndarray, scales: np.ndarray, group: int
                 ) -> np.ndarray:
    """``ovf(... ovf(ovf(0 + S_0 << e_0) + S_1 << e_1) ...)`` per output, S_j the exact sum of
    group j's products and e_j its exponent (the core's group-scaled accumulation)."""
    k, n = w.shape
    groups = ceil_div(k, group)
    scales = np.asarray(scales)
    if scales.shape != (groups, n):
        raise ValueError(f"scales of shape {scales.shape}; K={k} in groups of {group} needs "
                         f"({groups}, {n})")
    shifts = config.scale_fmt.decode(scales)
    exact = Accumulator(64, True, "wrap")     # a group sum never reaches 2**63
    terms = np.stack([int_gemm(a[:, j * group:(j + 1) * group], w[j * group:(j + 1) * group],
                               config.a, config.w, exact) << shifts[j][None, :]
                      for j in range(groups)], axis=-1)
    m = a.shape[0]
    return config.accumulator.accumulate(terms.reshape(m * n, groups)).reshape(m, n)


class SystolicTiler(Tiler):
    """The beat order of :mod:`lowbit.hw.systolic`.

    ws: a *pass* of M' ≤ ``depth`` rows × C columns takes its K weight rows (C lanes each) and
    its activation rows K-tile by K-tile, row by row (R lanes, K padded to whole tiles); it
    gives M' result rows. Passes of equal M' run back to back: the full passes first, then
    the remainder. os: an R×C tile takes K beats of a column of X (R lanes) with a row of V
    (C lanes) and gives R result rows. Rows of blocks outer, column blocks inner.
    """

    def __init__(self, config, g: int = 1, capacity: int | None = None):
        super().__init__(config, capacity)
        if config.scale != "none" and not 1 <= g <= config.g_max:
            raise ValueError(f"g={g}: the run-time group size is 1..{config.g_max} elements")
        self.g = g

    @property
    def scaled(self) -> bool:
        return self.config.scale != "none"

    def params(self) -> dict[str, int]:
        return {"g": self.g} if self.scaled else {}

    def pad_extra(self, padded: GemmShape) -> dict[str, tuple[int, ...]]:
        return {"s": (ceil_div(padded.k, self.g), padded.n)} if self.scaled else {}

    def tile(self) -> tuple[int, int, int]:
        c = self.config
        return (c.rows, c.cols, 1) if c.dataflow == "os" else (1, c.cols, c.rows)

    def _height(self, k: int) -> int:
        """Rows of a ws pass: the buffer depth, or what fits the capacity."""
        c = self.config
        if self.capacity is None:
            return c.depth
        return max(1, min(c.depth, self.capacity // ceil_div(k, c.rows)))

    def runs(self, shape: GemmShape) -> list[Run]:
        c = self.config
        cols = range(0, shape.n, c.cols)
        if c.dataflow == "os":
            blocks = [(m0, n0) for m0 in range(0, shape.m, c.rows) for n0 in cols]
            return [Run({"k": shape.k, **self.params()}, tuple(part), c.rows, shape.k)
                    for part in self.chunks(blocks, max(shape.k, c.rows))]
        height = self._height(shape.k)
        full, rest = divmod(shape.m, height)
        groups = [(height, [(i * height, n0) for i in range(full) for n0 in cols])] if full else []
        if rest:
            groups.append((rest, [(full * height, n0) for n0 in cols]))
        tiles = ceil_div(shape.k, c.rows)
        return [Run({"k": shape.k, "m": rows}, tuple(part), rows, shape.k)
                for rows, blocks in groups
                for part in self.chunks(blocks, max(rows * tiles, shape.k))]

    def beats(self, run: Run, operands: Operands) -> dict[str, np.ndarray]:
        c = self.config
        a, w = operands["a"], operands["w"]
        R, C, K = c.rows, c.cols, run.k
        if c.dataflow == "os":
            a_beats = [a[m0:m0 + R, :K].T for m0, _ in run.blocks]
        else:   # K-tile by K-tile, row by row
            a_beats = [a[m0:m0 + run.rows].reshape(run.rows, -1, R).transpose(1, 0, 2)
                       .reshape(-1, R) for m0, _ in run.blocks]
        out = {"a": np.concatenate(a_beats),
               "w": np.concatenate([w[:K, n0:n0 + C] for _, n0 in run.blocks])}
        if self.scaled:     # one beat per group of each tile, with the group's first w beat
            groups = ceil_div(K, self.g)
            out["s"] = np.concatenate([operands["s"][:groups, n0:n0 + C] for _, n0 in run.blocks])
        return out

    def result_index(self, run: Run) -> tuple[np.ndarray, np.ndarray]:
        return block_index(run.blocks, run.rows, self.config.cols)

    def random(self, gen: np.random.Generator, shape: GemmShape) -> dict[str, np.ndarray]:
        c = self.config
        out = {side: fmt.random(gen, dims) if isinstance(fmt, OvpFormat) else
               fmt.encode(fmt.random(gen, dims))
               for side, fmt, dims in (("a", c.a, (shape.m, shape.k)),
                                       ("w", c.w, (shape.k, shape.n)))}
        if self.scaled:
            out["s"] = c.scale_fmt.encode(c.scale_fmt.random(
                gen, (ceil_div(shape.k, self.g), shape.n)))
        return out

    def golden(self, operands: Operands) -> np.ndarray:
        c = self.config
        return c.accumulator.encode(systolic_golden(
            c, c.a.decode(operands["a"]), c.w.decode(operands["w"]), scales=operands.get("s"),
            group=self.g))


class SystolicPerf(TiledPerf):
    """Cycles, peak rate and storage of an R×C array (formulas in docs/kinds/systolic.md).

    Cycles count from the first input handshake to the last result handshake with inputs always
    offered and results always taken; a GEMM's runs are summed (the core drains between runs).
    """

    def __init__(self, config, g: int = 1):
        self.config = config
        self.tiler = SystolicTiler(config, g)

    def run_cycles(self, run: Run) -> int:
        c = self.config
        R, CP, K, L = c.rows, c.wide_cols, run.k, c.product_latency
        out = int(c.fanout > 0)          # the result FIFO's cycle
        out += c.scale != "none"         # a group's dequantization, one cycle after its sum
        blocks = len(run.blocks)
        if c.dataflow == "os":
            # a tile every max(K, R) cycles (K beats; a column bus carries R rows), then the
            # last tile's last beat crosses the array and the result pipeline.
            return (blocks - 1) * max(K, R) + K + R + CP + 2 + L + out
        M, T = run.rows, ceil_div(K, R)
        first_load = min(R, K)           # weight rows before the first activation beat
        latency = R + CP + L             # activation beat → its partial-sum row written back
        within = max(M, latency)         # next K-tile of a pass: M rows, and row 0 written back
        between = max(M, first_load)     # first K-tile of the next pass: M rows, weights loaded
        return (first_load + blocks * (T - 1) * within + (blocks - 1) * between
                + M + latency + 1 + out)

    @property
    def peak_macs_per_cycle(self) -> float:
        return float(self.config.rows * self.config.cols)

    @property
    def storage_bits(self) -> int:
        """Flip-flop bits plus (ws) the partial-sum buffer, counted from the structure.

        Registers a neighbour never reads (the east edge, and the south edge of os) are left
        out, as synthesis removes them; the ws buffer's read register is counted (the block
        RAM's read latch), and so is, with a product latency, its output register (the first
        stage of the product latency; on ECP5 inside the DP16KD, with the read-during-write
        bypass beside it in the fabric: :func:`~lowbit.models.blockram.fabric_bits`). A
        multiplier's own registers count as one
        product-wide register per stage (a fabric stage holds a partial sum; DSP registers sit
        in the block); with ``fanout`` the result FIFO counts whole.
        """
        c = self.config
        R, C, P, CP = c.rows, c.cols, c.pack, c.wide_cols
        a, w = (f.m.bits + f.shift_bits if isinstance(f, TermFormat) else f.bits
                for f in c.pe_formats)      # an OliVe operand travels decoded
        acc, L = c.acc, c.product_latency
        tri_r, tri_c = R * (R - 1) // 2, CP * (CP - 1) // 2
        product = product_bits(*c.value_formats) if c.integer else kulisch_bits(c.a, c.w, 1)
        result = C * acc + 1 if c.fanout == 0 else (2 * (c.fanout + 2)) * C * acc + c.fanout
        if c.dataflow == "os":
            # with group scales each register west carries glast, each south the exponent
            e, flag = (c.scale_fmt.bits, 1) if c.scale != "none" else (0, 0)
            pes = (R * CP * (P * acc + 1 + L * (P * product + 2))    # sums, done, stages, flags
                   + R * (CP - 1) * (a + 2 + flag) + (R - 1) * CP * P * (w + e))  # east, south
            if c.scale != "none":   # group sum, pending sum and exponent, two flags
                pes += R * CP * (2 * c.group_bits + e + 2 + L * (e + 1))
            skews = (R + tri_r) * (a + 2 + flag) + (CP + tri_c) * P * (w + e + acc)
            # beats to go, cool-down, row done; first, last and cool < K as flags
            control = c.k_bits + (R - 1).bit_length() + 1 + 3
            control += (c.g_bits + CP * e) if c.scale != "none" else 0  # group beat, exponents
            return pes + skews + control + result
        row_bits = (R - 1).bit_length()
        latency = R + CP + L
        pes = R * CP * P * (acc + 2 * w + L * product) + R * (CP - 1) * (a + 1)
        skews = ((R + tri_r) * (a + 1) + (CP + tri_c) * (1 + row_bits + P * w)  # acts, weights
                 + (L * CP + tri_c) * P * acc + tri_c * P * acc)               # sums in, out
        # full, PE row, and the rows to go with their two flags (with R = 1 every weight row
        # ends a tile, so the pass's last row is never asked)
        loader = 1 + row_bits + (c.k_bits + 2) * (R > 1)
        # K left, row and write row; first tile, in-flight flags, tile start, row last, last
        # tile, live lanes; in flight, tokens
        control = (loader + c.k_bits + 2 * (c.depth - 1).bit_length() + 3 + 3 + R
                   + (latency + 1).bit_length() + 3 * latency + min(L, 1))
        # rows + read register; with a product latency on ECP5 the DP16KD's read bypass
        bypass = fabric_bits(c.family, C * acc, c.depth) if L else 0
        buffer = c.depth * C * acc + C * acc + bypass
        return pes + skews + control + buffer + result
