"""Simulating a board self-test top: the core and :class:`SelfTestTop` in one Verilator model,
driven by ``lowbit.sim.tb_selftest`` until it latches passed or failed (shared by the
self-test tests)."""

from amaranth.back import verilog

from lowbit.boards.board_top import SIM_TOP
from lowbit.boards.selftest import SelfTestTop
from lowbit.hw.interface import CoreInterface
from lowbit.hw.verilog import generate
from lowbit.sim import bench, runner


def simulate_top(config, expect, run_dir):
    core = generate(config)
    top = SelfTestTop(CoreInterface.from_manifest(core.manifest), expect)
    text = verilog.convert(top, name=SIM_TOP, ports=top.ports(), emit_src=False)
    build = runner.build(core.verilog + text, SIM_TOP, opt="O0")   # a short run
    return runner.run(build, "lowbit.sim.tb_selftest", run_dir,
                      env=bench.environment(config, expect.to_dict()))
