"""The engine's requantizer on the READ path: result words in, the bytes a READ sends out.

With ``enable`` each of a word's ``lanes`` accumulator lanes (``lane_bits`` bits, lane 0
lowest) becomes ``clip(round_shift(acc · multiplier, shift) + zero_point, min, max)`` in
``nbytes`` bytes, lowest first, ``round_shift`` rounding half up exactly as
:func:`lowbit.models.requant.round_shift` does; without it a word goes out as its
``ceil(width / 8)`` bytes. One shift-and-add multiplier works a multiplier bit per cycle,
which is fast enough at serial speed and costs no DSP block, so the result buffer keeps exact
accumulators.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lowbit.hw.protocol import SHIFT_BITS

VALUE_BITS = 32            # zero point, bounds and a requantized value


class Requantizer(wiring.Component):
    """``words`` (result payloads of ``lanes`` × ``lane_bits``) → ``out`` (bytes).

    The parameters (``multiplier`` of ``multiplier_bits`` bits, ``shift`` 0..63, ``zero_point``,
    ``min``, ``max``, ``nbytes`` 1..4) are read while a word is being worked on and must hold
    still meanwhile (the engine's registers do: they change only between commands).
    """

    def __init__(self, lanes: int, lane_bits: int, lane_signed: bool, multiplier_bits: int):
        self.lanes, self.lane_bits, self.lane_signed = lanes, lane_bits, lane_signed
        self.multiplier_bits = multiplier_bits
        self.word_bytes = -(-lanes * lane_bits // 8)
        super().__init__({
            "words": In(stream.Signature(lanes * lane_bits)),
            "out": Out(stream.Signature(8)),
            "enable": In(1),
            "multiplier": In(multiplier_bits),
            "shift": In(SHIFT_BITS),
            "zero_point": In(signed(VALUE_BITS)),
            "min": In(signed(VALUE_BITS)),
            "max": In(signed(VALUE_BITS)),
            "nbytes": In(3),
        })

    def elaborate(self, platform):
        m = Module()
        word = Signal(self.lanes * self.lane_bits)
        lane = Signal(range(max(self.lanes, 2)))
        # |acc · multiplier| < 2^(lane_bits + multiplier_bits); one more bit for the rounding
        product = Signal(signed(self.lane_bits + self.multiplier_bits + 2))
        addend = Signal.like(product)
        multiplier = Signal(self.multiplier_bits)
        step = Signal(range(self.multiplier_bits))
        shift_left = Signal(SHIFT_BITS)
        # bytes still to send, lowest first: a requantized value, or (off) the word itself
        value = Signal(VALUE_BITS)
        out_left = Signal(range(max(self.word_bytes, 4) + 1))
        m.d.comb += [self.out.payload.eq(Mux(self.enable, value[:8], word[:8])),
                     self.out.valid.eq(out_left != 0)]
        with m.If(self.out.valid & self.out.ready):
            m.d.sync += out_left.eq(out_left - 1)
            with m.If(self.enable):
                m.d.sync += value.eq(value >> 8)
            with m.Else():                    # the word's other lanes are not needed any more
                m.d.sync += word.eq(word >> 8)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.words.ready.eq(1)
                with m.If(self.words.valid):
                    m.d.sync += [word.eq(self.words.payload), lane.eq(0)]
                    with m.If(self.enable):
                        m.next = "LOAD"
                    with m.Else():
                        m.d.sync += out_left.eq(self.word_bytes)
                        m.next = "EMIT"
            with m.State("LOAD"):
                acc = word.word_select(lane, self.lane_bits)
                m.d.sync += [addend.eq(acc.as_signed() if self.lane_signed else acc),
                             multiplier.eq(self.multiplier), product.eq(0), step.eq(0)]
                m.next = "MULTIPLY"
            with m.State("MULTIPLY"):       # shift and add, a multiplier bit per cycle
                with m.If(multiplier[0]):
                    m.d.sync += product.eq(product + addend)
                m.d.sync += [addend.eq(addend << 1), multiplier.eq(multiplier >> 1),
                             step.eq(step + 1)]
                with m.If(step == self.multiplier_bits - 1):
                    m.d.sync += shift_left.eq(self.shift)
                    m.next = "SHIFT"
            with m.State("SHIFT"):   # ⌊(x + 2^(c-1)) / 2^c⌋ = ⌊(⌊x / 2^(c-1)⌋ + 1) / 2⌋
                m.d.sync += shift_left.eq(shift_left - 1)
                with m.If(shift_left == 0):
                    m.d.sync += shift_left.eq(0)
                    m.next = "CLIP"
                with m.Elif(shift_left == 1):
                    m.d.sync += product.eq((product + 1) >> 1)
                with m.Else():
                    m.d.sync += product.eq(product >> 1)
            with m.State("CLIP"):
                shifted = product + self.zero_point
                clipped = Mux(shifted < self.min, self.min,
                              Mux(shifted > self.max, self.max, shifted))
                m.d.sync += [value.eq(clipped.as_unsigned()[:VALUE_BITS]),
                             out_left.eq(self.nbytes)]
                m.next = "EMIT"
            with m.State("EMIT"):
                with m.If(out_left == 0):
                    with m.If(self.enable & (lane != self.lanes - 1)):
                        m.d.sync += lane.eq(lane + 1)
                        m.next = "LOAD"
                    with m.Else():
                        m.next = "IDLE"
        return m
