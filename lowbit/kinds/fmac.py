"""The ``fmac`` core kind: a minifloat/integer multiply-accumulate unit with exact accumulation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lowbit.config import CoreConfig, option
from lowbit.kinds.int_datapath import RuntimeK
from lowbit.kinds.kind import CoreKind, SelfTestPlan
from lowbit.models import lmul
from lowbit.models.fmac import FmacPerf, FmacTiler, fmac_golden
from lowbit.models.kulisch import (
    MAX_KULISCH_BITS,
    OperandFormats,
    kulisch_bits,
    operand_formats,
    register_bits,
)
from lowbit.models.minifloat import FloatFormat
from lowbit.models.perf import GemmShape


@dataclass(frozen=True)
class FmacConfig(RuntimeK, CoreConfig):
    """Operand formats, the exact (Kulisch) or a narrower register, and the run-time K width."""

    KIND: ClassVar[str] = "fmac"

    a: str = option("fp8_e4m3", "activation format: a minifloat (fp8_e4m3, fp6_e2m3, fp4_e2m1, "
                    "...) or an integer (int8, uint4, ...); a comma-separated list builds a "
                    "unit whose a_sel input picks one at run time", check=operand_formats())
    w: str = option("fp8_e4m3", "weight format(s), as --a (run-time pick: w_sel)",
                    check=operand_formats())
    k_bits: int = option(12, "width of the run-time K register (K up to 2**k_bits - 1)",
                         lo=1, hi=32)
    acc: int = option(0, "register width in bits; 0 = the exact Kulisch width the formats and "
                      "K need", lo=0, hi=MAX_KULISCH_BITS)
    exact: bool = option(True, "refuse a register too narrow for exact sums (with --no-exact a "
                         "narrower one drops low bits: each product rounds toward -inf)")
    stages: int = option(4, "pipeline registers between the operands and the register "
                         "(decode, multiply, sign, shift): 0..4; 1 registers the product",
                         lo=0, hi=4)
    mul: str = option("exact", "the multiplier: exact, or lmul — the L-Mul approximation of Luo & "
                      "Sun 2024 (an adder with a fixed offset instead of the significand "
                      "multiplier; minifloat operands only)", choices=("exact", "lmul"))

    def check(self) -> None:
        object.__setattr__(self, "a", self.a_set.names)  # one spelling, one hash
        object.__setattr__(self, "w", self.w_set.names)
        if self.mul == "lmul":
            ints = [f.name for s in (self.a_set, self.w_set) for f in s.formats
                    if not isinstance(f, FloatFormat)]
            if ints:
                self.fail("mul", f"lmul approximates minifloat products; {', '.join(ints)} is "
                                 "not a minifloat (allowed with lmul: minifloat operands on both "
                                 "sides; or --mul exact)")
        need = self.kulisch_bits
        if need > MAX_KULISCH_BITS:
            self.fail("w", f"{self.a} × {self.w} over K up to {self.k_max} needs a {need}-bit "
                           f"exact register, more than the {MAX_KULISCH_BITS} supported; use "
                           "narrower formats or a smaller k_bits")
        if self.acc and self.acc < need and self.exact:
            self.fail("acc", f"at least {need} bits for exact sums of {self.a} × {self.w} "
                             f"products over K up to {self.k_max} (or 0 for exactly that; or "
                             "--no-exact for a rounded narrower register)")
        if self.acc and self.acc < 2:
            self.fail("acc", f"at least 2 bits (exact: {need})")

    @property
    def a_set(self) -> OperandFormats:
        return OperandFormats.parse(self.a)

    @property
    def w_set(self) -> OperandFormats:
        return OperandFormats.parse(self.w)

    @property
    def lmul_offset_bits(self) -> int:
        """Bits below ``2**(lsb_a + lsb_w)`` the L-Mul offset needs (0 with the exact multiplier;
        :mod:`lowbit.models.lmul`)."""
        if self.mul == "exact":
            return 0
        return lmul.offset_bits(self.a_set, self.w_set)

    def _kulisch(self, k_max: int) -> int:
        if self.mul == "exact":
            return kulisch_bits(self.a_set, self.w_set, k_max)
        return register_bits(lmul.max_units(self.a_set, self.w_set), k_max)

    @property
    def kulisch_bits(self) -> int:
        """Bits of the exact register (formula in :mod:`lowbit.models.kulisch`; for L-Mul, the
        largest L-Mul product in units of ``2**product_lsb`` takes the place of ``U_a·U_w``)."""
        return self._kulisch(self.k_max)

    @property
    def acc_bits(self) -> int:
        """Bits of the register actually built."""
        return self.acc or self.kulisch_bits

    @property
    def drop(self) -> int:
        """Low product bits a narrower register drops (0 when exact)."""
        return max(0, self.kulisch_bits - self.acc_bits)

    @property
    def product_lsb(self) -> int:
        """Every product is an integer in units of ``2**product_lsb``."""
        return self.a_set.lsb + self.w_set.lsb - self.lmul_offset_bits

    @property
    def result_lsb(self) -> int:
        """The result's unit is ``2**result_lsb``, whatever formats are picked at run time."""
        return self.product_lsb + self.drop

    @property
    def product_bits(self) -> int:
        return self._kulisch(1)

    @property
    def latency(self) -> int:
        """Cycles from the last operand beat's handshake to its result's: the pipeline, then
        the register."""
        return 1 + self.stages

    @property
    def name(self) -> str:
        acc = f"acc{self.acc_bits}" + ("" if self.drop == 0 else "r")
        a, w = (s.names if len(s.formats) == 1 else f"{len(s.formats)}fmt{self.hash[:6]}"
                for s in (self.a_set, self.w_set))
        mul = "_lmul" if self.mul == "lmul" else ""
        return f"fmac_{a}_{w}{mul}_{acc}_k{self.k_bits}_s{self.stages}"


def selftest(config: FmacConfig) -> SelfTestPlan:
    """32 dot products of K = 16 (or the largest K the config allows) in the formats whose
    values span the most units on each side (the first listed on a tie): they drive the most
    bits of the product and the register. Random codes include inf and NaN codes, so some
    results carry a special code, and their sums are checked too."""
    sel = {f"{side}_sel": max(range(len(fmts.formats)), key=lambda i: (
        fmts.formats[i].max_units << fmts.offset(fmts.formats[i]), -i))
        for side, fmts in (("a", config.a_set), ("w", config.w_set))}
    return SelfTestPlan(GemmShape(4, 8, min(16, config.k_max)), sel)


KIND = CoreKind(
    name="fmac",
    summary="minifloat/integer MAC (FP8/FP6/FP4/int) with exact Kulisch accumulation",
    config=FmacConfig, golden=fmac_golden, perf=FmacPerf, tiler=FmacTiler, selftest=selftest)
