"""The ``systolic`` generator: an R×C PE array, weight-stationary (ws) or output-stationary (os).

Both dataflows share one interface (streams in the manner of :mod:`amaranth.lib.stream`; each
payload is an array of lanes, lane 0 in the low bits)::

    a       In   R lanes of the activation format
    w       In   C lanes of the weight format
    result  Out  C lanes of the accumulator
    k       In   k_bits   run-time K ≥ 1 (reduction length)
    m       In   m_bits   ws only: run-time M, 1 ≤ M ≤ depth (rows per pass)

Change ``k``/``m`` only while the core is idle (every beat sent, every result taken). Skew and
de-skew are inside: every beat is a plain, simultaneous vector. Each result element is
``ovf(...ovf(ovf(0 + a0·w0) + a1·w1)... + a(K-1)·w(K-1))``, k in increasing order, exactly
:func:`lowbit.models.int_gemm.int_gemm`.

**Weight-stationary** — one *pass* computes ``Y[M×C] = X[M×K] @ V[K×C]`` (C output columns of a
GEMM). The weights arrive in K-tiles of R rows (the last tile holds K mod R rows when R does not
divide K); a tile is held in the PEs (PE row r ← V row r of the tile) while all M activation
rows of that K-slice stream through, and the next tile loads into the shadow weights
meanwhile. Partial sums of the M rows wait in a buffer of ``depth`` rows between K-tiles::

    w beats (C lanes):  V[0,:] V[1,:] … V[R-1,:] | V[R,:] … V[2R-1,:] | … V[K-1,:]   (K beats)
    a beats (R lanes):  X[0,0:R] X[1,0:R] … X[M-1,0:R] | X[0,R:2R] … X[M-1,R:2R] | …  (⌈K/R⌉·M)
    result (C lanes):   Y[0,:] Y[1,:] … Y[M-1,:]                                        (M beats)

               V tile (R rows) in the PEs
    X[m,k0+r] ─┬──────────────► a flows east, skewed one cycle per row
               PE ── PE ── PE
               │psum ↓  ↓   ↓   partial sums flow south, ovf at every PE
               PE ── PE ── PE
               ↓     ↓     ↓ ─► de-skew ─► + next K-tile (buffer) or result row

Lanes of the last K-tile past K are ignored, as are result lanes past a GEMM's N.

**Output-stationary** — one *tile* computes ``Y[R×C] = X[R×K] @ V[K×C]``; PE (i, j) keeps
``Y[i, j]``. Beat k carries column k of X and row k of V; after the K-th beat the tile's R
result rows leave in order while the next tile already computes::

    a beats (R lanes):  X[:,0] X[:,1] … X[:,K-1]     (next tile follows at once)
    w beats (C lanes):  V[0,:] V[1,:] … V[K-1,:]     (paired with the a beats, one each)
    result (C lanes):   Y[0,:] Y[1,:] … Y[R-1,:]     (R beats per tile)

           V[k, j] flows south
    X[i,k] PE ── PE ── PE   a flows east; each PE adds a·w into its own accumulator
      ───► │     │     │
           PE ── PE ── PE   finished sums go onto one bus per column, then de-skew

A tile starts at most every max(K, R) cycles (a column bus carries R rows per tile).

**Multipliers and PE columns.** Each PE multiplies with the component ``config.mul`` chooses
(:mod:`lowbit.hw.mul.lanes`): Yosys's ``a * w``, a pipelined carry-chain array in the fabric, or
the family's DSP block instantiated with its registers; with ``mul=auto`` the first
``dsp_blocks`` PEs (row by row) get DSP blocks and the rest the fabric, all with the same
latency. With ``pack`` > 1 a PE covers ``pack`` adjacent columns whose weights share its
activation in one DSP block, so the mesh is R × C/pack PEs and the skews run over PE columns.

**Partial-sum buffer** (ws). ``depth`` rows of C accumulators in the family's block RAM
(:mod:`lowbit.hw.ram`), read when an activation row is taken, written back when its sums leave
the bottom, a read of the row written in the same cycle seeing the new sums. With a product
latency L ≥ 1 its read takes two cycles, the output register taking the first cycle of L (on
ECP5 DP16KD's own output register: the read is then as fast as the fabric); with L = 0 one
(``Memory``, on ECP5 without the output register).

**Stalls.** The whole array moves on one enable. With ``fanout`` = 0 it is
``~result.valid | result.ready``; with ``fanout`` = F it is a register F stages after a
decision made from the fill level of a result FIFO, which keeps F + 1 free slots for the
results already under way, so no path runs from ``result.ready`` to the array's registers.
"""

from __future__ import annotations

from operator import or_

from amaranth.hdl import Cat, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In

from lowbit.hw.group_pe import (
    GroupScaledOutputStationaryPE,
    group_north_layout,
    group_west_layout,
)
from lowbit.hw.mul.lanes import pe_multiplier
from lowbit.hw.olive import decode_lanes
from lowbit.hw.pe import (
    OutputStationaryPE,
    PESpec,
    WeightStationaryPE,
    os_west_layout,
    ws_west_layout,
)
from lowbit.hw.ram import BlockRam, block_ram
from lowbit.hw.shapes import shape_of
from lowbit.hw.skew import Skew, delayed
from lowbit.hw.streams import array_ports
from lowbit.hw.trees import balanced
from lowbit.kinds.systolic import SystolicConfig
from lowbit.models.olive import OvpFormat


def lanes(fmt, count: int) -> data.ArrayLayout:
    """A payload of ``count`` lanes of ``fmt`` (a format or an accumulator), lane 0 lowest."""
    return data.ArrayLayout(shape_of(fmt), count)


def code_lanes(fmt, count: int) -> data.ArrayLayout:
    """A payload of ``count`` operand lanes: the format's codes (an OliVe operand's are
    unsigned pair codes, decoded inside)."""
    return data.ArrayLayout(unsigned(fmt.bits), count) if isinstance(fmt, OvpFormat) else \
        lanes(fmt, count)


def beat_lanes(fmt, payload) -> list:
    """A beat's lanes as the PEs take them: OliVe pairs decoded to terms (on the fly, at the
    array's edge), any other format as it came."""
    if isinstance(fmt, OvpFormat):
        return decode_lanes(fmt, [payload[i] for i in range(len(payload))])
    return [payload[i] for i in range(len(payload))]


def stream_layouts(config: SystolicConfig) -> dict[str, data.ArrayLayout]:
    """Payload layouts of the ``a``, ``w`` and ``result`` streams (and with group scales,
    ``s``: an exponent per column)."""
    out = {"a": code_lanes(config.a, config.rows), "w": code_lanes(config.w, config.cols),
           "result": lanes(config.accumulator, config.cols)}
    if config.scale != "none":
        out["s"] = lanes(config.scale_fmt, config.cols)
    return out


def Systolic(config: SystolicConfig) -> wiring.Component:
    """The array of ``config.dataflow``.

    Parameters
    ----------
    config
        The array's :class:`~lowbit.kinds.systolic.SystolicConfig`.

    Returns
    -------
    amaranth.lib.wiring.Component
        A :class:`WeightStationaryArray` or an :class:`OutputStationaryArray`.
    """
    return {"ws": WeightStationaryArray, "os": OutputStationaryArray}[config.dataflow](config)


def psum_buffer(config: SystolicConfig, sums) -> BlockRam:
    """The ws partial-sum buffer: ``depth`` rows of ``sums``. With a product latency its read
    takes two cycles (the family's registered block RAM: on ECP5 DP16KDs with their output
    register), else one (``Memory``)."""
    return block_ram(config.family, sums, config.depth, 2 if config.product_latency else 1)


def fifo_depth(config: SystolicConfig) -> int:
    """Result FIFO slots with ``fanout`` stages: the F + 1 the decision keeps free, and as many
    again so results keep flowing while they drain."""
    return 2 * (config.fanout + 2)


def _run_flags(m: Module, count: Value, step: Value, bits: int, name: str
               ) -> tuple[Signal, Value]:
    """Where a run of ``count`` steps (at least 1) is, as flags: ``first`` (a register) and
    ``last`` (from ``count`` itself on the first step, where a run may start with a new count),
    with a down-counter of the steps after the next one, so that no comparison with ``count``
    sits on the path from ``step`` to whatever ``last`` decides. A run follows the last one."""
    first = Signal(init=1, name=f"{name}_first")
    next_last = Signal(name=f"{name}_next_last")
    todo = Signal(bits, name=f"{name}_todo")
    last = Mux(first, count == 1, next_last)
    with m.If(step):
        m.d.sync += [first.eq(last), todo.eq(Mux(first, count - 2, todo - 1)),
                     next_last.eq(Mux(first, count == 2, todo == 1))]
    return first, last


class _Array(wiring.Component):
    def __init__(self, config: SystolicConfig, extra: dict | None = None):
        self.config = config
        layouts = stream_layouts(config)
        extra = dict(extra or {})
        if config.scale != "none":
            extra |= {"s": In(stream.Signature(layouts["s"])), "g": In(config.g_bits)}
        super().__init__(array_ports(layouts, config.k_bits, **extra))

    @property
    def spec_latency(self) -> int:
        """Enabled cycles from a PE's operands to its products at the adders."""
        return self.config.product_latency

    def _spec(self, dsp: bool) -> PESpec:
        cfg = self.config
        make = (lambda: pe_multiplier(cfg, dsp)) if cfg.integer else None
        return PESpec(*cfg.pe_formats, cfg.accumulator, cfg.pack, make,
                      cfg.mul_stages if cfg.integer else 0, cfg.mul_reg)

    def _grouped(self, shape) -> data.ArrayLayout:
        """``cols`` lanes of ``shape`` grouped per PE column (``pack`` lanes each)."""
        cfg = self.config
        return data.ArrayLayout(data.ArrayLayout(shape, cfg.pack), cfg.wide_cols)

    def _enable(self, m: Module) -> Signal:
        """The whole array moves on this; see the module docstring."""
        cfg = self.config
        en = Signal()
        if cfg.fanout == 0:
            m.d.comb += en.eq(~self.result.valid | self.result.ready)
            return en
        layout = stream_layouts(cfg)["result"]
        m.submodules.results = fifo = SyncFIFOBuffered(width=layout.size, depth=fifo_depth(cfg))
        m.d.comb += [self.result.valid.eq(fifo.r_rdy), self.result.payload.eq(fifo.r_data),
                     fifo.r_en.eq(self.result.ready)]
        self._fifo = fifo
        go = fifo_depth(cfg) - fifo.level > cfg.fanout
        stages = [Signal(name=f"en_stage{i}") for i in range(cfg.fanout - 1)]
        for src, dst in zip([go, *stages], [*stages, en]):
            m.d.sync += dst.eq(src)
        return en

    def _emit(self, m: Module, en: Value, valid: Value, payload: Value) -> None:
        """A result row leaves when ``valid`` is high on an enabled cycle."""
        if self.config.fanout == 0:
            with m.If(en):
                m.d.sync += [self.result.valid.eq(valid), self.result.payload.eq(payload)]
            return
        m.d.comb += [self._fifo.w_en.eq(en & valid), self._fifo.w_data.eq(payload)]

    def _mesh(self, m: Module, pe_class, west: Skew, north: Skew, en: Signal,
              corner=None) -> list[list]:
        """R × C/pack PEs, each fed by its west and north neighbour (the edges by the skewed
        inputs); PEs row by row up to ``dsp_blocks`` on DSP blocks (``mul=dsp``: all). The
        first PE is a ``corner`` when given."""
        cfg = self.config
        cols = cfg.wide_cols
        dsp_pes = {"dsp": cfg.rows * cols, "auto": cfg.dsp_blocks}.get(cfg.mul, 0)
        specs = {dsp: self._spec(dsp) for dsp in (False, True)}
        pes = [[(corner if corner and r == c == 0 else pe_class)(specs[r * cols + c < dsp_pes])
                for c in range(cols)] for r in range(cfg.rows)]
        for r, row in enumerate(pes):
            for c, pe in enumerate(row):
                m.submodules[f"pe_{r}_{c}"] = pe
                m.d.comb += [
                    pe.en.eq(en),
                    pe.west.eq(west.o[r] if c == 0 else row[c - 1].east),
                    pe.north.eq(north.o[c] if r == 0 else pes[r - 1][c].south),
                ]
        return pes

    @staticmethod
    def _skew(m: Module, name: str, skew: Skew, en: Signal) -> Skew:
        m.submodules[name] = skew
        m.d.comb += skew.en.eq(en)
        return skew


class WeightStationaryArray(_Array):
    """Weights stay in the PEs (double-buffered); activations flow east, partial sums south."""

    def __init__(self, config: SystolicConfig):
        super().__init__(config, {"m": In(config.m_bits)})

    @property
    def latency(self) -> int:
        """Cycles from an activation beat's handshake to its partial-sum row's write-back."""
        cfg = self.config
        return cfg.rows + cfg.wide_cols + self.spec_latency

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        R, P, CP = cfg.rows, cfg.pack, cfg.wide_cols
        en = self._enable(m)
        K, M = self.k, self.m

        # --- the weight loader fills the shadow weights with the next K-tile
        full = Signal()                 # the shadow holds a whole tile not yet in use
        load_r = Signal(range(R))       # PE row it goes to
        # --- the activation side walks K-tiles and rows within a tile; ``left`` is the K still
        # to come after the current tile's start (K itself on the first tile of a pass)
        first_tile = Signal(init=1)
        left_reg = Signal(cfg.k_bits)
        # left_reg <= R and left_reg > r for each PE row r, as flags beside it: which lanes
        # of a beat are live and whether its tile is the last never wait for a comparison
        reg_last, reg_live = Signal(), Signal(R)
        row = Signal(range(cfg.depth))
        # row == 0 and row == M - 1 as flags of the value row holds (the latter from M itself
        # while row is 0, where a run may start with a new M)
        tile_start, next_last = Signal(init=1), Signal()
        in_flight = Signal(range(self.latency + 2))
        retire = Signal()
        # in_flight < M and in_flight == M, kept as flags of the value in_flight holds, so that
        # no subtraction or comparison sits between the result side and a.ready
        below, at = Signal(init=1), Signal()

        row_last = Mux(tile_start, M == 1, next_last)
        left = Mux(first_tile, K, left_reg)
        last_tile = Mux(first_tile, K <= R, reg_last)
        live = Mux(first_tile, Cat(r < K for r in range(R)), reg_live)
        raw_ok = first_tile | below | (at & retire)  # row `row` of the last tile is written
        m.d.comb += self.a.ready.eq(en & (~tile_start | full) & raw_ok)
        take_a = self.a.valid & self.a.ready
        swap = take_a & tile_start
        m.d.comb += self.w.ready.eq(en & (~full | swap))
        take_w = self.w.valid & self.w.ready

        _, pass_end_w = _run_flags(m, K, take_w, cfg.k_bits, "w")   # the pass's weight rows
        tile_end_w = (load_r == R - 1) | pass_end_w
        with m.If(swap):
            m.d.sync += full.eq(0)
        with m.If(take_w):
            m.d.sync += load_r.eq(Mux(tile_end_w, 0, load_r + 1))
            with m.If(tile_end_w):
                m.d.sync += full.eq(1)
        with m.If(take_a):
            with m.If(row_last):
                m.d.sync += [row.eq(0), first_tile.eq(last_tile), left_reg.eq(left - R),
                             reg_last.eq(left <= 2 * R),
                             reg_live.eq(Cat(left > R + r for r in range(R))), tile_start.eq(1)]
            with m.Else():
                m.d.sync += [row.eq(row + 1), tile_start.eq(0), next_last.eq(row + 2 == M)]
        # the flags of in_flight - 1, in_flight and in_flight + 1 side by side, then picked by
        # take_a and retire: a.ready's logic reaches them through two multiplexers only
        near = {d: in_flight + d for d in (-1, 0, 1)}

        def pick(test):
            return Mux(take_a, Mux(retire, test(near[0]), test(near[1])),
                       Mux(retire, test(near[-1]), test(near[0])))

        m.d.sync += [in_flight.eq(in_flight + take_a - retire), below.eq(pick(lambda v: v < M)),
                     at.eq(pick(lambda v: v == M))]

        # --- input stage: weight rows to the load bus, activation lanes past K zeroed
        load_bus = data.StructLayout({"valid": 1, "row": range(R),
                                      "w": data.ArrayLayout(shape_of(cfg.pe_formats[1]), P)})
        wskew = self._skew(m, "w_skew", Skew.rising(load_bus, CP), en)
        west = self._skew(m, "a_skew", Skew.rising(ws_west_layout(cfg.pe_formats[0]), R), en)
        a_lanes, w_lanes = beat_lanes(cfg.a, self.a.payload), beat_lanes(cfg.w, self.w.payload)
        token = Signal(data.StructLayout({"valid": 1, "first": 1, "last": 1}))
        with m.If(en):
            m.d.sync += [token.valid.eq(take_a), token.first.eq(first_tile),
                         token.last.eq(last_tile)]
            for c in range(CP):
                m.d.sync += [wskew.i[c].valid.eq(take_w), wskew.i[c].row.eq(load_r),
                             *(wskew.i[c].w[k].eq(w_lanes[c * P + k]) for k in range(P))]
            for r in range(R):
                # an untaken cycle's lanes are don't-care (its sums are never written), so
                # take_a reaches only the swap bits; lanes past K are zeroed, and their rows
                # keep their weights (times zero): each row's swap differs from the others',
                # so Yosys cannot merge the equal-delay swap registers of an anti-diagonal
                # into one flip-flop driving the weight multiplexers across the array
                m.d.sync += [west.i[r].a.eq(Mux(live[r], a_lanes[r], 0)),
                             west.i[r].swap.eq(swap & live[r])]

        # --- partial sums: read when the row is taken, skewed into the top of the columns
        sums = self._grouped(shape_of(cfg.accumulator))
        m.submodules.psums = psums = psum_buffer(cfg, sums)
        m.d.comb += [psums.r_addr.eq(row), psums.r_en.eq(en), psums.r_out_en.eq(en)]
        # with a product latency, its first cycle is the block RAM's output register (the
        # read's clock-to-out is then a path of its own)
        early = psums.latency - 1
        first = delayed(m, token.first, early, en, "psum_first")
        top = Signal(sums)
        m.d.comb += top.eq(Mux(first, 0, psums.r_data.as_value()))
        north = self._skew(m, "psum_skew", Skew.rising(sums.elem_shape, CP), en)
        m.d.comb += north.i.eq(delayed(m, top, self.spec_latency - early, en, "top"))

        # the first PE's next swap is the handshake itself, too late to move its weights early
        pes = self._mesh(m, WeightStationaryPE, west, north, en,
                         corner=lambda spec: WeightStationaryPE(spec, ahead=False))
        for r in range(R):
            for c in range(CP):
                pe = pes[r][c]
                m.d.comb += [pe.load.eq(wskew.o[c].valid & (wskew.o[c].row == r)),
                             pe.load_w.eq(wskew.o[c].w)]
                if pe.ahead:  # the swap it sees next: its west neighbour's, or the skew's lane
                    m.d.comb += pe.swap_next.eq(west.ahead[r].swap if c == 0
                                                else pes[r][c - 1].west.swap)

        # --- bottom: de-skew into a row, then back to the buffer or out as a result
        south = self._skew(m, "deskew", Skew.falling(north.shape, CP), en)
        m.d.comb += [south.i[c].eq(pes[R - 1][c].south) for c in range(CP)]
        done = delayed(m, token, self.latency - 1, en, "token")
        wrow = Signal(range(cfg.depth))
        m.d.comb += [retire.eq(en & done.valid), psums.w_addr.eq(wrow),
                     psums.w_data.eq(south.o), psums.w_en.eq(retire & ~done.last)]
        with m.If(retire):
            m.d.sync += wrow.eq(Mux(wrow == M - 1, 0, wrow + 1))
        self._emit(m, en, done.valid & done.last, south.o.as_value())
        return m


class OutputStationaryArray(_Array):
    """Sums stay in the PEs; activations flow east, weights south, results leave by column bus."""

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        R, CP = cfg.rows, cfg.wide_cols
        en = self._enable(m)
        K = self.k

        cool = Signal(range(R))      # cycles until the column buses can take another tile
        # free = cool < K as a flag (cool is 0 when a run starts), so that, with the beat's
        # flags, no comparison with K sits between a.valid and a.ready
        free = Signal(init=1)
        go = Signal()
        first, last = _run_flags(m, K, go, cfg.k_bits, "beat")   # the beat within the tile
        scaled = cfg.scale != "none"
        if scaled:   # groups of g beats; an s beat (the group's exponents) with each first
            gbeat = Signal(cfg.g_bits)
            group_first, glast = gbeat == 0, last | (gbeat == self.g - 1)
        ready = en & self.a.valid & self.w.valid & (~first | free)
        m.d.comb += [go.eq(ready & (self.s.valid | ~group_first) if scaled else ready),
                     self.a.ready.eq(go), self.w.ready.eq(go)]
        if scaled:
            exponents = Signal(self.s.payload.shape())
            m.d.comb += self.s.ready.eq(go & group_first)
            with m.If(go):
                m.d.sync += gbeat.eq(Mux(glast, 0, gbeat + 1))
                with m.If(group_first):
                    m.d.sync += exponents.eq(self.s.payload)
            current = Mux(group_first, self.s.payload.as_value(), exponents.as_value())
        with m.If(go & last):
            m.d.sync += [cool.eq(R - 1), free.eq(R - 1 < K)]
        with m.Elif(en & (cool != 0)):
            m.d.sync += [cool.eq(cool - 1), free.eq(cool - 1 < K)]

        weights = self._grouped(shape_of(cfg.pe_formats[1]))
        if scaled:
            west = self._skew(m, "a_skew", Skew.rising(group_west_layout(cfg.a), R), en)
            north = self._skew(m, "w_skew", Skew.rising(
                group_north_layout(cfg.w, cfg.scale_fmt.bits), CP), en)
        else:
            west = self._skew(m, "a_skew", Skew.rising(os_west_layout(cfg.pe_formats[0]), R),
                              en)
            north = self._skew(m, "w_skew", Skew.rising(weights.elem_shape, CP), en)
        with m.If(en):
            for r in range(R):
                m.d.sync += [west.i[r].a.eq(self.a.payload[r]), west.i[r].valid.eq(go),
                             west.i[r].last.eq(go & last)]
                if scaled:
                    m.d.sync += west.i[r].glast.eq(go & glast)
            if scaled:
                shifts = data.ArrayLayout(self.s.payload.shape().elem_shape, CP)
                m.d.sync += [north.i[c].w.eq(self.w.payload[c]) for c in range(CP)]
                m.d.sync += [north.i[c].e.eq(shifts(current)[c]) for c in range(CP)]
            elif isinstance(cfg.w, OvpFormat):
                m.d.sync += north.i.eq(Cat(*beat_lanes(cfg.w, self.w.payload)))
            else:
                m.d.sync += north.i.eq(self.w.payload.as_value())

        pe_class = OutputStationaryPE
        if scaled:
            def pe_class(spec):
                return GroupScaledOutputStationaryPE(spec, cfg.scale_fmt.bits, cfg.group_bits)
        pes = self._mesh(m, pe_class, west, north, en)

        # one bus per PE column: the PE whose sums are done drives it (rows finish one a cycle)
        sums = self._grouped(shape_of(cfg.accumulator))
        deskew = self._skew(m, "deskew", Skew.falling(sums.elem_shape, CP), en)
        row_done = Signal()
        with m.If(en):
            for c in range(CP):
                m.d.sync += deskew.i[c].eq(balanced([pes[r][c].result.as_value()
                                                     for r in range(R)], or_))
            m.d.sync += row_done.eq(balanced([pes[r][CP - 1].done for r in range(R)], or_))
        self._emit(m, en, row_done, deskew.o.as_value())
        return m
