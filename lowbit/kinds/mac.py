"""The ``mac`` core kind: an integer multiply-accumulate unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lowbit.config import option
from lowbit.kinds.int_datapath import IntDatapathConfig
from lowbit.registry import CoreKind, register


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


def board_selftest(config: MacConfig):
    """The board self-test: dot products of K=16 (or the largest K the config allows) over the
    board's pseudo-random operands, checked against :func:`~lowbit.models.mac.mac_golden`."""
    from lowbit.boards.selftest import dot_selftest
    from lowbit.hw.mac import operand_layout
    from lowbit.models.mac import mac_golden

    def results(fields, k):
        a, w = config.a.decode(fields["a"]), config.w.decode(fields["w"])
        return config.accumulator.encode(mac_golden(config, a, w, k))

    return dot_selftest(config, operand_layout(config), results)


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
