"""Golden model, table arithmetic and performance model of the ``lut`` core kind.

**What the core computes** (:func:`lut_golden`): ``C = A @ W`` with every result wrapped to the
accumulator, bit for bit :func:`lowbit.models.int_gemm.int_gemm`. Weights of ``n`` bits (chosen
at run time) come in one of three modes; ``q`` is the n-bit code on the wire:

* ``signed``: two's complement, ``w = Σ_{p<n-1} 2^p q_p − 2^{n-1} q_{n-1}`` (the MSB plane
  has negative weight);
* ``unsigned``: ``w = Σ_p 2^p q_p``;
* ``offset``: offset binary, ``w = q − 2^{n-1}`` (the code T-MAC stores).

**How it computes it** (:func:`lut_gemm`, the model of the table arithmetic the hardware
performs). K is cut into groups of ``g`` activations. For every group a table holds, for each
g-bit index ``b``, ``T[b] = Σ_i b_i·a_i``; weight bit-plane ``p`` of the group's g weights
indexes the table, giving ``L_p``, and

    dot = Σ_p σ_p 2^p Σ_groups L_p + c·Σa            (σ_p = −1 for the signed MSB plane)

where the correction ``c·Σa`` is 0 (signed, unsigned) or ``−2^{n-1}·Σa`` (offset).

*Symmetrized* tables read every bit as ``s = 2b − 1 ∈ {−1, +1}``: ``S[b] = Σ_i s_i·a_i`` is odd
(``S[~b] = −S[b]``), so only the 2^{g−1} entries with ``s_{g−1} = +1`` are stored and the other
half is the negation of the entry at the complemented low bits. Since ``b = (s + 1)/2``,

    2·dot = Σ_p σ_p 2^p Σ_groups S_p + c·Σa,   c = 2^n − 1 (unsigned), −1 (signed, offset)

and the core accumulates ``2·dot`` one bit wider and drops the (always zero) low bit. Every
correction is ``c = Σ_p κ_p·2^p`` with κ_p ∈ {−1, 0, +1} (:func:`correction`): κ·Σa joins the
plane's looked-up sum before it is shifted by p, so no multiplier is needed — ``−2^{n−1}``
is κ = −1 on the MSB plane, ``−1`` κ = −1 on plane 0, ``2^n − 1`` κ = +1 on every plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowbit.models.formats import IntFormat
from lowbit.models.int_gemm import int_gemm
from lowbit.models.perf import GemmShape
from lowbit.models.tiling import Operands, Run, TiledPerf, Tiler, block_index, ceil_div

WEIGHT_MODES: tuple[str, ...] = ("signed", "unsigned", "offset")


def check_mode(mode: str) -> str:
    if mode not in WEIGHT_MODES:
        raise ValueError(f"weight mode {mode!r} is not one of {', '.join(WEIGHT_MODES)}")
    return mode


@dataclass(frozen=True)
class WeightCode:
    """Run-time weight precision and mode: how n-bit codes stand for weight values."""

    bits: int
    mode: str = "signed"

    def __post_init__(self) -> None:
        check_mode(self.mode)

    @property
    def values(self) -> IntFormat:
        """The values the codes stand for, as an integer format (offset: the signed range)."""
        return IntFormat(self.bits, self.mode != "unsigned")

    @property
    def offset(self) -> int:
        return 1 << (self.bits - 1) if self.mode == "offset" else 0

    def encode(self, values: np.ndarray) -> np.ndarray:
        if self.mode == "offset":
            return (self.values.encode(values).astype(np.int64) ^ self.offset).astype(np.uint64)
        return self.values.encode(values)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        if self.mode == "offset":
            return (np.asarray(codes).astype(np.int64) & ((1 << self.bits) - 1)) - self.offset
        return self.values.decode(codes)

    def random(self, gen: np.random.Generator, shape) -> np.ndarray:
        return self.values.random(gen, shape)

    def plane_sign(self, p: int) -> int:
        """σ_p: −1 for the MSB plane of a two's-complement weight, else +1."""
        return -1 if self.mode == "signed" and p == self.bits - 1 else 1


#: which planes carry the correction: none, plane 0, the MSB plane or every plane
CORRECTION_PLANES = ("none", "first", "last", "all")


def correction(mode: str, symmetric: bool) -> tuple[int, str]:
    """(κ, planes): the correction adds κ·Σa to the looked-up sum of those planes."""
    check_mode(mode)
    if not symmetric:
        return (-1, "last") if mode == "offset" else (0, "none")
    return (1, "all") if mode == "unsigned" else (-1, "first")


def correction_weight(mode: str, symmetric: bool, p: int, bits: int) -> int:
    """κ_p: what plane ``p`` of ``bits`` adds of Σa (before the shift by p)."""
    kappa, planes = correction(mode, symmetric)
    hit = {"none": False, "first": p == 0, "last": p == bits - 1, "all": True}[planes]
    return kappa if hit else 0


def correction_factor(mode: str, symmetric: bool, bits: int) -> int:
    """c = Σ_p κ_p·2^p, the multiple of Σa that the correction adds."""
    return sum(correction_weight(mode, symmetric, p, bits) << p for p in range(bits))


def entry_range(a: IntFormat, g: int, symmetric: bool) -> tuple[int, int]:
    """Smallest and largest table entry (and looked-up value) for groups of ``g`` of ``a``."""
    if symmetric:
        top = g * max(-a.min, a.max)
        return -top, top
    return g * min(a.min, 0), g * max(a.max, 0)


def table(groups: np.ndarray, symmetric: bool) -> np.ndarray:
    """Tables of activation groups (..., g) → (..., entries): T[b] = Σ b_i a_i, or for a
    symmetrized table S[b'] = a_{g−1} + Σ_{i<g−1} (2 b'_i − 1) a_i over the g−1 low bits."""
    g = groups.shape[-1]
    bits = g - 1 if symmetric else g
    idx = np.arange(1 << bits)
    sel = ((idx[:, None] >> np.arange(bits)) & 1).astype(np.int64)  # entries × bits
    if symmetric:
        return groups[..., :bits] @ (2 * sel - 1).T + groups[..., bits:]
    return groups @ sel.T


def fill_order(g: int, symmetric: bool) -> list[tuple[int, int, int]]:
    """How a table is written one entry per cycle: for each cycle k, ``(address, i, sign)``
    — entry k goes to ``address = gray(k)`` (Gray code, ``k ^ (k >> 1)``), and the next entry
    is this one plus ``sign·a_i`` (``sign·2a_i`` symmetrized: one weight bit flips). The first
    entry is ``T[0] = 0``, or ``S[0] = a_{g−1} − Σ_{i<g−1} a_i``; the last cycle has no step
    (i = sign = 0)."""
    entries = 1 << (g - symmetric)
    out = []
    for k in range(entries):
        here, there = k ^ (k >> 1), (k + 1) ^ ((k + 1) >> 1)
        if k == entries - 1:
            out.append((here, 0, 0))
            continue
        flipped = here ^ there
        out.append((here, flipped.bit_length() - 1, 1 if there & flipped else -1))
    return out


def lookup(tables: np.ndarray, index: np.ndarray, g: int, symmetric: bool) -> np.ndarray:
    """Entries of ``tables`` (..., entries) at the g-bit ``index`` (..., lookups), along the
    last axis; a symmetrized table gives −S[~b] when the top index bit is 0."""
    index = np.asarray(index, dtype=np.int64)
    if not symmetric:
        return np.take_along_axis(tables, index, axis=-1)
    low = (1 << (g - 1)) - 1
    top = (index >> (g - 1)) & 1
    direct = np.take_along_axis(tables, index & low, axis=-1)
    mirrored = np.take_along_axis(tables, ~index & low, axis=-1)
    return np.where(top == 1, direct, -mirrored)


def lut_gemm(a: np.ndarray, w_codes: np.ndarray, g: int, symmetric: bool, code: WeightCode,
             acc) -> np.ndarray:
    """``A (M×K) @ W`` computed as the core does: tables per group of ``g``, lookups per weight
    bit-plane of the codes ``w_codes`` (K×N), shift-accumulate, correction, wrap to ``acc``.

    Arithmetic is modulo 2**64 (numpy int64), which the final wrap to at most 63 bits makes
    exact; the symmetrized sum is halved by an arithmetic shift of the doubled value.
    """
    a = np.asarray(a, dtype=np.int64)
    w_codes = np.asarray(w_codes, dtype=np.uint64)
    (m, k), n = a.shape, w_codes.shape[1]
    groups = -(-k // g)
    pad = groups * g - k
    a = np.pad(a, ((0, 0), (0, pad)))
    w_codes = np.pad(w_codes, ((0, pad), (0, 0)))
    tabs = table(a.reshape(m, groups, g), symmetric)                     # m × groups × entries
    weights = (1 << np.arange(g, dtype=np.uint64))
    total = np.zeros((m, n), dtype=np.int64)
    for p in range(code.bits):
        plane = (w_codes >> np.uint64(p)) & np.uint64(1)                 # k × n
        index = (plane.reshape(groups, g, n) * weights[:, None]).sum(axis=1).astype(np.int64)
        looked = lookup(tabs, index[None], g, symmetric)                   # m × groups × n
        kappa = correction_weight(code.mode, symmetric, p, code.bits)
        total += (code.plane_sign(p) * looked.sum(axis=1) + kappa * a.sum(axis=1)[:, None]) << p
    if symmetric:
        assert not np.any(total & 1), "a symmetrized sum must be even"
        total >>= 1
    return acc.wrap(total)


def run_wbits(config, wbits: int | None) -> int:
    """The run-time weight precision: ``wbits`` (1..w_bits), by default the config's."""
    bits = config.w_bits if wbits is None else wbits
    if not 1 <= bits <= config.w_bits:
        raise ValueError(f"wbits={bits}: the run-time weight precision is 1..{config.w_bits}")
    return bits


def lut_golden(config, a: np.ndarray, w: np.ndarray, wbits: int | None = None,
               mode: str = "signed") -> np.ndarray:
    """``A (M×K) @ W (K×N)`` of weight values ``w`` at run-time precision ``wbits`` (default
    the config's ``w_bits``) in ``mode``, as the core's result lanes hold it.

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.lut.LutConfig`.
    a, w
        Activation values M×K, weight values K×N.
    wbits, mode
        The run-time weight precision and mode (``signed``, ``unsigned``, ``offset``).

    Returns
    -------
    numpy.ndarray
        M×N int64, wrapped to the accumulator.
    """
    code = WeightCode(run_wbits(config, wbits), mode)
    return int_gemm(a, w, config.a, code.values, config.accumulator)


class LutTiler(Tiler):
    """The beat order of :mod:`lowbit.hw.lut_core` at weight precision ``wbits`` in ``mode``.

    A *tile* is one row of A against ``nb`` column blocks of ``cols`` columns (run parameter
    ``nb``, 1..``blocks``): ``C[m, n0 : n0 + nb·cols]``. Its ⌈K/G⌉ groups each come as one ``a``
    beat of G activations and, per block in turn, the group's ``wbits`` weight bit-planes from
    the most significant down (lane c of plane p: bit p of weight ``k0+i`` of column
    ``n0 + b·cols + c`` at bit i); after the last group, one result beat per block. The column
    blocks of N go in tiles of ``blocks`` (one run), the rest in one shorter tile per row (a
    second run with a smaller ``nb``); rows outer, tiles inner. Weights are codes of
    ``WeightCode(wbits, mode)``. ``Run.blocks`` lists every block's ``(m, n0)`` in result
    order, ``nb`` consecutive ones per tile.
    """

    masks_padding = True

    def __init__(self, config, wbits: int | None = None, mode: str = "signed",
                 capacity: int | None = None):
        super().__init__(config, capacity)
        self.code = WeightCode(run_wbits(config, wbits), mode)

    def tile(self) -> tuple[int, int, int]:
        return 1, self.config.cols, self.config.group

    def runs(self, shape: GemmShape) -> list[Run]:
        c = self.config
        count = ceil_div(shape.n, c.cols)
        whole, rest = divmod(count, c.blocks)
        spans = [(s * c.blocks, c.blocks) for s in range(whole)]
        if rest:
            spans.append((whole * c.blocks, rest))
        out = []
        for nb in sorted({nb for _, nb in spans}, reverse=True):
            tiles = [tuple((m, (first + b) * c.cols) for b in range(nb))
                     for m in range(shape.m) for first, size in spans if size == nb]
            params = {"k": shape.k, "wbits": self.code.bits,
                      "wmode": WEIGHT_MODES.index(self.code.mode), "nb": nb}
            per_tile = ceil_div(shape.k, c.group) * self.code.bits * nb
            out += [Run(params, tuple(b for t in part for b in t), 1, shape.k)
                    for part in self.chunks(tiles, per_tile)]
        return out

    def beats(self, run: Run, operands: Operands) -> dict[str, np.ndarray]:
        G, C, n, nb = self.config.group, self.config.cols, self.code.bits, run.params["nb"]
        a, w = operands["a"], operands["w"].astype(np.uint64)
        q = a.shape[1] // G
        shifts = np.arange(G, dtype=np.uint64)[:, None]
        planes_down = np.arange(n - 1, -1, -1, dtype=np.uint64)[:, None, None]
        a_beats, w_beats = [], []
        for t in range(0, len(run.blocks), nb):
            m, n0 = run.blocks[t]
            a_beats.append(a[m].reshape(q, G))
            tile = w[:, n0:n0 + nb * C].reshape(q, G, nb, C).transpose(0, 2, 1, 3)
            planes = (tile[:, :, None] >> planes_down) & np.uint64(1)   # q × nb × n × G × C
            # group, block, plane (MSB first): one beat of C lanes of G bits each
            w_beats.append((planes << shifts).sum(axis=3, dtype=np.uint64).reshape(-1, C))
        return {"a": np.concatenate(a_beats), "w": np.concatenate(w_beats)}

    def result_index(self, run: Run) -> tuple[np.ndarray, np.ndarray]:
        return block_index(run.blocks, 1, self.config.cols)

    def random(self, gen: np.random.Generator, shape: GemmShape) -> dict[str, np.ndarray]:
        c = self.config
        return {"a": c.a.encode(c.a.random(gen, (shape.m, shape.k))),
                "w": self.code.encode(self.code.random(gen, (shape.k, shape.n)))}

    def golden(self, operands: Operands) -> np.ndarray:
        c, code = self.config, self.code
        return c.accumulator.encode(lut_golden(c, c.a.decode(operands["a"]),
                                               code.decode(operands["w"]), code.bits, code.mode))


#: cycles from a table's last entry written to its first lookup (the write lands at the edge)
FILL_TO_LOOKUP = 1


def tree_stages(config) -> int:
    """Pipeline registers of a column's sum of its ``tables`` lookups and the correction term:
    one per two adder levels (at least one)."""
    levels = config.tables.bit_length()      # ⌈log2(tables + 1)⌉ levels of two-input adders
    return -(-levels // 2)


def drain_cycles(config) -> int:
    """Cycles from a block's last weight beat to its result handshake: the read register, the
    sum stages, the bit-plane (Horner) register and the accumulator/result register."""
    return 1 + tree_stages(config) + 2


class LutPerf(TiledPerf):
    """Cycles, peak rate and storage of a LUT core at run-time weight precision ``wbits``.

    With E = :attr:`~lowbit.kinds.lut.LutConfig.entries` (the cycles a table's fill takes) and
    L = nb·n weight beats per group (each block's n planes), a run of J groups (its tiles ×
    ⌈K/G⌉) takes

        **cycles = E + 1 + L + (J − 1)·max(E, L) + D**

    from its first activation handshake to its last result handshake: the first table's fill
    and the write-to-read cycle, then one group per max(E, L) cycles (the next table fills in
    the other buffer while this one is read; the fill is hidden when L ≥ E), then the drain
    D = :func:`drain_cycles` after the last weight beat.
    """

    def __init__(self, config, wbits: int | None = None, mode: str = "signed"):
        self.config = config
        self.tiler = LutTiler(config, wbits, mode)
        self.wbits = self.tiler.code.bits

    def run_cycles(self, run: Run) -> int:
        c = self.config
        nb = run.params["nb"]
        groups = len(run.blocks) // nb * ceil_div(run.k, c.group)
        per_group = nb * self.wbits
        return (c.entries + FILL_TO_LOOKUP + per_group
                + (groups - 1) * max(c.entries, per_group) + drain_cycles(c))

    @property
    def peak_macs_per_cycle(self) -> float:
        """``cols·G·blocks / max(E, blocks·n)``: ``cols·G/n`` while the fill is hidden
        (blocks·n ≥ E) — halving the weight bits doubles the rate — else the fill's rate."""
        c = self.config
        return c.cols * c.group * c.blocks / max(c.entries, c.blocks * self.wbits)

    @property
    def storage_bits(self) -> int:
        """RAM and register bits: every column's two table buffers and accumulator RAM, the
        fill unit (activations, running entries, the two groups' ±Σa), the read registers,
        sum stages and bit-plane register per column, the result register and control."""
        c = self.config
        lo, hi = entry_range(c.a, c.g, c.symmetric)
        sum_lo, sum_hi = entry_range(c.a, c.group, False)
        inner = c.acc + c.symmetric
        entry = _bits(lo, hi)
        tables = c.cols * c.tables * 2 * c.entries * entry
        fill = c.group * c.a.bits + c.tables * entry + 2 * (_bits(sum_lo, sum_hi) + 2)
        column = c.tables * entry + tree_stages(c) * inner + inner + c.blocks * inner + c.acc
        control = 8 + c.k_bits + 2 * (c.w_bits - 1).bit_length() + c.blocks.bit_length()
        return tables + fill + c.cols * column + control


def _bits(lo: int, hi: int) -> int:
    """Width of the smallest two's-complement (or unsigned, when lo ≥ 0) integer holding lo..hi."""
    if lo >= 0:
        return max(1, hi.bit_length())
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1
