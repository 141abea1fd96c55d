"""Byte transports between the host driver and an engine: a serial port (pyserial), or the
simulated board's UART pins (:mod:`lowbit.sim.engine_transport`).

``read(n, timeout)`` returns up to ``n`` bytes, stopping early when no byte arrived for
``timeout`` seconds (of the transport's clock: wall time on a port, simulated time in a
simulation), so a long answer never times out while it is still coming.
"""

from typing import Protocol

from lowbit.errors import UsageError


class Transport(Protocol):
    name: str

    def write(self, data: bytes) -> None: ...

    def read(self, n: int, timeout: float) -> bytes: ...

    def close(self) -> None: ...


class SerialTransport:
    """A serial port, 8N1, e.g. the FTDI of an iCEBreaker or ULX3S (``/dev/ttyUSB1`` /
    ``/dev/ttyUSB0``)."""

    def __init__(self, port: str, baud: int):
        import serial

        self.name = port
        try:
            self._serial = serial.Serial(port, baud, timeout=0.1)
        except (serial.SerialException, ValueError) as e:
            raise UsageError(f"cannot open serial port {port} at {baud} baud: {e}") from None

    def write(self, data: bytes) -> None:
        self._serial.write(data)
        self._serial.flush()

    def read(self, n: int, timeout: float) -> bytes:
        self._serial.timeout = timeout
        out = bytearray()
        while len(out) < n:
            chunk = self._serial.read(n - len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def close(self) -> None:
        self._serial.close()
