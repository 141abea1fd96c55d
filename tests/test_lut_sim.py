"""The ``lut`` core in simulation, bit-exact against the golden GEMM and cycle-exact against
the performance model.

Five Verilator builds cover the acceptance matrix: g = 1, 2, 3, 4 and 6; 2, 3, 4, 5 and 8
columns; one and two tables; one, two and three column blocks per table; symmetrized and full
tables; the generic, ECP5 (CCU2C carry cells) and iCE40 table RAMs; int4, int8, int16 and uint4
activations; weight precision up to 2, 3, 4 and 5 bits. Each build runs every cocotb test of
``lowbit.sim.tb_lut`` in one simulator call (the GEMM skeleton of :mod:`lowbit.sim.gemm_bench`):
the tiled GEMM, every run-time precision 1..w_bits in every weight mode (signed, unsigned,
offset), edge shapes through run-time K, extreme activations against all-ones / all-zero
weight planes in every mode, long runs that wrap the accumulator, back-pressure. Accumulators
are narrow enough for the long runs to wrap them.
"""

import re
from collections import Counter

import pytest
from amaranth.back import rtlil
from array_checks import simulate_checked

from lowbit.hw.lut_core import LutCore
from lowbit.kinds.lut import LutConfig
from lowbit.models.lut import WEIGHT_MODES
from lowbit.models.perf import GemmShape
from lowbit.sim.tb_lut import LutBench

L = LutConfig
CONFIGS = [
    L(a="int8", w_bits=4, g=4, cols=8, blocks=2, acc=18, k_bits=10),
    L(a="int8", w_bits=4, g=3, tables=2, cols=5, blocks=3, symmetric=True, family="ecp5",
      acc=18, k_bits=10),
    L(a="uint4", w_bits=2, g=2, cols=3, symmetric=True, acc=9, k_bits=6),
    L(a="int16", w_bits=5, g=1, cols=2, symmetric=True, acc=24, k_bits=8),
    L(a="int4", w_bits=3, g=6, cols=4, family="ice40", acc=10, k_bits=8),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_lut_bit_exact(config, tmp_path):
    shape = GemmShape(16, 4 * config.cols + 3, min(16 * config.group + 5, config.k_max))
    records = simulate_checked(config, LutBench, shape, tmp_path, seed=5, overflows=True)
    modes = {(r["wbits"], r["mode"]) for r in records if r["test"] == "every_setting"}
    assert modes == {(n, m) for n in range(1, config.w_bits + 1) for m in WEIGHT_MODES}


def test_cli_rejects_k_beyond_the_register(cli, tmp_path):
    code, _, err = cli("simulate", "lut", "--k-bits", "4", "--gemm", "2x2x16",
                       "--run-dir", tmp_path)
    assert code == 2 and "K must be at most 15" in err


@pytest.mark.parametrize("family, copies", [("ecp5", 3), ("ice40", 3), ("generic", 1)])
def test_table_copies_have_one_read_port(family, copies):
    """Where the RAM cells have one read port (ECP5 TRELLIS_DPR16X4, iCE40 SB_RAM40_4K) every
    column reads a table memory of its own: Yosys's memory_libmap enumerates the assignments of
    a memory's read ports, and 12 of them on one memory crash the WebAssembly Yosys. The
    generic core keeps one memory per table, read by every column."""
    text = rtlil.convert(LutCore(L(cols=3, tables=2, family=family)))
    reads = Counter(re.findall(r'cell \$memrd_v2 \S+\n(?:    parameter .*\n)*?'
                               r'    parameter \\MEMID "\\\\(table_\w+)"', text))
    assert len(reads) == 2 * copies and set(reads.values()) == {3 // copies}
