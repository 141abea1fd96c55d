"""The host driver's transport into a simulated engine: cocotbext-uart on the ``rx``/``tx`` pins.

The driver is ordinary blocking code; the testbench runs it in a thread with
``cocotb.task.bridge`` and each ``write``/``read`` here resumes the simulation until the bytes
are on the line or have arrived, so exactly the driver that talks to a board talks to the RTL.
Timeouts are in simulated seconds.
"""

import logging

from cocotb.task import resume
from cocotbext.uart import UartSink, UartSource


class SimTransport:
    """Bytes over the simulated UART pins at ``baud`` (the engine's divisor × clock period)."""

    def __init__(self, dut, baud: float):
        self.name = "the simulated board"
        self.source = UartSource(dut.rx, baud=baud)
        self.sink = UartSink(dut.tx, baud=baud)
        for port in (self.source, self.sink):
            port.log.setLevel(logging.WARNING)

    @resume
    async def write(self, data: bytes) -> None:
        await self.source.write(data)
        await self.source.wait()

    @resume
    async def read(self, n: int, timeout: float) -> bytes:
        out = bytearray()
        while len(out) < n:
            if self.sink.empty():
                await self.sink.wait(int(timeout * 1e9), "ns")
                if self.sink.empty():
                    break
            out += self.sink.read_nowait(min(n - len(out), self.sink.count()))
        return bytes(out)

    def close(self) -> None:
        pass
