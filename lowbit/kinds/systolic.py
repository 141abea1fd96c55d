"""The ``systolic`` core kind: an R×C array of multiply-accumulate PEs, weight- or
output-stationary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from lowbit.config import option
from lowbit.kinds.int_datapath import INT8, IntDatapathConfig
from lowbit.kinds.kind import CoreKind, SelfTestPlan
from lowbit.models.formats import IntFormat, NumberFormat
from lowbit.models.kulisch import kulisch_bits, operand_format
from lowbit.models.packing import MULT18X18, Packing, cheapest, packings
from lowbit.models.perf import GemmShape
from lowbit.models.systolic import SystolicPerf, SystolicTiler, systolic_golden

MAX_DIM = 128
DATAFLOWS = ("ws", "os")
MULS = ("infer", "lut", "dsp", "auto")
FAMILIES = ("generic", "ecp5", "ice40")
#: the widest operand each family's DSP block takes (ECP5 MULT18X18D; iCE40 SB_MAC16 8×8 mode)
DSP_OPERAND_BITS = {"ecp5": 18, "ice40": 8}
#: registers each family's DSP block holds: input, (ECP5: pipeline,) output
DSP_REGISTERS = {"ecp5": 3, "ice40": 2}
#: the multiplier registers and enable stages a family gets when they are left at -1
DEFAULT_STAGES = {"generic": 0, "ecp5": 2, "ice40": 2}
DEFAULT_FANOUT = {"generic": 0, "ecp5": 2, "ice40": 1}
#: products per SB_MAC16 in its 8×8 mode
ICE40_PACK = 2


@dataclass(frozen=True)
class SystolicConfig(IntDatapathConfig):
    """An R×C PE array; see :mod:`lowbit.hw.systolic` for the streams and the beat order."""

    KIND: ClassVar[str] = "systolic"

    a: NumberFormat = option(INT8, "activation format: int8, uint4, ... or a minifloat "
                             "(fp8_e4m3, fp6_e2m3, fp4_e2m1, ...)", check=operand_format())
    w: NumberFormat = option(INT8, "weight format, as --a", check=operand_format())

    rows: int = option(4, "PE rows R (ws: K lanes per activation beat; os: M rows per tile)",
                       lo=1, hi=MAX_DIM)
    cols: int = option(4, "PE columns C (N columns per weight and result beat)", lo=1, hi=MAX_DIM)
    dataflow: Literal["ws", "os"] = option(
        "ws", "ws: weights stay in the PEs; os: partial sums stay in the PEs", choices=DATAFLOWS)
    depth: int = option(256, "ws only: rows of the partial-sum buffer, the largest run-time M",
                        lo=1, hi=1 << 16)
    mul_reg: bool = option(False, "register each PE's product before its adder (+1 cycle latency)")
    mul: Literal["infer", "lut", "dsp", "auto"] = option(
        "infer", "each PE's multiplier: infer (a * w, left to Yosys), lut (a pipelined "
        "carry-chain array in the fabric), dsp (the family's DSP block, instantiated with its "
        "registers), auto (DSP blocks for the first dsp_blocks PEs, the fabric for the rest)",
        choices=MULS)
    family: Literal["generic", "ecp5", "ice40"] = option(
        "generic", "the FPGA family whose cells mul=lut/dsp/auto use (dsp: ecp5 MULT18X18D, "
        "ice40 SB_MAC16 8x8 mode)", choices=FAMILIES)
    dsp_blocks: int = option(0, "mul=auto: DSP blocks to use; the PEs past them use the fabric",
                             lo=0, hi=4096)
    pack: int = option(1, "products per multiplier: columns that share one DSP block (a times "
                          "the weights of pack columns); cols must be a multiple", lo=1, hi=4)
    mul_stages: int = option(-1, "registers inside each multiplier (lut: pipeline stages of the "
                                 "carry-chain array; dsp: the block's input/pipeline/output "
                                 "registers); -1: the family's default (generic 0, ecp5 2, "
                                 "ice40 2)", lo=-1, hi=6)
    fanout: int = option(-1, "register stages of the array's enable (stall) before it fans out "
                             "to every register, with a result FIFO that absorbs them; 0: "
                             "combinational; -1: the family's default (generic 0, ecp5 2, "
                             "ice40 1)", lo=-1, hi=4)

    def check(self) -> None:
        for field, table in (("mul_stages", DEFAULT_STAGES), ("fanout", DEFAULT_FANOUT)):
            if getattr(self, field) < 0:  # one spelling, one hash
                default = 0 if field == "mul_stages" and self.mul == "infer" else \
                    table[self.family]
                object.__setattr__(self, field, default)
        self._check_multiplier()
        if self.integer:
            return super().check()
        need = kulisch_bits(self.a, self.w, self.k_max)
        if self.acc < need:
            self.fail("acc", f"at least {need} bits: {self.a} × {self.w} products accumulate "
                             f"exactly (Kulisch register) over K up to {self.k_max}")

    def _check_multiplier(self) -> None:
        if self.cols % self.pack:
            self.fail("pack", f"a divisor of cols={self.cols}: pack columns share a multiplier")
        if self.mul != "auto" and self.dsp_blocks:
            self.fail("dsp_blocks", "0 unless mul=auto")
        if self.mul == "infer":
            if self.mul_stages:
                self.fail("mul_stages", "0 with mul=infer (Yosys maps a * w; use mul_reg for a "
                                        "product register)")
            if self.pack > 1:
                self.fail("pack", "1 with mul=infer (packing needs an instantiated multiplier: "
                                  "mul=dsp or auto)")
            return
        if not self.integer:
            self.fail("mul", f"infer for minifloat operands ({self.a} × {self.w}); lut, dsp "
                             "and auto multiply integers")
        if self.mul in ("dsp", "auto"):
            if self.family not in DSP_OPERAND_BITS:
                self.fail("family", f"ecp5 or ice40 with mul={self.mul}: the family whose DSP "
                                    "block is instantiated")
            limit = DSP_OPERAND_BITS[self.family]
            for name in ("a", "w"):
                if getattr(self, name).bits > limit:
                    self.fail(name, f"at most {limit} bits for family={self.family}'s DSP block "
                                    f"(int1..int{limit}, uint1..uint{limit})")
            if self.mul_stages > DSP_REGISTERS[self.family]:
                self.fail("mul_stages", f"at most {DSP_REGISTERS[self.family]}: the registers "
                                        f"of family={self.family}'s DSP block")
        elif self.pack > 1:
            self.fail("pack", "1 with mul=lut (a fabric multiplier is not shared: each column "
                              "has its own)")
        if self.mul == "auto" and not self.dsp_blocks:
            self.fail("dsp_blocks", "at least 1 with mul=auto (how many DSP blocks the array "
                                    "may use)")
        if self.mul == "lut" and self.family == "ice40":
            self.fail("family", "generic or ecp5 with mul=lut (on iCE40 Yosys maps the "
                                "carry-chain rows to SB_CARRY from generic cells)")
        if self.pack > 1:
            self._check_packing()

    def _check_packing(self) -> None:
        if self.mul == "lut":
            return
        if self.family == "ice40":
            if self.pack > ICE40_PACK:
                self.fail("pack", f"at most {ICE40_PACK} on ice40 (SB_MAC16's 8x8 mode has two "
                                  "multipliers)")
            return
        if self.packing is None:
            most = max((p.count for p in packings(self.a, self.w, MULT18X18)), default=1)
            self.fail("pack", f"at most {most} for {self.a} × {self.w} on one ECP5 MULT18X18D "
                              "(the packed weights and product fields must fit 18×18 → 36 bits)")

    @property
    def packing(self) -> Packing | None:
        """How ``pack`` products share one ECP5 DSP multiplier (None: pack = 1, or no fit)."""
        if self.pack == 1 or self.family != "ecp5":
            return None
        return cheapest(self.a, self.w, self.pack, MULT18X18)

    @property
    def product_latency(self) -> int:
        """Enabled cycles from a PE's operands to its product at the adder."""
        return self.mul_stages + self.mul_reg

    @property
    def wide_cols(self) -> int:
        """PE columns: ``cols / pack`` (each PE computes ``pack`` columns)."""
        return self.cols // self.pack

    @property
    def integer(self) -> bool:
        """Integer operands (the accumulator's overflow rule applies); else minifloat operands
        decoded to exact fixed point and summed exactly, inf and NaN counting as 0."""
        return isinstance(self.a, IntFormat) and isinstance(self.w, IntFormat)

    @property
    def m_bits(self) -> int:
        """Width of the run-time M register (ws): holds 1..depth."""
        return self.depth.bit_length()

    @property
    def name(self) -> str:
        extra = f"_d{self.depth}" if self.dataflow == "ws" else ""
        regs = "_mr" if self.mul_reg else ""
        mul = ""
        if self.mul != "infer":
            blocks = f"{self.dsp_blocks}" if self.mul == "auto" else ""
            pack = f"p{self.pack}" if self.pack > 1 else ""
            mul = f"_{self.mul}{blocks}{pack}_{self.family}_s{self.mul_stages}"
        fanout = f"_f{self.fanout}" if self.fanout else ""
        return (f"systolic_{self.dataflow}{self.rows}x{self.cols}_{self.a}_{self.w}_acc{self.acc}_"
                f"{self.overflow}{regs}{mul}{fanout}_k{self.k_bits}{extra}")


def selftest(config: SystolicConfig) -> SelfTestPlan:
    """Four tiles (os: 2R×2C, K = 16) or two passes of up to 2R rows (ws: 2C columns, K = 2R),
    within the run-time registers."""
    R, C = config.rows, config.cols
    if config.dataflow == "os":
        return SelfTestPlan(GemmShape(2 * R, 2 * C, min(16, config.k_max)))
    return SelfTestPlan(GemmShape(min(2 * R, config.depth), 2 * C, min(2 * R, config.k_max)))


KIND = CoreKind(
    name="systolic",
    summary="R×C systolic array, weight- or output-stationary (int/uint 1-16, wrap or saturate; "
            "or minifloats, exact)",
    config=SystolicConfig, golden=systolic_golden, perf=SystolicPerf, tiler=SystolicTiler,
    selftest=selftest)
