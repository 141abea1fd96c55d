"""The ``mac`` core kind: an integer multiply-accumulate unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lowbit.config import option
from lowbit.kinds.int_datapath import IntDatapathConfig
from lowbit.kinds.kind import CoreKind, SelfTestPlan
from lowbit.models.mac import MacPerf, MacTiler, mac_golden
from lowbit.models.perf import GemmShape


@dataclass(frozen=True)
class MacConfig(IntDatapathConfig):
    """One multiplier and one accumulator; K operand pairs in, one dot product out."""

    KIND: ClassVar[str] = "mac"

    in_reg: bool = option(False, "register the operands before the multiplier")
    mul_reg: bool = option(False, "register the product before the accumulator")

    @property
    def latency(self) -> int:
        """Cycles from the last operand beat's handshake to its result's handshake."""
        return 1 + self.in_reg + self.mul_reg

    @property
    def name(self) -> str:
        regs = "".join(s for s, on in (("_ir", self.in_reg), ("_mr", self.mul_reg)) if on)
        return f"mac_{self.a}_{self.w}_acc{self.acc}_{self.overflow}{regs}_k{self.k_bits}"


def selftest(config: MacConfig) -> SelfTestPlan:
    """32 dot products of K = 16 (or the largest K the config allows)."""
    return SelfTestPlan(GemmShape(4, 8, min(16, config.k_max)))


KIND = CoreKind(
    name="mac",
    summary="integer multiply-accumulate unit (any int/uint width 1-16, wrap or saturate)",
    config=MacConfig, golden=mac_golden, perf=MacPerf, tiler=MacTiler, selftest=selftest)
