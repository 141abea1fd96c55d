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
