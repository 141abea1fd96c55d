"""OliVe's outlier-victim pairs (Guo et al., "OliVe: Accelerating Large Language Models via
Hardware-friendly Outlier-Victim Pair Quantization", ISCA 2023).

Values are quantized in *pairs* of neighbours (elements 2i and 2i+1 of a row of the operand
matrix: along K for activations M×K, along N for weights K×N — the neighbours in memory of
Lowbit's row-major operands, and in one beat of the arrays' streams). A normal value is an INT4
``-7..7``; the code ``1000`` (INT4's ``-8``, unused by symmetric quantization) is the *outlier
identifier*. When one element of a pair is an outlier, its neighbour — the *victim* — is pruned
to zero and its slot holds the identifier, while the outlier's slot holds an **abfloat**
("adaptive biased float") code: E2M1 without zero or subnormals whose bias (-3) starts its range
right above the normal one, so its magnitudes are 8, 12, 16, 24, 32, 48, 64, 96 — integers
``(2 + mantissa) << (exponent + 2)``, i.e. a 2-bit significand and a shift: an INT4 multiplier
and a shifter compute every product. Every pair of codes decodes:

=========================  ===========================================================
``(1000, c)``              victim, then the outlier ``abfloat(c)``
``(c, 1000)``, c ≠ 1000    the outlier ``abfloat(c)``, then the victim
otherwise                  two normal INT4 values
=========================  ===========================================================

so ``(1000, 1000)`` is a victim and the outlier -8: the abfloat code 1000 can be an outlier only
in a pair's second slot (a choice: the paper leaves the collision open).

**Quantizer** (:class:`OliveSpec`, ``olive4:tensor``/``olive4:channel``). For each scale, every
pair takes whichever of its three encodings (normal-normal; outlier first, victim second; victim
first, outlier second) has the least squared error, a tie going to that order; normal values
round to nearest even and clip to ±7, outliers round with abfloat's encode (nearest, ties to the
even significand, saturating at ±96). The scale is ``amax / q`` with the ``q`` of least total
error among 48 values log-spaced from 7 (no outliers needed) to 96 (the largest value an
outlier); the paper searches its scale by error too, over a grid it does not state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowbit.errors import UsageError
from lowbit.models.formats import Format, FormatError, IntFormat
from lowbit.models.minifloat import FloatFormat
from lowbit.models.qtensor import check_k_axis
from lowbit.models.quantize import as_input

#: candidates of the scale search (amax maps to q for q in this many log-spaced steps)
SCALE_STEPS = 48


@dataclass(frozen=True)
class TermFormat(Format):
    """An operand as the OliVe datapath holds it after decoding: ``value = m << shift`` with a
    ``m`` of format ``m`` and a ``shift_bits``-bit unsigned shift; ``bits`` are the value's
    (``value``), which is what a product of it needs."""

    name: str
    m: IntFormat
    shift_bits: int
    value: IntFormat

    signed = True

    @property
    def bits(self) -> int:
        return self.value.bits


@dataclass(frozen=True)
class OvpFormat(Format):
    """Outlier-victim pairs of ``normal`` codes, the outlier in ``outlier`` (an abfloat), the
    victim marked by ``normal``'s most negative code."""

    name: str
    normal: IntFormat
    outlier: FloatFormat

    signed = True

    def __post_init__(self) -> None:
        if self.outlier.bits != self.normal.bits:
            raise FormatError(f"{self.name}: the outlier type must have the normal type's "
                              f"{self.normal.bits} bits")

    @property
    def bits(self) -> int:
        return self.normal.bits

    @property
    def identifier(self) -> int:
        """The victim's code: the normal type's most negative value, never a normal value."""
        return 1 << (self.bits - 1)

    @property
    def max_units(self) -> int:
        return int(self.outlier.decode(np.array([self.outlier.max_mag_code]))[0])

    @property
    def value_format(self) -> IntFormat:
        """The narrowest two's-complement integer holding every decoded value."""
        return IntFormat(self.max_units.bit_length() + 1)

    @property
    def normal_max(self) -> int:
        return self.normal.max

    @property
    def term_format(self) -> TermFormat:
        """The decoded operand (:meth:`terms`): an INT4 significand and a shift."""
        top = int(self.outlier.exact(self.outlier.codes())[2].max())
        return TermFormat(f"{self.name}_terms", self.normal, top.bit_length(),
                          self.value_format)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Integer values of a code matrix whose rows pair elements 2i, 2i+1 (even width)."""
        m, shift = self.terms(codes)
        return m << shift

    def terms(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The datapath's form of each decoded value: ``value = m << shift`` with ``m`` an
        INT4 (normal: the value; outlier: its signed significand; victim: 0)."""
        c = self._pairs(codes)
        first, second = c[..., 0], c[..., 1]
        outlier = np.stack([(second == self.identifier) & (first != self.identifier),
                            first == self.identifier], axis=-1)
        victim = np.stack([first == self.identifier,
                           (second == self.identifier) & (first != self.identifier)], axis=-1)
        sign, sig, exp = self.outlier.exact(c)
        normal = self.normal.decode(np.where(outlier | victim, 0, c))
        m = np.where(victim, 0, np.where(outlier, np.where(sign == 1, -sig, sig), normal))
        shift = np.where(outlier, exp, 0)
        return m.reshape(np.shape(codes)), shift.reshape(np.shape(codes))

    def _pairs(self, codes: np.ndarray) -> np.ndarray:
        c = self.normal.checked_codes(codes)
        if c.ndim != 2 or c.shape[1] % 2:
            raise FormatError(f"{self.name} codes pair along rows: a 2-D array of even width; "
                              f"got shape {c.shape}")
        return c.reshape(c.shape[0], -1, 2)

    def random(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """Random codes (rows paired; an odd width drops the last code of a wider draw): half
        the pairs normal, a quarter with the outlier first, a quarter second."""
        rows, width = shape
        pairs = (rows, -(-width // 2))
        kind = rng.integers(0, 4, size=pairs)
        normal = self.normal.encode(rng.integers(-self.normal_max, self.normal_max + 1,
                                                 size=(*pairs, 2)))
        outlier = rng.integers(0, 1 << self.bits, size=pairs).astype(np.uint64)
        out = normal.copy()
        out[..., 0] = np.where(kind == 2, outlier, np.where(kind == 3, self.identifier,
                                                               out[..., 0]))
        out[..., 1] = np.where(kind == 2, self.identifier, np.where(kind == 3, outlier,
                                                                   out[..., 1]))
        # the outlier code 1000 is read as the victim's in the first slot (see the docstring)
        return out.reshape(rows, -1)[:, :width]

    def encode_pairs(self, x: np.ndarray) -> np.ndarray:
        """Real values (already divided by the scale; rows paired) to codes: per pair the
        encoding of least squared error (normal-normal, outlier-victim, victim-outlier)."""
        x = np.asarray(x, dtype=np.float64)
        p = x.reshape(x.shape[0], -1, 2)
        top = self.normal_max
        n = np.clip(np.rint(p), -top, top)
        o = self.outlier.encode(np.where(p == 0, 1.0, p), saturate=True)   # abfloat has no 0
        o_first = np.where(o[..., 0] == self.identifier, self.outlier.encode(
            np.minimum(p[..., 0], -12.0), saturate=True), o[..., 0])   # -8 cannot lead a pair
        ov = self.outlier.decode(o)
        ov_first = self.outlier.decode(o_first)
        errors = np.stack([((p - n) ** 2).sum(axis=-1),
                           (p[..., 0] - ov_first) ** 2 + p[..., 1] ** 2,
                           p[..., 0] ** 2 + (p[..., 1] - ov[..., 1]) ** 2])
        pick = np.argmin(errors, axis=0)            # ties: the first in this order
        normal = self.normal.encode(n.astype(np.int64))
        c0 = np.where(pick == 0, normal[..., 0], np.where(pick == 1, o_first, self.identifier))
        c1 = np.where(pick == 0, normal[..., 1], np.where(pick == 1, self.identifier,
                                                          o[..., 1]))
        return np.stack([c0, c1], axis=-1).astype(np.uint64).reshape(x.shape)


#: E2M1 without zero, bias -3: ±8 ±12 ±16 ±24 ±32 ±48 ±64 ±96
ABFLOAT4 = FloatFormat("abfloat4", 2, 1, -3, "none", subnormals=False)
OLIVE4 = OvpFormat("olive4", IntFormat(4), ABFLOAT4)
OLIVE_FORMATS: dict[str, OvpFormat] = {OLIVE4.name: OLIVE4}


@dataclass(frozen=True, eq=False)
class OliveTensor:
    """An OliVe-quantized operand: pair codes and one FP32 scale per tensor or per row."""

    fmt: OvpFormat
    codes: np.ndarray
    scales: np.ndarray        # (1, 1) or (rows, 1)

    def elements(self) -> np.ndarray:
        return self.fmt.decode(self.codes)

    def dequantize(self) -> np.ndarray:
        return self.elements() * self.scales

    @property
    def bits_per_element(self) -> float:
        return self.fmt.bits + 32 * self.scales.size / self.codes.size


@dataclass(frozen=True)
class OliveSpec:
    """The OliVe quantizer: one scale per tensor, or per row (``channel``: per token of an
    activation, K along axis 1)."""

    fmt: OvpFormat
    granularity: str = "tensor"

    @property
    def name(self) -> str:
        return f"{self.fmt.name}:{self.granularity}"

    def quantize(self, x: np.ndarray, k_axis: int = 1) -> OliveTensor:
        """Pairs along each row of ``x``, the scale searched by least error (see the module
        docstring); per-row scales need the rows to be channels (``k_axis`` = 1)."""
        check_k_axis(k_axis)
        x = as_input(x).astype(np.float64)
        if x.shape[1] % 2:
            raise UsageError(f"{self.name} pairs neighbours along rows; the row length "
                             f"{x.shape[1]} is odd (pad it to {x.shape[1] + 1})")
        if self.granularity == "channel" and k_axis != 1:
            raise UsageError(f"{self.name}: per-channel scales are per row of an M×K "
                             "activation (k_axis=1); weights pair across channels, use tensor")
        rows = x if self.granularity == "channel" else x.reshape(1, -1)
        amax = np.abs(rows).max(axis=1, keepdims=True)
        amax = np.where(amax > 0, amax, 1.0)
        best_err = np.full(amax.shape, np.inf)
        best_scale = np.ones(amax.shape)
        for q in np.geomspace(self.fmt.normal_max, self.fmt.max_units, SCALE_STEPS):
            s = (amax.astype(np.float32) / np.float32(q)).astype(np.float64)
            codes = self.fmt.encode_pairs(rows / s)
            err = ((rows - self.fmt.decode(codes) * s) ** 2).sum(axis=1, keepdims=True)
            better = err < best_err
            best_err, best_scale = np.where(better, err, best_err), np.where(better, s,
                                                                             best_scale)
        codes = self.fmt.encode_pairs(rows / best_scale).reshape(x.shape)
        scales = best_scale if self.granularity == "channel" else best_scale.reshape(1, 1)
        return OliveTensor(self.fmt, codes, scales)


def parse_olive(text: str) -> OliveSpec | None:
    """``olive4[:tensor|:channel]`` → an :class:`OliveSpec`; ``None`` for other formats."""
    name, *opts = [p.strip() for p in str(text).lower().split(":")]
    if name not in OLIVE_FORMATS:
        return None
    if len(opts) > 1 or (opts and opts[0] not in ("tensor", "channel")):
        raise UsageError(f"quantizer option {':'.join(opts)!r} in {text!r} is not allowed; "
                         f"{name} takes tensor (default) or channel")
    return OliveSpec(OLIVE_FORMATS[name], opts[0] if opts else "tensor")
