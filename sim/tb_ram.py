"""cocotb testbench of a block RAM (:mod:`lowbit.hw.ram`): random writes and reads against a
Python model of :mod:`lowbit.hw.ram.shape`, every cycle.

The environment gives ``LOWBIT_RAM``: ``{"width", "depth", "latency", "cycles", "seed"}``.
Each cycle writes with probability 0.6, reads (``r_en``) and moves the read word out
(``r_out_en``) with probability 0.7 each, so both stages stall independently; a third of the
reads are of the address written in the same cycle (read-during-write), half of the others of
an address written before. Each cycle ``r_data`` must equal the model's output word, once a
read of a written word has reached it."""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from lowbit.sim import bench


@cocotb.test()
async def random_reads_and_writes(dut):
    spec = json.loads(os.environ["LOWBIT_RAM"])
    width, depth, latency = spec["width"], spec["depth"], spec["latency"]
    gen = np.random.default_rng(int(spec.get("seed", 1)))

    bench.clock(dut.clk)
    for port in (dut.w_en, dut.r_en, dut.r_out_en, dut.w_addr, dut.r_addr, dut.w_data):
        port.value = 0
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    mem: dict[int, int] = {}
    written: list[int] = []
    stage = out = None            # the word at each read stage (None: not known)
    checked = {"reads": 0, "same_address": 0, "stalled": 0}
    for t in range(int(spec["cycles"])):
        w_en, r_en, r_out_en = (bool(gen.random() < p) for p in (0.6, 0.7, 0.7))
        w_addr = int(gen.integers(depth))
        w_data = int.from_bytes(gen.bytes((width + 7) // 8), "little") & ((1 << width) - 1)
        pick = gen.random()
        if pick < 1 / 3:
            r_addr = w_addr
        elif pick < 2 / 3 and written:
            r_addr = written[int(gen.integers(len(written)))]
        else:
            r_addr = int(gen.integers(depth))
        dut.w_en.value, dut.w_addr.value, dut.w_data.value = int(w_en), w_addr, w_data
        dut.r_en.value, dut.r_addr.value, dut.r_out_en.value = int(r_en), r_addr, int(r_out_en)
        await ReadOnly()
        want = stage if latency == 1 else out
        if want is not None:
            got = dut.r_data.value.to_unsigned()
            assert got == want, (f"cycle {t}: r_data = {got:#x}, the model says {want:#x} "
                                 f"({width} x {depth}, latency {latency})")
            checked["reads"] += 1
        # the edge: output stage, then the address stage (after this edge's write), the write
        if r_out_en:
            out = stage
        else:
            checked["stalled"] += 1
        if r_en:
            if w_en and w_addr == r_addr:
                stage = w_data
                checked["same_address"] += 1
            else:
                stage = mem.get(r_addr)
        if w_en:
            mem[w_addr] = w_data
            written.append(w_addr)
        await RisingEdge(dut.clk)
    dut._log.info(f"checked: {checked}")
    assert checked["reads"] > spec["cycles"] // 4 and checked["same_address"] > 0
