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
from lowbit.models.perf import GemmShape
from lowbit.models.systolic import SystolicPerf, SystolicTiler, systolic_golden

MAX_DIM = 64
DATAFLOWS = ("ws", "os")


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

    def check(self) -> None:
        if self.integer:
            return super().check()
        need = kulisch_bits(self.a, self.w, self.k_max)
        if self.acc < need:
            self.fail("acc", f"at least {need} bits: {self.a} × {self.w} products accumulate "
                             f"exactly (Kulisch register) over K up to {self.k_max}")

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
        return (f"systolic_{self.dataflow}{self.rows}x{self.cols}_{self.a}_{self.w}_acc{self.acc}_"
                f"{self.overflow}{regs}_k{self.k_bits}{extra}")


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
