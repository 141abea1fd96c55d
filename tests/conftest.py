"""Shared fixtures: the CLI run in-process, and one simulation per config per session."""

from __future__ import annotations

import pytest

from lowbit.cli import main


@pytest.fixture
def cli(capsys):
    """Run ``lowbit ARGS...`` in-process; returns (exit code, stdout, stderr)."""
    def run(*args: str):
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


# The FPGA flow's runs, shared by the test_flow_* files (cached by content hash, so a second
# worker or a second session reuses them).
FLOW_CONFIG = {"a": "int8", "w": "int4", "acc": 24}   # the demo's small MAC


@pytest.fixture(scope="session")
def flow_config():
    from lowbit.registry import get_kind

    return get_kind("mac").config.from_dict(FLOW_CONFIG)


def _implement(tmp_path_factory, config, **target):
    from lowbit.boards.flow import Target, implement

    name = target.get("device") or target.get("board")
    return implement(config, Target.parse(**target), out=tmp_path_factory.mktemp(name) / "run")


@pytest.fixture(scope="session")
def ooc_ice40(tmp_path_factory, flow_config):
    return _implement(tmp_path_factory, flow_config, device="ice40-up5k")


@pytest.fixture(scope="session")
def ooc_ecp5(tmp_path_factory, flow_config):
    return _implement(tmp_path_factory, flow_config, device="ecp5-85f")


@pytest.fixture(scope="session")
def bitstream_ice40(tmp_path_factory, flow_config):
    return _implement(tmp_path_factory, flow_config, board="ice40-hx8k-evb")


@pytest.fixture(scope="session")
def bitstream_ecp5(tmp_path_factory, flow_config):
    return _implement(tmp_path_factory, flow_config, board="ulx3s-25f")
