"""The multiplier of one PE of an array: ``lanes`` products ``a × w[k]`` that share ``a``.

:func:`pe_multiplier` picks it from a config's ``mul``, ``family``, ``pack`` and ``mul_stages``
(for a PE on a DSP block or in the fabric); :class:`SharedOperand` gives several independent
multipliers one operand, and :func:`connect` wires any multiplier's ports to a PE's operand and
weight lanes, whatever lane shape the multiplier has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from amaranth.hdl import Module, Value

from lowbit.hw.mul.addsub import AddSubMultiplier
from lowbit.hw.mul.ecp5 import Mult18x18d
from lowbit.hw.mul.fabric import FabricMultiplier
from lowbit.hw.mul.ice40 import SbMac16x8
from lowbit.hw.mul.packed import PackedMultiplier
from lowbit.hw.mul.shape import InferredMultiplier, Multiplier
from lowbit.hw.olive import OliveMultiplier
from lowbit.models.formats import IntFormat


class SharedOperand(Multiplier):
    """``p[k] = a × w[k]`` for ``k < lanes``, one multiplier of ``make()`` per lane."""

    def __init__(self, a: IntFormat, w: IntFormat, lanes: int, make: Callable[[], Multiplier]):
        self.parts = [make() for _ in range(lanes)]
        super().__init__(a, w, self.parts[0].latency, lanes=lanes)

    def elaborate(self, platform) -> Module:
        m = Module()
        for k, part in enumerate(self.parts):
            m.submodules[f"lane{k}"] = part
            m.d.comb += [part.a.eq(self.a), part.w.eq(self.w[k]), part.en.eq(self.en),
                         self.p[k].eq(part.p)]
        return m


def _ecp5_registers(stages: int) -> dict[str, bool]:
    """MULT18X18D registers for ``stages`` cycles: inputs first, then output, then pipeline."""
    return {"reg_inputs": stages >= 1, "reg_output": stages >= 2, "reg_pipeline": stages >= 3}


def pe_multiplier(config, dsp: bool) -> Multiplier:
    """The multiplier of one PE of an integer ``config`` (``config.pack`` lanes sharing ``a``,
    ``config.mul_stages`` registers): on a DSP block when ``dsp``, else as ``config.mul`` says
    for the fabric (``infer``: ``a * w`` left to Yosys; ``lut``/``auto``: carry chains;
    ``addsub``: add/subtract/skip for weights of -1, 0, +1)."""
    a, w, lanes, stages = config.a, config.w, config.pack, config.mul_stages
    if config.olive:   # decoded OliVe terms: INT4 products and a shift
        a, w = config.pe_formats
        return SharedOperand(a, w, lanes, lambda: OliveMultiplier(a, w, stages))
    if config.mul == "infer":
        return SharedOperand(a, w, lanes, lambda: InferredMultiplier(a, w, stages))
    if config.mul == "addsub":
        return SharedOperand(a, w, lanes, lambda: AddSubMultiplier(a, w, stages))
    if not dsp:
        cells = "ecp5" if config.family == "ecp5" else "generic"
        return SharedOperand(a, w, lanes, lambda: FabricMultiplier(a, w, stages, cells))
    if config.family == "ice40":
        return SbMac16x8(a, w, lanes=lanes, reg_inputs=stages >= 1, reg_output=stages >= 2)
    if lanes == 1:
        return SharedOperand(a, w, 1, lambda: Mult18x18d(a, w, **_ecp5_registers(stages)))
    return PackedMultiplier(config.packing,
                            lambda fa, fw: Mult18x18d(fa, fw, **_ecp5_registers(stages)))


def connect(m: Module, mul: Multiplier, a: Value, weights: Sequence[Value], en: Value
            ) -> list[Value]:
    """Drive ``mul`` with operand ``a`` and ``weights`` (one per lane) under ``en``; the
    products, one per lane."""
    lanes = len(weights)
    m.d.comb += mul.en.eq(en)
    if mul.lanes is None:
        m.d.comb += [mul.a.eq(a), mul.w.eq(weights[0])]
        return [mul.p]
    m.d.comb += [mul.a[k].eq(a) for k in range(lanes)] if mul.lanes_a else mul.a.eq(a)
    m.d.comb += [mul.w[k].eq(weights[k]) for k in range(lanes)]
    return [mul.p[k] for k in range(lanes)]
