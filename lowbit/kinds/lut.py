"""The ``lut`` core kind: a LUT tensor core (table lookup on weight bit-planes, T-MAC style).

One shared fill unit turns each group of ``g`` activations into a table of every {0,1}- (or,
symmetrized, ±1-) weighted sum of them and writes it, an entry per cycle, into a small RAM
beside every column (on ECP5 the slices' distributed RAM); ``cols`` columns index their copy
with the ``g`` bits of one weight bit-plane each and shift-accumulate the looked-up partial
sums over the weight's bits. A table serves ``blocks`` column blocks in turn (time-multiplexed
N, each block's sums in an accumulator RAM) and is double-buffered, so the next group's table
fills while this one is read. Weight precision (1..``w_bits``) and weight mode (signed,
unsigned, offset binary) are chosen at run time. See :mod:`lowbit.hw.lut_core` for the streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

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
MAX_TABLES = 16
#: column blocks one table serves: the depth of each column's accumulator RAM (one ECP5
#: TRELLIS_DPR16X4 deep)
MAX_BLOCKS = 16
FAMILIES = ("generic", "ecp5", "ice40")


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
                         lo=1, hi=MAX_TABLES)
    cols: int = option(16, "output columns reading one table at once (N per weight and result "
                           "beat)", lo=1, hi=MAX_COLS)
    blocks: int = option(1, "column blocks of cols columns that one table serves in turn "
                            "(time-multiplexed N; the largest run-time nb)", lo=1, hi=MAX_BLOCKS)
    symmetric: bool = option(False, "store half of each table and derive the rest by negation "
                                    "(±1 bit encoding with an exact correction)")
    family: Literal["generic", "ecp5", "ice40"] = option(
        "generic", "where the tables live: ecp5 (distributed RAM, TRELLIS_DPR16X4), ice40 "
        "(block RAM, SB_RAM40_4K), generic (left to Yosys)", choices=FAMILIES)
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
    def entries(self) -> int:
        """Entries of one table: ``2**g``, half of them symmetrized; also the cycles its fill
        takes (one entry per cycle)."""
        return 1 << (self.g - self.symmetric)

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
        blocks = f"b{self.blocks}" if self.blocks > 1 else ""
        family = "" if self.family == "generic" else f"_{self.family}"
        return (f"lut_{self.a}_w{self.w_bits}_g{self.g}x{self.tables}_c{self.cols}{blocks}{sym}"
                f"{family}_acc{self.acc}_k{self.k_bits}")


def selftest(config: LutConfig) -> SelfTestPlan:
    """Four rows of two column blocks (one run: a whole tile of nb = 2 blocks, or two of one),
    K = 4 groups, full precision, two's-complement weights."""
    return SelfTestPlan(GemmShape(4, 2 * config.cols, min(4 * config.group, config.k_max)),
                        {"wbits": config.w_bits, "mode": "signed"})


KIND = CoreKind(
    name="lut",
    summary="LUT tensor core: table lookup on weight bit-planes, tables in distributed RAM "
            "shared by time-multiplexed column blocks (run-time 1..w_bits, "
            "signed/unsigned/offset weights, optional symmetrized tables)",
    config=LutConfig, golden=lut_golden, perf=LutPerf, tiler=LutTiler, selftest=selftest)
