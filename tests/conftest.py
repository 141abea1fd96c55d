"""Shared fixtures: the CLI run in-process, and one simulation per config per session."""

from __future__ import annotations

import os
import random

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


def pytest_configure(config):
    """One varying fuzz seed per run, shared with xdist's workers through the environment
    (they start after this, from the controller's environment)."""
    if not hasattr(config, "workerinput"):
        os.environ.setdefault("LOWBIT_FUZZ_SEED", str(random.randrange(1 << 32)))


def pytest_report_header(config):
    return (f"lowbit fuzz seed: {os.environ.get('LOWBIT_FUZZ_SEED')} "
            "(repeat with LOWBIT_FUZZ_SEED=<seed>)")


# The FPGA flow's runs, shared by the test_flow_* files (cached by content hash, so a second
# worker or a second session reuses them).
FLOW_CONFIG = {"a": "int8", "w": "int4", "acc": 24}   # the demo's small MAC


@pytest.fixture(scope="session")
def flow_config():
    from lowbit.registry import get_kind

    return get_kind("mac").config.from_dict(FLOW_CONFIG)


#: session fixtures: two out-of-context runs and one bitstream per FPGA family
FLOW_RUNS = {
    "ooc_ice40": {"device": "ice40-up5k"},
    "ooc_ecp5": {"device": "ecp5-85f"},
    "bitstream_ice40": {"board": "ice40-hx8k-evb"},
    "bitstream_ecp5": {"board": "ulx3s-25f"},
}


def _flow_run(fixture: str, target: dict):
    @pytest.fixture(scope="session", name=fixture)
    def run(tmp_path_factory, flow_config):
        from lowbit.boards.steps import Target
        from lowbit.flow import implement

        return implement(flow_config, Target.parse(**target),
                         out=tmp_path_factory.mktemp(fixture) / "run")
    return run


for _fixture, _target in FLOW_RUNS.items():
    globals()[_fixture] = _flow_run(_fixture, _target)
