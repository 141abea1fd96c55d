"""A :class:`lowbit.models.pipeline.Chain` in hardware: segments over named values, registers
at the chain's cuts.

A segment is a function ``(m, values) -> new values`` over a dict of named Amaranth values; a
new value of ``None`` drops a name. :func:`build` runs the segments in order and, after each
segment the chain's partition cuts, registers every value that is still named — whatever a
later segment reads rides along, so the segments never list what passes through them. The
registers load whenever ``en`` is high (the unit's pipe advances); a value named ``valid`` is
a stage's valid bit, and its registers are appended to ``valids`` so the unit can drop them
on ``clear``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields

from amaranth.hdl import Module, Signal, Value

from lowbit.models.pipeline import Chain

Values = dict[str, Value]
Segment = Callable[[Module, Values], Values]


def flat(prefix: str, record) -> Values:
    """A dataclass of values (e.g. a decoded operand) as named values ``prefix_field``."""
    return {f"{prefix}_{f.name}": getattr(record, f.name) for f in fields(record)}


def unflat(kind: type, prefix: str, values: Values) -> tuple:
    """The dataclass :func:`flat` made, rebuilt from ``values``, and the names it used (set
    to ``None``, for a segment to drop them)."""
    names = {f.name: f"{prefix}_{f.name}" for f in fields(kind)}
    return kind(**{f: values[n] for f, n in names.items()}), dict.fromkeys(names.values())


def register(m: Module, values: Values, en: Value, prefix: str,
             valids: list | None = None) -> Values:
    """Every value one register later (loading on ``en``)."""
    out = {}
    for key, value in values.items():
        v = Value.cast(value)
        out[key] = Signal(v.shape(), name=f"{prefix}_{key}")
        with m.If(en):
            m.d.sync += out[key].eq(v)
    if valids is not None and "valid" in out:
        valids.append(out["valid"])
    return out


def build(m: Module, chain: Chain, segments: Sequence[tuple[str, Segment]], values: Values,
          registers: int, en: Value, name: str, valids: list | None = None,
          output: bool = False) -> Values:
    """``values`` through the chain's segments with ``registers`` registers inside (placed by
    :meth:`Chain.cuts`) and, with ``output``, one more after the last segment."""
    if tuple(n for n, _ in segments) != chain.names:
        raise ValueError(f"segments {[n for n, _ in segments]} are not the chain's "
                         f"{list(chain.names)}")
    cuts = chain.cuts(registers)
    for index, (segment, function) in enumerate(segments):
        values = {**values, **function(m, values)}
        values = {k: v for k, v in values.items() if v is not None}
        if segment in cuts or (output and index == len(segments) - 1):
            values = register(m, values, en, f"{name}_{segment}", valids)
    return values
