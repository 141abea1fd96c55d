"""The ``fusion`` core kind: a precision-scalable integer MAC in the line of Bit Fusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from lowbit.config import CoreConfig, option
from lowbit.kinds.int_datapath import RuntimeK
from lowbit.kinds.kind import CoreKind, SelfTestPlan
from lowbit.models.accumulator import MAX_ACC_BITS, OVERFLOW_MODES, Accumulator
from lowbit.models.fusion import FusionPerf, FusionTiler, fusion_golden
from lowbit.models.perf import GemmShape


@dataclass(frozen=True)
class FusionConfig(RuntimeK, CoreConfig):
    """Sixteen 2-bit BitBricks fused at run time into 8×8, 8×4, ..., 2×2 multipliers; the
    precisions and signedness of both operands are run-time inputs, so one build serves all."""

    KIND: ClassVar[str] = "fusion"

    acc: int = option(32, "accumulator width in bits (signed)", lo=18, hi=MAX_ACC_BITS)
    overflow: Literal["wrap", "saturate"] = option(
        "wrap", "accumulator overflow rule, applied once per beat to the beat's exact sum",
        choices=OVERFLOW_MODES)
    k_bits: int = option(16, "width of the run-time K register: beats per result, up to "
                         "2**k_bits - 1", lo=2, hi=32)
    stages: int = option(5, "pipeline registers between the operands and the accumulator "
                         "(mode select, bricks, shifts, two halves of the adder tree): 0..5; "
                         "1 registers the beat's sum", lo=0, hi=5)

    @property
    def accumulator(self) -> Accumulator:
        return Accumulator(self.acc, True, self.overflow)

    @property
    def latency(self) -> int:
        """Cycles from the last operand beat's handshake to its result's: the pipeline, then
        the accumulator."""
        return 1 + self.stages

    @property
    def name(self) -> str:
        sat = "_sat" if self.overflow == "saturate" else ""
        return f"fusion_acc{self.acc}{sat}_k{self.k_bits}_s{self.stages}"


def selftest(config: FusionConfig) -> SelfTestPlan:
    """32 dot products of 16 beats (or the largest K the config allows) in 8×8 mode, int8 by
    uint8: all 16 BitBricks make one product, with every shift from 0 to 12 and the widest
    adder tree, and a signed by an unsigned operand exercises both top-digit rules."""
    return SelfTestPlan(GemmShape(4, 8, min(16, config.k_max)),
                        {"a_bits": 8, "w_bits": 8, "a_signed": True, "w_signed": False})


KIND = CoreKind(
    name="fusion",
    summary="precision-scalable integer MAC (Bit Fusion): 1×8b·8b ... 16×2b·2b per cycle",
    config=FusionConfig, golden=fusion_golden, perf=FusionPerf, tiler=FusionTiler,
    selftest=selftest)
