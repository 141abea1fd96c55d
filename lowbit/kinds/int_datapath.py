"""Config fields every integer GEMM datapath shares: operand formats, accumulator, run-time K.

``mac``, ``systolic`` and the later integer kinds declare these once here, so the accumulator
rule (signed unless both operands are unsigned, at least one product wide) and the K limit
are checked the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lowbit.config import CoreConfig, int_format, option
from lowbit.errors import ConfigError
from lowbit.models.accumulator import (
    MAX_ACC_BITS,
    OVERFLOW_MODES,
    Accumulator,
    product_bits,
)
from lowbit.models.formats import IntFormat
from lowbit.models.packing import MAC16_8X8, MULT18X18

INT8 = IntFormat(8)
#: the widest operand each family's DSP block takes in the mode the generators instantiate
#: (ECP5 MULT18X18D; iCE40 SB_MAC16 in 8×8 mode)
DSP_OPERAND_BITS = {"ecp5": MULT18X18.a_bits, "ice40": MAC16_8X8.a_bits}


class RuntimeK:
    """The run-time K register of a config with a ``k_bits`` field: its limit and the check
    of a GEMM against it."""

    k_bits: int
    KIND: str

    def check_gemm(self, shape) -> None:
        if shape.k > self.k_max:
            raise ConfigError("gemm", str(shape), f"K must be at most {self.k_max} "
                              f"with k_bits={self.k_bits}", context=self.KIND)

    @property
    def k_max(self) -> int:
        """The longest run-time K."""
        return (1 << self.k_bits) - 1


@dataclass(frozen=True)
class IntDatapathConfig(RuntimeK, CoreConfig):
    """Activation and weight formats, the accumulator and the width of the run-time K."""

    a: IntFormat = option(INT8, "activation format, e.g. int8, uint4", check=int_format(1, 16))
    w: IntFormat = option(INT8, "weight format, e.g. int4, uint2", check=int_format(1, 16))
    acc: int = option(32, "accumulator width in bits", lo=1, hi=MAX_ACC_BITS)
    overflow: Literal["wrap", "saturate"] = option(
        "wrap", "accumulator overflow rule, applied at every step", choices=OVERFLOW_MODES)
    k_bits: int = option(16, "width of the run-time K register (K up to 2**k_bits - 1)",
                         lo=2, hi=32)

    def check(self) -> None:
        need = product_bits(self.a, self.w)
        if self.acc < need:
            self.fail("acc", f"at least {need} bits to hold one {self.a}×{self.w} product, "
                             f"at most {self.accumulator_limit}")
        if self.acc > self.accumulator_limit:
            self.fail("acc", f"at most {self.accumulator_limit} bits for an unsigned accumulator")

    @property
    def accumulator_limit(self) -> int:
        return MAX_ACC_BITS if (self.a.signed or self.w.signed) else MAX_ACC_BITS - 1

    @property
    def accumulator(self) -> Accumulator:
        return Accumulator.for_operands(self.a, self.w, self.acc, self.overflow)

    def check_dsp_block(self) -> None:
        """An instantiated DSP block (``mul`` dsp/auto): a family that has one, and operands
        no wider than it takes."""
        if self.family not in DSP_OPERAND_BITS:
            self.fail("family", f"mul={self.mul} instantiates a family's DSP block: allowed "
                                "ecp5 (MULT18X18D) or ice40 (SB_MAC16)")
        limit = DSP_OPERAND_BITS[self.family]
        for name in ("a", "w"):
            if getattr(self, name).bits > limit:
                self.fail(name, f"at most {limit} bits for family={self.family}'s DSP block "
                                f"(int1..int{limit}, uint1..uint{limit})")
