"""The ``fusion`` core kind: a precision-scalable integer MAC in the line of Bit Fusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from lowbit.config import CoreConfig, option
from lowbit.kinds.int_datapath import RuntimeK
from lowbit.models.accumulator import MAX_ACC_BITS, OVERFLOW_MODES, Accumulator
from lowbit.models.fusion import PRECISIONS
from lowbit.registry import CoreKind, register



@dataclass(frozen=True)
class FusionConfig(RuntimeK, CoreConfig):
    """Sixteen 2-bit BitBricks fused at run time into 8×8, 8×4, ..., 2×2 multipliers; the
    precisions and signedness of both operands are run-time inputs, so one build serves all."""

    KIND: ClassVar[str] = "fusion"

    acc: int = option(32, "accumulator width in bits (signed)", lo=18, hi=MAX_ACC_BITS)
    overflow: Literal["wrap", "saturate"] = option(
        "wrap", "accumulator overflow rule, applied once per beat to the beat's exact sum",
        choices=OVERFLOW_MODES)
    k_bits: int = option(16, "width of the run-time K register: beats per result, up to "
                         "2**k_bits - 1", lo=2, hi=32)
    mul_reg: bool = option(False, "register the fused products before the accumulator")

    @property
    def accumulator(self) -> Accumulator:
        return Accumulator(self.acc, True, self.overflow)

    @property
    def latency(self) -> int:
        return 1 + self.mul_reg

    @property
    def name(self) -> str:
        sat = "_sat" if self.overflow == "saturate" else ""
        return f"fusion_acc{self.acc}{sat}_k{self.k_bits}{'_mr' if self.mul_reg else ''}"


#: the board self-test's mode: (A bits, W bits, a signed, w signed)
SELFTEST_MODE = (8, 8, True, False)


def board_selftest(config: FusionConfig):
    """The board self-test: dot products of K = 16 beats (or the largest K the config allows)
    in 8×8 mode, int8 activations by uint8 weights, checked against
    :func:`~lowbit.models.fusion.fusion_golden`.

    8×8 is the mode in which fusion does the most: all 16 BitBricks make one product, with
    every shift from 0 to 12 and the widest adder tree; a signed by an unsigned operand
    exercises both top-digit rules (sign- and zero-extended). The lanes the mode does not read
    (bits 8..31 of each word) carry random bits too, which the unit must ignore.
    """
    from lowbit.boards.selftest import dot_selftest
    from lowbit.hw.fusion import OPERANDS
    from lowbit.models.fusion import fusion_golden

    a_bits, w_bits, a_signed, w_signed = SELFTEST_MODE

    def results(words, k):
        return config.accumulator.encode(
            fusion_golden(config, words["a"], words["w"], k, *SELFTEST_MODE))

    return dot_selftest(config, OPERANDS, results, a_prec=PRECISIONS.index(a_bits),
                        w_prec=PRECISIONS.index(w_bits), a_signed=int(a_signed),
                        w_signed=int(w_signed))


register(CoreKind(
    name="fusion",
    summary="precision-scalable integer MAC (Bit Fusion): 1×8b·8b ... 16×2b·2b per cycle",
    config=FusionConfig,
    generator="lowbit.hw.fusion:Fusion",
    golden="lowbit.models.fusion:fusion_golden",
    perf="lowbit.models.fusion:FusionPerf",
    testbench="lowbit.sim.tb_fusion",
    selftest="lowbit.kinds.fusion:board_selftest",
))
