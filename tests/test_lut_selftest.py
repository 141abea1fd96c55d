"""The ``lut`` kind's board self-test: its expected checksum is the golden model's answer to the
board's stimulus, and the self-test top around the generated core reaches it in simulation."""

import numpy as np

from lowbit.hw.interface import CoreInterface
from lowbit.boards.selftest import checksum, expectation, stimulus
from lowbit.hw.verilog import generate
from lowbit.kinds.lut import LutConfig
from lowbit.models.int_gemm import int_gemm
from lowbit.models.formats import IntFormat
from selftest_sim import simulate_top

CONFIG = LutConfig(a="int8", w_bits=2, g=2, tables=2, cols=3, symmetric=True, acc=14)


def test_lut_selftest_expectation_is_the_integer_gemm():
    """Recompute the expected results by hand: beat t of a holds 4 int8 lanes, beat t of w
    three 4-bit lanes of weight bits (w_bits = 1 on the board: each bit is a weight in {0, −1})."""
    core = CoreInterface.from_manifest(generate(CONFIG).manifest)
    expect = expectation(CONFIG, core)
    k = 4 * CONFIG.group
    assert expect.params == {"k": k, "wbits": 1, "wmode": 0}
    a_beats = np.array(stimulus(0, 32, expect.beats), dtype=np.int64)
    w_beats = np.array(stimulus(1, 12, expect.beats), dtype=np.int64)
    a = CONFIG.a.decode((a_beats[:, None] >> (8 * np.arange(4))) & 0xFF).reshape(-1, k)
    bits = (w_beats[:, None, None] >> (4 * np.arange(3)[None, :, None] + np.arange(4))) & 1
    w = -bits.transpose(0, 2, 1).reshape(-1, k, 3)        # tiles × K × cols, values 0 / −1
    rows = np.concatenate([int_gemm(a[t:t + 1], w[t], CONFIG.a, IntFormat(1),
                                    CONFIG.accumulator) for t in range(len(a))])
    results = CONFIG.accumulator.encode(rows)
    payloads = [int(sum(int(v) << (14 * c) for c, v in enumerate(r))) for r in results]
    assert expect.results == (len(a),)
    assert expect.checksum == checksum([payloads], [42])


def test_lut_selftest_top_passes(tmp_path):
    core = CoreInterface.from_manifest(generate(CONFIG).manifest)
    expect = expectation(CONFIG, core)
    run = simulate_top(CONFIG, expect, tmp_path)
    assert run.passed and run.records[0]["checksum"] == expect.checksum
