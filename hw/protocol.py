"""The engine's serial protocol and memory map: the one description the RTL and the host share.

Frames, sent 8N1 at the engine's baud rate (every multi-byte field little-endian except the
CRC, which is sent high byte first)::

    command   A5 | cmd | arg[6] | len[2] | data[len] | crc16[2]      crc over cmd..data
    response  5A | status | len[2] | data[len] | crc16[2]            crc over status..data

CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF; ``binascii.crc_hqx(data, 0xFFFF)``).
A command is executed only after its CRC checked; every command gets exactly one response.

=========  ===========================================  =====================================
command    arg                                          response data
=========  ===========================================  =====================================
INFO       –                                            magic ``LBE1``, layout signature (4)
WRITE      buffer, word address (2); data = words       –
READ       buffer, word address (2), words (2)          the words (requantized lanes if on)
SET_REG    register, value (4)                          –
GET_REG    register                                     value (4)
START      –                                            –
STATUS     –                                            state (1), cycles of the last run (4)
RESET      –                                            –  (aborts a run; the engine is idle)
=========  ===========================================  =====================================

Status codes: ``OK``; ``BAD_CRC`` (checksum wrong: nothing executed); ``TIMEOUT`` (a frame
stopped mid-way for ``timeout`` byte times: discarded); ``TOO_LONG`` (``len`` above
:data:`MAX_DATA`: the rest of the frame is discarded); ``BAD_COMMAND``; ``BAD_ARGUMENT`` (a
buffer, register or address range that does not exist, data not whole words, READ of an input
buffer); ``BUSY`` (WRITE, READ, SET_REG or START while a run is going on).

Buffers are numbered input streams first, then result streams, in the core's port order;
each word is one stream beat, ``ceil(width / 8)`` bytes. Registers: the core's run-time
parameters (port order), the beat count of every stream (``beats_<stream>``), then the
requantizer's (:data:`REQUANT_REGISTERS`).
"""

from __future__ import annotations

import binascii
import json
import zlib
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from lowbit.errors import ConfigError

if TYPE_CHECKING:
    from lowbit.config import CoreConfig
    from lowbit.hw.interface import CoreInterface

CMD_SYNC = 0xA5
RSP_SYNC = 0x5A
ARG_BYTES = 6
MAX_DATA = 256          # data bytes a command frame may carry (the staging buffer)
MAGIC = b"LBE1"


class Cmd(IntEnum):
    INFO = 0
    WRITE = 1
    READ = 2
    SET_REG = 3
    GET_REG = 4
    START = 5
    STATUS = 6
    RESET = 7


class Status(IntEnum):
    OK = 0
    BAD_CRC = 1
    TIMEOUT = 2
    TOO_LONG = 3
    BAD_COMMAND = 4
    BAD_ARGUMENT = 5
    BUSY = 6


class State(IntEnum):
    IDLE = 0
    BUSY = 1
    DONE = 2


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data``."""
    return binascii.crc_hqx(bytes(data), 0xFFFF)


def command_frame(cmd: int, arg: bytes = b"", data: bytes = b"") -> bytes:
    """The bytes of one command frame."""
    if len(arg) > ARG_BYTES or len(data) > MAX_DATA:
        raise ValueError(f"command {cmd}: {len(arg)} argument and {len(data)} data bytes; "
                         f"at most {ARG_BYTES} and {MAX_DATA}")
    body = bytes([cmd]) + arg.ljust(ARG_BYTES, b"\0") + len(data).to_bytes(2, "little") + data
    return bytes([CMD_SYNC]) + body + crc16(body).to_bytes(2, "big")


def response_frame(status: int, data: bytes = b"") -> bytes:
    """The bytes of one response frame (the engine's side; used by tests and models)."""
    body = bytes([status]) + len(data).to_bytes(2, "little") + data
    return bytes([RSP_SYNC]) + body + crc16(body).to_bytes(2, "big")


# --- the engine's memory map -------------------------------------------------------------------

@dataclass(frozen=True)
class Buffer:
    """One block-RAM buffer: a core stream's beats, ``depth`` words of ``width`` bits."""

    name: str
    width: int
    input: bool

    @property
    def word_bytes(self) -> int:
        return max(1, -(-self.width // 8))


@dataclass(frozen=True)
class Register:
    name: str
    width: int
    signed: bool = False


#: the requantizer's registers: y = clip(round_shift(acc · multiplier, shift) + zero_point)
REQUANT_REGISTERS = ("rq_enable", "rq_multiplier", "rq_shift", "rq_zero_point", "rq_min",
                     "rq_max", "rq_bytes")
SHIFT_BITS = 6


@dataclass(frozen=True)
class EngineLayout:
    """Buffers and registers of an engine around one core, and its result lanes.

    Result payloads are ``lanes`` accumulator values of ``lane_bits`` bits (lane 0 lowest),
    which the requantizer turns into ``rq_bytes``-byte integers on the way out.
    """

    core: str
    buffers: tuple[Buffer, ...]
    registers: tuple[Register, ...]
    depth: int
    lanes: int
    lane_bits: int
    lane_signed: bool
    multiplier_bits: int

    @classmethod
    def build(cls, config: CoreConfig, iface: CoreInterface, depth: int,
              multiplier_bits: int) -> EngineLayout:
        acc = config.accumulator
        results = iface.results
        if len(results) != 1 or results[0].width % acc.bits:
            raise ConfigError("kind", config.KIND, "the engine takes cores with one result "
                              "stream of accumulator lanes", context="engine")
        buffers = tuple(Buffer(s.name, s.width, s.input) for s in (*iface.inputs, *results))
        count = depth.bit_length()
        registers = (
            *(Register(p.name, p.width) for p in iface.params),
            *(Register(f"beats_{b.name}", count) for b in buffers),
            Register("rq_enable", 1), Register("rq_multiplier", multiplier_bits),
            Register("rq_shift", SHIFT_BITS), Register("rq_zero_point", 32, True),
            Register("rq_min", 32, True), Register("rq_max", 32, True), Register("rq_bytes", 3))
        return cls(iface.name, buffers, registers, depth, results[0].width // acc.bits,
                   acc.bits, acc.signed, multiplier_bits)

    @property
    def inputs(self) -> tuple[Buffer, ...]:
        return tuple(b for b in self.buffers if b.input)

    @property
    def result(self) -> Buffer:
        return next(b for b in self.buffers if not b.input)

    def buffer_index(self, name: str) -> int:
        return [b.name for b in self.buffers].index(name)

    def register_index(self, name: str) -> int:
        return [r.name for r in self.registers].index(name)

    @property
    def signature(self) -> int:
        """32 bits that differ between engines a host must not confuse (INFO returns them)."""
        return zlib.crc32(json.dumps(asdict(self), sort_keys=True).encode())


@dataclass(frozen=True)
class EngineOptions:
    """What the engine adds to a core: buffer depth, serial speed, requantizer width, how long
    a partial frame may stall before it is dropped (in byte times) and the core's clock.

    ``core_mhz`` (None: the board's clock) runs the core side in its own clock domain at that
    frequency, from a PLL on a board (:mod:`lowbit.boards.pll`); the host side is unaffected
    (it is not part of the layout the host checks).
    """

    depth: int = 512
    baud: int = 115_200
    multiplier_bits: int = 16
    timeout_bytes: int = 64
    core_mhz: float | None = None

    def __post_init__(self) -> None:
        if self.core_mhz is not None and not 0 < self.core_mhz < float("inf"):
            raise ConfigError("core_mhz", self.core_mhz, "a core clock frequency in MHz above 0",
                              context="engine")
        if not (16 <= self.depth <= 1 << 15 and self.depth & (self.depth - 1) == 0):
            raise ConfigError("depth", self.depth, "a power of two from 16 to 32768 words",
                              context="engine")
        if not 2 <= self.multiplier_bits <= 32:
            raise ConfigError("multiplier_bits", self.multiplier_bits, "2..32",
                              context="engine")
        if self.baud <= 0 or self.timeout_bytes < 2:
            raise ConfigError("baud" if self.baud <= 0 else "timeout_bytes",
                              self.baud if self.baud <= 0 else self.timeout_bytes,
                              "a positive baud rate and a timeout of at least 2 byte times",
                              context="engine")

    def divisor(self, clock_hz: float) -> int:
        """Clock cycles per bit; an error when the baud rate is off by more than 2%."""
        div = round(clock_hz / self.baud)
        if div < 8 or abs(clock_hz / div - self.baud) > 0.02 * self.baud:
            raise ConfigError("baud", self.baud, f"a rate the {clock_hz / 1e6:g} MHz clock "
                              "divides to within 2% with at least 8 cycles per bit",
                              context="engine")
        return div
