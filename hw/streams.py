"""The port set of the array cores (``systolic``, ``lut``, ``bitserial``).

Each takes activation beats on ``a`` and weight beats on ``w``, gives result beats on
``result`` (streams in the manner of :mod:`amaranth.lib.stream`) and reads its run-time K from
``k``; kind-specific run-time inputs come as extras.
"""

from __future__ import annotations

from amaranth.lib import stream
from amaranth.lib.wiring import In, Out


def array_ports(layouts, k_bits: int, **extra) -> dict:
    """Signature members: ``a``, ``w``, ``result`` streams of ``layouts``' payloads, ``k``,
    then ``extra``."""
    return {"a": In(stream.Signature(layouts["a"])), "w": In(stream.Signature(layouts["w"])),
            "result": Out(stream.Signature(layouts["result"])), "k": In(k_bits), **extra}
