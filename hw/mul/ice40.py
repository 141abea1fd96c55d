"""The iCE40 SB_MAC16 in 8×8 mode: two independent 8×8 products per block.

Yosys never infers this mode. ``MODE_8x8`` splits the block into a top (``A[15:8] ×
B[15:8]`` → ``O[31:16]``) and a bottom (``A[7:0] × B[7:0]`` → ``O[15:0]``) multiplier, both
signed or unsigned by ``A_SIGNED``/``B_SIGNED``; the outputs select the 8×8 products
(``*OUTPUT_SELECT = 2``), optionally through the input registers (``A_REG``, ``B_REG``) and the
8×8 product registers (``TOP_8x8_MULT_REG``, ``BOT_8x8_MULT_REG``), all enabled by ``CE`` =
``en`` and cleared by the domain's reset (the block's resets are asynchronous). Simulated with
Yosys's own ``share/ice40/cells_sim.v`` (:mod:`lowbit.hw.sim_models`).
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, ResetSignal, Signal

from lowbit.hw.mul.shape import Multiplier
from lowbit.models.formats import IntFormat
from lowbit.models.packing import MAC16_8X8

LANE_BITS = MAC16_8X8.a_bits


class SbMac16x8(Multiplier):
    """``lanes`` = 1: ``p = a × w`` in the bottom half; ``lanes`` = 2: ``p[k] = a[k] × w[k]``
    in both halves. Latency = the registers used (0..2)."""

    def __init__(self, a: IntFormat, w: IntFormat, *, lanes: int = 1, reg_inputs: bool = False,
                 reg_output: bool = False):
        for name, fmt in (("a", a), ("w", w)):
            if fmt.bits > LANE_BITS:
                raise ValueError(f"{name}={fmt}: SB_MAC16's 8×8 mode takes operands of at most "
                                 f"{LANE_BITS} bits")
        if lanes not in (1, 2):
            raise ValueError(f"lanes={lanes}; 1 or 2")
        self.halves, self.reg_inputs, self.reg_output = lanes, reg_inputs, reg_output
        super().__init__(a, w, reg_inputs + reg_output, lanes=None if lanes == 1 else 2,
                         lanes_a=True)

    def elaborate(self, platform) -> Module:
        m = Module()
        pairs = [(self.a, self.w)] if self.halves == 1 else [(self.a[k], self.w[k]) for k in (0, 1)]
        lanes = []
        for k, (a, w) in enumerate(pairs):
            ea, ew = Signal(LANE_BITS, name=f"a{k}"), Signal(LANE_BITS, name=f"w{k}")
            m.d.comb += [ea.eq(a), ew.eq(w)]    # sign- or zero-extended to 8 bits
            lanes.append((ea, ew))
        if self.halves == 1:
            lanes.append((Const(0, LANE_BITS), Const(0, LANE_BITS)))
        out = Signal(32)
        zero, reset = Const(0), ResetSignal()
        m.submodules.dsp = Instance(
            "SB_MAC16",
            p_MODE_8x8=Const(1, 1), p_A_SIGNED=Const(self.a_format.signed, 1),
            p_B_SIGNED=Const(self.w_format.signed, 1),
            p_A_REG=Const(self.reg_inputs, 1), p_B_REG=Const(self.reg_inputs, 1),
            p_TOP_8x8_MULT_REG=Const(self.reg_output, 1),
            p_BOT_8x8_MULT_REG=Const(self.reg_output, 1),
            p_TOPOUTPUT_SELECT=Const(2, 2), p_BOTOUTPUT_SELECT=Const(2, 2),
            i_CLK=ClockSignal(), i_CE=self.en,
            i_A=Cat(lanes[0][0], lanes[1][0]), i_B=Cat(lanes[0][1], lanes[1][1]),
            i_C=Const(0, 16), i_D=Const(0, 16),
            i_IRSTTOP=reset, i_IRSTBOT=reset, i_ORSTTOP=reset, i_ORSTBOT=reset,
            **{f"i_{n}": zero for n in ("AHOLD", "BHOLD", "CHOLD", "DHOLD", "OLOADTOP",
                                        "OLOADBOT", "ADDSUBTOP", "ADDSUBBOT", "OHOLDTOP",
                                        "OHOLDBOT", "CI", "ACCUMCI", "SIGNEXTIN")},
            o_O=out)
        width = self.a_format.bits + self.w_format.bits
        if self.halves == 1:
            m.d.comb += self.p.eq(out[:width])
        else:
            m.d.comb += [self.p[0].eq(out[:width]), self.p[1].eq(out[16:16 + width])]
        return m
