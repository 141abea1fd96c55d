"""Golden and performance models of the ``fusion`` core kind (precision-scalable MAC).

A run picks the precisions ``A``, ``W`` ∈ {8, 4, 2} bits and the signedness of each operand.
Each beat carries two 32-bit words; the activation word holds ``P = 64 / (A·W)`` lanes of A
bits (lane p at bits ``p·A``), the weight word P lanes of W bits, and the beat contributes
``Σ_p a_p·w_p``: P products per cycle, from 1 (8×8) to 16 (2×2). Every K beats give one result,
``Σ`` over the K·P products in a signed ``acc``-bit register that wraps (two's complement) —
exactly :func:`lowbit.models.int_gemm.int_dot` over the lanes.

Hardware (in the manner of Bit Fusion): an A-bit operand is A/2 two-bit digits, the top digit
signed for a signed operand; each of the 16 BitBricks multiplies one digit of a by one digit
of w, and shifting by 2·(i + j) and adding fuses them into the P products.
"""

from __future__ import annotations

import numpy as np

from lowbit.kinds.fusion import BRICKS, PRECISIONS
from lowbit.models.formats import IntFormat
from lowbit.models.int_gemm import int_dot
from lowbit.models.perf import GemmShape


def products_per_beat(a_bits: int, w_bits: int) -> int:
    """P: products one beat carries in mode A×W (16 bricks, (A/2)·(W/2) bricks per product)."""
    return BRICKS * 4 // (a_bits * w_bits)


def modes() -> list[tuple[int, int]]:
    """Every run-time precision pair (A, W)."""
    return [(a, w) for a in PRECISIONS for w in PRECISIONS]


def lanes(words: np.ndarray, bits: int, count: int, signed: bool) -> np.ndarray:
    """(beats,) operand words to (beats, count) lane values."""
    w = np.asarray(words, dtype=np.uint64)[:, None] >> (np.arange(count, dtype=np.uint64) *
                                                        np.uint64(bits))
    return IntFormat(bits, signed).decode(w & np.uint64((1 << bits) - 1))


def fusion_golden(config, a_words: np.ndarray, w_words: np.ndarray, k: int, a_bits: int = 8,
                  w_bits: int = 8, a_signed: bool = True, w_signed: bool = True) -> np.ndarray:
    """Results of the unit fed operand words (1-D, a multiple of K beats) in one mode."""
    a_words, w_words = np.asarray(a_words), np.asarray(w_words)
    if a_words.shape != w_words.shape or a_words.ndim != 1 or a_words.size % k:
        raise ValueError(f"operand streams of {a_words.size} and {w_words.size} beats do not "
                         f"make groups of K={k}")
    p = products_per_beat(a_bits, w_bits)
    a = lanes(a_words, a_bits, p, a_signed).reshape(-1, k * p)
    w = lanes(w_words, w_bits, p, w_signed).reshape(-1, k * p)
    return int_dot(a, w, IntFormat(a_bits, a_signed), IntFormat(w_bits, w_signed),
                   config.accumulator)


class FusionPerf:
    """Cycles of a GEMM in one mode (default 8×8): ⌈K/P⌉ beats per output element."""

    def __init__(self, config, a_bits: int = 8, w_bits: int = 8):
        self.config, self.a_bits, self.w_bits = config, a_bits, w_bits

    @property
    def products_per_beat(self) -> int:
        return products_per_beat(self.a_bits, self.w_bits)

    def gemm_cycles(self, shape: GemmShape) -> int:
        beats = -(-shape.k // self.products_per_beat)
        return shape.m * shape.n * beats + self.config.latency

    @property
    def peak_macs_per_cycle(self) -> float:
        return float(self.products_per_beat)

    @property
    def storage_bits(self) -> int:
        c = self.config
        beat_sum = 17  # the largest fused beat sum: one 8×8 product, -128·-128, plus sign
        return 2 * c.acc + c.k_bits + c.mul_reg * beat_sum
