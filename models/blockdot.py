"""Golden and performance models of the ``blockdot`` core kind.

For each block j (B element pairs sharing the scales ``sa_j``, ``sw_j``) the unit gives the
exact scaled block product ``S_j = sum_j · 2**exp_j`` with

    sum_j = D_j · sig(sa_j) · sig(sw_j)
    exp_j = lsb_a + lsb_w + exp(sa_j) + exp(sw_j)

where ``D_j`` is :func:`lowbit.models.qgemm.qgemm`'s exact block sum (step 2, in units of
``2**(lsb_a + lsb_w)``) and a scale is ``sig · 2**exp`` by
:meth:`~lowbit.models.minifloat.FloatFormat.exact` (E8M0: sig = 1). ``special`` is as in
:mod:`lowbit.models.fmac` for the elements; a NaN scale (E8M0 0xFF, E4M3 S.1111.111) makes the
block NaN whatever its elements are (OCP MX; qgemm's rule).

qgemm's steps 3-5 (``RNE32(S_j)``, the FP32 sum over blocks, the NVFP4 tensor scales) are
applied to these results by :func:`fp32_accumulate`; the unit itself stops at ``S_j``.
"""

from __future__ import annotations

import numpy as np

from lowbit.models.exact import to_fp32
from lowbit.models.fmac import FINITE, NAN, classify
from lowbit.models.perf import GemmShape
from lowbit.models.qgemm import exact_dots


def blockdot_golden(config, a_codes: np.ndarray, w_codes: np.ndarray, sa_codes: np.ndarray,
                    sw_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sum, exp, special)`` per block of element codes (blocks × B) and scale codes."""
    a, w = np.asarray(a_codes), np.asarray(w_codes)
    if a.shape != w.shape or a.ndim != 2 or a.shape[1] != config.block:
        raise ValueError(f"element codes of shape {a.shape} and {w.shape}: expected blocks × "
                         f"{config.block}")
    d, ieee = exact_dots(config.a.element, a, config.w.element, w)
    sign_a, sig_a, exp_a = config.a.scale.exact(sa_codes)
    sign_w, sig_w, exp_w = config.w.scale.exact(sw_codes)
    sig = np.where(sign_a ^ sign_w, -1, 1) * sig_a * sig_w
    sums = d * sig.astype(object)
    exp = exp_a + exp_w + config.a.element.lsb + config.w.element.lsb
    special = classify(ieee)
    nan_scale = config.a.scale.is_nan(sa_codes) | config.w.scale.is_nan(sw_codes)
    special = np.where(nan_scale, NAN, special)
    return sums, exp.astype(np.int64), special


def fp32_accumulate(sums: np.ndarray, exp: np.ndarray, special: np.ndarray,
                    blocks: int) -> np.ndarray:
    """qgemm's steps 3-4 on block results: ``c = RNE32(c + RNE32(S_j))`` over each run of
    ``blocks`` consecutive blocks, from +0."""
    s = np.empty(len(sums), dtype=np.float32)
    for i, (d, e) in enumerate(zip(sums, exp)):
        s[i] = to_fp32(np.array([int(d)], dtype=object), int(e), np.float64(1.0))[0]
    s = np.where(special == FINITE, s, np.array([0, np.inf, -np.inf, np.nan],
                                                dtype=np.float32)[special])
    c = np.zeros(len(sums) // blocks, dtype=np.float32)
    for j in range(blocks):
        c = c + s[j::blocks]  # float32 + float32: one RNE32 each
    return c


class BlockdotPerf:
    """``lanes`` MACs per cycle; an M×N×K GEMM streams K/lanes beats per output element."""

    def __init__(self, config):
        self.config = config

    def gemm_cycles(self, shape: GemmShape) -> int:
        beats = -(-shape.k // self.config.block) * self.config.beats
        return shape.m * shape.n * beats + self.config.latency

    @property
    def peak_macs_per_cycle(self) -> float:
        return float(self.config.lanes)

    @property
    def storage_bits(self) -> int:
        c = self.config
        scales = c.a.scale.bits + c.w.scale.bits
        result = c.block_sum_bits + 2 * 8 + 16 + 2
        return c.block_sum_bits + 3 + scales + result + c.beats.bit_length()
