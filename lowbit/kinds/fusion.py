"""The ``fusion`` core kind: a precision-scalable integer MAC in the line of Bit Fusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lowbit.config import CoreConfig, option
from lowbit.errors import ConfigError
from lowbit.models.accumulator import MAX_ACC_BITS, Accumulator
from lowbit.registry import CoreKind, register

#: operand precisions a run can pick (bits), by their run-time code 0, 1, 2
PRECISIONS = (8, 4, 2)
#: the 2-bit × 2-bit multipliers (BitBricks) of one unit; an 8×8 product uses all of them
BRICKS = 16
#: bits of each operand word per beat: 8×8 needs 8 bits, 2×2 sixteen 2-bit lanes
WORD_BITS = 32


@dataclass(frozen=True)
class FusionConfig(CoreConfig):
    """Sixteen 2-bit BitBricks fused at run time into 8×8, 8×4, ..., 2×2 multipliers; the
    precisions and signedness of both operands are run-time inputs, so one build serves all."""

    KIND: ClassVar[str] = "fusion"

    acc: int = option(32, "accumulator width in bits (signed, wraps)", lo=18, hi=MAX_ACC_BITS)
    k_bits: int = option(16, "width of the run-time K register: beats per result, up to "
                         "2**k_bits - 1", lo=2, hi=32)
    mul_reg: bool = option(False, "register the fused products before the accumulator")

    @property
    def accumulator(self) -> Accumulator:
        return Accumulator(self.acc, True, "wrap")

    @property
    def latency(self) -> int:
        return 1 + self.mul_reg

    @property
    def k_max(self) -> int:
        return (1 << self.k_bits) - 1

    def check_gemm(self, shape) -> None:
        from lowbit.models.fusion import products_per_beat

        beats = -(-shape.k // products_per_beat(8, 8))
        if beats > self.k_max:
            raise ConfigError("gemm", str(shape), f"K must be at most {self.k_max} (8×8 "
                              f"mode) with k_bits={self.k_bits}", context=self.KIND)

    @property
    def name(self) -> str:
        return f"fusion_acc{self.acc}_k{self.k_bits}{'_mr' if self.mul_reg else ''}"


register(CoreKind(
    name="fusion",
    summary="precision-scalable integer MAC (Bit Fusion): 1×8b·8b ... 16×2b·2b per cycle",
    config=FusionConfig,
    generator="lowbit.hw.fusion:Fusion",
    golden="lowbit.models.fusion:fusion_golden",
    perf="lowbit.models.fusion:FusionPerf",
    testbench="lowbit.sim.tb_fusion",
))
