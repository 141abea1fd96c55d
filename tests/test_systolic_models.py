"""The systolic kind without a simulator: config checks, the tiling plan, the documented beat
order (replayed in numpy), the performance model and the CLI's bad-input handling."""

import json

import numpy as np
import pytest

from lowbit.errors import ConfigError
from lowbit.kinds.systolic import SystolicConfig
from lowbit.models.perf import GemmShape
from lowbit.models.systolic import SystolicPerf, SystolicTiler, systolic_golden
from lowbit.models.tiling import ceil_div

SHAPES = [GemmShape(1, 1, 1), GemmShape(5, 7, 3), GemmShape(17, 9, 30), GemmShape(40, 3, 2),
          GemmShape(9, 16, 8)]


def _configs():
    for df in ("ws", "os"):
        for rows, cols in ((1, 1), (2, 3), (4, 4), (3, 5)):
            yield SystolicConfig(rows=rows, cols=cols, dataflow=df, a="int4", w="uint3", acc=12,
                                 overflow="saturate", depth=6)


@pytest.mark.parametrize("config", list(_configs()), ids=lambda c: c.name)
def test_beat_order_replayed_in_numpy_gives_the_gemm(config):
    """Feed the tiler's beats to a numpy model of the documented dataflow, in order, and put
    the result rows where the tiler says."""
    R, C, acc = config.rows, config.cols, config.accumulator
    rng = np.random.default_rng(3)
    tiler = SystolicTiler(config)
    for shape in SHAPES:
        a = config.a.random(rng, (shape.m, shape.k))
        w = config.w.random(rng, (shape.k, shape.n))
        padded = tiler.padded({"a": config.a.encode(a), "w": config.w.encode(w)})
        p = tiler.padded_shape(shape)
        out = np.zeros((p.m, p.n), dtype=np.int64)
        covered = np.zeros_like(out)
        for run in tiler.runs(shape):
            beats = tiler.beats(run, padded)
            a_beats, w_beats = config.a.decode(beats["a"]), config.w.decode(beats["w"])
            assert len(w_beats) == run.k * len(run.blocks)
            rows = []
            for i, _ in enumerate(run.blocks):
                ws = w_beats[i * run.k:(i + 1) * run.k]
                if config.dataflow == "ws":  # ⌈K/R⌉ tiles of M rows; psum += row · tile, in k order
                    tiles = ceil_div(run.k, R)
                    xs = a_beats[i * tiles * run.rows:(i + 1) * tiles * run.rows]
                    psum = np.zeros((run.rows, C), dtype=np.int64)
                    for t in range(tiles):
                        for r in range(min(R, run.k - t * R)):
                            x = xs[t * run.rows:(t + 1) * run.rows, r]
                            psum = acc.clamp(psum + np.outer(x, ws[t * R + r]))
                else:  # beat k: column k of the X tile, row k of V
                    xs = a_beats[i * run.k:(i + 1) * run.k]
                    psum = np.zeros((R, C), dtype=np.int64)
                    for k in range(run.k):
                        psum = acc.clamp(psum + np.outer(xs[k], ws[k]))
                rows.append(psum)
            tiler.place(run, np.concatenate(rows), out)
            r, c = tiler.result_index(run)
            np.add.at(covered, (r, c), 1)
        assert (covered[:shape.m, :shape.n] == 1).all(), "every output exactly once"
        np.testing.assert_array_equal(out[:shape.m, :shape.n], systolic_golden(config, a, w))


def test_runs_split_m_by_buffer_depth():
    config = SystolicConfig(rows=2, cols=2, dataflow="ws", depth=4)
    runs = SystolicTiler(config).runs(GemmShape(10, 3, 5))
    assert [(r.rows, len(r.blocks)) for r in runs] == [(4, 4), (2, 2)]
    assert [r.params for r in runs] == [{"k": 5, "m": 4}, {"k": 5, "m": 2}]
    assert SystolicTiler(SystolicConfig(dataflow="os")).runs(GemmShape(10, 3, 5))[0].rows == 4


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_performance_model(dataflow):
    config = SystolicConfig(rows=8, cols=4, dataflow=dataflow, depth=64)
    perf = SystolicPerf(config)
    assert perf.peak_macs_per_cycle == 32
    big = GemmShape(64, 64, 64)
    assert 0.9 < perf.utilization(big) <= 1.0
    assert perf.gemm_cycles(GemmShape(64, 64, 65)) > perf.gemm_cycles(big)
    assert perf.utilization(GemmShape(1, 1, 1)) < 0.05
    deeper = SystolicPerf(SystolicConfig(rows=8, cols=4, dataflow=dataflow, depth=128))
    assert (deeper.storage_bits > perf.storage_bits) == (dataflow == "ws")
    assert perf.storage_bits > 8 * 4 * (config.a.bits + config.w.bits + config.acc)


@pytest.mark.parametrize("values, field, allowed", [
    ({"rows": 0}, "rows", "1..128"),
    ({"cols": 129}, "cols", "1..128"),
    ({"dataflow": "is"}, "dataflow", "ws, os"),
    ({"a": "int8", "w": "int8", "acc": 15}, "acc", "at least 16 bits"),
    ({"a": "int17"}, "a", "int1..int16"),
    ({"depth": 0}, "depth", "1..65536"),
    ({"mul": "dsp"}, "family", "allowed ecp5 (MULT18X18D) or ice40 (SB_MAC16)"),
    ({"mul": "booth"}, "mul", "infer, lut, dsp, auto"),
    ({"pack": 2}, "pack", "1 with mul=infer"),
    ({"mul": "lut", "pack": 2}, "pack", "1 with mul=lut"),
    ({"mul": "dsp", "family": "ecp5", "pack": 2}, "pack", "at most 1 for int8 × int8"),
    ({"mul": "dsp", "family": "ecp5", "w": "int4", "pack": 3}, "pack", "divisor of cols=4"),
    ({"mul": "dsp", "family": "ecp5", "w": "int4", "pack": 4}, "pack", "at most 2"),
    ({"mul": "dsp", "family": "ice40", "a": "int16"}, "a", "at most 8 bits"),
    ({"mul": "dsp", "family": "ecp5", "mul_stages": 4}, "mul_stages", "at most 3"),
    ({"mul": "auto", "family": "ecp5"}, "dsp_blocks", "at least 1 with mul=auto"),
    ({"dsp_blocks": 4}, "dsp_blocks", "0 unless mul=auto"),
    ({"mul": "lut", "family": "ice40"}, "family", "generic or ecp5 with mul=lut"),
    ({"mul": "lut", "a": "fp8_e4m3", "acc": 40}, "mul", "infer for minifloat operands"),
    ({"mul_stages": 1}, "mul_stages", "0 with mul=infer"),
])
def test_bad_configs(values, field, allowed):
    with pytest.raises(ConfigError) as e:
        SystolicConfig.from_dict(values)
    assert e.value.field == field and allowed in str(e.value)


@pytest.mark.parametrize("args", [
    ["--rows", "0"], ["--cols", "129"], ["--a", "int8", "--w", "int4", "--acc", "11"],
    ["--gemm", "0x4x4"], ["--gemm", "4x4x70000"],
])
def test_cli_bad_input_exits_2_and_writes_nothing(cli, tmp_path, args):
    verb = "simulate" if "--gemm" in args else "generate"
    out_dir = tmp_path / "out"
    where = ["--run-dir", out_dir] if verb == "simulate" else ["-o", out_dir]
    code, _, err = cli(verb, "systolic", *args, *where)
    assert code == 2 and err.count("\n") == 1 and "is not allowed" in err
    assert not out_dir.exists()


def test_cli_generate_systolic(cli, tmp_path):
    code, out, _ = cli("generate", "systolic", "--rows", "8", "--cols", "8", "--dataflow", "ws",
                       "--a", "int8", "--w", "int4", "--acc", "24", "-o", tmp_path)
    assert code == 0, out
    manifest = json.loads(next(tmp_path.glob("*.json")).read_text())
    ports = {p["name"]: p["width"] for p in manifest["ports"]}
    assert ports["a__payload"] == 8 * 8 and ports["w__payload"] == 8 * 4
    assert ports["result__payload"] == 8 * 24 and ports["k"] == 16 and ports["m"] == 9
    assert (tmp_path / manifest["verilog"]["file"]).read_text().startswith("/*")


@pytest.mark.parametrize("config", [
    SystolicConfig(rows=1, cols=1, dataflow="ws", a="uint4", w="int2", acc=8, depth=4),
    SystolicConfig(rows=3, cols=2, dataflow="ws", a="int16", w="uint5", acc=24, depth=8,
                   mul_reg=True),
    SystolicConfig(rows=4, cols=3, dataflow="os", a="int8", w="int4", acc=20, mul_reg=True),
    SystolicConfig(rows=2, cols=3, dataflow="ws", a="int8", w="int4", acc=16, depth=40,
                   mul_reg=True, family="ecp5", fanout=0),
], ids=lambda c: c.name)
def test_storage_model_counts_the_flip_flops_yosys_finds(config, tmp_path):
    """storage_bits = flip-flop bits after `proc; flatten; opt_clean` + the ws buffer's rows
    (+ on ECP5 the DP16KDs' read latch and output register, inside the blocks)."""
    import re
    import subprocess

    from lowbit.hw.verilog import generate
    from lowbit.tools import require_tool

    (tmp_path / "core.v").write_text(generate(config).verilog)
    yosys = require_tool("yosys")
    script = (f"read_verilog -lib +/ecp5/cells_bb.v; read_verilog core.v; "
              f"hierarchy -top {config.name}; proc; flatten; opt_clean; "
              "tee -q -o stat.txt stat -width")
    subprocess.run([*yosys.command, "-q", "-p", script], cwd=tmp_path, env=yosys.environ(),
                   check=True, capture_output=True, timeout=300)
    stat = (tmp_path / "stat.txt").read_text()
    flops = sum(int(n) * int(w) for n, w in re.findall(r"(\d+)\s+\$\w*dff\w*_(\d+)", stat))
    row = config.cols * config.acc
    buffer = config.depth * row if config.dataflow == "ws" else 0
    if config.family == "ecp5":
        assert "DP16KD" in stat
        buffer += 2 * row
    assert flops > 0 and SystolicPerf(config).storage_bits == flops + buffer
