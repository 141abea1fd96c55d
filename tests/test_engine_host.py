"""The engine's host side without hardware: frames and CRC, the driver's error handling over
scripted transports, operand checks, job tiling, engine options and the ``run`` verb."""

import numpy as np
import pytest

from lowbit.errors import ConfigError, UsageError
from lowbit.host.driver import BadFrame, Engine, NoAnswer, Rejected, Requant
from lowbit.hw.protocol import (
    CMD_SYNC,
    Cmd,
    EngineOptions,
    Status,
    command_frame,
    crc16,
    response_frame,
)
from lowbit.models.formats import IntFormat
from lowbit.models.requant import Dyadic
from lowbit.registry import config_from_dict

MAC = config_from_dict({"kind": "mac", "a": "int8", "w": "int4", "acc": 20,
                        "overflow": "saturate", "k_bits": 8})


class Scripted:
    """A transport that answers every command with the next scripted bytes."""

    name = "scripted"

    def __init__(self, answers=()):
        self.answers, self.sent = list(answers), []

    def write(self, data):
        self.sent.append(bytes(data))

    def read(self, n, timeout):
        if not self.answers:
            return b""
        data, self.answers[0] = self.answers[0][:n], self.answers[0][n:]
        if not self.answers[0]:
            self.answers.pop(0)
        return data

    def close(self):
        pass


class Unused(Scripted):
    def write(self, data):
        raise AssertionError("bad input reached the transport")


def engine(transport, config=MAC, **kw):
    return Engine(transport, config, EngineOptions(depth=64), timeout=0.01, **kw)


def test_crc_is_ccitt_false_as_the_rtl_computes_it():
    from amaranth.lib.crc import catalog

    assert crc16(b"123456789") == 0x29B1
    data = bytes(range(40))
    assert crc16(data) == catalog.CRC16_CCITT_FALSE(data_width=8).compute(data)


def test_command_frame_layout():
    frame = command_frame(Cmd.SET_REG, bytes([3]) + (7).to_bytes(4, "little"))
    assert frame[0] == CMD_SYNC and frame[1] == Cmd.SET_REG and len(frame) == 1 + 1 + 6 + 2 + 2
    assert frame[8:10] == b"\0\0" and int.from_bytes(frame[-2:], "big") == crc16(frame[1:-2])
    with pytest.raises(ValueError):
        command_frame(Cmd.WRITE, b"", bytes(257))


def test_answers_and_faults():
    ok = response_frame(Status.OK, b"\x01\x02")
    assert engine(Scripted([ok])).command(Cmd.STATUS) == b"\x01\x02"
    with pytest.raises(NoAnswer, match="no answer to STATUS from scripted"):
        engine(Scripted()).command(Cmd.STATUS)
    corrupted = ok[:-1] + bytes([ok[-1] ^ 1])
    with pytest.raises(BadFrame, match="wrong checksum"):
        engine(Scripted([corrupted])).command(Cmd.STATUS)
    with pytest.raises(BadFrame, match="truncated"):
        engine(Scripted([ok[:5]])).command(Cmd.STATUS)
    with pytest.raises(BadFrame, match="starts with 0x00"):
        engine(Scripted([b"\0" + ok[1:]])).command(Cmd.STATUS)
    with pytest.raises(Rejected, match="rejected START: BUSY"):
        engine(Scripted([response_frame(Status.BUSY)])).command(Cmd.START)
    with pytest.raises(Rejected, match="corrupted; it was not executed"):
        engine(Scripted([response_frame(Status.BAD_CRC)])).command(Cmd.SET_REG)


def test_a_board_with_another_engine_is_refused():
    answer = response_frame(Status.OK, b"LBE1" + (0).to_bytes(4, "little"))
    with pytest.raises(Exception, match="built for another core"):
        engine(Scripted([answer])).info()


def test_set_reg_skips_known_values():
    t = Scripted([response_frame(Status.OK)] * 2)
    e = engine(t)
    e.set_reg("k", 5)
    e.set_reg("k", 5)
    e.set_reg("k", 6)
    assert len(t.sent) == 2


@pytest.mark.parametrize("a, w, match", [
    (np.zeros((2, 3)), np.zeros((4, 2)), "do not multiply"),
    (np.zeros((2, 0)), np.zeros((0, 2)), "do not multiply"),
    (np.full((2, 3), 128), np.zeros((3, 2)), "operand A does not fit the core's int8"),
    (np.zeros((2, 3)), np.full((3, 2), -9), "operand W does not fit the core's int4"),
    (np.zeros((2, 300)), np.zeros((300, 2)), "K=300 is longer than one run"),
])
def test_bad_operands_are_refused_before_any_io(a, w, match):
    with pytest.raises(UsageError, match=match):
        engine(Unused()).gemm(a, w)


def test_requantizer_limits():
    e = engine(Unused())
    with pytest.raises(UsageError, match="multipliers below 2\\*\\*16"):
        e.gemm(np.ones((1, 2)), np.ones((2, 1)), requant=Requant(Dyadic.fit(0.3, 32), IntFormat(8)))
    with pytest.raises(UsageError, match="one multiplier and shift per tensor"):
        e.gemm(np.ones((1, 2)), np.ones((2, 1)),
               requant=Requant(Dyadic.fit([0.3, 0.2], 16), IntFormat(8)))
    with pytest.raises(UsageError, match="zero point"):
        e.gemm(np.ones((1, 2)), np.ones((2, 1)),
               requant=Requant(Dyadic.fit(0.3, 16), IntFormat(8), 300))


def test_engine_options_are_checked():
    with pytest.raises(ConfigError, match="depth=100"):
        EngineOptions(depth=100)
    with pytest.raises(ConfigError, match="baud=3000000"):
        EngineOptions(baud=3_000_000).divisor(12e6)
    assert EngineOptions().divisor(12e6) == 104 and EngineOptions().divisor(25e6) == 217


def test_cli_run_errors(cli, tmp_path):
    code, _, err = cli("run", "mac", "--port", str(tmp_path / "nothing"), "--gemm", "2x2x2")
    assert code == 2 and "cannot open serial port" in err
    code, _, err = cli("run", "mac", "--port", "x", "--a-file", "a.npy")
    assert code == 2 and "give both --a-file and --w-file" in err
    code, _, err = cli("run", "mac", "--port", "x", "--buffer-depth", "100")
    assert code == 2 and "depth=100" in err
