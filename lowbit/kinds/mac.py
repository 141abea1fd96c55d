"""The ``mac`` core kind: an integer multiply-accumulate unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from lowbit.config import int_format, option
from lowbit.kinds.int_datapath import INT8, IntDatapathConfig
from lowbit.kinds.kind import CoreKind, SelfTestPlan
from lowbit.models.formats import IntFormat, NumberFormat, sign_codes
from lowbit.models.mac import MacPerf, MacTiler, mac_golden
from lowbit.models.perf import GemmShape

MULS = ("infer", "lut", "dsp", "addsub")
FAMILIES = ("generic", "ecp5", "ice40")


class mac_weight(int_format):
    """A config ``check`` for the weight: an integer format, or ternary/binary weights (values
    -1, 0, +1) for mul=addsub."""

    @property
    def allowed(self) -> str:
        return f"{super().allowed}, or ternary, binary (with mul=addsub)"

    def __call__(self, fmt: NumberFormat) -> str | None:
        if isinstance(fmt, IntFormat):
            return super().__call__(fmt)
        return None if sign_codes(fmt) is not None else self.allowed


@dataclass(frozen=True)
class MacConfig(IntDatapathConfig):
    """One multiplier and one accumulator; K operand pairs in, one dot product out."""

    KIND: ClassVar[str] = "mac"

    w: NumberFormat = option(INT8, "weight format, e.g. int4, uint2; or ternary/binary with "
                             "mul=addsub", check=mac_weight(1, 16))

    in_reg: bool = option(False, "register the operands before the multiplier (mul=dsp: the "
                                 "DSP block's input registers)")
    mul_reg: bool = option(False, "register the product before the accumulator (mul=dsp: the "
                                  "DSP block's output register)")
    mul: Literal["infer", "lut", "dsp"] = option(
        "infer", "the multiplier: infer (a * w, left to Yosys), lut (a carry-chain array in the "
        "fabric), dsp (the DSP block of --family, instantiated), addsub (no multiplier: add, "
        "subtract or skip a for weights of -1/0/+1)", choices=MULS)
    family: Literal["generic", "ecp5", "ice40"] = option(
        "generic", "the FPGA family whose cells mul=lut/dsp instantiate: dsp needs ecp5 "
        "(MULT18X18D) or ice40 (SB_MAC16 in 8x8 mode); lut with ecp5 puts the partial-product "
        "ANDs into the CCU2C carry cells, with generic leaves its rows to Yosys",
        choices=FAMILIES)
    mul_stages: int = option(0, "pipeline registers inside mul=lut's carry-chain array, spread "
                                "over its rows (each adds a cycle of latency)", lo=0, hi=16)

    def check(self) -> None:
        super().check()
        if self.mul == "addsub":
            if sign_codes(self.w) is None:
                self.fail("w", "ternary, binary, int1 or uint1 with mul=addsub (weights of -1, "
                               "0, +1: the unit adds, subtracts or skips the activation)")
        elif not isinstance(self.w, IntFormat):
            self.fail("w", f"an integer format with mul={self.mul}; {self.w} weights take "
                           "mul=addsub")
        if self.mul in ("infer", "addsub") and self.family != "generic":
            self.fail("family", f"family applies to mul=lut or dsp; with mul={self.mul} the "
                                "cells are Yosys's choice (allowed: generic)")
        if self.mul != "lut" and self.mul_stages:
            self.fail("mul_stages", f"mul_stages applies to mul=lut; with mul={self.mul} use "
                                    "in_reg/mul_reg (allowed: 0)")
        if self.mul == "lut" and self.family == "ice40":
            self.fail("family", "mul=lut has carry-chain cells of its own for ecp5 only; on "
                                "iCE40 use family=generic (Yosys maps the rows to SB_CARRY)")
        if self.mul == "dsp":
            self.check_dsp_block()

    @property
    def latency(self) -> int:
        """Cycles from the last operand beat's handshake to its result's handshake."""
        return 1 + self.in_reg + self.mul_reg + self.mul_stages

    @property
    def name(self) -> str:
        regs = "".join(s for s, on in (("_ir", self.in_reg), ("_mr", self.mul_reg)) if on)
        mul = "" if self.mul == "infer" else "_addsub" if self.mul == "addsub" else \
            f"_{self.mul}_{self.family}" + (
            f"_s{self.mul_stages}" if self.mul_stages else "")
        return f"mac_{self.a}_{self.w}_acc{self.acc}_{self.overflow}{regs}{mul}_k{self.k_bits}"


def selftest(config: MacConfig) -> SelfTestPlan:
    """32 dot products of K = 16 (or the largest K the config allows)."""
    return SelfTestPlan(GemmShape(4, 8, min(16, config.k_max)))


KIND = CoreKind(
    name="mac",
    summary="integer multiply-accumulate unit (any int/uint width 1-16, wrap or saturate)",
    config=MacConfig, golden=mac_golden, perf=MacPerf, tiler=MacTiler, selftest=selftest)
