"""Golden and performance models of the ``blockdot`` core kind.

For each block j (B element pairs sharing the scales ``sa_j``, ``sw_j``) the unit forms the
exact scaled block product ``S_j = sum_j · 2**exp_j`` with

    sum_j = D_j · sig(sa_j) · sig(sw_j)
    exp_j = lsb_a + lsb_w + exp(sa_j) + exp(sw_j)

where ``D_j`` is :func:`lowbit.models.qgemm.qgemm`'s exact block sum (step 2, in units of
``2**(lsb_a + lsb_w)``) and a scale is ``sig · 2**exp`` by
:meth:`~lowbit.models.minifloat.FloatFormat.exact` (E8M0: sig = 1). ``special`` is as in
:mod:`lowbit.models.fmac` for the elements; a NaN scale (E8M0 0xFF, E4M3 S.1111.111) makes the
block NaN whatever its elements are (OCP MX; qgemm's rule).

Output "block" gives these ``(sum, exp, special)``. Output "fp32" gives qgemm's steps 3-5 on
them — each result is ``qgemm(A, W).out`` of the QTensors its blocks make
(:func:`qtensors`), so the golden model is qgemm itself, not a second description of it.
"""

from __future__ import annotations

import sys

import numpy as np

from lowbit.models.exact import to_fp32
from lowbit.models.fmac import FINITE, NAN, SPECIAL_VALUES, classify
from lowbit.models.minifloat import FP32
from lowbit.models.perf import GemmShape
from lowbit.models.pipeline import FP32_ROUND, Chain
from lowbit.models.qgemm import exact_dots, qgemm
from lowbit.models.qtensor import QTensor
from lowbit.models.tiling import DotPerf, DotTiler


def beat_chain(config) -> Chain:
    """A beat's way to the block register: decode the elements, multiply their significands'
    magnitudes, sign the products, shift them, the lanes' adder tree."""
    return Chain((("decode", 2.0), ("multiply", 3.0), ("sign", 2.0), ("shift", 3.0),
                  ("tree", 2.0 * (config.lanes - 1).bit_length())))


def unit_significand(fmt) -> bool:
    """A scale format whose every finite value is a power of two (E8M0): scaling a block is
    adding its exponent, no multiplication."""
    return fmt.man_bits == 0 and not fmt.subnormals and not fmt.signed


def round_chain(config) -> Chain:
    """A block result's way to FP32: the sum times both scales' significands (nothing for
    E8M0), sign and magnitude, then :data:`~lowbit.models.pipeline.FP32_ROUND`."""
    scaled = not (unit_significand(config.a.scale) and unit_significand(config.w.scale))
    return Chain((("scale", 4.0 if scaled else 0.0), ("abs", 2.0))) + FP32_ROUND


#: NVFP4's tensor scaling: the FP32 result and the exact product ``ta · tw`` unpacked, their
#: significands multiplied (24 × 48 bits) as partial products of DSP-block size, those summed,
#: then FP32_ROUND of the exact triple product
TENSOR_CHAIN = Chain((("unpack", 2.0), ("partial", 4.0), ("sum", 5.0))) + FP32_ROUND


def blockdot_golden(config, a_codes: np.ndarray, w_codes: np.ndarray, sa_codes: np.ndarray,
                    sw_codes: np.ndarray, blocks: int = 1, ta: float = 1.0, tw: float = 1.0):
    """What the unit gives for blocks of element codes (blocks × B) and their scale codes:
    output "block": ``(sum, exp, special)`` per block; output "fp32": the FP32 results as bit
    patterns (:func:`fp32_bits`), one per ``blocks`` consecutive blocks (``ta``, ``tw``: the
    tensor scales, NVFP4 only).

    Parameters
    ----------
    config
        The unit's :class:`~lowbit.kinds.blockdot.BlockdotConfig`.
    a_codes, w_codes
        Element codes, one row per block (blocks × B).
    sa_codes, sw_codes
        One scale code per block.
    blocks
        Blocks per result (output ``fp32``).
    ta, tw
        The FP32 tensor scales (NVFP4).

    Returns
    -------
    numpy.ndarray or tuple
        FP32 bit patterns (output ``fp32``), or ``(sum, exp, special)`` per block.
    """
    if config.fp32:
        a, w = qtensors(config, a_codes, w_codes, sa_codes, sw_codes, blocks, ta, tw)
        return fp32_bits(qgemm(a, w, keep_acc=False).out.diagonal())
    return block_results(config, a_codes, w_codes, sa_codes, sw_codes)


def fp32_bits(x: np.ndarray) -> np.ndarray:
    """FP32 values as the unit gives them: bit patterns (uint32), every NaN the quiet NaN
    ``FP32.nan_code`` (IEEE leaves a NaN's sign and payload open; the unit has one)."""
    x = np.asarray(x, dtype=np.float32)
    return np.where(np.isnan(x), np.uint32(FP32.nan_code), x.view(np.uint32))


def _check_blocks(config, a: np.ndarray, w: np.ndarray) -> None:
    if a.shape != w.shape or a.ndim != 2 or a.shape[1] != config.block:
        raise ValueError(f"element codes of shape {a.shape} and {w.shape}: expected blocks × "
                         f"{config.block}")


def block_results(config, a_codes: np.ndarray, w_codes: np.ndarray, sa_codes: np.ndarray,
                  sw_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sum, exp, special)`` per block of element codes (blocks × B) and scale codes."""
    a, w = np.asarray(a_codes), np.asarray(w_codes)
    _check_blocks(config, a, w)
    d, ieee = exact_dots(config.a.element, a, config.w.element, w)
    sign_a, sig_a, exp_a = config.a.scale.exact(sa_codes)
    sign_w, sig_w, exp_w = config.w.scale.exact(sw_codes)
    sig = np.where(sign_a ^ sign_w, -1, 1) * sig_a * sig_w
    sums = d * sig.astype(object)
    exp = exp_a + exp_w + config.lsb
    special = classify(ieee)
    nan_scale = config.a.scale.is_nan(sa_codes) | config.w.scale.is_nan(sw_codes)
    special = np.where(nan_scale, NAN, special)
    return sums, exp.astype(np.int64), special


def qtensors(config, a_codes: np.ndarray, w_codes: np.ndarray, sa_codes: np.ndarray,
             sw_codes: np.ndarray, blocks: int, ta: float = 1.0,
             tw: float = 1.0) -> tuple[QTensor, QTensor]:
    """The unit's input as qgemm operands: result i's ``blocks`` consecutive blocks are row i
    of A (R×K) and column i of W (K×R), K = blocks·B, so result i is ``qgemm(A, W).out[i, i]``."""
    a, w = np.asarray(a_codes), np.asarray(w_codes)
    _check_blocks(config, a, w)
    if len(a) % blocks:
        raise ValueError(f"{len(a)} blocks do not make results of {blocks} blocks")
    if (ta, tw) != (1.0, 1.0) and not config.tensor_scaled:
        raise ValueError(f"{config.a} has no tensor scale")
    rows, k = len(a) // blocks, blocks * config.block
    scale_a = config.a.scale.decode(np.asarray(sa_codes)).reshape(rows, blocks)
    scale_w = config.w.scale.decode(np.asarray(sw_codes)).reshape(rows, blocks)
    qa = QTensor(config.a.element, a.reshape(rows, k), 1, config.block, scale_a,
                 config.a.scale_type, tensor_scale=float(ta))
    qw = QTensor(config.w.element, w.reshape(rows, k).T.copy(), 0, config.block,
                 scale_w.T.copy(), config.w.scale_type, tensor_scale=float(tw))
    return qa, qw


def fp32_accumulate(sums: np.ndarray, exp: np.ndarray, special: np.ndarray,
                    blocks: int) -> np.ndarray:
    """qgemm's steps 3-4 on the results of output "block" (what a host does with them):
    ``c = RNE32(c + RNE32(S_j))`` over each run of ``blocks`` consecutive blocks, from +0."""
    s = to_fp32(np.asarray(sums, dtype=object), 0, np.ldexp(1.0, np.asarray(exp)))
    s = np.where(special == FINITE, s, SPECIAL_VALUES.astype(np.float32)[special])
    c = np.zeros(len(sums) // blocks, dtype=np.float32)
    for j in range(blocks):
        c = c + s[j::blocks]  # float32 + float32: one RNE32 each
    return c


class BlockdotTiler(DotTiler):
    """``blockdot``: result (i, j) takes the K/B blocks of row i of A and column j of W, each
    B/lanes beats of ``lanes`` element pairs with the block's scale codes (operands ``sa``:
    M×K/B, ``sw``: K/B×N) on every beat of the block. Output ``fp32``: one FP32 result per
    (i, j), tensor scales ``ta``, ``tw`` (NVFP4); output ``block``: one result per block,
    placed at column ``j·K/B + b``."""

    def __init__(self, config, ta: float = 1.0, tw: float = 1.0, capacity: int | None = None):
        super().__init__(config, capacity)
        if (ta, tw) != (1.0, 1.0) and not config.tensor_scaled:
            raise ValueError(f"{config.a} has no tensor scale")
        self.ta, self.tw = float(np.float32(ta)), float(np.float32(tw))
        self.per_beat = config.lanes

    def tile(self) -> tuple[int, int, int]:
        return 1, 1, self.config.block

    def k_limit(self) -> int:
        c = self.config
        return c.blocks_max * c.block if c.fp32 else sys.maxsize   # block output: no K register

    def pad_extra(self, padded: GemmShape) -> dict[str, tuple[int, ...]]:
        nb = padded.k // self.config.block
        return {"sa": (padded.m, nb), "sw": (nb, padded.n)}

    def run_params(self, k: int) -> dict[str, int]:
        c = self.config
        params = {"clear": 0}
        if c.fp32:
            params["blocks"] = -(-k // c.block)
        if c.tensor_scaled:
            params.update(ta=int(fp32_bits(self.ta)), tw=int(fp32_bits(self.tw)))
        return params

    def random(self, gen, shape):
        c = self.config
        nb = -(-shape.k // c.block)
        def codes(fmt, dims):
            return gen.integers(0, 1 << fmt.bits, size=dims, dtype=np.uint64)
        return {"a": codes(c.a.element, (shape.m, shape.k)),
                "w": codes(c.w.element, (shape.k, shape.n)),
                "sa": codes(c.a.scale, (shape.m, nb)), "sw": codes(c.w.scale, (nb, shape.n))}

    def beats(self, run, operands):
        a, w = self.pairs(run, operands)
        i, j = np.array(run.blocks, dtype=np.int64).reshape(-1, 2).T
        return {"operands": self.fields(a, w, operands["sa"][i], operands["sw"][:, j].T)}

    def fields(self, a, w, sa, sw):
        c = self.config
        a, w = a.reshape(-1, c.lanes), w.reshape(-1, c.lanes)
        return {**{f"a{i}": a[:, i] for i in range(c.lanes)},
                **{f"w{i}": w[:, i] for i in range(c.lanes)},
                "sa": np.repeat(np.asarray(sa).reshape(-1), c.beats),
                "sw": np.repeat(np.asarray(sw).reshape(-1), c.beats)}

    def result_shape(self, shape):
        nb = 1 if self.config.fp32 else -(-shape.k // self.config.block)
        return shape.m, shape.n * nb

    def result_index(self, run):
        if self.config.fp32:
            return super().result_index(run)
        nb = -(-run.k // self.config.block)
        i, j = np.array(run.blocks, dtype=np.int64).reshape(-1, 2).T
        return (np.repeat(i, nb)[:, None],
                (j[:, None] * nb + np.arange(nb)).reshape(-1, 1))

    def golden(self, operands):
        c = self.config
        m, n = operands["a"].shape[0], operands["w"].shape[1]
        nb = operands["a"].shape[1] // c.block
        i, j = np.divmod(np.arange(m * n), n)
        a = operands["a"][i].reshape(-1, c.block)
        w = operands["w"][:, j].T.reshape(-1, c.block)
        sa, sw = operands["sa"][i].reshape(-1), operands["sw"][:, j].T.reshape(-1)
        if c.fp32:
            return {"fp32": blockdot_golden(c, a, w, sa, sw, nb, self.ta, self.tw).reshape(m, n)}
        total, exp, special = block_results(c, a, w, sa, sw)
        mask = (1 << c.sum_bits) - 1
        return {"sum": np.array([int(v) & mask for v in total], dtype=object).reshape(m, n * nb),
                "exp": (np.asarray(exp, dtype=np.int64) & ((1 << c.exp_bits) - 1)
                        ).astype(np.uint64).reshape(m, n * nb),
                "special": np.asarray(special).reshape(m, n * nb)}


class BlockdotPerf(DotPerf):
    """``lanes`` MACs per cycle; an M×N×K GEMM streams K/lanes beats per output element."""

    def __init__(self, config, ta: float = 1.0, tw: float = 1.0):
        self.config = config
        self.tiler = BlockdotTiler(config, ta, tw)

    @property
    def peak_macs_per_cycle(self) -> float:
        return float(self.config.lanes)

    @property
    def storage_bits(self) -> int:
        """Register bits: the exact block register and its flags, [the beat pipeline's last
        register], the beat counter, the block result; with fp32 output also RNE32's result,
        the FP32 accumulator, the block counter, the result and (NVFP4) the finished sum, the
        registered tensor scales (unpacked) and their exact product. (The registers inside the
        pipelined chains and between the partial products hold values in flight, not state, and
        are not counted.)"""
        c = self.config
        flags = 3
        scales = c.a.scale.bits + c.w.scale.bits
        bits = c.block_sum_bits + flags + c.beats.bit_length()
        bits += (c.stages > 0) * (c.block_sum_bits + flags + scales + 2)
        bits += c.sum_bits + c.exp_bits + 2 + c.fp32   # block result (+ valid)
        if c.fp32:
            bits += (FP32.bits + 2) + 2 * FP32.bits + c.blocks_bits  # S, c, result, count
        if c.tensor_scaled:
            t_sig, t_exp = 2 * (FP32.man_bits + 1), FP32.exp_bits + 3
            scale = FP32.man_bits + 1 + FP32.exp_bits + 2 + 4          # an unpacked scale
            bits += (FP32.bits + 1) + 2 * scale + t_sig + t_exp + 4  # c, ta, tw, ta·tw
        return bits
