"""Golden and performance models of the ``fmac`` core kind: minifloat/integer products summed
exactly in a Kulisch register, with sticky inf/NaN flags beside it.

Each result is one dot product of K operand beats ``(a_k, w_k)``:

* ``acc`` — ``Σ_k a_k·w_k`` in units of ``2**result_lsb``, exactly (the exact register), or,
  with a narrower register of ``acc`` bits (``exact = false``), with every product first
  rounded toward -inf to ``2**(product_lsb + drop)``, ``drop = kulisch_bits - acc``, and the
  sum kept modulo ``2**acc`` (two's complement). Inf and NaN elements count as 0 here. With
  ``mul = "lmul"`` each ``a_k·w_k`` is the L-Mul approximation (:mod:`lowbit.models.lmul`),
  whose offset puts ``product_lsb`` ``l`` bits below ``lsb_a + lsb_w``.
* ``special`` — what IEEE 754 makes of the same sum once an inf or NaN element takes part:
  ``0`` finite (``acc`` is the result), ``1`` +inf, ``2`` -inf, ``3`` NaN. NaN when any element
  is NaN, when inf meets zero, or when +inf and -inf products meet; else ±inf by the sign of
  the infinite products. These are the rules of :func:`lowbit.models.qgemm.qgemm`, whose
  block-sum step (:func:`~lowbit.models.qgemm.exact_dots`) computes both.
"""

from __future__ import annotations

import numpy as np

from lowbit.models.lmul import lmul_sums
from lowbit.models.mac import MacPerf
from lowbit.models.pipeline import Chain
from lowbit.models.qgemm import exact_dots
from lowbit.models.tiling import DotTiler

FINITE, POS_INF, NEG_INF, NAN = 0, 1, 2, 3


#: an operand pair's way to the register: decode both codes (with L-Mul also normalise them),
#: multiply the significands' magnitudes (L-Mul: its adder), sign the product, shift it into
#: the register's units
FMAC_CHAIN = Chain((("decode", 2.0), ("multiply", 3.0), ("sign", 2.0), ("shift", 3.0)))


def classify(ieee: np.ndarray) -> np.ndarray:
    """IEEE values of dot products to the ``special`` codes above."""
    return np.where(np.isnan(ieee), NAN, np.where(np.isposinf(ieee), POS_INF,
                    np.where(np.isneginf(ieee), NEG_INF, FINITE))).astype(np.int64)


#: the IEEE value of each ``special`` code (the inverse of :func:`classify`; FINITE maps to 0)
SPECIAL_VALUES = np.array([0.0, np.inf, -np.inf, np.nan])


def wrap_signed(x: np.ndarray, bits: int) -> np.ndarray:
    """Python integers reduced to a ``bits``-bit two's-complement register."""
    half = 1 << (bits - 1)
    return np.array([((int(v) + half) % (1 << bits)) - half for v in x], dtype=object)


def fmac_golden(config, a_codes: np.ndarray, w_codes: np.ndarray, k: int, a_sel: int = 0,
                w_sel: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(acc, special)`` of the results of an fmac fed code streams ``a_codes``, ``w_codes``
    (1-D, equal length, a multiple of ``k``) with run-time K and format selects; ``acc`` as
    Python integers in units of ``2**config.result_lsb``.

    Parameters
    ----------
    config
        The core's :class:`~lowbit.kinds.fmac.FmacConfig`.
    a_codes, w_codes
        Operand codes in stream order.
    k
        The run-time K.
    a_sel, w_sel
        The run-time format selects (indices into the config's format lists).

    Returns
    -------
    tuple of numpy.ndarray
        ``(acc, special)`` per result: the exact sum and 0 finite, 1 +inf, 2 −inf, 3 NaN.
    """
    a, w = np.asarray(a_codes), np.asarray(w_codes)
    if a.shape != w.shape or a.ndim != 1 or a.size % k:
        raise ValueError(f"operand streams of {a.size} and {w.size} beats do not make groups "
                         f"of K={k}")
    fa, fw = config.a_set.formats[a_sel], config.w_set.formats[w_sel]
    unit_exp = config.result_lsb - fa.lsb - fw.lsb
    sums, ieee = exact_dots(fa, a.reshape(-1, k), fw, w.reshape(-1, k), unit_exp)
    if config.mul == "lmul":  # inf/NaN as above: L-Mul keeps zeros zero and finite terms finite
        sums = lmul_sums(fa, a.reshape(-1, k), fw, w.reshape(-1, k), unit_exp)
    return wrap_signed(sums, config.acc_bits), classify(ieee)


class FmacTiler(DotTiler):
    """``fmac``: each result is K consecutive ``{a, w}`` beats of the formats ``a_sel``,
    ``w_sel`` picked at run time; results are ``{acc, special}`` (:mod:`lowbit.hw.fmac`)."""

    def __init__(self, config, a_sel: int = 0, w_sel: int = 0, capacity: int | None = None):
        super().__init__(config, capacity)
        for side, sel in (("a", a_sel), ("w", w_sel)):
            count = len(getattr(config, f"{side}_set").formats)
            if not 0 <= sel < count:
                raise ValueError(f"{side}_sel={sel}: the config has {count} {side} formats")
        self.sel = {"a": a_sel, "w": w_sel}

    def params(self) -> dict[str, int]:
        c = self.config
        return {f"{side}_sel": sel for side, sel in self.sel.items()
                if getattr(c, f"{side}_set").select_bits}

    def codes(self, gen, side, shape):
        fmt = getattr(self.config, f"{side}_set").formats[self.sel[side]]
        return gen.integers(0, 1 << fmt.bits, size=shape, dtype=np.uint64)

    def dots(self, params, a, w):
        acc, special = fmac_golden(self.config, a.reshape(-1), w.reshape(-1), params["k"],
                                   self.sel["a"], self.sel["w"])
        mask = (1 << self.config.acc_bits) - 1
        return {"acc": np.array([int(v) & mask for v in acc], dtype=object), "special": special}


class FmacPerf(MacPerf):
    """One MAC per cycle, as :class:`~lowbit.models.mac.MacPerf`; the registers differ."""

    def __init__(self, config, a_sel: int = 0, w_sel: int = 0):
        self.config = config
        self.tiler = FmacTiler(config, a_sel, w_sel)

    @property
    def storage_bits(self) -> int:
        c = self.config
        result = c.acc_bits + 2
        regs = (c.acc_bits + 3) + result + c.k_bits  # register + flags, result, beat counter
        return regs + (c.stages > 0) * (c.product_bits + 5)  # the pipeline's last register
