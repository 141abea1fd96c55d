"""GEMM → beats: how a core kind cuts an M×N×K GEMM into runs of stream beats, declared once.

Every consumer of a kind's beat order uses its :class:`Tiler`: the cocotb testbenches feed its
beats and place the result beats where it says, the host driver does the same through the
engine's buffers, the board self-test streams one run's beats from block RAM and checks the
golden results the tiler gathers into result beats, and the performance model counts the
cycles of its runs. So the order is written down once per kind (in that kind's model module).

* A :class:`Run` is a stretch of beats streamed back to back with one setting of the run-time
  parameters (``params``: every parameter port of the core, e.g. ``k``, ``m``, ``wbits``).
  Its ``blocks`` are the output blocks it computes, as ``(m0, n0)`` corners.
* Operands go in as code matrices padded to whole tiles (:meth:`Tiler.padded`): ``a``
  (M'×K'), ``w`` (K'×N') and any extra operand a kind has (e.g. per-group scale codes).
* :meth:`Tiler.beats` gives each input stream's beats of a run as numpy arrays: (beats ×
  lanes) codes for an array payload, a dict of per-field arrays for a struct payload (the
  layouts of :mod:`lowbit.hw.payload`).
* :meth:`Tiler.result_index` says where lane ``j`` of result beat ``i`` goes in the padded
  M'×N' result: ``out[rows[i, j], cols[i, j]]``; :meth:`Tiler.gather` is the inverse.
* ``capacity`` bounds the beats of one stream (and the result beats) of a run, for the
  engine's buffers; without it a run is as long as the core allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lowbit.models.perf import GemmShape


def ceil_div(x: int, y: int) -> int:
    """⌈x / y⌉ for positive integers: how many tiles of y cover x."""
    return -(-x // y)


def round_up(x: int, y: int) -> int:
    """The smallest multiple of y that is at least x."""
    return ceil_div(x, y) * y


@dataclass(frozen=True)
class Run:
    """Blocks streamed back to back with one setting of the run-time parameters.

    ``rows`` is the number of output rows each block covers (a ws pass's M, an os tile's R, 1
    for one result row); ``k`` is the GEMM's K (elements, not beats).
    """

    params: Mapping[str, int]
    blocks: tuple[tuple[int, int], ...]
    rows: int
    k: int


#: operands of a GEMM as code matrices: "a" (M×K), "w" (K×N) and any extra (e.g. "s")
Operands = Mapping[str, np.ndarray]
#: a stream's beats: (beats × lanes) codes, or per-field code arrays of a struct payload
Beats = np.ndarray | Mapping[str, np.ndarray]
#: results: an M'×N' matrix of lane codes, or one per field of a struct payload
Results = np.ndarray | Mapping[str, np.ndarray]


class Tiler:
    """The beat layout of one kind at one run-time setting.

    Subclasses set :attr:`tile` (the block the padding rounds up to: rows of M, columns of N
    and lanes of K) and implement :meth:`runs`, :meth:`beats` and :meth:`result_index`.
    ``masks_padding`` says the core ignores operand lanes past K and result lanes past N, so
    a testbench may fill the padding with junk to prove it.
    """

    masks_padding: ClassVar[bool] = False

    def __init__(self, config, capacity: int | None = None):
        self.config, self.capacity = config, capacity

    # --- what every kind declares -------------------------------------------------------------

    def tile(self) -> tuple[int, int, int]:
        """(rows of M, columns of N, elements of K) that a block rounds up to."""
        raise NotImplementedError

    def runs(self, shape: GemmShape) -> list[Run]:
        """The runs of an M×N×K GEMM, in stream order."""
        raise NotImplementedError

    def beats(self, run: Run, operands: Operands) -> dict[str, Beats]:
        """Each input stream's beats of ``run`` from padded operand codes."""
        raise NotImplementedError

    def result_index(self, run: Run) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols): where each lane of each result beat of ``run`` goes (beats × lanes)."""
        raise NotImplementedError

    def params(self) -> dict[str, int]:
        """The run-time parameters every run of this setting shares (besides ``k``, ``m``)."""
        return {}

    def random(self, gen: np.random.Generator, shape: GemmShape) -> dict[str, np.ndarray]:
        """Random operand codes of an M×N×K GEMM at this run-time setting."""
        raise NotImplementedError

    def golden(self, operands: Operands) -> Results:
        """The padded M'×N' result lane codes of padded operand codes, from the kind's golden
        model (the padding lanes hold what the core computes there, zero operands included)."""
        raise NotImplementedError

    # --- derived ----------------------------------------------------------------------------

    def padded_shape(self, shape: GemmShape) -> GemmShape:
        tm, tn, tk = self.tile()
        return GemmShape(round_up(shape.m, tm), round_up(shape.n, tn), round_up(shape.k, tk))

    def padded(self, operands: Operands, fill: Operands | None = None) -> dict[str, np.ndarray]:
        """Operand codes in padded matrices: ``a`` (M×K) to M'×K', ``w`` (K×N) to K'×N', and
        what :meth:`pad_extra` says for the others; zeros around them, or the codes of
        ``fill`` (full-size junk the core must ignore)."""
        (m, k), n = operands["a"].shape, operands["w"].shape[1]
        p = self.padded_shape(GemmShape(m, n, k))
        sizes = {"a": (p.m, p.k), "w": (p.k, p.n), **self.pad_extra(p)}
        out = {}
        for name, codes in operands.items():
            full = np.zeros(sizes[name], np.uint64) if fill is None else \
                np.array(fill[name], dtype=np.uint64)
            full[tuple(slice(0, d) for d in np.shape(codes))] = codes
            out[name] = full
        return out

    def pad_extra(self, padded: GemmShape) -> dict[str, tuple[int, ...]]:
        """Padded sizes of a kind's extra operands (none by default)."""
        return {}

    def max_k(self) -> int:
        """The longest K one run can hold: the run-time K register's, and the capacity's."""
        return self.k_limit() if self.capacity is None else min(self.k_limit(), self.capacity)

    def k_limit(self) -> int:
        """The longest K the core's run-time registers allow."""
        return self.config.k_max

    def result_shape(self, shape: GemmShape) -> tuple[int, int]:
        """(rows, columns) of a GEMM's result codes: M×N unless a kind gives more per output."""
        return shape.m, shape.n

    def result_beats(self, run: Run) -> int:
        return len(self.result_index(run)[0])

    def gather(self, run: Run, results: Results) -> Results:
        """The result beats' lanes (beats × lanes) of ``run`` taken from a padded M'×N' result
        (per field for a struct result)."""
        rows, cols = self.result_index(run)
        if isinstance(results, Mapping):
            return {name: np.asarray(v)[rows, cols].reshape(-1) for name, v in results.items()}
        return np.asarray(results)[rows, cols]

    def place(self, run: Run, lanes: Results, out: Results) -> None:
        """Put the result beats' lanes of ``run`` into the padded M'×N' result ``out`` (per
        field for a struct result)."""
        rows, cols = self.result_index(run)
        if isinstance(lanes, Mapping):
            for name, v in lanes.items():
                out[name][rows, cols] = np.asarray(v).reshape(rows.shape)
            return
        out[rows, cols] = np.asarray(lanes).reshape(rows.shape)

    def chunks(self, items: list, per_item: int) -> list[list]:
        """``items`` cut into consecutive groups of at most ``capacity // per_item`` (one group
        without a capacity); at least one item per group."""
        if self.capacity is None:
            return [items] if items else []
        size = max(1, self.capacity // max(per_item, 1))
        return [items[i:i + size] for i in range(0, len(items), size)]


class TiledPerf:
    """A performance model that counts a GEMM run by run, over the same runs the tiler gives
    the testbench and the host (the core drains between runs). Subclasses set ``tiler`` and
    define :meth:`run_cycles` and ``peak_macs_per_cycle``."""

    tiler: Tiler
    peak_macs_per_cycle: float

    def run_cycles(self, run: Run) -> int:
        """Cycles from a run's first input handshake to its last result handshake."""
        raise NotImplementedError

    def gemm_cycles(self, shape: GemmShape) -> int:
        return sum(self.run_cycles(run) for run in self.tiler.runs(shape))

    def utilization(self, shape: GemmShape, cycles: int | None = None) -> float:
        """Useful MACs over the core's MAC slots during ``cycles`` (default: the model's)."""
        cycles = self.gemm_cycles(shape) if cycles is None else cycles
        return shape.macs / (cycles * self.peak_macs_per_cycle)


class DotPerf(TiledPerf):
    """A reduction unit: each run streams its dot products back to back, then drains its
    pipeline (``config.latency`` cycles)."""

    def run_cycles(self, run: Run) -> int:
        return len(run.blocks) * self.tiler.beats_per_result(run.k) + self.config.latency


def block_index(blocks, rows: int, lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of result beats that are ``rows`` rows of ``lanes`` columns per block
    ``(m0, n0)``, block after block: beat ``b·rows + i`` holds row ``m0 + i``, lane ``j``
    column ``n0 + j``."""
    corners = np.array(blocks, dtype=np.int64).reshape(-1, 2)
    r = corners[:, 0, None] + np.arange(rows)                       # blocks × rows
    c = corners[:, 1, None] + np.arange(lanes)                      # blocks × lanes
    return (np.repeat(r.reshape(-1, 1), lanes, axis=1),
            np.repeat(c, rows, axis=0))


class DotTiler(Tiler):
    """A reduction unit's beat order: result (i, j) is one result beat, after the
    ``K/per_beat`` beats of one ``operands`` stream that carry row i of A and column j of W
    (``per_beat`` elements of each per beat, in k order). Results go out row by row.

    Subclasses say how a run of rows/columns becomes the stream's fields (:meth:`fields`) and
    what the golden model gives for them (:meth:`dots`).
    """

    per_beat: ClassVar[int] = 1

    def tile(self) -> tuple[int, int, int]:
        return 1, 1, self.per_beat

    def beats_per_result(self, k: int) -> int:
        """Operand beats of one K-element dot product (K padded to whole tiles)."""
        tk = self.tile()[2]
        return ceil_div(k, tk) * (tk // self.per_beat)

    def k_limit(self) -> int:
        """K elements whose beats the run-time K register holds."""
        return self.config.k_max * self.per_beat

    def run_params(self, k: int) -> dict[str, int]:
        """Every parameter port of a run of K-element dot products."""
        return {"k": self.beats_per_result(k), "clear": 0, **self.params()}

    def runs(self, shape: GemmShape) -> list[Run]:
        blocks = [(i, j) for i in range(shape.m) for j in range(shape.n)]
        return [Run(self.run_params(shape.k), tuple(part), 1, shape.k)
                for part in self.chunks(blocks, self.beats_per_result(shape.k))]

    def pairs(self, run: Run, operands: Operands) -> tuple[np.ndarray, np.ndarray]:
        """Rows of A and columns of W (results × K') of the run's results."""
        i, j = np.array(run.blocks, dtype=np.int64).reshape(-1, 2).T
        return operands["a"][i], operands["w"][:, j].T

    def beats(self, run: Run, operands: Operands) -> dict[str, Beats]:
        return {"operands": self.fields(*self.pairs(run, operands))}

    def fields(self, a: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
        """The ``operands`` payload fields of results × K' element codes, beat by beat."""
        return {"a": a.reshape(-1), "w": w.reshape(-1)}

    def result_index(self, run: Run) -> tuple[np.ndarray, np.ndarray]:
        return block_index(run.blocks, 1, 1)

    def golden(self, operands: Operands) -> np.ndarray | dict[str, np.ndarray]:
        m, n = operands["a"].shape[0], operands["w"].shape[1]
        k = operands["a"].shape[1]
        run = Run(self.run_params(k), tuple((i, j) for i in range(m) for j in range(n)), 1, k)
        results = self.dots(run.params, *self.pairs(run, operands))
        shape = (m, n)
        if isinstance(results, dict):
            return {name: np.asarray(v).reshape(shape) for name, v in results.items()}
        return np.asarray(results).reshape(shape)

    def random(self, gen: np.random.Generator, shape: GemmShape) -> dict[str, np.ndarray]:
        return {"a": self.codes(gen, "a", (shape.m, shape.k)),
                "w": self.codes(gen, "w", (shape.k, shape.n))}

    def codes(self, gen: np.random.Generator, side: str, shape: tuple[int, int]) -> np.ndarray:
        """Random codes of operand ``side`` (every code of its format equally likely)."""
        raise NotImplementedError

    def dots(self, params: Mapping[str, int], a: np.ndarray, w: np.ndarray
             ) -> np.ndarray | dict[str, np.ndarray]:
        """Result codes (or result fields) of the dot products of rows ``a``, ``w``."""
        raise NotImplementedError
