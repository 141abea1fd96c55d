"""The bulk stream harness without a simulator: payload words and ring files carry exactly the
bits of the per-beat payload integers for every kind's streams, the harness names every port of
the core and refuses what it cannot drive. (Its simulations are the array kinds' and reduction
units' GEMM tests: ``bulk_backpressure``, ``paths_agree``, ``gemm_tiled``.)"""

import numpy as np
import pytest

from lowbit.hw.generators import build
from lowbit.hw.interface import CoreInterface, Port, Stream, payload_layouts
from lowbit.hw.payload import pack_beats, pack_words, payload_width, unpack_beats, unpack_words
from lowbit.hw.verilog import generate
from lowbit.registry import get_kind, kinds
from lowbit.sim.bulk import (
    MAX_DEPTH,
    MIN_DEPTH,
    MIN_RING,
    RING_BITS,
    BulkStreams,
    harness_name,
    harness_verilog,
    probability,
    ring_bytes,
    ring_depth,
    words_of_hex,
    wrap,
)


def _integers(words: np.ndarray) -> list[int]:
    return [sum(int(w) << (64 * j) for j, w in enumerate(row)) for row in words]


def _hex_text(words: np.ndarray, width: int) -> bytes:
    """What ``$writememh`` writes for payload words: one beat a line, ⌈width/4⌉ digits."""
    return b"".join(f"{x:0{-(-width // 4)}x}\n".encode() for x in _integers(words))


def _from_ring_bytes(data: bytes, width: int) -> list[int]:
    """The payload integers a source's ``$fread`` takes from its file."""
    size = max(1, -(-width // 8))
    return [int.from_bytes(data[i:i + size], "big") for i in range(0, len(data), size)]


@pytest.mark.parametrize("name", sorted(kinds()))
def test_words_carry_the_payload_integers(name):
    """Every stream of every kind: pack_words has pack_beats's bits, a source's ring file
    bytes and a sink's ring file text carry them, and unpack_words reads back what
    unpack_beats reads."""
    kind = get_kind(name)
    config = kind.config()
    plan = kind.selftest(config)
    tiler = kind.tiler_for(config, **plan.runtime)
    (run,) = tiler.runs(plan.shape)
    operands = tiler.padded(tiler.random(np.random.default_rng(3), plan.shape))
    layouts = payload_layouts(build(config))
    streams = {**tiler.beats(run, operands), "result": tiler.gather(run, tiler.golden(operands))}
    for stream, beats in streams.items():
        layout = layouts[stream]
        words = pack_words(layout, beats)
        assert _integers(words) == pack_beats(layout, beats), stream
        width = payload_width(layout)
        assert _from_ring_bytes(ring_bytes(words, width), width) == _integers(words), stream
        assert (words_of_hex(_hex_text(words, width), width) == words).all(), stream
        got, want = unpack_words(layout, words), unpack_beats(layout, pack_beats(layout, beats))
        if isinstance(want, dict):
            assert {k: list(v) for k, v in got.items()} == {k: list(v) for k, v in want.items()}
        else:
            assert (np.asarray(got) == np.asarray(want)).all(), stream


@pytest.mark.parametrize("width", [1, 3, 4, 12, 63, 64, 65, 128, 130, 512])
def test_ring_files(width):
    """A source's file: ⌈width/8⌉ bytes a beat, most significant first; a sink's text is read
    back whatever a simulator adds to it, and an unknown bit is refused."""
    gen = np.random.default_rng(width)
    count = -(-width // 64)
    words = gen.integers(0, 1 << 63, (9, count), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    words[:, -1] &= np.uint64((1 << (width - 64 * (count - 1))) - 1)
    data = ring_bytes(words, width)
    assert len(data) == 9 * -(-width // 8) and _from_ring_bytes(data, width) == _integers(words)
    text = _hex_text(words, width)
    assert (words_of_hex(text, width) == words).all()
    # what a simulator may add: comment and address lines, upper-case digits
    noisy = b"// $writememh\n@0\n" + text.upper()
    assert (words_of_hex(noisy, width) == words).all()
    with pytest.raises(ValueError, match="x/z"):
        words_of_hex(text.replace(text[:1], b"x", 1), width)


def test_ring_depths():
    for width in (0, 1, 8, 128, 512, 4096, 1 << 16):
        depth = ring_depth(width)
        assert MIN_DEPTH <= depth <= MAX_DEPTH and depth & (depth - 1) == 0
        assert depth * width <= RING_BITS or depth == MIN_DEPTH


def test_probability_is_checked():
    assert probability(0.0) == 0 and probability(0.5) == 1 << 15
    for bad in (-0.1, 1.0, 2):
        with pytest.raises(ValueError, match="must be in"):
            probability(bad)


def test_harness_passes_every_core_port_through():
    config = get_kind("systolic").config(rows=2, cols=3, a="int8", w="int4", acc=16, depth=8)
    core = generate(config)
    harness = wrap(core)
    assert harness.name == harness_name(core.name) and harness.core == core.name
    assert harness.verilog.startswith(core.verilog)
    text = harness.verilog[len(core.verilog):]
    iface = CoreInterface.from_manifest(core.manifest)
    for port in iface.ports:
        assert f"wire {'' if port.width == 1 else f'[{port.width - 1}:0] '}{port.name}" in text
    assert f"{core.name} core (" in text and text.count("$fread") == 2
    assert text.count("$writememh") == 1


def test_harness_refuses_what_it_cannot_drive():
    clash = CoreInterface("c", (Port("bulk__x", 1, True),), (), (Port("bulk__x", 1, True),), ())
    with pytest.raises(ValueError, match="clash"):
        harness_verilog(clash, "h")
    only_in = CoreInterface("c", (), (Stream("a", 8, True),), (), ())
    with pytest.raises(ValueError, match="no input or no output stream"):
        harness_verilog(only_in, "h")


def test_a_ring_size_in_use_is_checked():
    """``transfer(ring=)`` takes a power of two of at least MIN_RING beats, before anything
    moves; every stream has the mask port that puts beat i at i & mask."""
    import asyncio

    config = get_kind("mac").config()
    core = generate(config)
    iface = CoreInterface.from_manifest(core.manifest)
    text = wrap(core).verilog
    for st in iface.streams:
        assert f"{st.name}__bulk_mask" in text
    dut = type("Harness", (), {"bulk__start": None, "_name": "h"})()
    streams = BulkStreams(dut, iface)
    beats = {st.name: np.zeros((1, 1), np.uint64) for st in iface.inputs}
    for bad in (MIN_RING // 2, MIN_RING + 1, 100):
        with pytest.raises(ValueError, match=f"ring={bad} is not allowed"):
            asyncio.run(streams.transfer(beats, {"result": 1}, ring=bad))
