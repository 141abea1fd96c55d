"""The ``systolic`` core kind: an R×C array of multiply-accumulate PEs, weight- or
output-stationary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from lowbit.config import int_format, option
from lowbit.kinds.int_datapath import INT8, IntDatapathConfig
from lowbit.kinds.kind import CoreKind, SelfTestPlan
from lowbit.models.accumulator import product_bits
from lowbit.models.formats import Format, IntFormat, LevelFormat, sign_codes
from lowbit.models.kulisch import ALLOWED_OPERANDS, kulisch_bits, operand_format
from lowbit.models.olive import OvpFormat
from lowbit.models.packing import MULT18X18, Packing, cheapest, packings
from lowbit.models.perf import GemmShape
from lowbit.models.systolic import SystolicPerf, SystolicTiler, systolic_golden

MAX_DIM = 128
DATAFLOWS = ("ws", "os")
MULS = ("infer", "lut", "dsp", "auto", "addsub")
FAMILIES = ("generic", "ecp5", "ice40")
#: registers each family's DSP block holds: input, (ECP5: pipeline,) output
DSP_REGISTERS = {"ecp5": 3, "ice40": 2}
#: the multiplier registers and enable stages a family gets when they are left at -1
DEFAULT_STAGES = {"generic": 0, "ecp5": 2, "ice40": 2}
DEFAULT_FANOUT = {"generic": 0, "ecp5": 2, "ice40": 1}
#: products per SB_MAC16 in its 8×8 mode
ICE40_PACK = 2
SCALES = ("none", "pow2")
#: the widest power-of-two exponent of a group scale (shifts up to 15)
MAX_SHIFT_BITS = 4


class activation_format(operand_format):
    """A config ``check`` for the activation: an operand format, or OliVe pairs."""

    allowed = f"{ALLOWED_OPERANDS}; or olive4 (OliVe pairs, ws)"

    def __call__(self, fmt) -> str | None:
        return None if isinstance(fmt, OvpFormat) or super().__call__(fmt) is None \
            else self.allowed


class weight_format(operand_format):
    """A config ``check`` for the weight operand: an operand format, weights of values
    -1, 0, +1 (ternary, binary) for the add/subtract PE, or OliVe pairs."""

    allowed = f"{ALLOWED_OPERANDS}; or ternary, binary (with mul=addsub); or olive4"

    def __call__(self, fmt) -> str | None:
        ok = sign_codes(fmt) is not None or isinstance(fmt, OvpFormat) or \
            super().__call__(fmt) is None
        return None if ok else self.allowed


@dataclass(frozen=True)
class SystolicConfig(IntDatapathConfig):
    """An R×C PE array; see :mod:`lowbit.hw.systolic` for the streams and the beat order."""

    KIND: ClassVar[str] = "systolic"

    a: Format = option(INT8, "activation format: int8, uint4, ... or a minifloat "
                       "(fp8_e4m3, fp6_e2m3, fp4_e2m1, ...); or olive4 (OliVe pairs along K, ws)",
                       check=activation_format())
    w: Format = option(INT8, "weight format, as --a; or ternary/binary with mul=addsub; or "
                       "olive4 (OliVe pairs of neighbouring columns)", check=weight_format())

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
        "registers), auto (DSP blocks for the first dsp_blocks PEs, the fabric for the rest), "
        "addsub (no multiplier: add, subtract or skip the activation for weights of -1/0/+1)",
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
    scale: Literal["none", "pow2"] = option(
        "none", "os only: per-group weight scales applied in each PE after the group's integer "
        "dot product (MixPE): none, or pow2 (a shift by the group's exponent, then an add)",
        choices=SCALES)
    scale_fmt: IntFormat = option(IntFormat(3, signed=False), "the group scale's exponent "
                                  "code (unsigned: shifts 0..2**bits-1)",
                                  check=int_format(1, MAX_SHIFT_BITS))
    g_bits: int = option(8, "scale != none: width of the run-time group size (K elements per "
                            "group, up to 2**g_bits-1)", lo=1, hi=16)

    def check(self) -> None:
        for field, table in (("mul_stages", DEFAULT_STAGES), ("fanout", DEFAULT_FANOUT)):
            if getattr(self, field) < 0:  # one spelling, one hash
                default = 0 if field == "mul_stages" and self.mul in ("infer", "addsub") \
                    else table[self.family]
                object.__setattr__(self, field, default)
        self._check_multiplier()
        if self.scale != "none":
            self._check_scale()
        if self.olive:
            return self._check_olive()
        if self.integer:
            return super().check()
        need = kulisch_bits(self.a, self.w, self.k_max)
        if self.acc < need:
            self.fail("acc", f"at least {need} bits: {self.a} × {self.w} products accumulate "
                             f"exactly (Kulisch register) over K up to {self.k_max}")

    def _check_olive(self) -> None:
        """OliVe pairs: decoded at the array's edge from neighbouring lanes of one beat."""
        for side, fmt, other in (("a", self.a, self.w), ("w", self.w, self.a)):
            if isinstance(other, OvpFormat) and not isinstance(fmt, (IntFormat, OvpFormat)):
                other_side = "w" if side == "a" else "a"
                self.fail(side, f"an integer format or {other} with {other_side}={other} (the "
                                "PE multiplies decoded INT4 significands by integers)")
        if isinstance(self.w, OvpFormat) and self.cols % 2:
            self.fail("cols", f"even with w={self.w} (the pairs are neighbouring columns)")
        if isinstance(self.a, OvpFormat):
            if self.dataflow != "ws":
                self.fail("dataflow", f"ws with a={self.a} (its beats carry K lanes, which "
                                      "the pairs run along)")
            if self.rows % 2:
                self.fail("rows", f"even with a={self.a} (the pairs are neighbouring K lanes)")
        if self.scale != "none":
            self.fail("scale", "none with OliVe operands")
        va, vw = self.value_formats
        need = product_bits(va, vw)
        if not need <= self.acc <= self.accumulator_limit:
            self.fail("acc", f"{need}..{self.accumulator_limit} bits to hold one {self.a}×"
                             f"{self.w} product (values up to ±{va.max_units}×±{vw.max_units})")

    @property
    def olive(self) -> bool:
        """An operand in OliVe pairs (:mod:`lowbit.models.olive`)."""
        return isinstance(self.a, OvpFormat) or isinstance(self.w, OvpFormat)

    @property
    def value_formats(self) -> tuple:
        """The integer formats of the operands' values (an OliVe operand: its decoded range)."""
        return tuple(f.value_format if isinstance(f, OvpFormat) else f for f in (self.a, self.w))

    @property
    def pe_formats(self) -> tuple:
        """The formats the PEs see: an OliVe operand as its decoded terms."""
        return tuple(f.term_format if isinstance(f, OvpFormat) else f for f in (self.a, self.w))

    def _check_multiplier(self) -> None:
        if self.olive and self.mul != "infer":
            self.fail("mul", "infer with OliVe operands (the PE multiplies the decoded INT4 "
                             "significands and shifts)")
        if self.cols % self.pack:
            self.fail("pack", f"a divisor of cols={self.cols}: pack columns share a multiplier")
        if self.mul != "auto" and self.dsp_blocks:
            self.fail("dsp_blocks", "0 unless mul=auto")
        if isinstance(self.w, LevelFormat) and self.mul != "addsub":
            self.fail("w", f"an integer or minifloat format with mul={self.mul}; {self.w} "
                           "weights take mul=addsub (or int2 codes on a multiplier)")
        if self.mul == "addsub":
            return self._check_addsub()
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
            self.check_dsp_block()
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

    def _check_scale(self) -> None:
        """MixPE's group dequantization: in the output-stationary PEs, integer operands."""
        if self.dataflow != "os":
            self.fail("dataflow", "os with scale != none (each PE keeps its output's group sum "
                                  "and dequantizes it in place)")
        if not self.integer:
            self.fail("scale", f"none for minifloat operands ({self.a} × {self.w}); group "
                               "scales apply to integer dot products")
        if self.scale_fmt.signed:
            self.fail("scale_fmt", f"unsigned: uint1..uint{MAX_SHIFT_BITS} (a left shift)")
        if self.pack > 1:
            self.fail("pack", "1 with scale != none (each column has its own group scale)")

    @property
    def g_max(self) -> int:
        """The largest run-time group size (K elements)."""
        return (1 << self.g_bits) - 1

    @property
    def group_bits(self) -> int:
        """Width of a PE's exact group sum: up to ``g_max`` products."""
        return product_bits(self.a, self.w) + self.g_bits

    def _check_addsub(self) -> None:
        """The add/subtract PE: weights of -1/0/+1, integer activations, one column per PE."""
        if sign_codes(self.w) is None:
            self.fail("w", "ternary, binary, int1 or uint1 with mul=addsub (weights of -1, 0, "
                           "+1: the PE adds, subtracts or skips the activation)")
        if not isinstance(self.a, IntFormat):
            self.fail("a", "int1..int16 or uint1..uint16 with mul=addsub (the PE adds the "
                           "activation as an integer)")
        if self.pack > 1:
            self.fail("pack", "1 with mul=addsub (there is no multiplier to share)")

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
        """Integer operands (ternary, binary and OliVe included: the accumulator's overflow
        rule applies); else minifloat operands
        decoded to exact fixed point and summed exactly, inf and NaN counting as 0."""
        return isinstance(self.a, (IntFormat, OvpFormat)) and isinstance(
            self.w, (IntFormat, LevelFormat, OvpFormat))

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
        scale = "" if self.scale == "none" else f"_{self.scale}{self.scale_fmt}_g{self.g_bits}"
        return (f"systolic_{self.dataflow}{self.rows}x{self.cols}_{self.a}_{self.w}_acc{self.acc}_"
                f"{self.overflow}{regs}{mul}{fanout}{scale}_k{self.k_bits}{extra}")


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
