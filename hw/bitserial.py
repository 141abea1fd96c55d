"""The ``bitserial`` generator: ``cols`` columns of ``lanes``-input AND/adder trees feeding
shift-accumulators, one operand consumed one bit per cycle at a run-time precision.

Ports (streams in the manner of :mod:`amaranth.lib.stream`; payloads are arrays of lanes,
lane 0 in the low bits)::

    a       In   lanes lanes of the activation format       one K-slice of one row of A
    w       In   lanes·cols lanes of the weight format       lane l·cols + c = W[k0+l, n0+c]
    s       In   cols lanes of the scale format               scale != none: one beat per group
    result  Out  cols lanes of the accumulator                one row segment C[m, n0:n0+cols]
    k       In   k_bits                 run-time K ≥ 1
    pw, pa  In   bits the serial operand(s) use, 1..max (pw: w-/both-serial; pa: a-/both-serial)
    g       In   g_bits                 scale != none: slices per group, ≥ 1

Change the run-time inputs only while the core is idle. A *tile* is one output row segment: its
⌈K/lanes⌉ slices arrive as paired ``a``/``w`` beats (plus an ``s`` beat with the first slice of
every group), and one result beat leaves after the last::

    a beats:  A[m, 0:L]      A[m, L:2L]      …  A[m, (T-1)L:K]   | next tile (m, n0+cols) …
    w beats:  W[0:L, n0:n0+C] W[L:2L, n0:n0+C] … W[(T-1)L:K, …]   | paired one-to-one with a
    s beats:  S[0, n0:n0+C]  (slice 0)  S[1, …] (slice g)  …      | with each group's first slice
    result :                                       C[m, n0:n0+C]  | one beat per tile

Lanes past K are masked to zero in the core. Each slice takes P cycles (P = pw, pa, or pa·pw
both-serial) and the next slice is taken in the same cycle the last bit is issued, so slices
follow back to back. One slice, one column (w-serial, MSB-first shown)::

    a[0..L-1] ──┐ (parallel, held P cycles)
    w bit j  ───┤ AND ─► adder tree ─► ±tree ─► part = 2·part ± tree ──► acc ─► result
                │ (lane l selects a[l]              (top bit of a signed w is subtracted)
                └  when bit j of w[l] is 1)

Both-serial adds an outer shift-accumulator over the bits of ``a`` (the tree then counts
ones); LSB-first adds ``±tree << j`` instead of shifting the partial sum. With a per-group
scale the slice sums add into an exact group register, which is multiplied by (``int``) or
shifted by (``pow2``) the group's scale before it enters the wrapping accumulator. The whole
pipeline stalls while a result waits for ``result.ready``.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In

from lowbit.hw.accumulate import accumulate
from lowbit.hw.shapes import shape_of
from lowbit.hw.streams import array_ports
from lowbit.hw.systolic import lanes
from lowbit.hw.trees import balanced
from lowbit.kinds.bitserial import BitserialConfig
from lowbit.models.bitserial import Widths


def stream_layouts(config: BitserialConfig) -> dict[str, data.ArrayLayout]:
    """Payload layouts of the ``a``, ``w``, ``s`` and ``result`` streams."""
    L, C = config.lanes, config.cols
    return {"a": lanes(config.a, L), "w": lanes(config.w, L * C),
            "s": lanes(config.scale_fmt, C), "result": lanes(config.accumulator, C)}


@dataclass
class BitCounter:
    """Which bit of a serial operand is issued: ``first``/``last`` in issue order, ``sign`` when
    it is the top bit of a two's-complement operand (its weight is negative)."""

    index: Signal
    start: Value
    step: Value
    first: Value
    last: Value
    sign: Value

    @classmethod
    def make(cls, name: str, precision: Value, max_bits: int, signed_op: bool, msb: bool):
        index = Signal(range(max(max_bits, 2)), name=f"bit_{name}")
        top = (precision - 1)[:len(index)]
        start, end = (top, 0) if msb else (0, top)
        return cls(index, start, index - 1 if msb else index + 1, index == start, index == end,
                   (index == top) if signed_op else Const(0))


def _control_layout(config: BitserialConfig, inner: str) -> data.StructLayout:
    """What travels with each bit cycle down the pipeline: bit ``j`` of the inner serial
    operand, bit ``i`` of ``a`` (both-serial), the slice's place in its group and tile."""
    fields = {"first_j": 1, "last_j": 1, "neg_j": 1, "j": range(max(config.max_bits(inner), 2)),
              "first_i": 1, "last_i": 1, "neg_i": 1, "i": range(max(config.a.bits, 2)),
              "group_first": 1, "group_last": 1, "tile_last": 1}
    if config.scale != "none":
        fields["scale"] = lanes(config.scale_fmt, config.cols)
    return data.StructLayout(fields)


class BitSerialArray(wiring.Component):
    """Bit-serial dot-product array of a :class:`~lowbit.kinds.bitserial.BitserialConfig`.

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.bitserial.BitserialConfig`; its formats give the
        payload shapes.
    """

    def __init__(self, config: BitserialConfig):
        self.config = config
        layouts = stream_layouts(config)
        ports = array_ports(layouts, config.k_bits)
        if config.scale != "none":
            ports |= {"s": In(stream.Signature(layouts["s"])), "g": In(config.g_bits)}
        for op in config.serial_operands:
            ports[f"p{op}"] = In(range(config.max_bits(op) + 1))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        L, C = cfg.lanes, cfg.cols
        wd = Widths.of(cfg)
        msb = cfg.order == "msb"
        scaled = cfg.scale != "none"
        inner = "a" if cfg.serial == "a" else "w"      # the operand whose bits the part sums
        both = cfg.serial == "both"

        en = Signal()
        m.d.comb += en.eq(~self.result.valid | self.result.ready)

        # --- the slice being issued: operands, flags, bit counters
        a_act = Signal(self.a.payload.shape())
        w_act = Signal(self.w.payload.shape())
        s_act = Signal(stream_layouts(cfg)["s"]) if scaled else None
        job = Signal(data.StructLayout({"group_first": 1, "group_last": 1, "tile_last": 1}))
        busy = Signal()
        jc = BitCounter.make("j", getattr(self, f"p{inner}"), cfg.max_bits(inner),
                             getattr(cfg, inner).signed, msb)
        ic = (BitCounter.make("i", self.pa, cfg.a.bits, cfg.a.signed, msb) if both else None)
        slice_done = jc.last & (ic.last if both else 1)
        last_issue = busy & slice_done

        # --- where the next slice sits in its tile and group
        k0 = Signal(cfg.k_bits)
        gcount = Signal(cfg.g_bits) if scaled else None
        tile_last = self.k <= k0 + L
        group_first = (gcount == 0) if scaled else Const(1)
        group_last = (tile_last | (gcount == self.g - 1)) if scaled else Const(1)
        need_s = group_first if scaled else Const(0)
        take = Signal()
        s_ok = (self.s.valid | ~need_s) if scaled else 1
        m.d.comb += [take.eq(en & (~busy | last_issue) & self.a.valid & self.w.valid & s_ok),
                     self.a.ready.eq(take), self.w.ready.eq(take)]
        if scaled:
            m.d.comb += self.s.ready.eq(take & need_s)

        with m.If(en & busy):
            with m.If(jc.last):
                m.d.sync += jc.index.eq(jc.start)
                if both:
                    m.d.sync += ic.index.eq(Mux(ic.last, ic.start, ic.step))
            with m.Else():
                m.d.sync += jc.index.eq(jc.step)
            with m.If(last_issue):
                m.d.sync += busy.eq(0)
        with m.If(take):
            m.d.sync += [busy.eq(1), jc.index.eq(jc.start), w_act.eq(self.w.payload),
                         job.group_first.eq(group_first), job.group_last.eq(group_last),
                         job.tile_last.eq(tile_last), k0.eq(Mux(tile_last, 0, k0 + L))]
            m.d.sync += [a_act[i].eq(Mux(self.k > k0 + i, self.a.payload[i], 0))
                         for i in range(L)]
            if both:
                m.d.sync += ic.index.eq(ic.start)
            if scaled:
                m.d.sync += gcount.eq(Mux(group_last, 0, gcount + 1))
                with m.If(need_s):
                    m.d.sync += s_act.eq(self.s.payload)

        # --- stage 1: AND-selected lanes through one adder tree per column
        ctl = _control_layout(cfg, inner)
        v1, ctl1 = Signal(), Signal(ctl)
        tree1 = [Signal(signed(wd.tree), name=f"tree{c}") for c in range(C)]
        with m.If(en):
            m.d.sync += [v1.eq(busy), ctl1.first_j.eq(jc.first), ctl1.last_j.eq(jc.last),
                         ctl1.neg_j.eq(jc.sign), ctl1.j.eq(jc.index),
                         ctl1.group_first.eq(job.group_first), ctl1.group_last.eq(job.group_last),
                         ctl1.tile_last.eq(job.tile_last)]
            if both:
                m.d.sync += [ctl1.first_i.eq(ic.first), ctl1.last_i.eq(ic.last),
                             ctl1.neg_i.eq(ic.sign), ctl1.i.eq(ic.index)]
            else:
                m.d.sync += [ctl1.first_i.eq(1), ctl1.last_i.eq(1)]
            if scaled:
                m.d.sync += ctl1.scale.eq(s_act)
            for c in range(C):
                m.d.sync += tree1[c].eq(balanced(self._selected(a_act, w_act, jc, ic, c)))

        # --- stage 2: the shift-accumulator over the inner serial operand's bits
        v2, ctl2, part = self._shift_accumulate(m, en, "part", wd.part, v1, ctl1, tree1,
                                                "first_j", "last_j", "neg_j", "j", msb)
        # --- stage 3 (both-serial): the shift-accumulator over the bits of a
        if both:
            v3, ctl3, dot = self._shift_accumulate(m, en, "dot", wd.dot, v2, ctl2, part,
                                                   "first_i", "last_i", "neg_i", "i", msb)
        else:
            v3, ctl3, dot = v2, ctl2, part
        # --- stage 4 (scaled): the exact group sum, then its scale
        if scaled:
            v4, ctl4 = Signal(), Signal(ctl)
            gsum = [Signal(signed(wd.group), name=f"gsum{c}") for c in range(C)]
            with m.If(en):
                m.d.sync += [v4.eq(v3 & ctl3.group_last), ctl4.eq(ctl3)]
                with m.If(v3):
                    m.d.sync += [gsum[c].eq(Mux(ctl3.group_first, 0, gsum[c]) + dot[c])
                                 for c in range(C)]
            if cfg.scale == "pow2":
                addend = [gsum[c] << ctl4.scale[c] for c in range(C)]
            else:
                addend = [gsum[c] * ctl4.scale[c] for c in range(C)]
        else:
            v4, ctl4, addend = v3, ctl3, dot

        # --- stage 5: the wrapping accumulator; a tile's last slice (or group) emits a result
        spec = cfg.accumulator
        acc = [Signal(shape_of(spec), name=f"acc{c}") for c in range(C)]
        with m.If(en):
            m.d.sync += self.result.valid.eq(v4 & ctl4.tile_last)
            with m.If(v4):
                for c in range(C):
                    total = accumulate(acc[c], addend[c], spec)
                    m.d.sync += [self.result.payload[c].eq(total),
                                 acc[c].eq(Mux(ctl4.tile_last, 0, total))]
        return m

    def _selected(self, a_act, w_act, jc: BitCounter, ic: BitCounter | None, c: int) -> list:
        """The tree inputs of column ``c``: each lane's parallel operand where the serial bit is
        1, else 0 (both-serial: the AND of one bit of each)."""
        cfg = self.config
        out = []
        for lane in range(cfg.lanes):
            a, w = Value.cast(a_act[lane]), Value.cast(w_act[lane * cfg.cols + c])
            if cfg.serial == "w":
                out.append(Mux(w.bit_select(jc.index, 1), a, 0))
            elif cfg.serial == "a":
                out.append(Mux(a.bit_select(jc.index, 1), w, 0))
            else:
                out.append(a.bit_select(ic.index, 1) & w.bit_select(jc.index, 1))
        return out

    @staticmethod
    def _shift_accumulate(m: Module, en, name: str, width: int, v_in, ctl_in, terms: list,
                          first: str, last: str, neg: str, index: str, msb: bool):
        """``reg = 2·reg ± term`` (MSB-first) or ``reg += ±term << index`` (LSB-first), from 0
        at ``first``; the result is final in the cycle its ``valid`` pulse is high."""
        v_out, ctl_out = Signal(name=f"{name}_done"), Signal.like(ctl_in, name=f"{name}_ctl")
        regs = [Signal(signed(width), name=f"{name}{c}") for c in range(len(terms))]
        f, n = getattr(ctl_in, first), getattr(ctl_in, neg)
        with m.If(en):
            m.d.sync += [v_out.eq(v_in & getattr(ctl_in, last)), ctl_out.eq(ctl_in)]
            with m.If(v_in):
                for reg, term in zip(regs, terms):
                    signed_term = Mux(n, -term, term)
                    if msb:
                        m.d.sync += reg.eq(Mux(f, 0, reg << 1) + signed_term)
                    else:
                        m.d.sync += reg.eq(Mux(f, 0, reg) + (signed_term << getattr(ctl_in, index)))
        return v_out, ctl_out, regs
