"""The ``lut`` core kind: a LUT tensor core (table lookup on weight bit-planes, T-MAC style).

One shared precompute unit turns each group of ``g`` activations into a table of every
{0,1}- (or, symmetrized, ±1-) weighted sum of them; ``cols`` columns index that table with the
``g`` bits of one weight bit-plane each and shift-accumulate the looked-up partial sums over
the weight's bits. Weight precision (1..``w_bits``) and weight mode (signed, unsigned, offset
binary) are chosen at run time. See :mod:`lowbit.hw.lut_core` for the streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lowbit.config import CoreConfig, int_format, option
from lowbit.kinds.int_datapath import RuntimeK
from lowbit.kinds.kind import CoreKind, SelfTestPlan
from lowbit.models.accumulator import MAX_ACC_BITS, Accumulator
from lowbit.models.formats import IntFormat
from lowbit.models.lut import LutPerf, LutTiler, lut_golden
from lowbit.models.perf import GemmShape

MAX_W_BITS = 8
MAX_G = 6
MAX_COLS = 128


@dataclass(frozen=True)
class LutConfig(RuntimeK, CoreConfig):
    """Activation format, weight planes, table shape, columns, accumulator and run-time K."""

    KIND: ClassVar[str] = "lut"

    a: IntFormat = option(IntFormat(8), "activation format, e.g. int8, uint4",
                          check=int_format(1, 16))
    w_bits: int = option(4, "largest weight precision in bits; 1..w_bits is chosen at run time",
                         lo=1, hi=MAX_W_BITS)
    g: int = option(4, "activations per table (a table holds 2**g entries, 2**(g-1) symmetrized)",
                    lo=1, hi=MAX_G)
    tables: int = option(1, "tables side by side: a beat carries g*tables activations of K",
                         lo=1, hi=8)
    cols: int = option(16, "output columns sharing one table (N per weight and result beat)",
                       lo=1, hi=MAX_COLS)
    symmetric: bool = option(False, "store half of each table and derive the rest by negation "
                                    "(±1 bit encoding with an exact correction)")
    acc: int = option(32, "accumulator width in bits (two's complement, wraps)",
                      lo=1, hi=MAX_ACC_BITS - 1)
    k_bits: int = option(16, "width of the run-time K register (K up to 2**k_bits - 1)",
                         lo=2, hi=32)

    def check(self) -> None:
        need = self.a.bits + self.w_bits
        if self.acc < need:
            self.fail("acc", f"at least {need} bits to hold one {self.a}×{self.w_bits}-bit "
                             f"product, at most {MAX_ACC_BITS - 1}")

    @property
    def group(self) -> int:
        """Activations of K per beat: ``g * tables``."""
        return self.g * self.tables

    @property
    def accumulator(self) -> Accumulator:
        """The result register: signed (weights may be negative in every mode), wrapping.

        Only wrapping is offered: the core adds in table/bit-plane order, not k order, and
        only modular arithmetic makes every order give the same bits.
        """
        return Accumulator(self.acc, True, "wrap")

    @property
    def name(self) -> str:
        sym = "_sym" if self.symmetric else ""
        return (f"lut_{self.a}_w{self.w_bits}_g{self.g}x{self.tables}_c{self.cols}{sym}"
                f"_acc{self.acc}_k{self.k_bits}")


def selftest(config: LutConfig) -> SelfTestPlan:
    """Four rows of two column blocks, K = 4 groups, full precision, two's-complement weights."""
    return SelfTestPlan(GemmShape(4, 2 * config.cols, min(4 * config.group, config.k_max)),
                        {"wbits": config.w_bits, "mode": "signed"})


KIND = CoreKind(
    name="lut",
    summary="LUT tensor core: table lookup on weight bit-planes (run-time 1..w_bits, "
            "signed/unsigned/offset weights, optional symmetrized tables)",
    config=LutConfig, golden=lut_golden, perf=LutPerf, tiler=LutTiler, selftest=selftest)
