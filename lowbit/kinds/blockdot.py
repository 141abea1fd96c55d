"""The ``blockdot`` core kind: an OCP MX / NVFP4 block dot-product unit with parallel lanes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lowbit.config import CoreConfig, option
from lowbit.errors import ConfigError
from lowbit.kinds.kind import CoreKind, SelfTestPlan
from lowbit.models.block_formats import MXFP8_E4M3, BlockFormat
from lowbit.models.blockdot import BlockdotPerf, BlockdotTiler, blockdot_golden
from lowbit.models.kulisch import kulisch_bits, operand_format
from lowbit.models.perf import GemmShape

#: what a result is: qgemm's FP32 output, or one block's exact scaled sum
OUTPUTS = ("fp32", "block")


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
    output: str = option("fp32", "fp32: each result is qgemm's FP32 output over a run-time "
                         "number of blocks (blocks rounded to FP32 and summed in FP32, NVFP4 "
                         "tensor scales applied); block: each block's exact scaled sum",
                         choices=OUTPUTS)
    blocks_bits: int = option(8, "width of the run-time block count (fp32 output): up to "
                              "2**blocks_bits - 1 blocks per result", lo=1, hi=24)

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
    def lsb(self) -> int:
        """The block sum counts units of ``2**lsb``: the two element formats' smallest steps."""
        return self.a.element.lsb + self.w.element.lsb

    @property
    def exp_range(self) -> tuple[int, int]:
        """Smallest and largest ``exp`` of a block result (from the scale formats' codes)."""
        lo = hi = self.lsb
        for fmt in (self.a.scale, self.w.scale):
            exps = fmt.exact(fmt.codes())[2]
            lo, hi = lo + int(exps.min()), hi + int(exps.max())
        return lo, hi

    @property
    def exp_bits(self) -> int:
        """Bits of a block result's (signed) exponent."""
        lo, hi = self.exp_range
        return max(lo.bit_length(), hi.bit_length()) + 1

    @property
    def fp32(self) -> bool:
        return self.output == "fp32"

    @property
    def tensor_scaled(self) -> bool:
        """FP32 results times the per-tensor scales ``ta``, ``tw`` (NVFP4)."""
        return self.fp32 and self.a.tensor_scale is not None

    @property
    def blocks_max(self) -> int:
        return (1 << self.blocks_bits) - 1

    @property
    def latency(self) -> int:
        """Cycles from a result's last beat's handshake to the result's: the block register,
        then (fp32) the RNE32 register and the FP32 accumulator, then the tensor scaling."""
        return 1 + self.mul_reg + (2 + self.tensor_scaled if self.fp32 else 0)

    def check_gemm(self, shape) -> None:
        """K pads to whole blocks with zero elements (the tiler's padding), so any K runs
        whose block count the run-time register holds."""
        if self.fp32 and -(-shape.k // self.block) > self.blocks_max:
            raise ConfigError("gemm", str(shape), f"K must be at most {self.blocks_max} blocks "
                              f"of {self.block} with blocks_bits={self.blocks_bits}",
                              context=self.KIND)

    @property
    def name(self) -> str:
        out = f"_fp32b{self.blocks_bits}" if self.fp32 else "_block"
        return f"blockdot_{self.a}_{self.w}_l{self.lanes}{out}{'_mr' if self.mul_reg else ''}"


#: tensor scales of the NVFP4 board self-test (FP32 1.5 and 0.25)
SELFTEST_TENSOR_SCALES = (1.5, 0.25)


def selftest(config: BlockdotConfig) -> SelfTestPlan:
    """16 FP32 results of two blocks each (NVFP4: tensor scales 1.5 and 0.25), checked
    against qgemm; the self-test checks FP32 results, so it needs ``output = fp32``."""
    if not config.fp32:
        raise ConfigError("output", config.output, "fp32 for a board self-test (it checks FP32 "
                          "results against qgemm)", context=config.KIND)
    ta, tw = SELFTEST_TENSOR_SCALES if config.tensor_scaled else (1.0, 1.0)
    return SelfTestPlan(GemmShape(4, 4, min(2, config.blocks_max) * config.block),
                        {"ta": ta, "tw": tw})


KIND = CoreKind(
    name="blockdot",
    summary="MX (32-element, E8M0 scale) / NVFP4 (16-element, E4M3 scale) block dot product",
    config=BlockdotConfig, golden=blockdot_golden, perf=BlockdotPerf, tiler=BlockdotTiler,
    selftest=selftest)
