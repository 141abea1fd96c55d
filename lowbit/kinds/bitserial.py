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
from lowbit.kinds.int_datapath import INT8, IntDatapathConfig
from lowbit.kinds.kind import CoreKind, SelfTestPlan
from lowbit.models.accumulator import MAX_ACC_BITS
from lowbit.models.bitmod import BITMOD_FORMATS, BitmodFormat
from lowbit.models.bitserial import BitserialPerf, BitserialTiler, bitserial_golden
from lowbit.models.formats import Format, IntFormat
from lowbit.models.perf import GemmShape

MAX_LANES = 64
MAX_COLS = 64
SERIAL = ("w", "a", "both")
ORDERS = ("msb", "lsb")
SCALES = ("none", "pow2", "int", "serial")
FAMILIES = ("generic", "ecp5")
#: the largest power-of-two exponent field (shifts up to 63)
MAX_POW2_BITS = 6


class serial_weight(int_format):
    """A config ``check`` for the weight: an integer format, or a BitMoD precision."""

    @property
    def allowed(self) -> str:
        return f"{super().allowed}, or {', '.join(BITMOD_FORMATS)} (BitMoD data types)"

    def __call__(self, fmt: Format) -> str | None:
        if isinstance(fmt, BitmodFormat):
            return None
        return super().__call__(fmt) if isinstance(fmt, IntFormat) else self.allowed


@dataclass(frozen=True)
class BitserialConfig(IntDatapathConfig):
    """``cols`` columns of ``lanes``-input AND/adder trees, each feeding a shift-accumulator.

    ``a`` and ``w`` give the largest precision of each operand (and its signedness); the
    precision actually used by the serial operand(s) is a run-time input.
    """

    KIND: ClassVar[str] = "bitserial"

    w: Format = option(INT8, "weight format: int1..int16, uint1..uint16, or bitmod3/bitmod4 "
                             "(BitMoD: a data type per group, chosen at quantization)",
                       check=serial_weight(1, 16))

    lanes: int = option(8, "products per slice: inputs of each column's adder tree (K per beat)",
                        lo=1, hi=MAX_LANES)
    cols: int = option(4, "columns: output channels computed in parallel (N per beat)",
                       lo=1, hi=MAX_COLS)
    serial: Literal["w", "a", "both"] = option(
        "w", "operand fed one bit per cycle: w (Stripes-like, default), a, or both (Loom-like)",
        choices=SERIAL)
    order: Literal["msb", "lsb"] = option(
        "msb", "bit order: msb (shift-left accumulator) or lsb (shifted addend)", choices=ORDERS)
    scale: Literal["none", "pow2", "int", "serial"] = option(
        "none", "per-group scale after accumulation: none, pow2 (shift), int (multiplier) or "
        "serial (multiplied bit-serially, one scale bit per cycle, as BitMoD dequantizes)",
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
        if self.bitmod:
            self._check_bitmod()
        else:
            super().check()
        if self.overflow != "wrap":
            self.fail("overflow", "wrap only: a bit-serial core adds bit planes of many products "
                                  "at once, so a per-product saturation order does not exist")
        if self.scale == "pow2" and (self.scale_fmt.signed or self.scale_fmt.bits > MAX_POW2_BITS):
            self.fail("scale_fmt",
                      f"a pow2 scale's exponent is unsigned: uint1..uint{MAX_POW2_BITS}")

    def _check_bitmod(self) -> None:
        """BitMoD weights: w-serial (the mantissa's bits), a group scale to carry each group's
        data type, an accumulator for the decoded values' products."""
        if self.serial != "w":
            self.fail("serial", f"w with w={self.w} (the PE feeds the BitMoD weights' mantissa "
                                "bits serially)")
        if self.scale == "none":
            self.fail("scale", f"pow2, int or serial with w={self.w}: every group brings its "
                               "data type beside its scale")
        need = self.a.bits + self.w.value_format.bits
        if not need <= self.acc <= MAX_ACC_BITS:
            self.fail("acc", f"{need}..{MAX_ACC_BITS} bits to hold one {self.a}×{self.w} "
                             "product")

    @property
    def bitmod(self) -> bool:
        """BitMoD weights: codes read under each group's data type (:mod:`lowbit.models.bitmod`)."""
        return isinstance(self.w, BitmodFormat)

    @property
    def serial_operands(self) -> tuple[str, ...]:
        """Operands fed bit by bit: ``("w",)``, ``("a",)`` or ``("a", "w")``."""
        return ("a", "w") if self.serial == "both" else (self.serial,)

    def max_bits(self, operand: str) -> int:
        """Serial bits of an operand at full precision (BitMoD weights: the mantissa's)."""
        if operand == "w" and self.bitmod:
            return self.w.serial_bits
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
    """Eight rows of two column blocks, K = 2·lanes, the serial operands at half precision
    (BitMoD weights: all their bits), one group per slice when scaled."""
    runtime = {f"p{op}": config.max_bits(op) if config.bitmod else max(1, config.max_bits(op) // 2)
               for op in config.serial_operands}
    return SelfTestPlan(GemmShape(8, 2 * config.cols, min(2 * config.lanes, config.k_max)),
                        runtime)


KIND = CoreKind(
    name="bitserial",
    summary="bit-serial dot-product array, run-time precision 1..max, MSB/LSB-first, "
            "w-, a- or both-serial, per-group scaling",
    config=BitserialConfig, golden=bitserial_golden, perf=BitserialPerf, tiler=BitserialTiler,
    selftest=selftest)
