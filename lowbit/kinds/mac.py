"""The ``mac`` core kind: an integer multiply-accumulate unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from lowbit.config import CoreConfig, int_format, option
from lowbit.errors import ConfigError
from lowbit.models.accumulator import MAX_ACC_BITS, OVERFLOW_MODES, Accumulator, product_bits
from lowbit.models.formats import IntFormat
from lowbit.registry import CoreKind, register

INT8 = IntFormat(8)


@dataclass(frozen=True)
class MacConfig(CoreConfig):
    """One multiplier and one accumulator; K operand pairs in, one dot product out."""

    KIND: ClassVar[str] = "mac"

    a: IntFormat = option(INT8, "activation format, e.g. int8, uint4", check=int_format(1, 16))
    w: IntFormat = option(INT8, "weight format, e.g. int4, uint2", check=int_format(1, 16))
    acc: int = option(32, "accumulator width in bits", lo=1, hi=MAX_ACC_BITS)
    overflow: Literal["wrap", "saturate"] = option(
        "wrap", "accumulator overflow rule, applied at every step", choices=OVERFLOW_MODES)
    in_reg: bool = option(False, "register the operands before the multiplier")
    mul_reg: bool = option(False, "register the product before the accumulator")
    k_bits: int = option(16, "width of the run-time K register (K up to 2**k_bits - 1)", lo=2, hi=32)

    def check(self) -> None:
        need = product_bits(self.a, self.w)
        if self.acc < need:
            self.fail("acc", f"at least {need} bits to hold one {self.a}×{self.w} product, "
                             f"at most {self.accumulator_limit}")
        if self.acc > self.accumulator_limit:
            self.fail("acc", f"at most {self.accumulator_limit} bits for an unsigned accumulator")

    def check_gemm(self, shape) -> None:
        if shape.k >= 1 << self.k_bits:
            raise ConfigError("gemm", str(shape), f"K must be at most {(1 << self.k_bits) - 1} "
                              f"with k_bits={self.k_bits}", context=self.KIND)

    @property
    def accumulator_limit(self) -> int:
        return MAX_ACC_BITS if (self.a.signed or self.w.signed) else MAX_ACC_BITS - 1

    @property
    def accumulator(self) -> Accumulator:
        return Accumulator.for_operands(self.a, self.w, self.acc, self.overflow)

    @property
    def latency(self) -> int:
        """Cycles from the last operand beat's handshake to its result's handshake."""
        return 1 + self.in_reg + self.mul_reg

    @property
    def name(self) -> str:
        regs = "".join(s for s, on in (("_ir", self.in_reg), ("_mr", self.mul_reg)) if on)
        return f"mac_{self.a}_{self.w}_acc{self.acc}_{self.overflow}{regs}_k{self.k_bits}"


def board_selftest(config: MacConfig):
    """The board self-test: dot products of K=16 (or the largest K the config allows) over the
    board's pseudo-random operands, checked against :func:`~lowbit.models.mac.mac_golden`."""
    from lowbit.boards.selftest import SelfTest

    k = min(16, (1 << config.k_bits) - 1)

    def expected(inputs):
        import numpy as np

        from lowbit.hw.mac import operand_layout
        from lowbit.models.mac import mac_golden

        layout = operand_layout(config)
        payloads = np.array(inputs["operands"], dtype=np.uint64)
        a, w = (fmt.decode(payloads >> np.uint64(layout[name].offset))
                for name, fmt in (("a", config.a), ("w", config.w)))
        return {"result": [int(c) for c in config.accumulator.encode(mac_golden(config, a, w, k))]}

    return SelfTest(params={"k": k, "clear": 0}, beats=32 * k, expected=expected)


register(CoreKind(
    name="mac",
    summary="integer multiply-accumulate unit (any int/uint width 1-16, wrap or saturate)",
    config=MacConfig,
    generator="lowbit.hw.mac:MAC",
    golden="lowbit.models.mac:mac_golden",
    perf="lowbit.models.mac:MacPerf",
    testbench="lowbit.sim.tb_mac",
    selftest="lowbit.kinds.mac:board_selftest",
))
