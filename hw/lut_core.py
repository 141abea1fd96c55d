"""The ``lut`` generator: a LUT tensor core whose tables sit in RAM beside every column.

Streams (in the manner of :mod:`amaranth.lib.stream`; lane 0 in the low bits) and run-time
inputs, with G = g·tables activations of K per beat::

    a       In   G lanes of the activation format: one group of K of one row of A
    w       In   cols lanes of G bits: one bit-plane of G weights for each column
    result  Out  cols lanes of the accumulator: one row of C for cols columns
    k       In   k_bits  run-time K ≥ 1
    wbits   In   run-time weight precision n, 1..w_bits
    wmode   In   run-time weight mode: 0 signed, 1 unsigned, 2 offset binary
    nb      In   run-time column blocks per tile, 1..blocks

Change the run-time inputs only while the core is idle. One *tile* is one row of A against
``nb`` blocks of ``cols`` columns, ``C[m, n0 : n0 + nb·cols]``; with Q = ⌈K/G⌉ groups::

    a beats:  A[m, 0:G]                 …  A[m, (Q−1)G:K]                                Q beats
    w beats:  B0: P(n−1) … P0 | B1: … | … | B(nb−1): …   (group 0) … (group Q−1)        Q·nb·n
              (Pp of block b, lane c: bit p of W[jG+i, n0 + b·cols + c] at bit i)
    result:                                 C[m, n0 + b·cols : …] for b = 0 … nb−1        nb beats

(:class:`lowbit.models.lut.LutTiler` is this order.) The datapath::

    a beat ─► fill unit ─► table RAMs ─┬─► read ─► Σ tables + κΣa ─► Horner ─► acc RAM ─► result
    (mask past K, one entry a cycle;   │   (column 0:                part =     [block b]
     Σa per group) two buffers, every  │    index = plane)           2·part ± Σ
                   column's copy       ├─► column 1 …
                   written at once     └─► column cols−1 …

* **Tables in RAM.** Each column holds its own copy of every table (on ECP5 and iCE40 a
  memory of its own with one write and one read port, :data:`COPIED`; the copies written
  together), two buffers deep: the fill unit writes the next group's table, an
  entry per cycle in Gray-code order (:class:`lowbit.hw.lut_table.TableFill`: one adder per
  table), while the columns read this group's. On ECP5 (``family="ecp5"``) Yosys maps each
  16-entry copy to TRELLIS_DPR16X4 distributed RAM: 16×4 bits per read in six LUT4 sites,
  where a 16:1 multiplexer of registers takes about 21 LUT4s per bit. On iCE40
  (``family="ice40"``, no distributed RAM) the copies go to SB_RAM40_4K block RAMs — a block
  RAM's read port is the only cheap 16:1 select the fabric has (a register table read through
  LUT4 multiplexers takes about 13 LUT4s per bit), and the device's block RAMs bound how many
  tables it reads per cycle.
* **Time-multiplexed N.** A table serves the ``nb`` column blocks of its tile in turn, so its
  fill (E = 2^g entries, half symmetrized) hides behind nb·n lookups; each block's running sum
  sits in the column's accumulator RAM (``blocks`` deep, distributed RAM on ECP5).
* **Bit planes MSB first** through a Horner register: ``part = 2·part ± Σ``, the two's
  complement MSB plane (the first) subtracted; a block's part joins its accumulator after its
  last plane. The correction ``κ_p·Σa`` of :mod:`lowbit.models.lut` (offset weights, symmetrized
  tables) joins each plane's sum.

Lanes of the last a beat past K are zeroed (their weight bits are then ignored), result lanes
past the GEMM's N are the user's to ignore. Results wrap to ``acc`` bits. Every register and
RAM holds while a result waits for ``result.ready``. Cycles: :class:`lowbit.models.lut.LutPerf`.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In

from lowbit.hw import carry
from lowbit.hw.lut_table import TableFill, entry_shape, looked_up, read_address
from lowbit.hw.shapes import shape_of
from lowbit.hw.streams import array_ports
from lowbit.kinds.lut import LutConfig
from lowbit.models.lut import WEIGHT_MODES, correction, entry_range, tree_stages

#: RAM attributes per family: where Yosys puts the table copies
TABLE_RAM = {"generic": None, "ecp5": None, "ice40": {"ram_style": "block"}}
#: families whose RAM cells have one read port: each column gets a memory of its own (one write
#: and one read port) rather than a read port on one shared memory. Yosys would copy a shared
#: memory per read port anyway, but its ``memory_libmap`` enumerates every assignment of the
#: read ports to the cell's port variants, a list that grows about 3-4x per port: 11 read ports
#: on one ECP5 memory took 129 s, 12 ran the WebAssembly Yosys out of memory ("thrown Wasm
#: exception"). ``generic`` keeps one memory, so its register tables are not copied.
COPIED = ("ecp5", "ice40")


def stream_layouts(config: LutConfig) -> dict[str, data.ArrayLayout]:
    """Payload layouts of the ``a``, ``w`` and ``result`` streams."""
    return {"a": data.ArrayLayout(shape_of(config.a), config.group),
            "w": data.ArrayLayout(unsigned(config.group), config.cols),
            "result": data.ArrayLayout(shape_of(config.accumulator), config.cols)}


@dataclass(frozen=True)
class _Group:
    """What the lookups of a buffered table need to know of its group."""

    first: Signal      # the first group of its tile: the accumulators start from 0
    last: Signal       # the last group of its tile: each block's sum is a result
    sum_a: Signal      # Σ of the group's (masked) activations, for the corrections


class LutCore(wiring.Component):
    """Tables of activation sums in per-column RAM, looked up by weight bit-planes.

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.lut.LutConfig`; its formats give the payload shapes.
    """

    def __init__(self, config: LutConfig):
        self.config = config
        super().__init__(array_ports(stream_layouts(config), config.k_bits,
                                     wbits=In(range(config.w_bits + 1)),
                                     wmode=In(range(len(WEIGHT_MODES))),
                                     nb=In(range(config.blocks + 1))))

    @property
    def inner_bits(self) -> int:
        """Accumulator width inside: one more with symmetrized tables (they sum 2·dot)."""
        return self.config.acc + self.config.symmetric

    def _correction(self, sum_a, first_plane, last_plane):
        """σ_p·κ_p·Σa of the run-time mode for a plane (σ_p: the signed MSB plane's −1, which
        the Horner step applies to the whole sum, so the correction comes out as κ_p·Σa)."""
        out = 0
        for i, mode in reversed(list(enumerate(WEIGHT_MODES))):
            kappa, planes = correction(mode, self.config.symmetric)
            if not kappa:
                continue
            hit = {"first": last_plane, "last": first_plane, "all": 1}[planes]
            flip = first_plane if mode == "signed" else 0     # σ = −1 on the MSB plane
            value = Mux(flip, -kappa * sum_a, kappa * sum_a)
            out = Mux(self.wmode == i, Mux(hit, value, 0), out)
        return out

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        G, g, T, C, E = cfg.group, cfg.g, cfg.tables, cfg.cols, cfg.entries
        inner = self.inner_bits

        en = Signal()     # everything moves unless a result waits to be taken
        m.d.comb += en.eq(~self.result.valid | self.result.ready)

        # --- fill side: a group's table is written into buffer fbuf, one entry per cycle
        filling = Signal()
        fk = Signal(range(E))                 # entries written so far
        fbuf = Signal(init=1)                 # the buffer of the latest fill
        full = Signal(2)                      # a buffer holds a table not fully looked up
        tile_start = Signal(init=1)           # the next activation beat starts a tile
        left = Signal(cfg.k_bits)             # K left for the next beat (when not tile_start)
        remaining = Mux(tile_start, self.k, left)
        last_group = remaining <= G
        fill_last = filling & (fk == E - 1)

        # --- lookup side: beats of buffer rbuf, block bcount, plane pcount (from the MSB)
        rbuf = Signal()
        pcount = Signal(range(cfg.w_bits))
        bcount = Signal(range(cfg.blocks))
        first_plane = pcount == 0
        last_plane = pcount == self.wbits - 1
        take_w = self.w.valid & self.w.ready
        group_done = take_w & last_plane & (bcount == self.nb - 1)

        new_buf = ~fbuf
        free = ~full.bit_select(new_buf, 1) | (group_done & (rbuf == new_buf))
        m.d.comb += [self.a.ready.eq(en & (~filling | fill_last) & free),
                     self.w.ready.eq(en & full.bit_select(rbuf, 1))]
        take_a = self.a.valid & self.a.ready

        lo, hi = entry_range(cfg.a, G, False)          # Σa of a beat
        groups = [_Group(Signal(name=f"first_{i}"), Signal(name=f"last_{i}"),
                         Signal(Shape.cast(range(lo, hi + 1)), name=f"sum_a_{i}"))
                  for i in range(2)]
        # lanes past K (only in a tile's last group, where K left ≤ G fits a few bits)
        low = remaining[:G.bit_length()]
        keep = Cat(~last_group | (low > i) for i in range(G))
        cells = "ecp5" if cfg.family == "ecp5" else "generic"
        with m.If(en):
            with m.If(filling):
                m.d.sync += fk.eq(fk + 1)
                with m.If(fill_last):
                    m.d.sync += filling.eq(0)
            for i in range(2):
                with m.If(fill_last & (fbuf == i)):
                    m.d.sync += full[i].eq(1)
                with m.If(group_done & (rbuf == i)):
                    m.d.sync += full[i].eq(0)
            with m.If(take_a):
                m.d.sync += [filling.eq(1), fk.eq(0), fbuf.eq(new_buf),
                             tile_start.eq(last_group), left.eq(remaining - G)]
                for i, grp in enumerate(groups):
                    with m.If(new_buf == i):
                        m.d.sync += [grp.first.eq(tile_start), grp.last.eq(last_group)]
            with m.If(take_w):
                m.d.sync += pcount.eq(Mux(last_plane, 0, pcount + 1))
                with m.If(last_plane):
                    m.d.sync += bcount.eq(Mux(bcount == self.nb - 1, 0, bcount + 1))
            with m.If(group_done):
                m.d.sync += rbuf.eq(~rbuf)

        # --- the tables: a fill unit and a RAM each, one read port per column
        reads = [[None] * T for _ in range(C)]
        fills = []
        for t in range(T):
            fill = m.submodules[f"fill_{t}"] = TableFill(cfg.a, g, cfg.symmetric, cells)
            m.d.comb += [fill.a[i].eq(self.a.payload[t * g + i]) for i in range(g)]
            m.d.comb += [fill.keep.eq(keep[t * g:(t + 1) * g]), fill.load.eq(take_a),
                         fill.step.eq(en & filling), fill.k.eq(fk)]
            fills.append(fill)
            for c in range(C):
                if c == 0 or cfg.family in COPIED:
                    ram = m.submodules[f"table_{t}_{c}"] = memory.Memory(
                        shape=entry_shape(cfg.a, g, cfg.symmetric), depth=2 * E, init=[],
                        attrs=TABLE_RAM[cfg.family])
                    wp = ram.write_port()
                    m.d.comb += [wp.addr.eq(Cat(fill.addr, fbuf)), wp.data.eq(fill.data),
                                 wp.en.eq(en & filling)]
                index = self.w.payload[c][t * g:(t + 1) * g]
                rp = ram.read_port(domain="sync")
                m.d.comb += [rp.addr.eq(Cat(read_address(index, g, cfg.symmetric), rbuf)),
                             rp.en.eq(en)]
                top = None
                if cfg.symmetric:
                    top = Signal(name=f"top_{c}_{t}")
                    with m.If(en):
                        m.d.sync += top.eq(index[g - 1])
                reads[c][t] = looked_up(rp.data, top)

        # Σa of the group: every table passes its all-ones entry, Σ of its activations, at the
        # same step of the fill
        sum_a = _adder_tree(m, "sum_a", [f.data for f in fills], cells)
        with m.If(en & filling & (fk == fills[0].all_ones)):
            for i, grp in enumerate(groups):
                with m.If(fbuf == i):
                    m.d.sync += grp.sum_a.eq(sum_a)

        # --- the beat's control, beside the read registers
        ctl = data.StructLayout({"valid": 1, "first_plane": 1, "last_plane": 1, "neg": 1,
                                 "block": range(cfg.blocks), "first_group": 1,
                                 "last_group": 1})
        sum_lo, sum_hi = entry_range(cfg.a, G, False)
        reach = max(-sum_lo, sum_hi)
        ctl1 = Signal(ctl)
        corr1 = Signal(Shape.cast(range(-reach, reach + 1)))
        grp = groups[0]
        info = _Group(Mux(rbuf, groups[1].first, grp.first), Mux(rbuf, groups[1].last, grp.last),
                      Mux(rbuf, groups[1].sum_a, grp.sum_a))
        signed_mode = self.wmode == WEIGHT_MODES.index("signed")
        with m.If(en):
            m.d.sync += [ctl1.valid.eq(take_w), ctl1.first_plane.eq(first_plane),
                         ctl1.last_plane.eq(last_plane), ctl1.neg.eq(signed_mode & first_plane),
                         ctl1.block.eq(bcount), ctl1.first_group.eq(info.first),
                         ctl1.last_group.eq(info.last),
                         corr1.eq(self._correction(info.sum_a, first_plane, last_plane))]

        # --- per column: Σ of the lookups and the correction, pipelined two adder levels a
        # stage; then the Horner step over the planes; then the block's accumulator
        stages = tree_stages(cfg)
        ctl_s = ctl1
        sums = [list(reads[c]) + [corr1] for c in range(C)]
        for s in range(stages):
            for level in range(2 if s < stages - 1 else len(sums[0]).bit_length()):
                sums = [_level(m, f"sum_{c}_{s}_{level}", v, cells) for c, v in enumerate(sums)]
            regs = []
            for c, values in enumerate(sums):
                row = []
                for i, v in enumerate(values):
                    r = Signal(v.shape(), name=f"sum{s}_{c}_{i}")
                    with m.If(en):
                        m.d.sync += r.eq(v)
                    row.append(r)
                regs.append(row)
            sums = regs
            nxt = Signal(ctl, name=f"ctl_sum{s}")
            with m.If(en):
                m.d.sync += nxt.eq(ctl_s)
            ctl_s = nxt
        trees = [values[0] for values in sums]

        cells = "ecp5" if cfg.family == "ecp5" else "generic"
        part_bits = min(inner, max(len(t) for t in trees) + cfg.w_bits + 1)
        parts = [Signal(signed(part_bits), name=f"part_{c}") for c in range(C)]
        ctl_h = Signal(ctl)
        with m.If(en):
            m.d.sync += ctl_h.eq(ctl_s)
        for c, (part, tree) in enumerate(zip(parts, trees)):
            # part = (first plane ? 0 : 2·part) + (tree XOR neg) + neg: one carry chain
            first, neg = ctl_s.first_plane, ctl_s.neg
            pairs = [(carry.and_not(part[i - 1], first) if i else carry.ZERO,
                      _xor_bit(_bit(tree, i), neg)) for i in range(part_bits)]
            horner = carry.chain(m, f"horner_{c}", pairs, carry_in=neg, cells=cells)
            with m.If(en & ctl_s.valid):
                m.d.sync += part.eq(horner)

        done = ctl_h.valid & ctl_h.last_plane
        with m.If(en):
            m.d.sync += self.result.valid.eq(done & ctl_h.last_group)
        for c, part in enumerate(parts):
            accs = m.submodules[f"acc_{c}"] = memory.Memory(shape=unsigned(inner),
                                                            depth=cfg.blocks, init=[])
            rp = accs.read_port(domain="comb")
            wp = accs.write_port()
            # total = (first group ? 0 : acc[block]) + part: one carry chain
            pairs = [(carry.and_not(rp.data[i], ctl_h.first_group), _plain_bit(_bit(part, i)))
                     for i in range(inner)]
            total = carry.chain(m, f"acc_{c}", pairs, cells=cells)
            m.d.comb += [rp.addr.eq(ctl_h.block), wp.addr.eq(ctl_h.block),
                         wp.data.eq(total), wp.en.eq(en & done)]
            with m.If(en & done & ctl_h.last_group):
                m.d.sync += self.result.payload[c].eq(total[cfg.symmetric:inner])
        return m


def _bit(v: Value, i: int) -> Value | None:
    """Bit ``i`` of ``v`` extended by its sign (None: a constant 0 above an unsigned value)."""
    if i < len(v):
        return v[i]
    return v[len(v) - 1] if v.shape().signed else None


def _xor_bit(bit: Value | None, flip: Value) -> carry.Bit:
    """``bit XOR flip`` as a summand bit (``flip`` alone above an unsigned value)."""
    return carry.signal(flip) if bit is None else carry.xor(bit, flip)


def _plain_bit(bit: Value | None) -> carry.Bit:
    return carry.ZERO if bit is None else carry.signal(bit)


def _level(m: Module, name: str, values: list, cells: carry.Cells) -> list:
    """One level of a balanced adder tree (an odd value out moves up unchanged), each sum a
    carry chain of its own."""
    pairs = zip(values[::2], values[1::2])
    return ([carry.add(m, f"{name}_{i}", a, b, cells=cells) for i, (a, b) in enumerate(pairs)]
            + values[len(values) & ~1:])


def _adder_tree(m: Module, name: str, values: list, cells: carry.Cells) -> Value:
    """The balanced sum of ``values``, one carry chain per addition."""
    level = 0
    while len(values) > 1:
        values = _level(m, f"{name}_{level}", values, cells)
        level += 1
    return values[0]
