"""The ``lut`` generator: a LUT tensor core, one shared table unit and ``cols`` lookup columns.

Streams (in the manner of :mod:`amaranth.lib.stream`; lane 0 in the low bits) and run-time
inputs, with G = g·tables activations of K per beat::

    a       In   G lanes of the activation format: one group of K of one row of A
    w       In   cols lanes of G bits: one bit-plane of G weights for each column
    result  Out  cols lanes of the accumulator: one row of C for cols columns
    k       In   k_bits  run-time K ≥ 1
    wbits   In   run-time weight precision n, 1..w_bits
    wmode   In   run-time weight mode: 0 signed, 1 unsigned, 2 offset binary

Change ``k``/``wbits``/``wmode`` only while the core is idle. One *tile* is one result beat,
``C[m, n0:n0+cols] = A[m, :] @ W[:, n0:n0+cols]``; its beats, with Q = ⌈K/G⌉ groups::

    a beats:  A[m, 0:G]        A[m, G:2G]          …  A[m, (Q−1)G:K]                 Q beats
    w beats:  P0 P1 … P(n−1) | P0 P1 … P(n−1) |    …  P0 … P(n−1)                  Q·n beats
              (Pp, lane c: bit p of W[kG+i, n0+c] at bit i, for the group k above)
    result:                                            C[m, n0:n0+cols]                1 beat

              a beat ─► precompute ─► tables ─┬─► lookup ─► Σ tables ─► «p, ± ─► + acc ─► result
              (mask lanes past K; ±Σa)        │   (column 0, index = Pp lane 0)   (+ κ_p·Σa·2^p)
                                              ├─► lookup … column 1
                                              └─► lookup … column cols−1

Lanes of the last a beat past K are zeroed inside (their weight bits are ignored), result
lanes past the GEMM's N are the user's to ignore. A group's table is precomputed when its a
beat is taken, which may happen in the cycle that looks up the previous group's last plane,
so weight beats flow one per cycle. The arithmetic (bit-plane signs, symmetrization and the
correction κ_p·Σa per plane) is :mod:`lowbit.models.lut`'s; results wrap to ``acc`` bits.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from lowbit.hw.lut_table import TableLookup, TablePrecompute, table_layout
from lowbit.hw.shapes import shape_of
from lowbit.hw.streams import array_ports
from lowbit.kinds.lut import LutConfig
from lowbit.models.lut import WEIGHT_MODES, correction, entry_range


def stream_layouts(config: LutConfig) -> dict[str, data.ArrayLayout]:
    """Payload layouts of the ``a``, ``w`` and ``result`` streams."""
    return {"a": data.ArrayLayout(shape_of(config.a), config.group),
            "w": data.ArrayLayout(unsigned(config.group), config.cols),
            "result": data.ArrayLayout(shape_of(config.accumulator), config.cols)}


class LutCore(wiring.Component):
    """Tables of activation sums shared by ``cols`` columns that look up weight bit-planes.

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.lut.LutConfig`; its formats give the payload shapes.
    """

    def __init__(self, config: LutConfig):
        self.config = config
        layouts = stream_layouts(config)
        super().__init__(array_ports(layouts, config.k_bits,
                                     wbits=In(range(config.w_bits + 1)),
                                     wmode=In(range(len(WEIGHT_MODES)))))

    @property
    def inner_bits(self) -> int:
        """Accumulator width inside: one more with symmetrized tables (they sum 2·dot)."""
        return self.config.acc + self.config.symmetric

    def _correction(self, sum_a, neg_sum_a, plane, last_plane):
        """κ_p·Σa of the run-time mode for this plane (before its shift), from Σa and −Σa."""
        cfg = self.config
        out = 0
        for i, mode in reversed(list(enumerate(WEIGHT_MODES))):
            kappa, planes = correction(mode, cfg.symmetric)
            hit = {"none": 0, "first": plane == 0, "last": last_plane, "all": 1}[planes]
            value = Mux(hit, sum_a if kappa > 0 else neg_sum_a, 0) if kappa else 0
            out = Mux(self.wmode == i, value, out)
        return out

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        G, g, C = cfg.group, cfg.g, cfg.cols
        inner = self.inner_bits

        en = Signal()     # everything moves unless a result waits to be taken
        m.d.comb += en.eq(~self.result.valid | self.result.ready)

        # --- control: a table is held while its n planes are looked up
        have = Signal()                       # the tables hold a group not fully looked up
        plane = Signal(range(cfg.w_bits))     # plane of the next weight beat
        tile_start = Signal(init=1)           # the next activation beat starts a tile
        left = Signal(cfg.k_bits)             # K left for the next beat (when not tile_start)
        remaining = Mux(tile_start, self.k, left)
        last_group = remaining <= G
        last_plane = plane == self.wbits - 1
        m.d.comb += [self.w.ready.eq(en & have),
                     self.a.ready.eq(en & (~have | (self.w.valid & last_plane)))]
        take_a = self.a.valid & self.a.ready
        take_w = self.w.valid & self.w.ready
        with m.If(take_a):
            m.d.sync += [have.eq(1), tile_start.eq(last_group), left.eq(remaining - G)]
        with m.Elif(take_w & last_plane):
            m.d.sync += have.eq(0)
        with m.If(take_w):
            m.d.sync += plane.eq(Mux(last_plane, 0, plane + 1))

        # --- the shared precompute unit: tables, Σa and tile flags of a group
        masked = [Mux(remaining > i, self.a.payload[i], 0) for i in range(G)]
        tables = Signal(data.ArrayLayout(table_layout(cfg.a, g, cfg.symmetric), cfg.tables))
        first_group, tile_end = Signal(), Signal()
        lo, hi = entry_range(cfg.a, G, False)    # Σa of a beat: the all-ones entry of one big table
        sum_a, neg_sum_a = Signal(Shape.cast(range(lo, hi + 1))), Signal(range(-hi, -lo + 1))
        for t in range(cfg.tables):
            pre = m.submodules[f"precompute_{t}"] = TablePrecompute(cfg.a, g, cfg.symmetric)
            m.d.comb += [pre.a[i].eq(masked[t * g + i]) for i in range(g)]
            with m.If(take_a):
                m.d.sync += tables[t].eq(pre.table)
        with m.If(take_a):
            m.d.sync += [first_group.eq(tile_start), tile_end.eq(last_group),
                         sum_a.eq(sum(masked)), neg_sum_a.eq(-sum(masked))]

        # --- lookup stage: every column looks up its plane in every table, sums, shifts by
        # the plane and negates the signed MSB plane; the plane's correction κ·Σa·2^p (shared
        # by the columns) rides along
        lo, hi = entry_range(cfg.a, g, cfg.symmetric)
        part_shape = Shape.cast(range(cfg.tables * lo, cfg.tables * hi + 1))
        s1 = Signal(data.StructLayout({
            "valid": 1, "first": 1, "last": 1, "extra": inner,
            "term": data.ArrayLayout(inner, C)}))
        neg = (self.wmode == WEIGHT_MODES.index("signed")) & last_plane
        with m.If(en):
            m.d.sync += [
                s1.valid.eq(take_w),
                s1.first.eq(first_group & (plane == 0)),
                s1.last.eq(tile_end & last_plane),
                s1.extra.eq(self._correction(sum_a, neg_sum_a, plane, last_plane) << plane),
            ]
            for c in range(C):
                looked = []
                for t in range(cfg.tables):
                    lut = m.submodules[f"lookup_{c}_{t}"] = TableLookup(cfg.a, g, cfg.symmetric)
                    m.d.comb += [lut.table.eq(tables[t]),
                                 lut.index.eq(self.w.payload[c][t * g:(t + 1) * g])]
                    looked.append(lut.value)
                part = Signal(part_shape, name=f"part_{c}")
                m.d.comb += part.eq(sum(looked))
                term = part << plane
                m.d.sync += s1.term[c].eq(Mux(neg, -term, term))

        # --- accumulate: acc = acc + term + κ·Σa·2^p, modulo 2**inner
        acc = Signal(data.ArrayLayout(inner, C))
        with m.If(en):
            m.d.sync += self.result.valid.eq(s1.valid & s1.last)
        for c in range(C):
            total = Mux(s1.first, 0, acc[c]) + s1.term[c] + s1.extra
            with m.If(en & s1.valid):
                m.d.sync += acc[c].eq(total[:inner])
                with m.If(s1.last):
                    m.d.sync += self.result.payload[c].eq(total[cfg.symmetric:inner])
        return m
