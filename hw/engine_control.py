"""The engine's run controller: the IDLE / BUSY / DONE state of a run and its cycle count.

The command executor talks to it through two streams: a :class:`RunOp` request in, and for
every request one :data:`RUN_STATUS` beat out, the state and cycle count once the request took
effect. Requests and answers are streams (not levels) so that the controller can sit in
another clock domain behind a pair of asynchronous FIFOs without the executor noticing
(:mod:`lowbit.hw.engine`).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from lowbit.hw.protocol import State

CYCLE_BITS = 32

#: the answer to a request: the run's state (:class:`~lowbit.hw.protocol.State`) and the cycles
#: of the current or last run
RUN_STATUS = data.StructLayout({"state": 2, "cycles": CYCLE_BITS})


class RunOp(enum.Enum, shape=2):
    """What the executor asks of the controller."""

    STATUS = 0      # nothing; just the state
    START = 1       # begin a run: BUSY, cycles from 0
    ABORT = 2       # end any run, reset the core: IDLE


class RunController(wiring.Component):
    """IDLE → (START) → BUSY → (``done``) → DONE; ABORT → IDLE from any state.

    ``run`` is high while a run is going: the DMAs and the result writer move words and the
    cycle counter counts. ``done`` is the AND of every DMA's and the writer's ``done``. ``abort``
    pulses for a cycle after an ABORT request was taken (the core's soft reset; a register, so
    that the core's reset net starts at a flip-flop). One request is taken at a time; its answer
    is a registered snapshot, held until taken.
    """

    request: In(stream.Signature(RunOp))
    status: Out(stream.Signature(RUN_STATUS))
    done: In(1)
    run: Out(1)
    abort: Out(1)

    def elaborate(self, platform):
        m = Module()
        state = Signal(2, init=State.IDLE)
        cycles = Signal(CYCLE_BITS)
        answer = Signal()              # a request took effect: snapshot it next cycle
        take = self.request.valid & self.request.ready
        m.d.comb += [self.request.ready.eq(~answer & ~self.status.valid),
                     self.run.eq(state == State.BUSY)]
        m.d.sync += self.abort.eq(take & (self.request.payload == RunOp.ABORT))

        with m.If(state == State.BUSY):
            m.d.sync += cycles.eq(cycles + 1)
            with m.If(self.done):
                m.d.sync += state.eq(State.DONE)
        with m.If(take):
            with m.Switch(self.request.payload):
                with m.Case(RunOp.START):
                    m.d.sync += [state.eq(State.BUSY), cycles.eq(0)]
                with m.Case(RunOp.ABORT):
                    m.d.sync += state.eq(State.IDLE)
        m.d.sync += answer.eq(take)
        with m.If(answer):
            m.d.sync += [self.status.valid.eq(1), self.status.payload.state.eq(state),
                         self.status.payload.cycles.eq(cycles)]
        with m.Elif(self.status.ready):
            m.d.sync += self.status.valid.eq(0)
        return m
