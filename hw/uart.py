"""A UART (8 data bits, no parity, one stop bit) with the bit period as a generic.

No maintained Amaranth UART installs from PyPI (``amaranth-stdio`` there is a placeholder), so
this is a small one. ``divisor`` is clock cycles per bit: a board's clock over its baud rate,
or a few cycles in simulation so that whole-system tests stay fast.
"""


from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

#: the receiver's input synchronizer and start detection take 3 cycles of the first half bit
MIN_DIVISOR = 8


class _Clocked(wiring.Component):
    """A UART side whose bit lasts ``divisor`` clock cycles."""

    def __init__(self, divisor: int):
        if divisor < MIN_DIVISOR:
            raise ValueError(f"UART divisor {divisor}: at least {MIN_DIVISOR} cycles per bit")
        self.divisor = divisor
        super().__init__()


class UARTRx(_Clocked):
    """Receiver: the ``rx`` pin to a byte stream that cannot be held off (``always_ready``).

    A start bit is checked at its middle and bits are sampled every ``divisor`` cycles from
    there; a byte whose stop bit is low (a framing error, e.g. a break) is dropped.
    """

    rx: In(1, init=1)
    data: Out(stream.Signature(8, always_ready=True))

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor))
        bits = Signal(10)           # start, 8 data bits, stop (shifted in from the top)
        count = Signal(range(11))   # bits still to sample; 0 = waiting for a start bit
        m.d.sync += self.data.valid.eq(0)
        with m.If(count == 0):
            with m.If(~rx):
                m.d.sync += [count.eq(10), timer.eq(self.divisor // 2)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [timer.eq(self.divisor - 1), bits.eq(Cat(bits[1:], rx)),
                         count.eq(count - 1)]
            with m.If((count == 10) & rx):          # a glitch, not a start bit
                m.d.sync += count.eq(0)
            with m.If((count == 1) & rx):           # stop bit high: a byte
                m.d.sync += [self.data.valid.eq(1), self.data.payload.eq(bits[2:])]
        return m


class UARTTx(_Clocked):
    """Transmitter: a byte stream to the ``tx`` pin (idle high)."""

    data: In(stream.Signature(8))
    tx: Out(1, init=1)

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        shift = Signal(10, init=0x3FF)
        left = Signal(range(11))    # bits still to send
        m.d.comb += self.data.ready.eq(left == 0)
        m.d.comb += self.tx.eq(shift[0])
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [shift.eq(Cat(0, self.data.payload, 1)), left.eq(10),
                         timer.eq(self.divisor - 1)]
        with m.Elif(left != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [shift.eq(Cat(shift[1:], 1)), left.eq(left - 1),
                             timer.eq(self.divisor - 1)]
        return m
