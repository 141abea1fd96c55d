"""The ``bitserial`` generator: ``cols`` columns of ``lanes``-input AND/adder trees feeding
shift-accumulators, one operand consumed one bit per cycle at a run-time precision.

Ports (streams in the manner of :mod:`amaranth.lib.stream`; payloads are arrays of lanes,
lane 0 in the low bits)::

    a       In   lanes lanes of the activation format       one K-slice of one row of A
    w       In   lanes·cols lanes of the weight format       lane l·cols + c = W[k0+l, n0+c]
    s       In   cols lanes of the scale format               scale != none: one beat per group
    t       In   cols lanes of 2-bit data type ids            BitMoD weights: with every s beat
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
    w bit j  ───┤ [reg] ─► AND+add ─► adders ─► [reg] … ─► part = 2·part ± tree ─► acc ─► result
                │ (bit j of w[l] and a copy of a[l] registered; the first tree level adds
                └  two lanes' ANDs in one carry chain; a register every two levels;
                   the top bit of a signed w is subtracted)

Both-serial adds an outer shift-accumulator over the bits of ``a`` (the tree then counts
ones); LSB-first adds ``±tree << j`` instead of shifting the partial sum. With a per-group
scale the slice sums add into an exact group register, which is multiplied by (``int``) or
shifted by (``pow2``) the group's scale before it enters the wrapping accumulator, or
multiplied one scale bit per cycle (``serial``, :class:`lowbit.hw.bitmod.SerialScale`, the
datapath waiting when a group ends before the previous product is done). The whole pipeline
stalls while a result waits for ``result.ready``.

BitMoD weights (``w = bitmod3/bitmod4``) add a decode stage in front of the serial datapath
(:mod:`lowbit.hw.bitmod`): on each taken slice, every code is read under its group's data type
(``t``) as ``(-1)^s · m · 2^e``; lane l of column c then holds ``±(a[l] << e)`` as its parallel
operand and ``m`` as its serial one, so the tree, the shift-accumulators and the group stages
behind are those of any w-serial weight.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In

from lowbit.hw import carry
from lowbit.hw.accumulate import accumulate
from lowbit.hw.bitmod import SerialScale, decode_terms, shifted
from lowbit.hw.shapes import shape_of
from lowbit.hw.streams import array_ports
from lowbit.hw.systolic import lanes
from lowbit.kinds.bitserial import BitserialConfig
from lowbit.models.bitserial import Widths, tree_levels


def stream_layouts(config: BitserialConfig) -> dict[str, data.ArrayLayout]:
    """Payload layouts of the ``a``, ``w``, ``s`` and ``result`` streams (BitMoD weights:
    ``w`` lanes are codes, and ``t`` carries a data type id per column with each ``s``)."""
    L, C = config.lanes, config.cols
    if config.bitmod:
        return {"a": lanes(config.a, L), "w": data.ArrayLayout(unsigned(config.w.bits), L * C),
                "s": lanes(config.scale_fmt, C),
                "t": data.ArrayLayout(unsigned(config.w.type_bits), C),
                "result": lanes(config.accumulator, C)}
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
        if config.bitmod:
            ports["t"] = In(stream.Signature(layouts["t"]))
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
        serial_scale = cfg.scale == "serial"
        if serial_scale:   # the datapath waits (hold) while the serial scale is still busy
            en_out, en, hold = en, Signal(name="en_datapath"), Signal()
            m.d.comb += en.eq(en_out & ~hold)

        # --- the slice being issued: operands, flags, bit counters (BitMoD: each lane and
        # column's decoded ±(a << e) in x_act, its mantissa in w_act)
        a_act = Signal(self.a.payload.shape())
        if cfg.bitmod:
            w_act = Signal(data.ArrayLayout(unsigned(cfg.max_bits("w")), L * C))
            x_act = Signal(data.ArrayLayout(signed(wd.x), L * C))
            t_act = Signal(self.t.payload.shape())
        else:
            w_act = Signal(self.w.payload.shape())
        s_act = Signal(stream_layouts(cfg)["s"]) if scaled else None
        job = Signal(data.StructLayout({"group_first": 1, "group_last": 1, "tile_last": 1}))
        busy = Signal()
        jc = BitCounter.make("j", getattr(self, f"p{inner}"), cfg.max_bits(inner),
                             getattr(cfg, inner).signed and not cfg.bitmod, msb)
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
        if cfg.bitmod:
            s_ok = s_ok & (self.t.valid | ~need_s)
        m.d.comb += [take.eq(en & (~busy | last_issue) & self.a.valid & self.w.valid & s_ok),
                     self.a.ready.eq(take), self.w.ready.eq(take)]
        if scaled:
            m.d.comb += self.s.ready.eq(take & need_s)
        if cfg.bitmod:
            m.d.comb += self.t.ready.eq(take & need_s)

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
            m.d.sync += [busy.eq(1), jc.index.eq(jc.start),
                         *([] if cfg.bitmod else [w_act.eq(self.w.payload)]),
                         job.group_first.eq(group_first), job.group_last.eq(group_last),
                         job.tile_last.eq(tile_last), k0.eq(Mux(tile_last, 0, k0 + L))]
            m.d.sync += [a_act[i].eq(Mux(self.k > k0 + i, self.a.payload[i], 0))
                         for i in range(L)]
            if cfg.bitmod:
                self._decode(m, k0, need_s, t_act, x_act, w_act)
            if both:
                m.d.sync += ic.index.eq(ic.start)
            if scaled:
                m.d.sync += gcount.eq(Mux(group_last, 0, gcount + 1))
                with m.If(need_s):
                    m.d.sync += s_act.eq(self.s.payload)

        # --- stage 0: the issued bit of every serial operand, beside a copy of the parallel
        # operand (the issued slice's registers move on when its last bit is issued)
        ctl = _control_layout(cfg, inner)
        v0, ctl0 = Signal(), Signal(ctl)
        with m.If(en):
            m.d.sync += [v0.eq(busy), ctl0.first_j.eq(jc.first), ctl0.last_j.eq(jc.last),
                         ctl0.neg_j.eq(jc.sign), ctl0.j.eq(jc.index),
                         ctl0.group_first.eq(job.group_first), ctl0.group_last.eq(job.group_last),
                         ctl0.tile_last.eq(job.tile_last)]
            if both:
                m.d.sync += [ctl0.first_i.eq(ic.first), ctl0.last_i.eq(ic.last),
                             ctl0.neg_i.eq(ic.sign), ctl0.i.eq(ic.index)]
            else:
                m.d.sync += [ctl0.first_i.eq(1), ctl0.last_i.eq(1)]
            if scaled:
                m.d.sync += ctl0.scale.eq(s_act)
        terms = self._selected(m, en, x_act if cfg.bitmod else a_act, w_act, jc, ic)

        # --- stage 1: AND-selected lanes through one adder tree per column, the ANDs inside
        # the first level's carry cells, a register after every two levels
        cells = "ecp5" if cfg.family == "ecp5" else "generic"
        v1, ctl1 = v0, ctl0
        sums = [_and_level(m, f"tree{c}_0", column, cells) for c, column in enumerate(terms)]
        for level in range(1, tree_levels(cfg)):
            sums = [_add_level(m, f"tree{c}_{level}", v, cells) for c, v in enumerate(sums)]
            if level % 2 and level < tree_levels(cfg) - 1:
                v1, ctl1, sums = _registered(m, en, f"tree_l{level}", v1, ctl1, sums)
        v1, ctl1, regs = _registered(m, en, "tree", v1, ctl1, sums)
        tree1 = [row[0] for row in regs]

        # --- stage 2: the shift-accumulator over the inner serial operand's bits
        v2, ctl2, part = self._shift_accumulate(m, en, "part", wd.part, v1, ctl1, tree1,
                                                "first_j", "last_j", "neg_j", "j", msb, cells)
        # --- stage 3 (both-serial): the shift-accumulator over the bits of a
        if both:
            v3, ctl3, dot = self._shift_accumulate(m, en, "dot", wd.dot, v2, ctl2, part,
                                                   "first_i", "last_i", "neg_i", "i", msb, cells)
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
            elif cfg.scale == "int":
                addend = [gsum[c] * ctl4.scale[c] for c in range(C)]
        else:
            v4, ctl4, addend = v3, ctl3, dot
        tile_last5 = ctl4.tile_last
        if serial_scale:   # a group sum waits in stage 4 until the serial scale is free
            unit = SerialScale(cfg.scale_fmt, wd.group, C)
            m.d.comb += hold.eq(v4 & ~unit.ready)
            unit.elaborate(m, en_out, v4 & unit.ready, gsum, ctl4.scale, ctl4.tile_last)
            en, v4, tile_last5, addend = en_out, unit.valid, unit.tile_last, unit.products

        # --- stage 5: the wrapping accumulator; a tile's last slice (or group) emits a result
        spec = cfg.accumulator
        acc = [Signal(shape_of(spec), name=f"acc{c}") for c in range(C)]
        with m.If(en):
            m.d.sync += self.result.valid.eq(v4 & tile_last5)
            with m.If(v4):
                for c in range(C):
                    total = accumulate(acc[c], addend[c], spec)
                    m.d.sync += [self.result.payload[c].eq(total),
                                 acc[c].eq(Mux(tile_last5, 0, total))]
        return m

    def _decode(self, m: Module, k0, need_s, t_act, x_act, w_act) -> None:
        """BitMoD's decode stage, on the taken slice: each code under its group's data type
        (the ``t`` beat of a group's first slice, held for the rest) to ``±(a << e)`` and the
        mantissa the serial datapath consumes."""
        cfg = self.config
        L, C = cfg.lanes, cfg.cols
        width = Widths.of(cfg).x
        with m.If(need_s):
            m.d.sync += t_act.eq(self.t.payload)
        for lane in range(L):
            a = Mux(self.k > k0 + lane, self.a.payload[lane], 0)
            for c in range(C):
                i = lane * cfg.cols + c
                types = Mux(need_s, self.t.payload[c], t_act[c])
                sign, man, shift = decode_terms(m, cfg.w, self.w.payload[i], types, f"w{i}")
                m.d.sync += [x_act[i].eq(shifted(a, sign, shift, width)), w_act[i].eq(man)]

    def _selected(self, m: Module, en, a_act, w_act, jc: BitCounter,
                  ic: BitCounter | None) -> list[list[tuple[Value, Value]]]:
        """Per column, the tree's inputs as (operand, select bit) registers: a lane adds its
        parallel operand where the issued serial bit is 1 (both-serial: bit i of a, selected
        by bit j of w)."""
        cfg = self.config
        L, C = cfg.lanes, cfg.cols

        def reg(value, name):
            r = Signal(Value.cast(value).shape(), name=name)
            with m.If(en):
                m.d.sync += r.eq(value)
            return r

        w_bit = [[reg(Value.cast(w_act[lane * C + c]).bit_select(jc.index, 1), f"sw{lane}_{c}")
                  for c in range(C)] for lane in range(L)]
        if cfg.bitmod:   # the decoded ±(a << e) of every lane and column
            x = [[reg(a_act[lane * C + c], f"xx{lane}_{c}") for c in range(C)] for lane in range(L)]
            return [[(x[lane][c], w_bit[lane][c]) for lane in range(L)] for c in range(C)]
        if cfg.serial == "w":
            a = [reg(a_act[lane], f"xa{lane}") for lane in range(L)]
            return [[(a[lane], w_bit[lane][c]) for lane in range(L)] for c in range(C)]
        index = ic.index if cfg.serial == "both" else jc.index
        a_bit = [reg(Value.cast(a_act[lane]).bit_select(index, 1), f"sa{lane}")
                 for lane in range(L)]
        if cfg.serial == "both":
            return [[(a_bit[lane], w_bit[lane][c]) for lane in range(L)] for c in range(C)]
        w = [[reg(w_act[lane * C + c], f"xw{lane}_{c}") for c in range(C)] for lane in range(L)]
        return [[(w[lane][c], a_bit[lane]) for lane in range(L)] for c in range(C)]

    @staticmethod
    def _shift_accumulate(m: Module, en, name: str, width: int, v_in, ctl_in, terms: list,
                          first: str, last: str, neg: str, index: str, msb: bool,
                          cells: carry.Cells):
        """``reg = 2·reg ± term`` (MSB-first, one carry chain: the shift's clear and the
        sign's complement inside its cells) or ``reg += ±term << index`` (LSB-first), from 0
        at ``first``; the result is final in the cycle its ``valid`` pulse is high."""
        v_out, ctl_out = Signal(name=f"{name}_done"), Signal.like(ctl_in, name=f"{name}_ctl")
        regs = [Signal(signed(width), name=f"{name}{c}") for c in range(len(terms))]
        f, n = getattr(ctl_in, first), getattr(ctl_in, neg)
        with m.If(en):
            m.d.sync += [v_out.eq(v_in & getattr(ctl_in, last)), ctl_out.eq(ctl_in)]
        for c, (reg, term) in enumerate(zip(regs, terms)):
            if msb:
                pairs = [(carry.and_not(reg[i - 1], f) if i else carry.ZERO,
                          _flipped(term, i, n)) for i in range(width)]
                value = carry.chain(m, f"{name}{c}_step", pairs, carry_in=n, cells=cells)
            else:
                value = Mux(f, 0, reg) + (Mux(n, -term, term) << getattr(ctl_in, index))
            with m.If(en & v_in):
                m.d.sync += reg.eq(value)
        return v_out, ctl_out, regs


def _extended(v: Value, i: int) -> Value | None:
    """Bit ``i`` of ``v`` extended by its sign (None: a constant 0 above an unsigned value)."""
    if i < len(v):
        return v[i]
    return v[len(v) - 1] if v.shape().signed else None


def _flipped(v: Value, i: int, flip: Value) -> carry.Bit:
    """Bit ``i`` of ``v`` (sign-extended) XOR ``flip``, as a summand bit."""
    bit = _extended(v, i)
    return carry.signal(flip) if bit is None else carry.xor(bit, flip)


def _and_level(m: Module, name: str, column: list[tuple[Value, Value]],
               cells: carry.Cells) -> list[Value]:
    """The first tree level: pairs of ``operand AND select`` added in one carry chain each,
    the two ANDs of a bit inside its carry cell (an odd lane out moves up as its AND)."""
    out = []
    for p in range(0, len(column) - 1, 2):
        (x0, s0), (x1, s1) = column[p], column[p + 1]
        x0, x1 = Value.cast(x0), Value.cast(x1)
        signed_ = x0.shape().signed or x1.shape().signed
        width = max(len(x0), len(x1)) + 1
        pairs = []
        for i in range(width):
            b0, b1 = _extended(x0, i), _extended(x1, i)
            pairs.append((carry.ZERO if b0 is None else carry.and_(b0, s0),
                          carry.ZERO if b1 is None else carry.and_(b1, s1)))
        total = Signal(signed(width) if signed_ else width, name=f"{name}_{p // 2}")
        m.d.comb += total.eq(carry.chain(m, f"{name}_{p // 2}", pairs, cells=cells))
        out.append(total)
    if len(column) % 2:
        x, s = column[-1]
        out.append(Mux(s, x, 0))
    return out


def _add_level(m: Module, name: str, values: list, cells: carry.Cells) -> list:
    """One level of a balanced adder tree, each sum a carry chain of its own."""
    pairs = zip(values[::2], values[1::2])
    return ([carry.add(m, f"{name}_{i}", a, b, cells=cells) for i, (a, b) in enumerate(pairs)]
            + values[len(values) & ~1:])


def _registered(m: Module, en, name: str, valid, ctl, sums: list) -> tuple:
    """``valid``, ``ctl`` and every column's values one register later."""
    v, c_out = Signal(name=f"{name}_v"), Signal.like(ctl, name=f"{name}_ctl")
    regs = []
    for c, values in enumerate(sums):
        row = []
        for i, value in enumerate(values):
            r = Signal(Value.cast(value).shape(), name=f"{name}{c}_{i}")
            with m.If(en):
                m.d.sync += r.eq(value)
            row.append(r)
        regs.append(row)
    with m.If(en):
        m.d.sync += [v.eq(valid), c_out.eq(ctl)]
    return v, c_out, regs
