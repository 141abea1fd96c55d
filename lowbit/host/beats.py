"""Beat layouts: how a GEMM's operand codes become the stream beats a core kind expects, cut
into jobs that fit the engine's buffers. Pure numpy; the engine itself is kind-agnostic.

A :class:`Job` is one engine run: run-time parameters, the payloads of every input stream (in
stream order, one buffer word per beat), how many result beats come back and where each
result beat's lanes go in the output. K must fit one job (:meth:`BeatLayout.max_k`); the
driver splits longer reductions.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lowbit.models.systolic import a_beats as beat_order, ceil_div
from lowbit.registry import get_kind


@dataclass(frozen=True)
class Job:
    """One engine run. ``rows[i]``/``cols[i]`` give the output indices of lane j of result beat
    i as ``rows[i, j]``, ``cols[i, j]`` (-1 where a lane is padding)."""

    params: dict[str, int]
    inputs: dict[str, list[int]]
    results: int
    rows: np.ndarray
    cols: np.ndarray


class BeatLayout:
    """The beat order of one core kind, for buffers of ``depth`` words."""

    def __init__(self, config, depth: int):
        self.config, self.depth = config, depth

    def max_k(self) -> int:
        """The longest K one job can hold."""
        raise NotImplementedError

    def jobs(self, a: np.ndarray, w: np.ndarray) -> Iterator[Job]:
        """Jobs for codes ``a`` (M×K) and ``w`` (K×N), K ≤ :meth:`max_k`."""
        raise NotImplementedError


class MacBeats(BeatLayout):
    """``mac``: each output element is K consecutive ``{a, w}`` beats and one result beat."""

    def max_k(self) -> int:
        return min(self.depth, self.config.k_max)

    def jobs(self, a, w):
        from lowbit.hw.mac import operand_layout
        from lowbit.hw.payload import pack

        (M, K), N = a.shape, w.shape[1]
        layout = operand_layout(self.config)
        per_job = min(self.depth // K, self.depth)
        flat = np.arange(M * N)
        for start in range(0, M * N, per_job):
            idx = flat[start:start + per_job]
            i, j = idx // N, idx % N
            payloads = pack(layout, {"a": a[i].reshape(-1), "w": w[:, j].T.reshape(-1)})
            yield Job({"k": K, "clear": 0}, {"operands": payloads}, len(idx),
                      i[:, None], j[:, None])


class SystolicBeats(BeatLayout):
    """``systolic``: the beat orders of :mod:`lowbit.hw.systolic` (ws passes, os tiles)."""

    def max_k(self) -> int:
        c = self.config
        return min(self.depth, c.k_max)

    def jobs(self, a, w):
        from lowbit.hw.systolic import stream_layouts
        from lowbit.hw.payload import pack_lanes

        c = self.config
        R, C = c.rows, c.cols
        (M, K), N = a.shape, w.shape[1]
        T = ceil_div(K, R)
        a_pad = np.zeros((ceil_div(M, R) * R, T * R), dtype=np.uint64)
        a_pad[:M, :K] = a
        w_pad = np.zeros((K, ceil_div(N, C) * C), dtype=np.uint64)
        w_pad[:, :N] = w
        layouts = stream_layouts(c)
        lanes_c = np.arange(C)
        if c.dataflow == "os":
            height, beats_per_block = R, K
            groups = [(m0, R) for m0 in range(0, M, R)]
        else:
            height = max(1, min(c.depth, self.depth // T, self.depth))
            beats_per_block = max(T * height, K)
            groups = [(m0, min(height, M - m0)) for m0 in range(0, M, height)]
        col_blocks = list(range(0, N, C))
        for m0, rows in groups:
            a_rows = beat_order(c, a_pad[m0:m0 + rows] if c.dataflow == "ws" else a_pad[m0:m0 + R, :K])
            per_job = max(1, min(self.depth // max(beats_per_block, rows, 1), len(col_blocks)))
            for start in range(0, len(col_blocks), per_job):
                blocks = col_blocks[start:start + per_job]
                a_beats = np.concatenate([a_rows] * len(blocks))
                w_beats = np.concatenate([w_pad[:, n0:n0 + C] for n0 in blocks])
                out_rows = np.concatenate([np.repeat(np.arange(m0, m0 + rows)[:, None], C, 1)
                                           for _ in blocks])
                out_cols = np.concatenate([np.broadcast_to(n0 + lanes_c, (rows, C))
                                           for n0 in blocks])
                out_rows = np.where((out_rows < M) & (out_cols < N), out_rows, -1)
                params = {"k": K, **({"m": rows} if c.dataflow == "ws" else {})}
                yield Job(params, {"a": pack_lanes(layouts["a"], a_beats),
                                   "w": pack_lanes(layouts["w"], w_beats)},
                          rows * len(blocks), out_rows, out_cols)


LAYOUTS: dict[str, type[BeatLayout]] = {"mac": MacBeats, "systolic": SystolicBeats}


def beat_layout(config, depth: int) -> BeatLayout:
    """The beat layout of ``config``'s kind, or a UsageError naming the kinds that have one."""
    from lowbit.errors import ConfigError

    get_kind(config.KIND)
    if config.KIND not in LAYOUTS:
        raise ConfigError("kind", config.KIND, "the engine driver knows the beat order of "
                          f"{', '.join(LAYOUTS)}", context="engine")
    return LAYOUTS[config.KIND](config, depth)
