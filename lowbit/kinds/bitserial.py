"""The ``bitserial`` core kind: bit-serial dot-product units with run-time precision.

Stripes / Loom / BitMoD line: one operand (or both) is consumed one bit per cycle, so a slice
of ``lanes`` products takes as many cycles as bits are used, chosen at run time. See
:mod:`lowbit.hw.bitserial` for the streams and :mod:`lowbit.models.bitserial` for the exact
arithmetic and the cycle model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from lowbit.config import int_format, option
from lowbit.kinds.int_datapath import IntDatapathConfig
from lowbit.kinds.kind import CoreKind, SelfTestPlan
from lowbit.models.bitserial import BitserialPerf, BitserialTiler, bitserial_golden
from lowbit.models.formats import IntFormat
from lowbit.models.perf import GemmShape

MAX_LANES = 64
MAX_COLS = 64
SERIAL = ("w", "a", "both")
ORDERS = ("msb", "lsb")
SCALES = ("none", "pow2", "int")
FAMILIES = ("generic", "ecp5")
#: the largest power-of-two exponent field (shifts up to 63)
MAX_POW2_BITS = 6


@dataclass(frozen=True)
class BitserialConfig(IntDatapathConfig):
    """``cols`` columns of ``lanes``-input AND/adder trees, each feeding a shift-accumulator.

    ``a`` and ``w`` give the largest precision of each operand (and its signedness); the
    precision actually used by the serial operand(s) is a run-time input.
    """

    KIND: ClassVar[str] = "bitserial"

    lanes: int = option(8, "products per slice: inputs of each column's adder tree (K per beat)",
                        lo=1, hi=MAX_LANES)
    cols: int = option(4, "columns: output channels computed in parallel (N per beat)",
                       lo=1, hi=MAX_COLS)
    serial: Literal["w", "a", "both"] = option(
        "w", "operand fed one bit per cycle: w (Stripes-like, default), a, or both (Loom-like)",
        choices=SERIAL)
    order: Literal["msb", "lsb"] = option(
        "msb", "bit order: msb (shift-left accumulator) or lsb (shifted addend)", choices=ORDERS)
    scale: Literal["none", "pow2", "int"] = option(
        "none", "per-group scale after accumulation: none, pow2 (shift) or int (multiplier)",
        choices=SCALES)
    scale_fmt: IntFormat = option(IntFormat(4, signed=False),
                                  "scale code format: pow2 exponent (unsigned) or int multiplier",
                                  check=int_format(1, 16))
    family: Literal["generic", "ecp5"] = option(
        "generic", "cells of the adder trees and shift-accumulators: ecp5 (CCU2C carry chains "
        "with each lane's AND and the sign's complement inside), generic (left to Yosys)",
        choices=FAMILIES)
    g_bits: int = option(8, "width of the run-time group size (slices per group, up to "
                            "2**g_bits-1)", lo=1, hi=16)

    def check(self) -> None:
        super().check()
        if self.overflow != "wrap":
            self.fail("overflow", "wrap only: a bit-serial core adds bit planes of many products "
                                  "at once, so a per-product saturation order does not exist")
        if self.scale == "pow2" and (self.scale_fmt.signed or self.scale_fmt.bits > MAX_POW2_BITS):
            self.fail("scale_fmt",
                      f"a pow2 scale's exponent is unsigned: uint1..uint{MAX_POW2_BITS}")

    @property
    def serial_operands(self) -> tuple[str, ...]:
        """Operands fed bit by bit: ``("w",)``, ``("a",)`` or ``("a", "w")``."""
        return ("a", "w") if self.serial == "both" else (self.serial,)

    def max_bits(self, operand: str) -> int:
        return getattr(self, operand).bits

    @property
    def g_max(self) -> int:
        """The largest run-time group size in slices."""
        return (1 << self.g_bits) - 1

    @property
    def name(self) -> str:
        scale = "" if self.scale == "none" else f"_{self.scale}{self.scale_fmt}_g{self.g_bits}"
        family = "" if self.family == "generic" else f"_{self.family}"
        return (f"bitserial_{self.serial}{self.order}_{self.lanes}x{self.cols}_{self.a}_{self.w}_"
                f"acc{self.acc}_k{self.k_bits}{scale}{family}")


def selftest(config: BitserialConfig) -> SelfTestPlan:
    """Eight rows of two column blocks, K = 2·lanes, the serial operands at half precision,
    one group per slice when scaled."""
    runtime = {f"p{op}": max(1, config.max_bits(op) // 2) for op in config.serial_operands}
    return SelfTestPlan(GemmShape(8, 2 * config.cols, min(2 * config.lanes, config.k_max)),
                        runtime)


KIND = CoreKind(
    name="bitserial",
    summary="bit-serial dot-product array, run-time precision 1..max, MSB/LSB-first, "
            "w-, a- or both-serial, per-group scaling",
    config=BitserialConfig, golden=bitserial_golden, perf=BitserialPerf, tiler=BitserialTiler,
    selftest=selftest)
