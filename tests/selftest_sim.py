"""Simulating a board self-test top: the core and :class:`SelfTestTop` in one Verilator model,
driven by ``lowbit.boards.tb_selftest`` until it latches passed or failed (shared by the
self-test tests of every kind)."""

import json

from lowbit.boards.board_top import SIM_TOP
from lowbit.hw.interface import CoreInterface
from lowbit.boards.selftest import SelfTestTop
from lowbit.hw.verilog import generate
from lowbit.sim import runner


def simulate_top(config, expect, run_dir):
    from amaranth.back import verilog

    core = generate(config)
    top = SelfTestTop(CoreInterface.from_manifest(core.manifest), expect)
    text = verilog.convert(top, name=SIM_TOP, ports=top.ports(), emit_src=False)
    build = runner.build(core.verilog + text, SIM_TOP)
    return runner.run(build, "lowbit.boards.tb_selftest", run_dir, env={
        "LOWBIT_CONFIG": json.dumps(config.to_dict()),
        "LOWBIT_OPTIONS": json.dumps(expect.to_dict())})
