"""The ECP5 sysDSP 18×18 multiplier, MULT18X18D, instantiated with its own registers.

Yosys infers MULT18X18D only unregistered, so the product registers stay in the fabric and the
path FF → DSP → FF sets the clock; instantiated, the block's input registers (A, B and their
signs), pipeline register and output register are used instead, all on ``CLK0`` with clock
enable ``CE0`` = ``en`` and synchronous reset ``RST0`` = the domain's reset. Operands are sign-
or zero-extended to 18 bits and ``SIGNEDA``/``SIGNEDB`` follow their formats. The other clocks,
enables and resets and the cascade inputs (SRIA/SRIB) stay unconnected, as in Yosys's own
mapping: tied to a constant, nextpnr cannot route them ("Failed to find a route for arc ... of
net $PACKER_GND_NET"). The simulation
model is the project's own, ``hw/primitives/MULT18X18D.v`` (:mod:`lowbit.hw.sim_models`).
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Const, Instance, Module, ResetSignal, Signal, signed, unsigned

from lowbit.hw.mul.shape import Multiplier
from lowbit.models.formats import IntFormat
from lowbit.models.packing import MULT18X18

PORT_BITS = MULT18X18.a_bits


class Mult18x18d(Multiplier):
    """``p = a × w`` in one MULT18X18D; latency = the registers used (0..3)."""

    def __init__(self, a: IntFormat, w: IntFormat, *, reg_inputs: bool = False,
                 reg_pipeline: bool = False, reg_output: bool = False):
        for name, fmt in (("a", a), ("w", w)):
            if fmt.bits > PORT_BITS:
                raise ValueError(f"{name}={fmt}: MULT18X18D takes operands of at most "
                                 f"{PORT_BITS} bits")
        self.reg_inputs, self.reg_pipeline, self.reg_output = reg_inputs, reg_pipeline, reg_output
        super().__init__(a, w, reg_inputs + reg_pipeline + reg_output)

    def elaborate(self, platform) -> Module:
        m = Module()
        wide = {}
        for port, value, fmt in (("A", self.a, self.a_format), ("B", self.w, self.w_format)):
            wide[port] = Signal(signed(PORT_BITS) if fmt.signed else unsigned(PORT_BITS),
                                name=f"dsp_{port.lower()}")
            m.d.comb += wide[port].eq(value)
        product = Signal(2 * PORT_BITS)

        def clock(on: bool) -> str:
            return "CLK0" if on else "NONE"

        zero = Const(0)
        m.submodules.dsp = Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK=clock(self.reg_inputs), p_REG_INPUTB_CLK=clock(self.reg_inputs),
            p_REG_PIPELINE_CLK=clock(self.reg_pipeline), p_REG_OUTPUT_CLK=clock(self.reg_output),
            **{f"p_REG_{r}_{s}": f"{s}0" for r in ("INPUTA", "INPUTB", "PIPELINE", "OUTPUT")
               for s in ("CE", "RST")},
            p_RESETMODE="SYNC",
            i_SIGNEDA=Const(self.a_format.signed), i_SIGNEDB=Const(self.w_format.signed),
            i_SOURCEA=zero, i_SOURCEB=zero,
            i_CLK0=ClockSignal(), i_CE0=self.en, i_RST0=ResetSignal(),
            # the shift-register inputs and the other clocks stay open, as in Yosys's own
            # mapping: tied to the constant net, nextpnr-ecp5 finds no route to them
            **{f"i_{p}{i}": wide[p][i] for p in ("A", "B") for i in range(PORT_BITS)},
            **{f"i_C{i}": zero for i in range(PORT_BITS)},
            **{f"o_P{i}": product[i] for i in range(2 * PORT_BITS)})
        m.d.comb += self.p.eq(product)
        return m
