"""Golden and performance models of the ``fusion`` core kind (precision-scalable MAC).

A run picks the precisions ``A``, ``W`` ∈ {8, 4, 2} bits and the signedness of each operand.
Each beat carries two 32-bit words; the activation word holds ``P = 64 / (A·W)`` lanes of A
bits (lane p at bits ``p·A``), the weight word P lanes of W bits, and the beat contributes
``s_t = Σ_p a_p·w_p``: P products per cycle, from 1 (8×8) to 16 (2×2). Every K beats give one
result from a signed ``acc``-bit register:

    acc[0] = 0,   acc[t+1] = ovf(acc[t] + s_t)   for the K beats t of the result,

where the beat sum ``s_t`` is exact (it fits :func:`beat_sum_bits`, 17 bits, and the register
has at least 18) and ``ovf`` wraps (two's complement) or saturates: once per beat, not per
product. That is the hardware's order, as in Bit Fusion: the fusion unit's shift-add tree sums
all BitBrick products of a cycle into one value, and only that value meets the accumulator.
With ``wrap`` the order does not matter (:func:`lowbit.models.int_gemm.int_dot` over the K·P
lanes gives the same); with ``saturate`` it does, and a per-product order would need P
saturating adders in a chain.

Hardware (in the manner of Bit Fusion): an A-bit operand is A/2 two-bit digits, the top digit
signed for a signed operand; each of the 16 BitBricks multiplies one digit of a by one digit
of w, and shifting by 2·(i + j) and adding fuses them into the P products.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from lowbit.models.accumulator import product_range
from lowbit.models.formats import IntFormat
from lowbit.models.pipeline import Chain
from lowbit.models.tiling import DotPerf, DotTiler

#: operand precisions a run can pick (bits), by their run-time code 0, 1, 2
PRECISIONS = (8, 4, 2)
#: the 2-bit × 2-bit multipliers (BitBricks) of one unit; an 8×8 product uses all of them
BRICKS = 16
#: bits of each operand word per beat: 8×8 needs 8 bits, 2×2 sixteen 2-bit lanes
WORD_BITS = 32
#: a beat's way to the accumulator: each brick's digits and shift picked by the mode, the
#: brick products, their shifts, the shift-add tree in two halves (16 → 4 → 1)
FUSION_CHAIN = Chain((("select", 3.0), ("bricks", 3.0), ("shift", 2.0), ("pairs", 4.0),
                      ("sum", 4.0)))


def products_per_beat(a_bits: int, w_bits: int) -> int:
    """P: products one beat carries in mode A×W (16 bricks, (A/2)·(W/2) bricks per product)."""
    return BRICKS * 4 // (a_bits * w_bits)


def modes() -> list[tuple[int, int]]:
    """Every run-time precision pair (A, W)."""
    return [(a, w) for a in PRECISIONS for w in PRECISIONS]


def beat_sum_bits() -> int:
    """Bits of the signed beat sum that holds every mode's and signedness' ``Σ_p a_p·w_p``
    (17: an unsigned 8×8 product reaches 255·255)."""
    lo = hi = 0
    for a_bits, w_bits in modes():
        p = products_per_beat(a_bits, w_bits)
        for a_signed, w_signed in product([True, False], repeat=2):
            plo, phi = product_range(IntFormat(a_bits, a_signed), IntFormat(w_bits, w_signed))
            lo, hi = min(lo, p * plo), max(hi, p * phi)
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1


def lanes(words: np.ndarray, bits: int, count: int, signed: bool) -> np.ndarray:
    """(beats,) operand words to (beats, count) lane values."""
    w = np.asarray(words, dtype=np.uint64)[:, None] >> (np.arange(count, dtype=np.uint64) *
                                                        np.uint64(bits))
    return IntFormat(bits, signed).decode(w & np.uint64((1 << bits) - 1))


def fusion_golden(config, a_words: np.ndarray, w_words: np.ndarray, k: int, a_bits: int = 8,
                  w_bits: int = 8, a_signed: bool = True, w_signed: bool = True) -> np.ndarray:
    """Results of the unit fed operand words (1-D, a multiple of K beats) in one mode.

    Parameters
    ----------
    config
        The unit's :class:`~lowbit.kinds.fusion.FusionConfig`.
    a_words, w_words
        32-bit operand words in stream order.
    k
        Beats per result.
    a_bits, w_bits, a_signed, w_signed
        The run-time mode.

    Returns
    -------
    numpy.ndarray
        One accumulator value per K beats (int64).
    """
    a_words, w_words = np.asarray(a_words), np.asarray(w_words)
    if a_words.shape != w_words.shape or a_words.ndim != 1 or a_words.size % k:
        raise ValueError(f"operand streams of {a_words.size} and {w_words.size} beats do not "
                         f"make groups of K={k}")
    p = products_per_beat(a_bits, w_bits)
    beat_sums = (lanes(a_words, a_bits, p, a_signed) * lanes(w_words, w_bits, p, w_signed)).sum(1)
    return config.accumulator.accumulate(beat_sums.reshape(-1, k))


def words(lane_codes: np.ndarray, bits: int) -> np.ndarray:
    """(beats, P) lane codes of ``bits`` bits to (beats,) operand words (inverse of
    :func:`lanes`): lane p at bits ``p·bits``."""
    codes = np.asarray(lane_codes, dtype=np.uint64) & np.uint64((1 << bits) - 1)
    shifts = np.arange(codes.shape[1], dtype=np.uint64) * np.uint64(bits)
    return np.bitwise_or.reduce(codes << shifts, axis=1)


class FusionTiler(DotTiler):
    """``fusion`` in one mode: each beat carries P = 64/(A·W) elements of a row of A and of
    a column of W in its two words (:func:`words`); K pads to whole beats with zeros."""

    def __init__(self, config, a_bits: int = 8, w_bits: int = 8, a_signed: bool = True,
                 w_signed: bool = True, capacity: int | None = None):
        super().__init__(config, capacity)
        for bits in (a_bits, w_bits):
            if bits not in PRECISIONS:
                raise ValueError(f"precision {bits}: fusion runs at {PRECISIONS} bits")
        self.mode = (a_bits, w_bits, a_signed, w_signed)
        self.per_beat = products_per_beat(a_bits, w_bits)

    def params(self) -> dict[str, int]:
        a_bits, w_bits, a_signed, w_signed = self.mode
        return {"a_prec": PRECISIONS.index(a_bits), "w_prec": PRECISIONS.index(w_bits),
                "a_signed": int(a_signed), "w_signed": int(w_signed)}

    def codes(self, gen, side, shape):
        bits = self.mode[0 if side == "a" else 1]
        return gen.integers(0, 1 << bits, size=shape, dtype=np.uint64)

    def fields(self, a, w):
        a_bits, w_bits, *_ = self.mode
        return {"a": words(a.reshape(-1, self.per_beat), a_bits),
                "w": words(w.reshape(-1, self.per_beat), w_bits)}

    def dots(self, params, a, w):
        got = self.fields(a, w)
        return self.config.accumulator.encode(
            fusion_golden(self.config, got["a"], got["w"], params["k"], *self.mode))


class FusionPerf(DotPerf):
    """Cycles of a GEMM in one mode (default 8×8): ⌈K/P⌉ beats per output element."""

    def __init__(self, config, a_bits: int = 8, w_bits: int = 8, a_signed: bool = True,
                 w_signed: bool = True):
        self.config = config
        self.tiler = FusionTiler(config, a_bits, w_bits, a_signed, w_signed)

    @property
    def products_per_beat(self) -> int:
        return self.tiler.per_beat

    @property
    def peak_macs_per_cycle(self) -> float:
        return float(self.products_per_beat)

    @property
    def storage_bits(self) -> int:
        c = self.config
        return 2 * c.acc + c.k_bits + (c.stages > 0) * (beat_sum_bits() + 2)
