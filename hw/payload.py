"""Stream payloads as numpy arrays: codes into a generator's payload integers and back.

The layouts are the generators' own (``amaranth.lib.data`` struct and array layouts), so a bit
position is never written down twice; the testbenches, the host driver and the board
self-tests all pack and unpack through these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from amaranth.hdl import Shape


def pack(layout, fields: Mapping[Any, np.ndarray]) -> list[int]:
    """Payload integers from unsigned code arrays, one per layout field, placed by offset.

    Fields are named as the layout names them (struct field names, or lane indices of an
    ``ArrayLayout``). Payloads wider than 64 bits are assembled as bit matrices in numpy, so
    packing a whole beat of many lanes costs no per-element Python work.
    """
    count = len(next(iter(fields.values())))
    if layout.size <= 64:
        total = np.zeros(count, dtype=np.uint64)
        for name, codes in fields.items():
            total |= np.asarray(codes, dtype=np.uint64) << np.uint64(layout[name].offset)
        return total.tolist()
    bits = np.zeros((count, layout.size), dtype=np.uint8)
    for name, codes in fields.items():
        field = layout[name]
        shifts = np.arange(field.width, dtype=np.uint64)
        bits[:, field.offset:field.offset + field.width] = \
            (np.asarray(codes, dtype=np.uint64)[:, None] >> shifts) & np.uint64(1)
    return [int.from_bytes(row.tobytes(), "little")
            for row in np.packbits(bits, axis=1, bitorder="little")]


def unpack(layout, payloads: Sequence[int]) -> dict[Any, np.ndarray]:
    """Each field of a ``StructLayout`` from its payloads (inverse of :func:`pack`): unsigned
    fields as codes (uint64), signed fields as values (int64); fields wider than 64 bits as
    Python integers (object arrays)."""
    out = {}
    narrow = layout.size <= 64
    p = np.array(payloads, dtype=np.uint64) if narrow else [int(x) for x in payloads]
    for name, f in layout:
        signed = Shape.cast(f.shape).signed
        if narrow:
            raw = (p >> np.uint64(f.offset)) & np.uint64((1 << f.width) - 1)
            out[name] = (raw << np.uint64(64 - f.width)).view(np.int64) >> (64 - f.width) \
                if signed else raw
            continue
        raw = [(x >> f.offset) & ((1 << f.width) - 1) for x in p]
        if signed:
            raw = [r - ((r >> (f.width - 1)) << f.width) for r in raw]
        out[name] = np.array(raw, dtype=object if f.width > 63 else
                             np.int64 if signed else np.uint64)
    return out


def pack_lanes(layout, codes: np.ndarray) -> list[int]:
    """Payloads of an ``ArrayLayout`` from a (beats × lanes) array of unsigned codes."""
    codes = np.asarray(codes)
    return pack(layout, {lane: codes[:, lane] for lane in range(layout.length)})


def unpack_lanes(layout, payloads: Sequence[int]) -> np.ndarray:
    """The (beats × lanes) unsigned codes of ``ArrayLayout`` payloads (inverse of pack_lanes)."""
    width = layout.size // layout.length if layout.length else 0
    nbytes = (layout.size + 7) // 8
    raw = np.frombuffer(b"".join(int(p).to_bytes(nbytes, "little") for p in payloads),
                        dtype=np.uint8).reshape(len(payloads), nbytes)
    bits = np.unpackbits(raw, axis=1, bitorder="little")[:, :layout.size]
    bits = bits.reshape(len(payloads), layout.length, width).astype(np.uint64)
    return (bits << np.arange(width, dtype=np.uint64)).sum(axis=2, dtype=np.uint64)
