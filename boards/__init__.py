"""Boards, devices and the FPGA flow's steps (Yosys → nextpnr → icepack/ecppack/gowin_pack) for
any core.

* :mod:`~lowbit.boards.devices` — FPGA families and parts: synthesis, nextpnr options, totals
* :mod:`~lowbit.boards.gowin` — Gowin parts from Apicula's chip database: totals, pins
* :mod:`~lowbit.boards.platforms` — the boards, on amaranth-boards platforms
* :mod:`~lowbit.boards.harness` — the out-of-context harness (every port behind a flip-flop)
* :mod:`~lowbit.boards.selftest`, :mod:`~lowbit.boards.board_top` — the on-chip self-test
* :mod:`~lowbit.boards.engine_top` — the GEMM engine on a board's pins
* :mod:`~lowbit.boards.steps` — the tool steps and their errors
* :mod:`~lowbit.boards.report` — the tools' JSON outputs read into one report

The pipeline that runs the steps, caches and publishes a run is :mod:`lowbit.flow`.
"""
