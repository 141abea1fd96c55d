"""Layer-wise precision: which quantizers each layer's operands use, chosen by layer name.

A :class:`Precision` names a weight quantizer ``w``, an activation quantizer ``a`` (both in
:func:`lowbit.models.quantize.parse_quantizer` syntax, e.g. ``int4:g128``, ``int8``,
``mxfp4``; ``float`` leaves an operand unquantized, FP32) and the format results leave the
core in, ``out``: ``fp32`` (the accumulators scaled to FP32, qgemm's result) or an integer
format such as ``int8`` (the engine's dyadic requantization, :mod:`lowbit.models.requant`);
left out, :meth:`Precision.resolved` chooses it for the core.
An operand W that is not a stored weight (attention's K and V, the KV cache) is an activation:
it uses ``kv`` when given, else ``a``.

:class:`PrecisionRules` pick a Precision per layer: the first rule whose pattern matches the
layer name wins, else the default. A pattern is a shell glob (``encoder.layer.*.attention.*``)
or, written ``re:…``, a Python regular expression that must match the whole name.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lowbit.errors import UsageError
from lowbit.models.block_formats import BlockFormat
from lowbit.models.formats import Format, IntFormat, parse_format
from lowbit.models.qtensor import SCALE_FORMATS
from lowbit.models.quantize import QuantSpec, parse_quantizer

#: the quantizer name that leaves an operand in FP32
FLOAT = "float"
FP32_BITS = 32
#: what an integer core's results are requantized to when a precision does not say
REQUANT_OUT = IntFormat(16)


def quantizer(text: str) -> QuantSpec | BlockFormat | None:
    """A parsed quantizer, or None for ``float``; a UsageError names a bad one."""
    return None if text.strip().lower() == FLOAT else parse_quantizer(text)


def element_format(text: str) -> Format | None:
    """The element format a quantizer gives (None for ``float``)."""
    q = quantizer(text)
    return None if q is None else q if isinstance(q, BlockFormat) else q.fmt


def bits_per_element(text: str, k: int) -> float:
    """Storage per element of an operand quantized by ``text`` with K = ``k`` along its
    reduction axis: element bits plus each scale (and zero point) shared over its group."""
    q = quantizer(text)
    if q is None:
        return float(FP32_BITS)
    if isinstance(q, BlockFormat):
        return q.bits_per_element
    group = q.group if q.granularity == "group" else k
    shared = SCALE_FORMATS[q.scale].bits + (q.fmt.bits if not q.symmetric else 0)
    if q.granularity == "tensor":
        return float(q.fmt.bits)    # one scale for the whole tensor
    return q.fmt.bits + shared / group


def single_block(text: str) -> bool:
    """Whether one scale covers the whole K of a row/column (per tensor, per channel, float):
    then an integer core's accumulators are the whole dot product."""
    q = quantizer(text)
    return q is None or (isinstance(q, QuantSpec) and q.granularity != "group")


@dataclass(frozen=True)
class Precision:
    """Weight and activation quantizers and the result format of one layer."""

    w: str
    a: str
    out: str | None = None      # None: as :meth:`resolved` chooses for the core
    kv: str | None = None       # W operands that are activations (attention's K, V); None: a

    def __post_init__(self) -> None:
        quantizer(self.w), quantizer(self.a)     # a bad name fails here
        if self.kv is not None:
            quantizer(self.kv)
        if self.out not in (None, "fp32") and not isinstance(parse_format(self.out), IntFormat):
            raise UsageError(f"out={self.out!r} is not allowed; fp32 or an integer format "
                             "(int8, int16, ...) the engine requantizes to")

    def resolved(self, integer_core: bool) -> Precision:
        """``out`` chosen when not given: on an integer core whose operands each have one
        scale per row/column, the engine requantizes the results to :data:`REQUANT_OUT`
        (int16: next to lossless, where int8 outputs with one static scale per tensor lose
        much of a BERT's accuracy to its outlier channels); otherwise they leave as FP32."""
        if self.out is not None:
            return self
        a, w = element_format(self.a), element_format(self.w)
        requant = (integer_core and isinstance(a, IntFormat) and w is not None
                   and getattr(w, "is_integer", False) and single_block(self.a)
                   and single_block(self.w))
        return Precision(self.w, self.a, REQUANT_OUT.name if requant else "fp32", self.kv)

    @property
    def out_format(self) -> IntFormat | None:
        """The requantization target, or None for FP32 results."""
        if self.out is None:
            raise UsageError(f"{self}: the result format is not resolved for a core yet")
        return None if self.out == "fp32" else parse_format(self.out)

    @property
    def out_bits(self) -> int:
        return FP32_BITS if self.out_format is None else self.out_format.bits

    def operand(self, w_role: str) -> str:
        """The quantizer of the W operand of a GEMM whose W has ``w_role``."""
        return self.w if w_role == "weight" else self.kv or self.a

    def __str__(self) -> str:
        kv = f" kv={self.kv}" if self.kv else ""
        return f"w={self.w} a={self.a}{kv} out={self.out}"


def matches(pattern: str, name: str) -> bool:
    """Whether a glob, or a ``re:`` regular expression (whole name), matches ``name``."""
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], name) is not None
    return fnmatch.fnmatchcase(name, pattern)


def check_pattern(pattern: str) -> str:
    if not pattern:
        raise UsageError("an empty layer pattern matches nothing; use * for every layer")
    if pattern.startswith("re:"):
        try:
            re.compile(pattern[3:])
        except re.error as e:
            raise UsageError(f"layer pattern {pattern!r} is not a regular expression: {e}") \
                from None
    return pattern


@dataclass(frozen=True)
class PrecisionRules:
    """``(pattern, Precision)`` rules, first match wins, and the default for other layers."""

    rules: tuple[tuple[str, Precision], ...]
    default: Precision

    @classmethod
    def of(cls, default: Precision, rules: Sequence[tuple[str, Precision]] = (),
           tables: Sequence[Mapping[str, Any]] = ()) -> PrecisionRules:
        """Rules given directly, then rules from ``[[precision]]`` tables (``layers``, ``w``,
        ``a``, ``kv``, ``out``; a missing ``w``/``a`` keeps the default's, a missing ``out`` is
        chosen for the core)."""
        out = [(check_pattern(p), r) for p, r in rules]
        for t in tables:
            unknown = sorted(set(t) - {"layers", "w", "a", "out", "kv"})
            if unknown or "layers" not in t:
                raise UsageError(f"a [[precision]] table needs `layers` and may set w, a, kv, "
                                 f"out; got {', '.join(sorted(t))}")
            out.append((check_pattern(str(t["layers"])), Precision(
                str(t.get("w", default.w)), str(t.get("a", default.a)), t.get("out"),
                t.get("kv"))))
        return cls(tuple(out), default)

    def for_layer(self, name: str) -> Precision:
        return next((p for pattern, p in self.rules if matches(pattern, name)), self.default)

    def unused(self, names: Sequence[str]) -> list[str]:
        """Patterns that match none of ``names`` (most likely a typo)."""
        return [p for p, _ in self.rules if not any(matches(p, n) for n in names)]
