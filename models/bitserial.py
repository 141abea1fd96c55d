"""Golden model, datapath widths and cycle model of the ``bitserial`` core kind.

**Arithmetic, exactly.** With run-time precisions ``pa``/``pw`` for the serial operand(s), the
core reads only the low ``p`` bits of a serial operand's code and takes them as a ``p``-bit
integer of the operand's signedness (two's complement: the top bit weighs ``-2**(p-1)``); a
parallel operand is used at its full width. Call these values ``A'``, ``W'``.

* ``scale="none"``: ``C = int_gemm(A', W')`` with the config's wrapping accumulator.
* per-group scale: along K, groups of ``G = g·lanes`` products (g = run-time slices per group;
  the last group of a row may be shorter) add up exactly in integers, each group's sum is
  multiplied by its scale and the results add up in the wrapping accumulator::

      S[gi, n] = sum over k in group gi of A'[m, k]·W'[k, n]      (exact, no overflow)
      C[m, n]  = wrap_acc( sum over gi of S[gi, n] · s[gi, n] )

  where ``s = 2**e`` for a ``pow2`` scale code ``e`` (a shift) and ``s`` = the code's integer
  value for an ``int`` scale (a multiplier) and for a ``serial`` one (the same product, formed
  one scale bit per cycle). No rounding anywhere; a fractional common scale (a dyadic
  ``b/2**c``, :mod:`lowbit.models.requant`) is applied after the core.
* BitMoD weights (``w = bitmod3/bitmod4``, :mod:`lowbit.models.bitmod`): ``W'`` is each code's
  value under its group's data type (``types``, ⌈K/G⌉ × N type ids), always at full precision;
  the scaled sum above is taken over these integers.

Wrapping is modular, so the order in which bit planes, slices and groups are added does not
change a bit of the result; that is why ``saturate`` is not offered.

**Cycles.** A *slice* is one beat: ``lanes`` products for each of ``cols`` output columns. It
takes ``P`` cycles, P = pw (w-serial), pa (a-serial) or pa·pw (both-serial), and the next slice
starts right after, so an M×N×K GEMM of J = M·⌈N/cols⌉·⌈K/lanes⌉ slices takes
``J·P + latency`` cycles (:class:`BitserialPerf`). A ``serial`` scale takes D = scale bits
cycles per group: when a group ends fewer than D cycles after the previous one the datapath
waits, adding ``D - P·slices`` for every such group of a run but its first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowbit.models.accumulator import Accumulator
from lowbit.models.bitmod import BitmodFormat
from lowbit.models.formats import IntFormat
from lowbit.models.int_gemm import int_gemm
from lowbit.models.perf import GemmShape
from lowbit.models.tiling import Operands, Run, TiledPerf, Tiler, block_index, ceil_div

#: exact group sums and scaled sums are taken modulo 2**64 (the accumulator is at most 64 bits)
_MOD64 = Accumulator(64, True, "wrap")


def clog2(n: int) -> int:
    """⌈log2 n⌉ for n ≥ 1: bits that count n things (0 for one)."""
    return (n - 1).bit_length()


def precision_format(fmt: IntFormat, bits: int) -> IntFormat:
    """The format a serial operand has at run-time precision ``bits``."""
    if not 1 <= bits <= fmt.bits:
        raise ValueError(f"precision {bits} is outside 1..{fmt.bits} for {fmt}")
    return IntFormat(bits, fmt.signed)


def at_precision(values: np.ndarray, fmt: IntFormat, bits: int) -> np.ndarray:
    """What the core computes with: the low ``bits`` bits of each code, a ``bits``-bit integer."""
    low = fmt.encode(values) & np.uint64((1 << bits) - 1)
    return precision_format(fmt, bits).decode(low)


@dataclass(frozen=True)
class GroupScale:
    """Per-group scale codes of ``fmt``: ``pow2`` (value 2**code) or ``int`` (value = code)."""

    kind: str
    fmt: IntFormat

    def values(self, codes: np.ndarray) -> np.ndarray:
        """The integer multipliers (int64; modulo 2**64 where 2**63 would overflow)."""
        v = self.fmt.decode(codes)
        if self.kind == "pow2":
            return (np.uint64(1) << v.astype(np.uint64)).view(np.int64)
        return v

    def random(self, rng: np.random.Generator, shape) -> np.ndarray:
        return self.fmt.encode(self.fmt.random(rng, shape))


def group_scale(config) -> GroupScale | None:
    return None if config.scale == "none" else GroupScale(config.scale, config.scale_fmt)


def precisions(config, pa: int | None = None, pw: int | None = None) -> dict[str, int]:
    """Run-time precision of each serial operand (default: its full width; BitMoD weights
    always use every mantissa bit)."""
    given = {"a": pa, "w": pw}
    out = {}
    for op in config.serial_operands:
        top = config.max_bits(op)
        bits = top if given[op] is None else given[op]
        if isinstance(getattr(config, op), BitmodFormat) and bits != top:
            raise ValueError(f"p{op}={bits}: {getattr(config, op)} weights take all {top} "
                             "mantissa bits")
        if not 1 <= bits <= top:
            raise ValueError(f"p{op}={bits}: the run-time precision of {op} is 1..{top}")
        out[op] = bits
    return out


def group_values(fmt: BitmodFormat, codes: np.ndarray, types: np.ndarray, group: int
                 ) -> np.ndarray:
    """Values of K×N BitMoD weight ``codes`` under per-group type ids (⌈K/group⌉ × N)."""
    k = codes.shape[0]
    types = np.asarray(types)
    if types.shape != (-(-k // group), codes.shape[1]):
        raise ValueError(f"type ids of shape {types.shape}; K={k} in groups of {group} needs "
                         f"({-(-k // group)}, {codes.shape[1]})")
    return fmt.decode(codes, np.repeat(types, group, axis=0)[:k])


def bitserial_golden(config, a: np.ndarray, w: np.ndarray, *, pa: int | None = None,
                     pw: int | None = None, scales: np.ndarray | None = None,
                     group: int | None = None, types: np.ndarray | None = None) -> np.ndarray:
    """``A (M×K) @ W (K×N)`` as the core computes it at precisions ``pa``/``pw``.

    With a per-group scale, ``scales`` holds codes (⌈K/group⌉ × N) and ``group`` is G, the
    products per group (a multiple of ``lanes``). BitMoD weights come as codes ``w`` with the
    groups' type ids ``types`` (same shape as ``scales``).

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.bitserial.BitserialConfig`.
    a, w
        Operand values, M×K and K×N.
    pa, pw
        Run-time precisions of the serial operand(s) (default: the full width).
    scales, group
        Per-group scale codes and the group size, for a scaled config.
    types
        BitMoD's per-group data-type ids (same shape as ``scales``), for a BitMoD weight format.

    Returns
    -------
    numpy.ndarray
        M×N int64, wrapped to the accumulator.
    """
    p = precisions(config, pa, pw)
    fa = precision_format(config.a, p["a"]) if "a" in p else config.a
    a = at_precision(a, config.a, p["a"]) if "a" in p else np.asarray(a, dtype=np.int64)
    if config.bitmod:
        fw = config.w.value_format
        w = group_values(config.w, np.asarray(w), types, group)
    else:
        fw = precision_format(config.w, p["w"]) if "w" in p else config.w
        w = at_precision(w, config.w, p["w"]) if "w" in p else np.asarray(w, dtype=np.int64)
    scale = group_scale(config)
    if scale is None:
        return int_gemm(a, w, fa, fw, config.accumulator)
    k = a.shape[1]
    groups = ceil_div(k, group)
    scales = np.asarray(scales)
    if scales.shape != (groups, w.shape[1]):
        raise ValueError(f"scales of shape {scales.shape}; K={k} in groups of {group} needs "
                         f"({groups}, {w.shape[1]})")
    mult = scale.values(scales).view(np.uint64)
    total = np.zeros((a.shape[0], w.shape[1]), dtype=np.uint64)
    for gi in range(groups):
        ks = slice(gi * group, (gi + 1) * group)
        sums = int_gemm(a[:, ks], w[ks, :], fa, fw, _MOD64).view(np.uint64)
        total += sums * mult[gi][None, :]
    return config.accumulator.wrap(total)


def bit_serial_dot(x: np.ndarray, s: np.ndarray, s_fmt: IntFormat, order: str) -> np.ndarray:
    """Reference of the serial datapath in plain integers: ``sum_l x[..., l] · s[..., l]``
    computed bit plane by bit plane of ``s`` (codes of ``s_fmt``) as the hardware orders it.

    MSB-first: ``part = 2·part ± tree`` from the top bit down; LSB-first: ``part += ±tree << j``.
    The top bit of a two's-complement ``s`` is subtracted.
    """
    codes = s_fmt.encode(s).astype(np.int64)
    part = np.zeros(np.broadcast_shapes(x.shape, s.shape)[:-1], dtype=object)
    bits = range(s_fmt.bits - 1, -1, -1) if order == "msb" else range(s_fmt.bits)
    for j in bits:
        tree = (np.where((codes >> j) & 1 == 1, x, 0)).astype(object).sum(axis=-1)
        if s_fmt.signed and j == s_fmt.bits - 1:
            tree = -tree
        part = 2 * part + tree if order == "msb" else part + tree * (1 << j)
    return part


@dataclass(frozen=True)
class Widths:
    """Register widths of the datapath, from the config (one source for hw and the models).

    ``x`` is the operand that reaches the adder tree (the parallel one, or one bit of ``a`` in
    both-serial mode); each register is signed and holds every value it can take exactly.
    """

    x: int
    tree: int
    part: int
    dot: int
    group: int

    @classmethod
    def of(cls, config) -> Widths:
        x = {"w": config.a.bits, "a": config.w.bits, "both": 1}[config.serial]
        if config.bitmod:   # ±(a << e): the activation shifted and signed by the decoder
            x = config.a.bits + config.w.max_shift + 1
        tree = x + clog2(config.lanes) + 1
        inner = "a" if config.serial == "a" else "w"
        part = tree + config.max_bits(inner) + 1
        dot = part + config.a.bits + 1 if config.serial == "both" else part
        return cls(x, tree, part, dot, dot + config.g_bits)


def tree_levels(config) -> int:
    """Adder levels of a column's tree of ``lanes`` inputs (the first adds pairs of ANDs)."""
    return clog2(config.lanes)


def tree_registers(config) -> int:
    """Registers inside the tree, one after every two levels: the tree's own output register
    ends the last two."""
    return max(0, (tree_levels(config) - 1) // 2)


class BitserialTiler(Tiler):
    """The beat order of :mod:`lowbit.hw.bitserial` at precisions ``pa``/``pw`` and (with a
    per-group scale) ``g`` slices per group.

    A tile is one result beat ``C[m, n0:n0+cols]``: its ⌈K/lanes⌉ slices come as paired
    ``a`` (``lanes`` lanes of row m) and ``w`` beats (lane ``l·cols + c`` = W[k0+l, n0+c]), and,
    scaled, an ``s`` beat (``cols`` scale codes) with the first slice of every group. Rows
    outer, column blocks inner; the scale operand ``s`` holds ⌈K/(g·lanes)⌉ × N codes.
    """

    masks_padding = True

    def __init__(self, config, pa: int | None = None, pw: int | None = None, g: int = 1,
                 capacity: int | None = None):
        super().__init__(config, capacity)
        self.precisions = precisions(config, pa, pw)
        if config.scale != "none" and not 1 <= g <= config.g_max:
            raise ValueError(f"g={g}: the run-time group size is 1..{config.g_max} slices")
        self.g = g

    @property
    def scaled(self) -> bool:
        return self.config.scale != "none"

    def tile(self) -> tuple[int, int, int]:
        return 1, self.config.cols, self.config.lanes

    @property
    def group_operands(self) -> tuple[str, ...]:
        """The per-group operands: scale codes ``s``, and BitMoD type ids ``t``."""
        return ("s", "t") if self.config.bitmod else ("s",)

    def pad_extra(self, padded: GemmShape) -> dict[str, tuple[int, ...]]:
        size = (ceil_div(padded.k, self.g * self.config.lanes), padded.n)
        return dict.fromkeys(self.group_operands, size)

    def runs(self, shape: GemmShape) -> list[Run]:
        c = self.config
        blocks = [(m, n0) for m in range(shape.m) for n0 in range(0, shape.n, c.cols)]
        params = {"k": shape.k, **{f"p{op}": p for op, p in self.precisions.items()},
                  **({"g": self.g} if self.scaled else {})}
        return [Run(params, tuple(part), 1, shape.k)
                for part in self.chunks(blocks, ceil_div(shape.k, c.lanes))]

    def beats(self, run: Run, operands: Operands) -> dict[str, np.ndarray]:
        L, C = self.config.lanes, self.config.cols
        a, w = operands["a"], operands["w"]
        T = a.shape[1] // L
        out = {"a": np.concatenate([a[m].reshape(T, L) for m, _ in run.blocks]),
               "w": np.concatenate([w[:, n0:n0 + C].reshape(T, L * C) for _, n0 in run.blocks])}
        if self.scaled:
            for name in self.group_operands:
                out[name] = np.concatenate([operands[name][:, n0:n0 + C]
                                            for _, n0 in run.blocks])
        return out

    def result_index(self, run: Run) -> tuple[np.ndarray, np.ndarray]:
        return block_index(run.blocks, 1, self.config.cols)

    def random(self, gen: np.random.Generator, shape: GemmShape) -> dict[str, np.ndarray]:
        """Serial operands in their run-time precision's range, encoded at full width (BitMoD
        weights: every code, and every data type per group)."""
        c, p = self.config, self.precisions
        out = {}
        groups = (ceil_div(shape.k, self.g * c.lanes), shape.n)
        for side, dims in (("a", (shape.m, shape.k)), ("w", (shape.k, shape.n))):
            fmt = getattr(c, side)
            if isinstance(fmt, BitmodFormat):
                out[side], out["t"] = fmt.random(gen, dims)[0], fmt.random(gen, groups)[1]
                continue
            values = (precision_format(fmt, p[side]) if side in p else fmt).random(gen, dims)
            out[side] = fmt.encode(values)
        scale = group_scale(c)
        if scale is not None:
            out["s"] = scale.random(gen, groups)
        return out

    def golden(self, operands: Operands) -> np.ndarray:
        c, p = self.config, self.precisions
        w = operands["w"] if c.bitmod else c.w.decode(operands["w"])
        return c.accumulator.encode(bitserial_golden(
            c, c.a.decode(operands["a"]), w, pa=p.get("a"), pw=p.get("w"),
            scales=operands.get("s"), group=self.g * c.lanes, types=operands.get("t")))


class BitserialPerf(TiledPerf):
    """Cycles, peak rate and storage at run-time precisions ``pa``/``pw`` (default: maximum).

    Cycles count from the first input handshake to the last result handshake, inputs always
    offered, results always taken.
    """

    def __init__(self, config, pa: int | None = None, pw: int | None = None, g: int = 1):
        self.config = config
        self.tiler = BitserialTiler(config, pa, pw, g)
        self.precisions = self.tiler.precisions

    @property
    def cycles_per_slice(self) -> int:
        return int(np.prod(list(self.precisions.values())))

    @property
    def dequant_cycles(self) -> int:
        """D: cycles of a ``serial`` scale's multiplication, one per scale bit (else 0)."""
        c = self.config
        return c.scale_fmt.bits if c.scale == "serial" else 0

    @property
    def latency(self) -> int:
        """Cycles from a slice's last bit cycle to its result's handshake: the select, tree,
        part and accumulator registers, the result register, the tree's inner registers
        (:func:`tree_registers`), plus the outer (both) and group stages and a serial scale's
        D cycles."""
        c = self.config
        return (5 + tree_registers(c) + (c.serial == "both") + (c.scale != "none")
                + self.dequant_cycles)

    def waits(self, run: Run) -> int:
        """Cycles a ``serial`` scale holds the datapath: a group that ends fewer than D
        cycles after the previous one waits until the multiplier is free (the run's first
        group never waits)."""
        d, c = self.dequant_cycles, self.config
        if d == 0:
            return 0
        slices = ceil_div(run.k, c.lanes)
        sizes = [self.tiler.g] * (slices // self.tiler.g) + [slices % self.tiler.g] * (
            slices % self.tiler.g > 0)
        per_tile = [max(0, d - self.cycles_per_slice * size) for size in sizes]
        return len(run.blocks) * sum(per_tile) - per_tile[0]

    def run_cycles(self, run: Run) -> int:
        slices = len(run.blocks) * ceil_div(run.k, self.config.lanes)
        return slices * self.cycles_per_slice + self.latency + self.waits(run)

    @property
    def peak_macs_per_cycle(self) -> float:
        return self.config.lanes * self.config.cols / self.cycles_per_slice

    @property
    def storage_bits(self) -> int:
        """Register bits the generator declares: the issued slice's operands (and scales),
        counters, and per pipeline stage its valid bit, control word and C sums, then the
        accumulators and the result register. Synthesis drops control bits no later stage
        reads, so Yosys counts somewhat fewer flip-flops."""
        c, wd = self.config, Widths.of(self.config)
        L, C = c.lanes, c.cols
        scaled = c.scale != "none"
        scale = C * c.scale_fmt.bits if scaled else 0
        inner = clog2(max(c.max_bits("a" if c.serial == "a" else "w"), 2))
        outer = clog2(max(c.a.bits, 2))
        control = 9 + inner + outer + scale          # first/last/sign ×2, 3 slice flags, bits
        # BitMoD: each lane-column holds its decoded ±(a << e) and mantissa, plus the types
        weights = L * C * (wd.x + c.max_bits("w")) + C * 2 * 2 if c.bitmod else L * C * c.w.bits
        operands = L * c.a.bits + weights + scale + 3 + 1
        counters = inner + (outer if c.serial == "both" else 0) + c.k_bits + c.g_bits * scaled
        sums = [wd.tree, wd.part] + [wd.dot] * (c.serial == "both") + [wd.group] * scaled
        stages = sum(1 + control + C * width for width in sums)
        # serial scale: per column the group sum, the scale and the product being formed
        d = self.dequant_cycles
        dequant = C * (2 * wd.group + 2 * c.scale_fmt.bits) + clog2(d + 1) + 2 if d else 0
        x = wd.x    # the operand the tree adds: a bit of a, a's or w's code, or ±(a << e)
        wide = c.serial == "a" or c.bitmod          # one operand register per lane and column
        select = 1 + control + L * C + (L if c.serial != "w" else 0) + \
            (L * C * x if wide else L * x if c.serial == "w" else 0)
        inner_regs = sum(1 + control + C * ceil_div(L, 2 << level) * (x + level + 1)
                         for level in range(1, 2 * tree_registers(c), 2))
        return (operands + counters + select + inner_regs + stages + dequant + C * c.acc
                + C * c.acc + 1)
