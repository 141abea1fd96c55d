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
from amaranth.lib import data


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


def _field_codes(payloads: Sequence[int], offset: int, width: int) -> np.ndarray:
    """One field's unsigned codes (uint64; Python integers beyond 64 bits)."""
    if width > 64:
        return np.array([(int(p) >> offset) & ((1 << width) - 1) for p in payloads], dtype=object)
    if offset + width <= 64:
        low = (1 << 64) - 1      # payloads may be wider than the 64 bits this field lies in
        p = np.array([int(x) & low for x in payloads], dtype=np.uint64)
        return (p >> np.uint64(offset)) & np.uint64((1 << width) - 1)
    return np.array([(int(p) >> offset) & ((1 << width) - 1) for p in payloads], dtype=np.uint64)


def pack_beats(layout, beats) -> list[int]:
    """Payloads of a stream's beats as :class:`lowbit.models.tiling.Tiler` gives them: (beats
    × lanes) codes for an ``ArrayLayout``, a dict of per-field codes for a ``StructLayout``,
    (beats,) codes for a plain shape. Fields wider than 64 bits may hold Python integers."""
    if isinstance(layout, data.ArrayLayout):
        return pack_lanes(layout, beats)
    if isinstance(layout, data.StructLayout):
        wide = [name for name, f in layout if f.width > 64]
        if not wide:
            return pack(layout, beats)
        narrow = pack(layout, {k: v for k, v in beats.items() if k not in wide}) \
            if len(wide) < len(beats) else [0] * len(beats[wide[0]])
        for name in wide:
            offset = layout[name].offset
            narrow = [p | (int(v) << offset) for p, v in zip(narrow, beats[name])]
        return narrow
    return [int(x) for x in np.asarray(beats).reshape(-1)]


def unpack_beats(layout, payloads: Sequence[int]):
    """The inverse of :func:`pack_beats`, every field as unsigned codes; an ``ArrayLayout`` or
    a plain shape gives (beats × lanes) codes (one lane for a plain shape)."""
    if isinstance(layout, data.ArrayLayout):
        return unpack_lanes(layout, payloads)
    if isinstance(layout, data.StructLayout):
        return {name: _field_codes(payloads, f.offset, f.width) for name, f in layout}
    width = Shape.cast(layout).width
    return _field_codes(payloads, 0, width).reshape(-1, 1)


def signed_values(codes: np.ndarray, width: int) -> np.ndarray:
    """Two's-complement values of ``width``-bit field codes (Python integers beyond 63 bits)."""
    if width > 63:
        return np.array([int(c) - ((int(c) >> (width - 1)) << width) for c in np.ravel(codes)],
                        dtype=object).reshape(np.shape(codes))
    c = np.asarray(codes).astype(np.int64)
    return np.where(c >= (1 << (width - 1)), c - (1 << width), c)


def _fields(layout, beats) -> list[tuple[int, int, np.ndarray]]:
    """(offset, width, codes) of every field of a stream's beats as :func:`pack_beats` takes
    them."""
    if isinstance(layout, data.ArrayLayout):
        codes = np.asarray(beats)
        return [(layout[lane].offset, layout[lane].width, codes[:, lane])
                for lane in range(layout.length)]
    if isinstance(layout, data.StructLayout):
        return [(f.offset, f.width, np.asarray(beats[name])) for name, f in layout]
    return [(0, Shape.cast(layout).width, np.asarray(beats).reshape(-1))]


def payload_width(layout) -> int:
    """Bits of a stream's payload."""
    return layout.size if isinstance(layout, data.Layout) else Shape.cast(layout).width


def word_count(width: int) -> int:
    """64-bit words of a ``width``-bit payload (at least one)."""
    return max(1, -(-width // 64))


def _mask(width: int) -> np.uint64:
    return np.uint64((1 << width) - 1)


def pack_words(layout, beats) -> np.ndarray:
    """The payloads of :func:`pack_beats` as a (beats × words) uint64 matrix, least
    significant word first: the same bits without a Python integer per beat, for moving many
    beats at once (the bulk stream harness of :mod:`lowbit.sim.bulk`)."""
    fields = _fields(layout, beats)
    count = len(fields[0][2]) if fields else 0
    words = np.zeros((count, word_count(payload_width(layout))), dtype=np.uint64)
    for offset, width, codes in fields:
        chunks = [(0, codes)] if codes.dtype != object else \
            [(lo, np.array([(int(c) >> lo) & ((1 << 64) - 1) for c in codes], dtype=np.uint64))
             for lo in range(0, width, 64)]
        for lo, part in chunks:
            bits = min(64, width - lo)
            i, s = divmod(offset + lo, 64)
            v = np.asarray(part, dtype=np.uint64) & _mask(bits)
            words[:, i] |= v << np.uint64(s)
            if s + bits > 64:
                words[:, i + 1] |= v >> np.uint64(64 - s)
    return words


def _take(words: np.ndarray, offset: int, width: int) -> np.ndarray:
    """One field of at most 64 bits from payload words (uint64 codes)."""
    i, s = divmod(offset, 64)
    v = words[:, i] >> np.uint64(s)
    if s + width > 64:
        v = v | (words[:, i + 1] << np.uint64(64 - s))
    return v & _mask(width)


def _field_of_words(words: np.ndarray, offset: int, width: int) -> np.ndarray:
    if width <= 64:
        return _take(words, offset, width)
    parts = [_take(words, offset + lo, min(64, width - lo)) for lo in range(0, width, 64)]
    return np.array([sum(int(p[b]) << (64 * j) for j, p in enumerate(parts))
                     for b in range(len(words))], dtype=object)


def unpack_words(layout, words: np.ndarray):
    """The inverse of :func:`pack_words`, in the forms of :func:`unpack_beats`."""
    words = np.asarray(words, dtype=np.uint64)
    if isinstance(layout, data.ArrayLayout):
        out = np.empty((len(words), layout.length), dtype=np.uint64)
        for lane in range(layout.length):
            out[:, lane] = _take(words, layout[lane].offset, layout[lane].width)
        return out
    if isinstance(layout, data.StructLayout):
        return {name: _field_of_words(words, f.offset, f.width) for name, f in layout}
    return _field_of_words(words, 0, Shape.cast(layout).width).reshape(-1, 1)
