"""Block-scaled formats: OCP MX v1.0 (MXFP8/6/4, MXINT8) and NVIDIA's NVFP4.

A :class:`BlockFormat` is ``block`` consecutive elements along K sharing one scale of format
``scale``, optionally times a per-tensor ``tensor_scale`` (FP32 for NVFP4). Its quantizer
follows the specification's rules:

* **MX** (power-of-two scale, E8M0): for a block with largest magnitude ``amax``, the shared
  exponent is ``floor(log2(amax)) - emax_elem`` where ``emax_elem = floor(log2(element max))``
  (8 for E4M3, 15 for E5M2, 4 for E3M2, 2 for E2M3 and E2M1, 0 for INT8), clamped to the E8M0
  range -127..127; an all-zero block uses ``amax`` = the smallest FP32 normal, as the OCP
  reference code (microsoft/microxcaling) does. Elements are ``x / 2**shared_exp`` converted
  with round-to-nearest-even, saturating to ±max (the reference code rounds ties away from
  zero; the spec's conversion is RNE, which we follow). MXINT8 elements are two's-complement
  INT8 with an implicit 2**-6 (format ``int8_f6``), so -2.0 is reachable.
* **NVFP4**: per-tensor ``ts = amax_tensor / (448·6)`` in FP32 (1 for an all-zero tensor);
  per block ``s = E4M3(amax_block / 6 / ts)`` (FP32 arithmetic, then RNE into E4M3,
  saturating); elements ``E2M1(x / (s·ts))``, RNE and saturating; a block whose scale is 0
  holds zeros. ``s·ts`` is exact in float64 and the one float64 division cannot move a value
  across an E2M1 rounding tie (see :mod:`lowbit.models.quantize`). ``ts`` must be a normal
  FP32 number: a non-zero tensor whose ``amax_tensor`` is below ``2688 · 2**-126`` (≈ 3.2e-35)
  is refused with a FormatError, since a zero or subnormal ``ts`` (too few significant bits)
  would push block scales past E4M3's max and clip elements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowbit.models.formats import FixedFormat, Format, IntFormat, NumberFormat
from lowbit.models.minifloat import (
    E8M0,
    FP4_E2M1,
    FP6_E2M3,
    FP6_E3M2,
    FP8_E4M3,
    FP8_E5M2,
    FP32,
    FloatFormat,
)
from lowbit.models.qtensor import (
    SCALE_FORMATS,
    QTensor,
    check_group,
    check_k_axis,
    from_groups,
    orient,
    to_groups,
)
from lowbit.models.quantize import as_input, check_fp32_scales, floor_log2, fp32

#: the smallest FP32 normal: the amax an all-zero MX block is given
_FP32_MIN_NORMAL = FP32.min_normal


@dataclass(frozen=True)
class BlockFormat(Format):
    """``block`` elements of ``element`` sharing a ``scale``; optional FP32 tensor scale."""

    name: str
    element: NumberFormat
    scale: FloatFormat
    block: int
    tensor_scale: FloatFormat | None = None

    @property
    def power_of_two_scale(self) -> bool:
        """MX rule (shared exponent) when the scale is a power of two, else the amax rule."""
        return self.scale.man_bits == 0

    @property
    def scale_type(self) -> str:
        return next(k for k, f in SCALE_FORMATS.items() if f == self.scale)

    @property
    def elem_emax(self) -> int:
        """Exponent of the element format's largest power of two (MX ``emax_elem``)."""
        return int(floor_log2(np.float64(self.element.max)))

    @property
    def bits_per_element(self) -> float:
        return self.element.bits + self.scale.bits / self.block

    def quantize(self, x: np.ndarray, k_axis: int = 1) -> QTensor:
        """``x`` (2-D, K along ``k_axis``; K a multiple of the block) to a QTensor."""
        check_k_axis(k_axis)
        x = as_input(x)
        check_group(self.block, x.shape[k_axis])
        g = to_groups(x, k_axis, "group", self.block).astype(np.float64)
        amax = np.abs(g).max(axis=2)
        tensor_scale = 1.0
        if self.power_of_two_scale:
            amax = np.where(amax > 0, amax, _FP32_MIN_NORMAL)
            shared = np.clip(floor_log2(amax) - self.elem_emax, self.scale.emin, self.scale.emax)
            scale = np.ldexp(1.0, shared.astype(np.int32))
            q = self.element.encode(g / scale[..., None], saturate=True)
        else:
            if self.tensor_scale is not None:
                top = np.float32(self.scale.max) * np.float32(self.element.max)
                amax_tensor = np.float32(np.abs(x).max())
                with np.errstate(under="ignore"):
                    tensor_scale = float(amax_tensor / top)
                if not np.any(x):
                    tensor_scale = 1.0
                check_fp32_scales(np.array([amax_tensor]), np.array([tensor_scale]),
                                  f"{self.name} tensor scale amax / {float(top):g}:",
                                  group=False, fix="rescale the input")
            raw = fp32(amax) / np.float32(self.element.max) / np.float32(tensor_scale)
            scale = self.scale.decode(self.scale.encode(raw, saturate=True))
            step = scale * tensor_scale
            ratio = np.where(step[..., None] > 0, g / np.where(step > 0, step, 1.0)[..., None], 0)
            q = self.element.encode(ratio, saturate=True)
        return QTensor(self.element, from_groups(q, k_axis, x.shape), k_axis, self.block,
                       np.ascontiguousarray(orient(scale, k_axis)), self.scale_type,
                       tensor_scale=tensor_scale)


def _mx(name: str, element: NumberFormat) -> BlockFormat:
    return BlockFormat(name, element, E8M0, 32)


INT8_F6 = FixedFormat(IntFormat(8), 6)
MXFP8_E4M3 = _mx("mxfp8_e4m3", FP8_E4M3)
MXFP8_E5M2 = _mx("mxfp8_e5m2", FP8_E5M2)
MXFP6_E3M2 = _mx("mxfp6_e3m2", FP6_E3M2)
MXFP6_E2M3 = _mx("mxfp6_e2m3", FP6_E2M3)
MXFP4 = _mx("mxfp4", FP4_E2M1)
MXINT8 = _mx("mxint8", INT8_F6)
NVFP4 = BlockFormat("nvfp4", FP4_E2M1, FP8_E4M3, 16, tensor_scale=FP32)

BLOCK_FORMATS: dict[str, BlockFormat] = {f.name: f for f in (
    MXFP8_E4M3, MXFP8_E5M2, MXFP6_E3M2, MXFP6_E2M3, MXFP4, MXINT8, NVFP4)}

