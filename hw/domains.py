"""The clock domains the generators share besides ``sync``.

:data:`DATA` is the ``sync`` clock without reset, for registers that only carry data
(operands, weights, products, sums passing through): their flags say what is live and keep the
reset, so a reset still starts a run afresh, and the reset net of a filled array reaches the
flip-flops of its control, not every one (on ECP5, a reset to ~20,000 LSR pins on one net set the
clock of a 288-MAC array).
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, ClockSignal, Module

#: the data registers' domain: the sync clock, no reset
DATA = "data"


def data_domain(m: Module) -> str:
    """Add :data:`DATA` to ``m`` (local to it); returns its name."""
    m.domains += ClockDomain(DATA, reset_less=True, local=True)
    m.d.comb += ClockSignal(DATA).eq(ClockSignal())
    return DATA
