"""A quantized GEMM operand: element codes with their scales, zero-points and layout.

A :class:`QTensor` is 2-D with a reduction axis ``k_axis`` (1 for activations A, M×K; 0 for
weights W, K×N). Scales and zero-points are held per *group*: ``group`` consecutive elements
along K share one. Their arrays keep the tensor's orientation with the K axis counted in groups:

==============  =====================  =====================
granularity     A (k_axis=1), M×K      W (k_axis=0), K×N
==============  =====================  =====================
per tensor      (1, 1)                 (1, 1)
per channel     (M, 1)                 (1, N)
per group G     (M, K/G)               (K/G, N)
==============  =====================  =====================

The value of an element is ``(element - zero_point) · scale · tensor_scale``, where
``tensor_scale`` is a second, per-tensor FP32 scale (NVFP4) that the GEMM applies once after
accumulation. Scale values are held as float64, which holds every FP32, E4M3 and E8M0 value
exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from lowbit.errors import UsageError
from lowbit.models.formats import IntFormat, NumberFormat
from lowbit.models.minifloat import E8M0, FP8_E4M3, FP32

GRANULARITIES: tuple[str, ...] = ("tensor", "channel", "group")
#: how a scale is stored: FP32; a power of two held as its int8 exponent (a shift); E8M0 (the
#: MX scale, 2**-127..2**127); E4M3 (the NVFP4 block scale)
SCALE_FORMATS: dict[str, NumberFormat] = {
    "float32": FP32, "pow2": IntFormat(8), "e8m0": E8M0, "e4m3": FP8_E4M3}


def check_k_axis(k_axis: int) -> None:
    if k_axis not in (0, 1):
        raise UsageError(f"k_axis={k_axis} is not allowed; 1 for activations (M×K), "
                         "0 for weights (K×N)")


def check_group(group: int, k: int) -> None:
    """A group size must divide K; say what to choose or pad to when it does not."""
    if group < 1:
        raise UsageError(f"group size {group} is not allowed; it must be at least 1")
    if k % group:
        divisors = [d for d in range(min(group, k), 0, -1) if k % d == 0][:3]
        pad = -(-k // group) * group
        raise UsageError(
            f"group size {group} does not divide K={k}; pad K to {pad} (zeros) or choose a "
            f"group size that divides {k} (e.g. {', '.join(map(str, divisors))})")


def to_groups(x: np.ndarray, k_axis: int, granularity: str, group: int) -> np.ndarray:
    """``x`` as (rows, groups, elements-per-group) along K, rows being the non-K axis."""
    xt = x if k_axis == 1 else x.T
    rows, k = xt.shape
    if granularity == "tensor":
        return xt.reshape(1, 1, rows * k)
    if granularity == "channel":
        return xt.reshape(rows, 1, k)
    return xt.reshape(rows, k // group, group)


def from_groups(blocks: np.ndarray, k_axis: int, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`to_groups` for whole tensors."""
    rows, k = (shape[0], shape[1]) if k_axis == 1 else (shape[1], shape[0])
    xt = blocks.reshape(rows, k)
    return xt if k_axis == 1 else xt.T


def orient(per_group: np.ndarray, k_axis: int) -> np.ndarray:
    """A (rows, groups) array of :func:`to_groups` in the tensor's orientation."""
    return per_group if k_axis == 1 else per_group.T


@dataclass(frozen=True, eq=False)
class QTensor:
    """Element codes of ``fmt`` plus the scales, zero-points and layout that give their values."""

    fmt: NumberFormat
    codes: np.ndarray
    k_axis: int
    group: int
    scales: np.ndarray
    scale_type: str = "float32"
    zero_points: np.ndarray | None = None
    tensor_scale: float = 1.0

    def __post_init__(self) -> None:
        check_k_axis(self.k_axis)
        if self.codes.ndim != 2:
            raise UsageError(f"a GEMM operand must be 2-D; got shape {self.codes.shape}")
        check_group(self.group, self.k)
        groups = self.k // self.group
        rows = self.codes.shape[1 - self.k_axis]
        for what, arr in (("scales", self.scales), ("zero_points", self.zero_points)):
            if arr is None:
                continue
            r, g = arr.shape if self.k_axis == 1 else arr.shape[::-1]
            if g != groups or r not in (1, rows):
                raise UsageError(f"{what} of shape {arr.shape} do not fit a {self.codes.shape} "
                                 f"operand with groups of {self.group} along axis {self.k_axis}")

    @classmethod
    def of_values(cls, values: np.ndarray, fmt: NumberFormat, k_axis: int = 1) -> QTensor:
        """Values already in ``fmt``, with no scale (scale 1, one group spanning K)."""
        values = np.asarray(values)
        codes = fmt.encode(values)
        if not np.array_equal(fmt.decode(codes), values.astype(np.float64), equal_nan=True):
            raise UsageError(f"values are not all exactly representable in {fmt}")
        return cls(fmt, codes, k_axis, values.shape[k_axis], np.ones((1, 1)), "pow2")

    def rows(self, index: np.ndarray) -> QTensor:
        """The rows ``index`` of an activation operand (k_axis=1), with their scales."""
        if self.k_axis != 1:
            raise UsageError("rows() slices activations (k_axis=1)")
        def pick(arr):
            return None if arr is None else arr if arr.shape[0] == 1 else arr[index]
        return replace(self, codes=self.codes[index], scales=pick(self.scales),
                       zero_points=pick(self.zero_points))

    @property
    def k(self) -> int:
        return self.codes.shape[self.k_axis]

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    def expand(self, per_group: np.ndarray) -> np.ndarray:
        """A per-group array (scales, zero-points) repeated to the tensor's shape."""
        out = np.repeat(per_group, self.group, axis=self.k_axis)
        return np.broadcast_to(out, self.shape) if out.shape != self.shape else out

    def elements(self) -> np.ndarray:
        """Element values (float64, exact), before zero-points and scales."""
        return np.asarray(self.fmt.decode(self.codes), dtype=np.float64)

    def dequantize(self) -> np.ndarray:
        """``(element - zero_point) · scale · tensor_scale`` in float64 (one rounding per step)."""
        v = self.elements()
        if self.zero_points is not None:
            v = v - self.expand(self.zero_points)
        return v * self.expand(self.scales) * self.tensor_scale

    @property
    def bits_per_element(self) -> float:
        """Storage per element: element bits plus the scale (and zero-point) bits it shares."""
        per_group = SCALE_FORMATS[self.scale_type].bits
        per_group += self.fmt.bits if self.zero_points is not None else 0
        groups = self.scales.size
        return self.fmt.bits + per_group * groups / self.codes.size
