"""The bulk stream harness: HDL stream sources and sinks around a core, loaded and read in bulk.

Every kind speaks the same valid/ready streams (:class:`lowbit.hw.interface.CoreInterface`),
so one harness serves all of them. :func:`wrap` puts a Verilog module around a generated core:

* each input stream gets a *source*: a ring buffer the testbench fills with ``$fread`` of a
  binary file it writes (``bulk_<stream>.bin`` in the run directory: each beat's payload as
  ⌈width/8⌉ bytes, most significant first), a beat counter, and a seeded
  xorshift generator that leaves a cycle idle with a given probability (a beat on the wire
  stays until it is taken, as :class:`lowbit.sim.bench.Source` does);
* each output stream gets a *sink*: a ring buffer the handshaked beats are written into, dumped
  with ``$writememh`` when the testbench asks, and a seeded generator that withholds ``ready``
  with a given probability;
* a cycle counter records the edge of the first input handshake and of the last output
  handshake of a run, both included, as :func:`lowbit.sim.bench.transfer` counts.

While no bulk run is going, the core's ports are passed straight through (same names), so the
per-beat cocotb drivers and every protocol test run on the same build. A run moves no beat
through VPI: the testbench writes whole rings, starts the run and sleeps until a ring segment
is consumed or filled (a refill or a dump between two segments keeps a run of any length at
full rate) or the run is done, then reads the results back as one file per segment.

Files rather than DPI: ``$fread``/``$writememh`` are plain Verilog-2005, so the harness runs
under Verilator and Icarus alike, needs no C++ next to the model, and waves show the streams
exactly as the core sees them. Sources read binary because every operand beat of a run is
loaded once: parsing ``$readmemh`` text (a character at a time, through a string per word)
cost about a tenth of a 16×16 array's simulation, reading the same beats as bytes about a
third of that. Sinks keep ``$writememh`` text (results are a small part of the beats).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lowbit.hw.interface import CoreInterface, Stream
from lowbit.hw.payload import word_count
from lowbit.hw.verilog import GeneratedCore, ports_of
from lowbit.sim import runner
from lowbit.sim.bench import CLOCK_PERIOD_NS, MAX_CYCLES

#: bits of one ring buffer at most (a power-of-two depth of whole payloads); a longer run
#: refills or dumps its ring a segment (half a ring) at a time
RING_BITS = 1 << 20
MIN_DEPTH, MAX_DEPTH = 1 << 8, 1 << 12
#: the smallest ring a transfer may ask for (``ring``): a ring of two segments of 8 beats
MIN_RING = 16
COUNT_BITS = 32            # beat counters and cycle indices
SEQ_BITS = 8               # request sequence numbers (a changed value is a request)
PROB_BITS = 16             # idle / stall probabilities in units of 2**-16


#: how the harness marks its ports for VPI under Verilator (nothing else is public: the core
#: inside is optimized as in a bare C++ harness); other simulators read it as a comment
PUBLIC = "/*verilator public_flat_rw*/"


def ring_depth(width: int) -> int:
    """Beats one ring holds for a ``width``-bit payload: a power of two, ≤ RING_BITS bits."""
    depth = MAX_DEPTH
    while depth > MIN_DEPTH and depth * max(width, 1) > RING_BITS:
        depth //= 2
    return depth


def probability(p: float) -> int:
    """A probability as the harness's threshold (a cycle is idle when ``rand < threshold``)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"idle/stall probability {p} is not allowed; it must be in [0, 1)")
    return round(p * (1 << PROB_BITS))


@dataclass(frozen=True)
class Harness:
    """The simulated top of a core: Verilog of the core and its harness, top module ``name``."""

    name: str
    core: str
    verilog: str


def harness_name(core: str) -> str:
    return f"{core}_bulk"


def wrap(core: GeneratedCore) -> Harness:
    """The bulk harness around a generated core (its Verilog followed by the harness's)."""
    interface = CoreInterface.from_manifest(core.manifest)
    name = harness_name(core.name)
    return Harness(name, core.name, core.verilog + "\n" + harness_verilog(interface, name))


def build(core: GeneratedCore, simulator: str = "verilator", *, waves: bool = False,
          opt: str = "O2") -> tuple[Harness, runner.SimBuild]:
    """The core in its harness, compiled (or from the cache; ``opt``: :data:`runner.OPT`):
    what every simulation of a core kind runs on."""
    harness = wrap(core)
    return harness, runner.build(harness.verilog, harness.name, simulator, waves=waves,
                                 public="marked", opt=opt)


def words_of_ints(payloads, width: int) -> np.ndarray:
    """Payload integers as payload words (the form :meth:`BulkStreams.transfer` takes)."""
    if width <= 64:
        return np.array([int(p) for p in payloads], dtype=np.uint64).reshape(-1, 1)
    mask, count = (1 << 64) - 1, word_count(width)
    return np.array([[(int(p) >> (64 * j)) & mask for j in range(count)] for p in payloads],
                    dtype=np.uint64).reshape(-1, count)


def ints_of_words(words: np.ndarray) -> list[int]:
    """The inverse of :func:`words_of_ints`."""
    if words.shape[1] == 1:
        return words[:, 0].tolist()
    return [sum(int(w) << (64 * j) for j, w in enumerate(row)) for row in words]


def interface_of(component, name: str) -> CoreInterface:
    """The :class:`CoreInterface` of an elaborated core (what the testbench side needs)."""
    return CoreInterface.from_manifest({"name": name, "ports": ports_of(component)})


# --- the Verilog -----------------------------------------------------------------------------

def _vec(width: int) -> str:
    return f"[{width - 1}:0] " if width > 1 else ""


def _address_bits(st: Stream) -> int:
    return ring_depth(st.width).bit_length() - 1


def harness_verilog(interface: CoreInterface, name: str) -> str:
    """The harness module ``name`` around the core module ``interface.name``."""
    clash = [p.name for p in interface.ports if p.name.startswith("bulk")]
    if clash:
        raise ValueError(f"{interface.name}: ports {clash} clash with the harness's bulk ports")
    if not interface.inputs or not interface.results:
        raise ValueError(f"{interface.name} has no input or no output stream to drive")
    n, s = COUNT_BITS, SEQ_BITS
    ports = ["input wire clk", "input wire rst"]
    connect = [".clk(clk)", ".rst(rst)"]
    streamed = {f"{st.name}__{member}" for st in interface.streams
                for member in ("valid", "ready", "payload")}
    for port in interface.ports:
        if port.name not in streamed:
            into = "input" if port.input else "output"
            ports.append(f"{into} wire {_vec(port.width)}{port.name}")
            connect.append(f".{port.name}({port.name})")
    ports += [f"input wire [{s - 1}:0] bulk__start", "output reg bulk__done",
              f"output reg [{s - 1}:0] bulk__run", f"output reg [{s - 1}:0] bulk__event",
              f"output wire [{n - 1}:0] bulk__cycles"]
    body: list[str] = []
    for st in interface.streams:
        ports += _stream_ports(st)
        conn, logic = (_source if st.input else _sink)(st)
        connect += conn
        body += logic
    takes_in = " | ".join(f"bulk_{st.name}_take" for st in interface.inputs)
    takes_out = " | ".join(f"bulk_{st.name}_take" for st in interface.results)
    finished = " && ".join(f"bulk_{st.name}_next == {st.name}__bulk_count"
                           for st in interface.streams)
    crossing = " || ".join(
        f"(bulk_{st.name}_take && (bulk_{st.name}_next[{_address_bits(st) - 1}:0]"
        f" & ({st.name}__bulk_mask >> 1)) == 0)" for st in interface.streams)
    lines = [
        f"// Bulk stream harness of {interface.name} (lowbit.sim.bulk): ring-buffer sources and",
        "// sinks on its streams; the core's own ports are passed through while no bulk run goes.",
        f"module {name} (",
        ",\n".join(f"    {x} {PUBLIC}" for x in ports),
        ");",
        "    reg bulk_busy, bulk_seen_first, bulk_seen_last;",
        f"    reg [{n - 1}:0] bulk_cycle, bulk_first, bulk_last;",
        "    wire bulk_go = bulk__start != bulk__run;",
        *body,
        f"    wire bulk_in_take = {takes_in};",
        f"    wire bulk_out_take = {takes_out};",
        f"    wire bulk_finished = {finished};",
        "    assign bulk__cycles = (bulk_seen_first && bulk_seen_last)"
        " ? bulk_last - bulk_first + 1 : 0;",
        "    always @(posedge clk) begin",
        "        if (rst) begin",
        "            bulk_busy <= 0; bulk__done <= 0; bulk__run <= bulk__start; bulk__event <= 0;",
        "        end else if (bulk_go) begin",
        "            bulk__run <= bulk__start; bulk_busy <= 1; bulk__done <= 0; bulk_cycle <= 0;",
        "            bulk_seen_first <= 0; bulk_seen_last <= 0;",
        "        end else if (bulk_busy) begin",
        "            bulk_cycle <= bulk_cycle + 1;",
        "            if (bulk_in_take && !bulk_seen_first) begin",
        "                bulk_seen_first <= 1; bulk_first <= bulk_cycle;",
        "            end",
        "            if (bulk_out_take) begin bulk_seen_last <= 1; bulk_last <= bulk_cycle; end",
        f"            if ({crossing}) bulk__event <= bulk__event + 1;",
        "            if (bulk_finished) begin bulk_busy <= 0; bulk__done <= 1; end",
        "        end",
        "    end",
        f"    {interface.name} core (",
        ",\n".join(f"        {c}" for c in connect),
        "    );",
        "endmodule",
        "",
    ]
    return "\n".join(lines)


def _stream_ports(st: Stream) -> list[str]:
    """A stream's own ports (as the core's) and its ring's control: ``count`` beats in the run,
    ``skip`` the chance of a cycle without a beat (source) or without ready (sink), ``seed``,
    ``done`` beats handshaked so far, ``limit`` the beats the ring may pass (source: loaded so
    far; sink: dumped + depth), ``mask`` the ring's size in use minus one (a power of two up to
    its depth: beat ``i`` sits at ``i & mask``), and a file request ``io`` (a new value: load or
    dump ring addresses ``from``..``to``) answered by ``io_done``."""
    n, s, p, a = COUNT_BITS, SEQ_BITS, PROB_BITS, _address_bits(st)
    x, into = st.name, "input" if st.input else "output"
    ports = [f"{into} wire {x}__valid", f"{'output' if st.input else 'input'} wire {x}__ready"]
    if st.width:
        ports.append(f"{into} wire {_vec(st.width)}{x}__payload")
    return ports + [
        f"input wire [{n - 1}:0] {x}__bulk_count", f"input wire [{p - 1}:0] {x}__bulk_skip",
        f"input wire [31:0] {x}__bulk_seed", f"output reg [{n - 1}:0] {x}__bulk_done",
        f"input wire [{n - 1}:0] {x}__bulk_limit", f"input wire [{a - 1}:0] {x}__bulk_mask",
        f"input wire [{s - 1}:0] {x}__bulk_io",
        f"input wire [{a - 1}:0] {x}__bulk_from", f"input wire [{a - 1}:0] {x}__bulk_to",
        f"output reg [{s - 1}:0] {x}__bulk_io_done"]


def _ring(st: Stream) -> list[str]:
    """What sources and sinks share: the seeded xorshift32 generator, the ring, the file
    request (a source ``$fread``s ring addresses ``from``..``to`` from its file, a sink
    ``$writememh``s them into its file) and the counters' declarations."""
    x, w = st.name, st.width
    lines = [
        f"    // {'source' if st.input else 'sink'} of stream {x}",
        f"    reg [31:0] bulk_{x}_rand;",
        f"    wire [31:0] bulk_{x}_x1 = bulk_{x}_rand ^ (bulk_{x}_rand << 13);",
        f"    wire [31:0] bulk_{x}_x2 = bulk_{x}_x1 ^ (bulk_{x}_x1 >> 17);",
        f"    wire [31:0] bulk_{x}_x3 = bulk_{x}_x2 ^ (bulk_{x}_x2 << 5);",
        f"    wire bulk_{x}_skip = bulk_{x}_rand[31:{32 - PROB_BITS}] < {x}__bulk_skip;",
        f"    wire bulk_{x}_take;",
        f"    wire [{COUNT_BITS - 1}:0] bulk_{x}_next = {x}__bulk_done + bulk_{x}_take;",
    ]
    file = ""
    if w:
        lines.append(f"    reg {_vec(w)}bulk_{x}_ring [0:{ring_depth(w) - 1}];")
        if st.input:
            lines.append(f"    integer bulk_{x}_fd, bulk_{x}_got;")
            file = (f"bulk_{x}_fd = $fopen(\"{ring_file(st)}\", \"rb\"); "
                    f"bulk_{x}_got = $fread(bulk_{x}_ring, bulk_{x}_fd, {x}__bulk_from, "
                    f"{x}__bulk_to - {x}__bulk_from + 1); $fclose(bulk_{x}_fd); ")
        else:
            file = (f"$writememh(\"{ring_file(st)}\", bulk_{x}_ring, {x}__bulk_from, "
                    f"{x}__bulk_to); ")
    return lines + [
        "    always @(posedge clk)",
        f"        if (rst) {x}__bulk_io_done <= {x}__bulk_io;",
        f"        else if ({x}__bulk_io != {x}__bulk_io_done) begin",
        f"            {file}{x}__bulk_io_done <= {x}__bulk_io;",
        "        end",
    ]


def ring_file(st: Stream) -> str:
    """The file a stream's ring is loaded from (source, binary) or dumped to (sink, hex)."""
    return f"bulk_{st.name}.{'bin' if st.input else 'hex'}"


def _source(st: Stream) -> tuple[list[str], list[str]]:
    """A source: offers beat ``done`` (held until taken) unless past ``count`` or ``limit``,
    or the generator skips the cycle."""
    x, w, a = st.name, st.width, _address_bits(st)
    offer = (f" bulk_{x}_data <= bulk_{x}_ring[bulk_{x}_next[{a - 1}:0] & {x}__bulk_mask];"
             if w else "")
    lines = _ring(st) + [
        f"    reg bulk_{x}_valid;",
        f"    wire bulk_{x}_core_ready;",
        f"    assign bulk_{x}_take = bulk_busy && bulk_{x}_valid && bulk_{x}_core_ready;",
        f"    assign {x}__ready = bulk_busy ? 1'b0 : bulk_{x}_core_ready;",
        *([f"    reg {_vec(w)}bulk_{x}_data;"] if w else []),
        "    always @(posedge clk)",
        "        if (rst || bulk_go) begin",
        f"            {x}__bulk_done <= 0; bulk_{x}_valid <= 0; bulk_{x}_rand <= {x}__bulk_seed;",
        "        end else if (bulk_busy) begin",
        f"            bulk_{x}_rand <= bulk_{x}_x3; {x}__bulk_done <= bulk_{x}_next;",
        f"            if (!bulk_{x}_valid || bulk_{x}_take) begin",
        f"                if (bulk_{x}_next < {x}__bulk_count && bulk_{x}_next < {x}__bulk_limit"
        f" && !bulk_{x}_skip) begin",
        f"                    bulk_{x}_valid <= 1;{offer}",
        f"                end else bulk_{x}_valid <= 0;",
        "            end",
        "        end",
    ]
    conn = [f".{x}__valid(bulk_busy ? bulk_{x}_valid : {x}__valid)",
            f".{x}__ready(bulk_{x}_core_ready)"]
    if w:
        conn.append(f".{x}__payload(bulk_busy ? bulk_{x}_data : {x}__payload)")
    return conn, lines


def _sink(st: Stream) -> tuple[list[str], list[str]]:
    """A sink: ready unless it has ``count`` beats, its ring is full up to ``limit``, or the
    generator stalls the cycle; each handshaked payload goes into the ring."""
    x, w, a = st.name, st.width, _address_bits(st)
    store = (f"            if (bulk_{x}_take) bulk_{x}_ring[{x}__bulk_done[{a - 1}:0]"
             f" & {x}__bulk_mask] <= {x}__payload;") if w else ""
    lines = _ring(st) + [
        f"    reg bulk_{x}_ready;",
        f"    wire bulk_{x}_core_valid;",
        f"    assign bulk_{x}_take = bulk_busy && bulk_{x}_ready && bulk_{x}_core_valid;",
        f"    assign {x}__valid = bulk_busy ? 1'b0 : bulk_{x}_core_valid;",
        "    always @(posedge clk)",
        "        if (rst || bulk_go) begin",
        f"            {x}__bulk_done <= 0; bulk_{x}_ready <= 0; bulk_{x}_rand <= {x}__bulk_seed;",
        "        end else if (bulk_busy) begin",
        f"            bulk_{x}_rand <= bulk_{x}_x3; {x}__bulk_done <= bulk_{x}_next;",
        *([store] if store else []),
        f"            bulk_{x}_ready <= bulk_{x}_next < {x}__bulk_count"
        f" && bulk_{x}_next < {x}__bulk_limit && !bulk_{x}_skip;",
        "        end",
    ]
    conn = [f".{x}__valid(bulk_{x}_core_valid)",
            f".{x}__ready(bulk_busy ? bulk_{x}_ready : {x}__ready)"]
    if w:
        conn.append(f".{x}__payload({x}__payload)")
    return conn, lines


# --- ring files ------------------------------------------------------------------------------

_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_NIBBLE[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_NIBBLE[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


def hex_digits(width: int) -> int:
    return max(1, -(-width // 4))


def ring_bytes(words: np.ndarray, width: int) -> bytes:
    """What a source's ``$fread`` takes for payload words (:func:`lowbit.hw.payload.pack_words`):
    each beat as ``⌈width/8⌉`` bytes, most significant first."""
    words = np.ascontiguousarray(words, dtype=np.uint64)
    big = words[:, ::-1].astype(">u8").view(np.uint8).reshape(len(words), -1)
    return np.ascontiguousarray(big[:, big.shape[1] - max(1, -(-width // 8)):]).tobytes()


def _digit_rows(text: bytes, digits: int) -> np.ndarray | None:
    """The nibbles of text that is nothing but lines of ``digits`` hex digits, else None."""
    raw = np.frombuffer(text, dtype=np.uint8)
    if raw.size % (digits + 1):
        return None
    rows = raw.reshape(-1, digits + 1)
    nibbles = _NIBBLE[rows[:, :digits]]
    if (rows[:, digits] != ord("\n")).any() or (nibbles == 255).any():
        return None
    return nibbles


def words_of_hex(text: bytes, width: int) -> np.ndarray:
    """Payload words of ``$writememh`` text (comment and address lines skipped)."""
    digits = hex_digits(width)
    nibbles = _digit_rows(text, digits)
    if nibbles is None:
        lines = [ln.strip() for ln in text.splitlines()]
        nibbles = _digit_rows(b"".join(ln + b"\n" for ln in lines
                                       if ln and not ln.startswith((b"//", b"@"))), digits)
        if nibbles is None:
            raise ValueError(f"the harness wrote a payload that is not {digits} hex digits "
                             "(an unknown x/z value, or a malformed line)")
    count = word_count(width)
    full = np.zeros((len(nibbles), 16 * count), dtype=np.uint8)
    full[:, 16 * count - digits:] = nibbles
    big = (full[:, 0::2] << 4) | full[:, 1::2]
    return big.view(">u8").astype(np.uint64)[:, ::-1].copy()


# --- the testbench side ----------------------------------------------------------------------

@dataclass
class _Ring:
    """The testbench's view of one stream's ring during a transfer."""

    stream: Stream
    count: int                       # beats of the run
    depth: int                       # beats of the ring in use (a power of two)
    words: np.ndarray | None = None  # a source's payload words
    moved: int = 0                   # beats loaded into (source) or read out of (sink) the ring
    parts: list[np.ndarray] = field(default_factory=list)   # a sink's words read so far

    def chunk(self) -> int:
        """Beats of the next file: up to the end of the current segment, never past count."""
        segment = self.depth // 2
        return min(segment - self.moved % segment, self.count - self.moved)


def has_harness(dut) -> bool:
    """Whether the simulated top is a core in its bulk harness."""
    return hasattr(dut, "bulk__start")


def quiet(dut) -> None:
    """Drive every control input of a harness to a resting value (before its reset, which
    takes the request numbers it sees as answered): no input is left floating (Icarus)."""
    dut.bulk__start.value = 0
    for handle in dut:
        name = handle._name
        if name.endswith(("__bulk_count", "__bulk_skip", "__bulk_limit", "__bulk_from",
                          "__bulk_to", "__bulk_io", "__bulk_mask")):
            handle.value = 0
        elif name.endswith("__bulk_seed"):
            handle.value = 1


class BulkStreams:
    """Runs transfers through the harness of :func:`wrap` (the simulated top ``dut``): rings
    filled from files, the run started, its rings kept going, the results read back.

    It keeps no state between transfers (request and run numbers are read back from the
    harness), so any number of them may drive one harness in turn.
    """

    def __init__(self, dut, interface: CoreInterface):
        if not has_harness(dut):
            raise AssertionError(
                f"the simulated top {dut._name} has no bulk stream harness; build the core "
                "wrapped by lowbit.sim.bulk.wrap (lowbit.simulate does)")
        self.dut, self.interface = dut, interface
        self.dir = Path(os.getcwd())
        self._requests: dict[str, int] = {}
        self._runs = 0

    def _port(self, stream: str, name: str):
        return getattr(self.dut, f"{stream}__bulk_{name}")

    def _read(self, stream: str, name: str) -> int:
        return self._port(stream, name).value.to_unsigned()


    async def _answered(self, stream: str) -> None:
        """Until the harness has carried out the stream's last file request (one edge)."""
        done = self._port(stream, "io_done")
        while done.value.to_unsigned() != self._requests[stream]:
            await done.value_change

    async def _request(self, ring: _Ring, first: int) -> None:
        """Ask for a file transfer of ring addresses ``first``.. ``first + chunk - 1`` once the
        previous one of the stream is done."""
        name = ring.stream.name
        await self._answered(name)
        self._port(name, "from").value = first
        self._port(name, "to").value = first + ring.chunk() - 1
        self._requests[name] = (self._requests[name] + 1) % (1 << SEQ_BITS)
        self._port(name, "io").value = self._requests[name]

    def _file(self, st: Stream) -> Path:
        return self.dir / ring_file(st)

    async def _load(self, ring: _Ring) -> None:
        """Load the next chunk of a source's beats into its ring; the source may offer them
        (``limit``) only from the edge after the load, never in the same edge."""
        n, at = ring.chunk(), ring.moved % ring.depth
        if ring.stream.width:
            self._file(ring.stream).write_bytes(
                ring_bytes(ring.words[ring.moved:ring.moved + n], ring.stream.width))
        await self._request(ring, at)
        await self._answered(ring.stream.name)
        ring.moved += n
        self._port(ring.stream.name, "limit").value = ring.moved

    async def _dump(self, ring: _Ring) -> None:
        """Read the next chunk of a sink's beats out of its ring, then give the room back."""
        name, n = ring.stream.name, ring.chunk()
        await self._request(ring, ring.moved % ring.depth)
        await self._answered(name)
        if ring.stream.width:
            words = words_of_hex(self._file(ring.stream).read_bytes(), ring.stream.width)
            if len(words) != n:
                raise AssertionError(f"bulk harness: {name} dump gave {len(words)} beats, not {n}")
            ring.parts.append(words)
        ring.moved += n
        self._port(name, "limit").value = ring.moved + ring.depth

    async def _service(self, sources: list[_Ring], sinks: list[_Ring], final: bool) -> None:
        """Refill every source ring with room for its next chunk, read out every full sink
        segment (at the end of the run, everything left)."""
        for ring in sources:
            while ring.moved < ring.count and \
                    ring.depth - (ring.moved - self._read(ring.stream.name, "done")) \
                    >= ring.chunk():
                await self._load(ring)
        for ring in sinks:
            while ring.moved < ring.count and (
                    final or self._read(ring.stream.name, "done") - ring.moved >= ring.chunk()):
                await self._dump(ring)

    async def transfer(self, sources: Mapping[str, np.ndarray], expect: Mapping[str, int], *,
                       rng: np.random.Generator | None = None, idle: float = 0.0,
                       stall: float = 0.0, max_cycles: int = MAX_CYCLES,
                       ring: int | None = None) -> tuple[dict[str, np.ndarray], int]:
        """Stream each input's payload words (:func:`lowbit.hw.payload.pack_words`) and take
        ``expect[name]`` beats from each output; returns (output words, cycles).

        ``idle`` / ``stall`` are the chances of a cycle without an input beat / without
        ``ready`` on an output, drawn in the harness by generators seeded from ``rng``. Cycles
        count as :func:`lowbit.sim.bench.transfer` counts them. ``ring`` caps every ring at
        that many beats (a power of two, at least :data:`MIN_RING`): a short run then refills
        and reads out its rings as a long one does.
        """
        from cocotb.triggers import FallingEdge, First, Timer
        from cocotb.utils import get_sim_time

        dut = self.dut
        inputs = {st.name: st for st in self.interface.inputs}
        outputs = {st.name: st for st in self.interface.results}
        if set(sources) != set(inputs) or set(expect) != set(outputs):
            raise ValueError(f"a transfer through {self.interface.name} needs beats for "
                             f"{sorted(inputs)} and counts for {sorted(outputs)}")
        if (idle or stall) and rng is None:
            raise ValueError("random idle inputs or stalls need a generator (rng)")
        if ring is not None and (ring < MIN_RING or ring & (ring - 1)):
            raise ValueError(f"ring={ring} is not allowed; it must be a power of two, at least "
                             f"{MIN_RING}")

        def depth(st: Stream) -> int:
            return ring_depth(st.width) if ring is None else min(ring, ring_depth(st.width))

        streams = len(inputs) + len(outputs)
        seeds = iter(rng.integers(1, 1 << 32, streams).tolist() if rng is not None
                     else [1] * streams)
        self._runs = dut.bulk__run.value.to_unsigned()
        self._requests = {st.name: self._read(st.name, "io_done") for st in self.interface.streams}
        src = [_Ring(st, len(sources[name]), depth(st),
                     np.asarray(sources[name], dtype=np.uint64)) for name, st in inputs.items()]
        snk = [_Ring(st, int(expect[name]), depth(st)) for name, st in outputs.items()]
        for ring, p in [(r, idle) for r in src] + [(r, stall) for r in snk]:
            name = ring.stream.name
            self._port(name, "count").value = ring.count
            self._port(name, "skip").value = probability(p)
            self._port(name, "seed").value = next(seeds)
            self._port(name, "mask").value = ring.depth - 1
        for ring in snk:
            self._port(ring.stream.name, "limit").value = ring.depth
        for ring in src:
            self._port(ring.stream.name, "limit").value = 0
            while ring.moved < min(ring.count, ring.depth):   # the first ring-full before start
                await self._load(ring)
        self._runs = (self._runs + 1) % (1 << SEQ_BITS)
        dut.bulk__start.value = self._runs
        while dut.bulk__run.value.to_unsigned() != self._runs:   # the counters of the last
            await dut.bulk__run.value_change                    # run are cleared at this edge
        # ... but a simulator may call back before it has updated the rest of that edge (Icarus
        # does, mid-way through its non-blocking updates: bulk__done would still be the last
        # run's); by the falling edge everything is settled
        await FallingEdge(dut.clk)
        # whole ns: the falling edge is half a period off the clock's edges, and a float time
        # difference there may not be a whole number of simulator steps
        deadline = round(get_sim_time("ns")) + (max_cycles + 4) * CLOCK_PERIOD_NS
        while dut.bulk__done.value != 1:
            await self._service(src, snk, final=False)
            timeout = Timer(max(deadline - round(get_sim_time("ns")), 1), "ns")
            fired = await First(dut.bulk__event.value_change, dut.bulk__done.value_change,
                                timeout)
            if fired is timeout:
                raise AssertionError(
                    f"bulk transfer did not finish in {max_cycles} cycles: sources at "
                    f"{[self._read(r.stream.name, 'done') for r in src]} of "
                    f"{[r.count for r in src]}, sinks have "
                    f"{[self._read(r.stream.name, 'done') for r in snk]} of "
                    f"{[r.count for r in snk]} beats")
        await self._service(src, snk, final=True)
        out = {r.stream.name: np.concatenate(r.parts) if r.parts else
               np.zeros((0, word_count(r.stream.width)), dtype=np.uint64) for r in snk}
        return out, dut.bulk__cycles.value.to_unsigned()
