"""The ``blockdot`` core kind: an OCP MX / NVFP4 block dot-product unit with parallel lanes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lowbit.config import CoreConfig, option
from lowbit.models.block_formats import MXFP8_E4M3, BlockFormat
from lowbit.models.kulisch import kulisch_bits, operand_format
from lowbit.registry import CoreKind, register


def _element_check(fmt: BlockFormat) -> str | None:
    return operand_format()(fmt.element)


@dataclass(frozen=True)
class BlockdotConfig(CoreConfig):
    """Block formats of both operands and the lanes (element pairs per cycle)."""

    KIND: ClassVar[str] = "blockdot"

    a: BlockFormat = option(MXFP8_E4M3, "activation block format: mxfp8_e4m3, mxfp8_e5m2, "
                            "mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxint8 or nvfp4", check=_element_check)
    w: BlockFormat = option(MXFP8_E4M3, "weight block format (same block and scale as --a)",
                            check=_element_check)
    lanes: int = option(8, "element pairs multiplied per cycle; must divide the block", lo=1,
                        hi=64)
    mul_reg: bool = option(False, "register the lane products' sum before the accumulator")

    def check(self) -> None:
        if (self.a.block, self.a.scale) != (self.w.block, self.w.scale):
            self.fail("w", f"a block format pair with {self.a}'s block of {self.a.block} and "
                           f"{self.a.scale} scale (MX with MX, NVFP4 with NVFP4); "
                           f"{self.w} has {self.w.block} and {self.w.scale}")
        if self.a.block % self.lanes:
            divisors = [d for d in range(1, self.a.block + 1) if self.a.block % d == 0]
            self.fail("lanes", f"a divisor of the block size {self.a.block}: "
                               f"{', '.join(map(str, divisors))}")

    @property
    def block(self) -> int:
        return self.a.block

    @property
    def beats(self) -> int:
        """Beats per block."""
        return self.block // self.lanes

    @property
    def block_sum_bits(self) -> int:
        """The exact register of one block's element products."""
        return kulisch_bits(self.a.element, self.w.element, self.block)

    @property
    def sum_bits(self) -> int:
        """The block sum times both scales' significands (signed)."""
        return self.block_sum_bits + self.a.scale.man_bits + self.w.scale.man_bits + 2

    @property
    def exp_range(self) -> tuple[int, int]:
        """Smallest and largest ``exp`` of a block result (from the scale formats' codes)."""
        lo = hi = self.a.element.lsb + self.w.element.lsb
        for fmt in (self.a.scale, self.w.scale):
            exps = fmt.exact(fmt.codes())[2]
            lo, hi = lo + int(exps.min()), hi + int(exps.max())
        return lo, hi

    @property
    def latency(self) -> int:
        return 1 + self.mul_reg

    @property
    def name(self) -> str:
        return f"blockdot_{self.a}_{self.w}_l{self.lanes}{'_mr' if self.mul_reg else ''}"


register(CoreKind(
    name="blockdot",
    summary="MX (32-element, E8M0 scale) / NVFP4 (16-element, E4M3 scale) block dot product",
    config=BlockdotConfig,
    generator="lowbit.hw.blockdot:BlockDot",
    golden="lowbit.models.blockdot:blockdot_golden",
    perf="lowbit.models.blockdot:BlockdotPerf",
    testbench="lowbit.sim.tb_blockdot",
))
