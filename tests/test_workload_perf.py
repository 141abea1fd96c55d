"""Workloads on cores by the performance models: totals are the sums of per-GEMM model cycles,
K is split where the core needs it, bytes follow the formats, the roofline bound is the larger
time, reports for another config are refused, board memories are as stated."""

import math

import pytest

from lowbit.boards.memory import ICEBREAKER_FLASH, ULX3S_SDRAM
from lowbit.boards.platforms import get_board
from lowbit.errors import ConfigError, UsageError
from lowbit.models.perf import GemmShape
from lowbit.models.precision import Precision
from lowbit.models.workload import Gemm, Workload, from_hf_config
from lowbit.registry import config_from_dict, get_kind
from lowbit.workload import (
    fmax_of_report,
    k_chunk,
    map_workload,
    pick_board,
    pick_memory,
    rules_for,
)

SYSTOLIC = {"kind": "systolic", "rows": 8, "cols": 8, "a": "int8", "w": "int4", "acc": 24,
            "k_bits": 12, "depth": 256}
BERT = {"model_type": "bert", "hidden_size": 128, "num_attention_heads": 4,
        "num_hidden_layers": 2, "intermediate_size": 256}


def _map(workload, values, rules=(), fmax=50.0, board="ulx3s-85f", memory=None):
    config = config_from_dict(values)
    b = get_board(board)
    return config, map_workload(workload, config, rules_for(config, rules), fmax_mhz=fmax,
                                fmax_source="test", board=b, memory=pick_memory(b, memory))


@pytest.mark.parametrize("values", [
    SYSTOLIC, {**SYSTOLIC, "dataflow": "os", "rows": 4, "cols": 2},
    {"kind": "mac", "a": "int8", "w": "int4", "acc": 24},
    {"kind": "blockdot", "a": "mxfp8_e4m3", "w": "mxfp4", "lanes": 8},
    {"kind": "bitserial", "a": "int8", "w": "int4", "acc": 32, "lanes": 8, "cols": 4},
])
def test_totals_are_sums_of_perf_model_cycles(values):
    workload = from_hf_config(BERT, batch=2, seq=12)
    config, m = _map(workload, values)
    perf = get_kind(config.KIND).perf_model(config)
    want = [g.count * perf.gemm_cycles(GemmShape(g.m, g.n, g.k)) for g in workload.gemms]
    assert [x.cycles for x in m.layers] == want
    assert m.cycles == sum(want)
    assert m.compute_s == pytest.approx(sum(want) / 50e6)
    assert m.macs == workload.macs
    assert m.utilization == pytest.approx(workload.macs / (sum(want) * perf.peak_macs_per_cycle))
    assert m.latency_s == pytest.approx(sum(max(x.compute_s, x.memory_s) for x in m.layers))
    assert m.tokens_per_s == pytest.approx(24 / m.latency_s)


def test_k_split_where_the_k_register_is_too_short():
    config = config_from_dict({**SYSTOLIC, "k_bits": 6})          # K up to 63
    gemm = Gemm("long", 16, 8, 200)
    assert k_chunk(config, gemm) == 63
    _, m = _map(Workload("w", (gemm,)), {**SYSTOLIC, "k_bits": 6})
    (x,) = m.layers
    perf = get_kind("systolic").perf_model(config)
    assert (x.chunks, x.chunk_k) == (4, 63)
    assert x.cycles == 3 * perf.gemm_cycles(GemmShape(16, 8, 63)) + perf.gemm_cycles(
        GemmShape(16, 8, 11))
    assert x.out_bytes == 16 * 8 * 4 * 24 / 8      # four chunks of 24-bit partial sums
    assert "chunks of 63" in m.notes[0]


def test_group_scales_run_one_group_per_chunk():
    gemm = Gemm("fc", 16, 8, 512)
    _, m = _map(Workload("w", (gemm,)), SYSTOLIC, [("*", Precision("int4:g128", "int8"))])
    (x,) = m.layers
    assert (x.chunks, x.chunk_k) == (4, 128) and x.precision.out == "fp32"
    # weights: 4 bits plus one FP32 scale per 128; activations 8 bits per tensor
    assert x.weight_bytes == 512 * 8 * (4 + 32 / 128) / 8
    assert x.act_bytes == 16 * 512


def test_blockdot_block_count_limit_splits_k():
    values = {"kind": "blockdot", "a": "mxfp8_e4m3", "w": "mxfp4", "lanes": 8,
              "blocks_bits": 2}   # at most 3 blocks of 32 per result
    _, m = _map(Workload("w", (Gemm("fc", 4, 4, 320),)), values)
    assert (m.layers[0].chunks, m.layers[0].chunk_k) == (4, 96)


def test_a_shape_the_core_cannot_run_at_all():
    # a K register of 2 bits holds K up to 3; blockdot counts blocks, K=1 is one block
    config = config_from_dict({"kind": "blockdot", "a": "nvfp4", "w": "nvfp4", "lanes": 4,
                               "blocks_bits": 1})
    assert k_chunk(config, Gemm("x", 1, 1, 100)) == 16
    with pytest.raises(ConfigError):
        config.check_gemm(GemmShape(1, 1, 17))


def test_bytes_roofline_and_bound():
    workload = Workload("w", (Gemm("big", 512, 512, 512), Gemm("thin", 8, 4096, 4000)))
    os8 = {**SYSTOLIC, "dataflow": "os"}
    _, m = _map(workload, os8, fmax=200.0)
    big, thin = m.layers
    # int4 weights per channel (one FP32 scale per column of K values), int8 per-token
    # activations, int16 requantized results
    assert thin.weight_bytes == pytest.approx(4000 * 4096 * (4 + 32 / 4000) / 8)
    assert thin.act_bytes == pytest.approx(8 * 4000 * (8 + 32 / 4000) / 8)
    assert thin.out_bytes == 8 * 4096 * 2
    assert thin.memory_s == pytest.approx(thin.bytes / ULX3S_SDRAM.bandwidth(200.0))
    assert (big.bound, thin.bound) == ("compute", "bandwidth")
    assert thin.intensity < m.ridge < big.intensity
    assert m.ridge == pytest.approx(64 * 200e6 / 266e6)
    assert thin.gmacs == pytest.approx(thin.macs / thin.memory_s / 1e9)
    assert big.gmacs == pytest.approx(big.macs / big.compute_s / 1e9)
    # one more column than K's register holds: two chunks of 24-bit partial sums go out
    (split,) = _map(Workload("w", (Gemm("k", 1, 16, 4096),)), os8)[1].layers
    assert (split.chunks, split.out_bytes) == (2, 16 * 2 * 24 / 8)


def test_read_only_flash_carries_weights_only():
    workload = from_hf_config(BERT, seq=8)
    _, m = _map(workload, SYSTOLIC, fmax=20.0, board="icebreaker")
    assert m.memory is ICEBREAKER_FLASH
    for x in m.layers:
        assert x.memory_bytes == x.weight_bytes
        assert math.isinf(x.intensity) == (x.gemm.w_role != "weight")
    assert ICEBREAKER_FLASH.bandwidth(20.0) == 4 / 8 * 20e6          # at the core's clock
    assert ICEBREAKER_FLASH.bandwidth(500.0) == 4 / 8 * 133e6        # at most the part's
    _, spram = _map(workload, SYSTOLIC, fmax=20.0, board="icebreaker", memory="spram")
    assert spram.bandwidth == 8 * 20e6
    assert all(x.memory_bytes == x.bytes for x in spram.layers)


def test_formats_the_core_cannot_take():
    with pytest.raises(UsageError, match="fp8_e4m3 do not fit the systolic core's int8"):
        _map(Workload("w", (Gemm("fc", 4, 4, 4),)), SYSTOLIC,
             [("fc", Precision("int4", "fp8_e4m3"))])


def test_reports_and_boards():
    config = config_from_dict(SYSTOLIC)
    other = config_from_dict({**SYSTOLIC, "acc": 20})
    report = {"path": "r.json", "name": other.name, "config_hash": other.hash,
              "clocks": {"clk": {"achieved_mhz": 71.3}}}
    with pytest.raises(UsageError, match="was made for .*acc20.*not for"):
        fmax_of_report(report, config)
    assert fmax_of_report({**report, "config_hash": config.hash}, config) == 71.3
    assert pick_board(None, "ecp5-85f").name == "ulx3s-85f"
    assert pick_board(None, "ice40-up5k").name == "icebreaker"
    with pytest.raises(UsageError, match="no board with known memory has device ice40-hx8k"):
        pick_board(None, "ice40-hx8k")
    with pytest.raises(UsageError, match="no memory figure"):
        pick_memory(get_board("ice40-hx8k-evb"), None)
    with pytest.raises(UsageError, match="has no memory 'ddr'; it has flash, spram"):
        pick_memory(get_board("icebreaker"), "ddr")


def test_board_memory_figures():
    assert ULX3S_SDRAM.bandwidth(1.0) == 2 * 133e6 and ULX3S_SDRAM.capacity_bytes == 32 << 20
    assert get_board("orangecrab-25f").memories[0].bandwidth(1.0) == 2 * 2 * 400e6
    for board in ("ulx3s-85f", "ulx3s-25f", "icebreaker", "orangecrab-25f"):
        for memory in get_board(board).memories:
            assert memory.source and memory.part


def test_block_formats_pad_k_to_whole_blocks():
    values = {"kind": "blockdot", "a": "mxfp8_e4m3", "w": "mxfp4", "lanes": 8}
    _, m = _map(Workload("w", (Gemm("ctx", 4, 8, 40, 1, "activation"),)), values)
    (x,) = m.layers
    # K = 40 is stored as 64: two blocks of 32, each with an 8-bit E8M0 scale; the W operand is
    # an activation in the weight port's format (kv = mxfp4)
    assert x.precision.operand("activation") == "mxfp4"
    assert x.act_bytes == 4 * 64 * (8 + 8 / 32) / 8 + 64 * 8 * (4 + 8 / 32) / 8
    assert x.weight_bytes == 0 and x.out_bytes == 4 * 8 * 4
