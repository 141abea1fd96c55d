"""The numpy driver of the on-board GEMM engine: ``Engine(transport, config).gemm(A, W) -> C``.

It checks the operands against the core's formats, cuts the GEMM into runs that fit the
buffers (the kind's :class:`~lowbit.models.tiling.Tiler` with the buffer depth as its capacity;
reductions longer than a run are split when the accumulator wraps, which keeps the sum exact),
and runs each: write the input buffers, set the
registers, START, poll STATUS until DONE, READ the results. With ``check=True`` the result is
compared with the kind's golden model. Every fault ends in an :class:`EngineError` that says
what happened: a corrupted or truncated answer, a command the engine rejected (a corrupted
command is never executed), no answer, a reset during a run.
"""

import time
from dataclasses import dataclass

import numpy as np

from lowbit.errors import LowbitError, UsageError
from lowbit.host.transport import Transport
from lowbit.hw.engine import engine_layout
from lowbit.hw.generators import build
from lowbit.hw.interface import payload_layouts
from lowbit.hw.payload import pack_beats
from lowbit.hw.protocol import (
    MAGIC,
    MAX_DATA,
    RSP_SYNC,
    Cmd,
    EngineLayout,
    EngineOptions,
    State,
    Status,
    command_frame,
    crc16,
)
from lowbit.models.formats import IntFormat
from lowbit.models.perf import GemmShape
from lowbit.models.requant import Dyadic, requantize
from lowbit.models.tiling import Tiler
from lowbit.registry import get_kind


class EngineError(LowbitError):
    """The engine did not do what was asked (exit code 1)."""


class NoAnswer(EngineError):
    """The engine did not answer within the timeout."""


class BadFrame(EngineError):
    """An answer that is corrupted (checksum, sync byte) or truncated."""


class Rejected(EngineError):
    """The engine answered a command with an error status; the command was not executed."""

    def __init__(self, cmd: Cmd, status: Status):
        self.cmd, self.status = cmd, status
        super().__init__(f"the engine rejected {cmd.name}: {status.name} ({_WHY[status]})")


class ResetDuringRun(EngineError):
    """The engine went idle without finishing: it was reset while a GEMM was running."""


class Mismatch(EngineError):
    """The engine's result differs from the golden model's."""


_WHY = {
    Status.OK: "no error",
    Status.BAD_CRC: "the command arrived corrupted; it was not executed",
    Status.TIMEOUT: "the command stopped mid-frame and was dropped",
    Status.TOO_LONG: "the command's data is longer than the engine's staging buffer",
    Status.BAD_COMMAND: "the engine does not know this command",
    Status.BAD_ARGUMENT: "a buffer, register or address range the engine does not have",
    Status.BUSY: "a run is going on",
}


@dataclass(frozen=True)
class Requant:
    """On-device requantization of the results: ``clip(round_half_up(acc · b / 2**c) + z)``
    to ``out`` (see :mod:`lowbit.models.requant`); one multiplier for the whole tensor.

    Parameters
    ----------
    dyadic
        The multiplier ``b`` and shift ``c`` (:class:`~lowbit.models.requant.Dyadic`).
    out
        The integer format of the results.
    zero_point
        ``z``, added after the shift.
    """

    dyadic: Dyadic
    out: IntFormat
    zero_point: int = 0

    def check(self, layout: EngineLayout) -> tuple[int, int]:
        if np.size(self.dyadic.multiplier) != 1 or np.size(self.dyadic.shift) != 1:
            raise UsageError("the engine's requantizer takes one multiplier and shift per tensor")
        b, c = int(np.ravel(self.dyadic.multiplier)[0]), int(np.ravel(self.dyadic.shift)[0])
        if not 0 <= b < 1 << layout.multiplier_bits or not 0 <= c < 64:
            raise UsageError(f"requantizer multiplier {b} / shift {c} is not allowed; the engine "
                             f"takes multipliers below 2**{layout.multiplier_bits} and shifts "
                             "0..63 (fit the Dyadic with fewer bits)")
        if self.out.bits > 32 or not self.out.min <= self.zero_point <= self.out.max:
            raise UsageError(f"requantized output {self.out} with zero point {self.zero_point} "
                             "is not allowed; up to 32 bits, the zero point in range")
        return b, c

    def apply(self, acc: np.ndarray) -> np.ndarray:
        """What the engine's requantizer computes (the golden model)."""
        return requantize(acc, self.dyadic, self.out, self.zero_point, "half_up")


class Engine:
    """A connection to an engine around ``config``'s core, built with ``options``.

    ``timeout`` (seconds of the transport's clock) bounds the wait for an answer and, times
    ``run_timeout_factor``, for a run to finish.

    Parameters
    ----------
    transport
        The byte pipe to the board: :class:`~lowbit.host.transport.SerialTransport`, or a
        simulation's.
    config
        The core the engine was built around (the same config as the build).
    options
        The engine's build options (buffer depth, baud rate, multiplier bits).
    timeout
        Seconds to wait for an answer.
    layout
        The engine's memory map (default: computed from ``config`` and ``options``).
    poll_interval
        Seconds between STATUS polls while a run is going on.
    """

    def __init__(self, transport: Transport, config, options: EngineOptions = EngineOptions(),
                 *, timeout: float = 1.0, layout: EngineLayout | None = None,
                 poll_interval: float = 0.0):
        self.transport, self.config, self.options = transport, config, options
        self.layout = layout or engine_layout(config, options)
        self.tiler = engine_tiler(config, options.depth)
        self.core_layouts = payload_layouts(build(config))
        self.timeout, self.poll_interval = timeout, poll_interval
        self.last_cycles = 0
        self._regs: dict[str, int] = {}    # what the engine's registers hold, as far as known
        self.read_chunk = 4096              # bytes of results per READ command

    # --- commands ---------------------------------------------------------------------------

    def command(self, cmd: Cmd, arg: bytes = b"", data: bytes = b"") -> bytes:
        """Send one command and return its answer's data; errors as :class:`EngineError`."""
        self.transport.write(command_frame(cmd, arg, data))
        return self.answer(cmd)

    def answer(self, cmd: Cmd) -> bytes:
        """Read one response frame; raise on no answer, corruption or an error status."""
        where = self.transport.name
        head = self._read(4, cmd, "its header")
        if head[0] != RSP_SYNC:
            self._drain()
            raise BadFrame(f"answer to {cmd.name} from {where} starts with 0x{head[0]:02x}, "
                           f"not 0x{RSP_SYNC:02x}: the line is corrupted or the board runs "
                           "another design")
        length = int.from_bytes(head[2:4], "little")
        rest = self._read(length + 2, cmd, f"{length} data bytes and the checksum")
        body = head[1:] + rest[:length]
        if crc16(body) != int.from_bytes(rest[length:], "big"):
            raise BadFrame(f"answer to {cmd.name} from {where} has a wrong checksum "
                           "(corrupted on the line)")
        status = Status(head[1]) if head[1] in Status._value2member_map_ else None
        if status is None:
            raise BadFrame(f"answer to {cmd.name} has an unknown status {head[1]}")
        if status != Status.OK:
            raise Rejected(cmd, status)
        return bytes(rest[:length])

    def _read(self, n: int, cmd: Cmd, what: str) -> bytes:
        got = self.transport.read(n, self.timeout)
        if not got and what == "its header":
            raise NoAnswer(f"no answer to {cmd.name} from {self.transport.name} within "
                           f"{self.timeout:g} s: is the board connected, the engine's bitstream "
                           f"loaded and the baud rate {self.options.baud}?")
        if len(got) < n:
            raise BadFrame(f"answer to {cmd.name} from {self.transport.name} stopped after "
                           f"{len(got)} of {n} bytes of {what} (truncated)")
        return got

    def _drain(self) -> None:
        self.transport.read(1 << 16, self.timeout / 4)

    def info(self) -> None:
        """Check that the board runs this engine (magic and layout signature)."""
        self._regs.clear()     # a board reset since the last command would have cleared them
        data = self.command(Cmd.INFO)
        if data[:4] != MAGIC:
            raise EngineError(f"{self.transport.name} does not answer as a Lowbit engine")
        if int.from_bytes(data[4:8], "little") != self.layout.signature:
            raise EngineError(f"the engine on {self.transport.name} was built for another core "
                              f"or buffer size than {self.config.name} with depth "
                              f"{self.options.depth}; build and load its bitstream")

    def set_reg(self, name: str, value: int) -> None:
        """Set a register (skipped when the engine is known to hold the value already)."""
        value = int(value) & 0xFFFF_FFFF
        if self._regs.get(name) == value:
            return
        index = self.layout.register_index(name)
        self._regs.pop(name, None)
        self.command(Cmd.SET_REG, bytes([index]) + value.to_bytes(4, "little"))
        self._regs[name] = value

    def get_reg(self, name: str) -> int:
        return int.from_bytes(self.command(Cmd.GET_REG, bytes([self.layout.register_index(name)])),
                              "little")

    def write_buffer(self, name: str, payloads: list[int]) -> None:
        index = self.layout.buffer_index(name)
        wb = self.layout.buffers[index].word_bytes
        per_frame = MAX_DATA // wb
        for start in range(0, len(payloads), per_frame):
            chunk = payloads[start:start + per_frame]
            data = b"".join(int(p).to_bytes(wb, "little") for p in chunk)
            self.command(Cmd.WRITE, bytes([index]) + start.to_bytes(2, "little"), data)

    def read_results(self, count: int, word_bytes: int) -> bytes:
        """``count`` result words as bytes (``word_bytes`` each: raw words, or requantized
        lanes when the requantizer is on)."""
        index = self.layout.buffer_index(self.layout.result.name)
        per_frame = max(1, self.read_chunk // word_bytes)
        out = bytearray()
        for start in range(0, count, per_frame):
            n = min(per_frame, count - start)
            out += self.command(Cmd.READ, bytes([index]) + start.to_bytes(2, "little")
                                + n.to_bytes(2, "little"))
        return bytes(out)

    def status(self) -> tuple[State, int]:
        data = self.command(Cmd.STATUS)
        return State(data[0] & 3), int.from_bytes(data[1:5], "little")

    def reset(self) -> None:
        """Abort any run and return the engine to idle."""
        self.command(Cmd.RESET)

    def start(self) -> None:
        self.command(Cmd.START)

    def wait(self, max_polls: int = 100_000) -> int:
        """Poll until the run is done; its cycles. A reset engine raises ResetDuringRun."""
        for _ in range(max_polls):
            state, cycles = self.status()
            if state == State.DONE:
                return cycles
            if state == State.IDLE:
                raise ResetDuringRun(f"the engine on {self.transport.name} is idle without "
                                     "finishing the run: it was reset during the GEMM; the "
                                     "results are lost")
            if self.poll_interval:
                time.sleep(self.poll_interval)
        self.reset()
        raise NoAnswer(f"the run did not finish after {max_polls} polls; the engine was reset")

    # --- GEMM ---------------------------------------------------------------------------------

    def _operands(self, a, w) -> tuple[np.ndarray, np.ndarray]:
        a, w = np.asarray(a), np.asarray(w)
        if a.ndim != 2 or w.ndim != 2 or a.shape[1] != w.shape[0] or 0 in a.shape + w.shape:
            raise UsageError(f"GEMM operands of shapes {a.shape} and {w.shape} do not multiply; "
                             "A must be M×K and W K×N, none of them empty")
        codes = []
        for name, x, fmt in (("A", a, self.config.a), ("W", w, self.config.w)):
            try:
                codes.append(fmt.encode(x))
            except UsageError as e:
                raise UsageError(f"operand {name} does not fit the core's {fmt}: {e}") from None
        return codes[0], codes[1]

    def gemm(self, a, w, *, requant: Requant | None = None, check: bool = False) -> np.ndarray:
        """``A (M×K) @ W (K×N)`` on the engine: accumulator values (int64), or the requantized
        integers with ``requant``. ``check`` compares with the golden model.

        Parameters
        ----------
        a, w
            Integer values of the core's formats, M×K and K×N.
        requant
            Requantize the results on the engine (one multiplier, shift and zero point).
        check
            Compare the result with the golden model; a difference raises :class:`Mismatch`.

        Returns
        -------
        numpy.ndarray
            M×N int64: the accumulators, or the requantized values.
        """
        a_codes, w_codes = self._operands(a, w)
        K = a_codes.shape[1]
        k_max = self.tiler.max_k()
        acc = self.config.accumulator
        if k_max < K and (acc.overflow != "wrap" or requant is not None):
            raise UsageError(
                f"K={K} is longer than one run of this engine ({k_max}); it can be split only "
                "for a wrapping accumulator without requantization (a saturating or requantized "
                "sum of parts is not the sum of the whole); build a deeper engine")
        if requant is not None:
            b, c = requant.check(self.layout)
        self.info()
        self._set_requant(requant, b if requant else 0, c if requant else 0)
        total = None
        cycles = 0
        for k0 in range(0, K, k_max):
            part = self._gemm_codes(a_codes[:, k0:k0 + k_max], w_codes[k0:k0 + k_max],
                                    requant)
            cycles += self.last_cycles
            total = part if total is None else acc.wrap(total + part)
        self.last_cycles = cycles
        if check:
            golden = self.golden(a_codes, w_codes)
            if requant is not None:
                golden = requant.apply(golden)
            bad = np.argwhere(total != golden)
            if bad.size:
                shown = ", ".join(f"{tuple(i)}: engine {total[tuple(i)]} golden "
                                  f"{golden[tuple(i)]}" for i in bad[:5])
                raise Mismatch(f"{len(bad)} of {total.size} results differ from the golden "
                               f"model ({shown})")
        return total

    def _set_requant(self, requant: Requant | None, b: int, c: int) -> None:
        if requant is None:
            self.set_reg("rq_enable", 0)
            return
        out = requant.out
        for name, value in (("rq_multiplier", b), ("rq_shift", c),
                            ("rq_zero_point", requant.zero_point), ("rq_min", out.min),
                            ("rq_max", out.max), ("rq_bytes", -(-out.bits // 8)),
                            ("rq_enable", 1)):
            self.set_reg(name, value)

    def golden(self, a_codes: np.ndarray, w_codes: np.ndarray) -> np.ndarray:
        """The accumulator values the core computes for the codes ``a @ w`` (golden model)."""
        tiler = get_kind(self.config.KIND).tiler_for(self.config)
        return self.config.accumulator.decode(tiler.golden({"a": a_codes, "w": w_codes}))

    def _gemm_codes(self, a_codes, w_codes, requant: Requant | None) -> np.ndarray:
        (M, K), N = a_codes.shape, w_codes.shape[1]
        lay, tiler = self.layout, self.tiler
        shape = GemmShape(M, N, K)
        operands = tiler.padded({"a": a_codes, "w": w_codes})
        padded = tiler.padded_shape(shape)
        out = np.zeros((padded.m, padded.n), dtype=np.int64)
        cycles = 0
        for run in tiler.runs(shape):
            for name, value in run.params.items():
                self.set_reg(name, value)
            beats = tiler.beats(run, operands)
            for buf in lay.inputs:
                payloads = pack_beats(self.core_layouts[buf.name], beats[buf.name])
                self.write_buffer(buf.name, payloads)
                self.set_reg(f"beats_{buf.name}", len(payloads))
            results = tiler.result_beats(run)
            self.set_reg(f"beats_{lay.result.name}", results)
            self.start()
            cycles += self.wait()
            tiler.place(run, self._results(results, requant), out)
        self.last_cycles = cycles
        return out[:M, :N]

    def _results(self, count: int, requant: Requant | None) -> np.ndarray:
        """Result lanes (count × lanes) as integers."""
        lay = self.layout
        if requant is None:
            wb = lay.result.word_bytes
            raw = self.read_results(count, wb)
            words = [int.from_bytes(raw[i * wb:(i + 1) * wb], "little") for i in range(count)]
            mask = (1 << lay.lane_bits) - 1
            codes = np.array([[(x >> (lay.lane_bits * j)) & mask for j in range(lay.lanes)]
                              for x in words], dtype=np.uint64).reshape(count, lay.lanes)
            return self.config.accumulator.decode(codes)
        nb = -(-requant.out.bits // 8)
        raw = self.read_results(count, lay.lanes * nb)
        vals = np.array([int.from_bytes(raw[i:i + nb], "little", signed=True)
                         for i in range(0, len(raw), nb)], dtype=np.int64)
        if not requant.out.signed:
            vals &= (1 << 8 * nb) - 1
        return vals.reshape(count, lay.lanes)


def engine_tiler(config, depth: int) -> Tiler:
    """The kind's beat layout with runs that fit buffers of ``depth`` words; the driver takes
    kinds whose operands are integer formats ``a`` and ``w``."""
    if not all(isinstance(getattr(config, side, None), IntFormat) for side in "aw"):
        raise UsageError(f"the engine driver runs cores with integer operand formats a and w; "
                         f"{config.KIND} {config.name} has none")
    tiler = get_kind(config.KIND).tiler_for(config, capacity=depth)
    extra = tiler.pad_extra(GemmShape(1, 1, 1))
    if extra:
        raise UsageError(f"the engine driver streams A and W only; {config.name} also takes "
                         f"{', '.join(extra)}")
    return tiler
