"""Boards, devices and the FPGA flow (Yosys → nextpnr → icepack/ecppack) for any core kind.

* :mod:`~lowbit.boards.devices` — FPGA families and parts: synthesis, nextpnr options, totals
* :mod:`~lowbit.boards.platforms` — the boards, on amaranth-boards platforms
* :mod:`~lowbit.hw.interface` — a generated core's streams and parameters, from its manifest
* :mod:`~lowbit.boards.harness` — the out-of-context harness (every port behind a flip-flop)
* :mod:`~lowbit.boards.selftest`, :mod:`~lowbit.boards.board_top` — the on-chip self-test
* :mod:`~lowbit.boards.flow` — the steps, their cache and their errors
* :mod:`~lowbit.boards.report` — the tools' JSON outputs read into one report
"""
