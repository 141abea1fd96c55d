"""Faults in the flow: a missed timing target, a design that does not fit, a tool crash, bad
input. Each names the step, quotes the tool's key lines, points at the full log, exits non-zero
and leaves no report claiming success."""

import dataclasses
import os
import re
import stat

import pytest

from lowbit.boards import devices
from lowbit.tools import TOOLS, Tool, find_tool

MAC = ["mac", "--a", "int8", "--w", "int4", "--acc", "24"]


def _error_log(err: str):
    from pathlib import Path

    line = next(x for x in err.splitlines() if x.startswith("full log: "))
    return Path(line.removeprefix("full log: "))


def test_missed_timing_target_replaces_an_old_report(cli, tmp_path):
    out = tmp_path / "run"
    assert cli("synth", *MAC, "--device", "ice40-up5k", "-o", out)[0] == 0
    assert (out / "report.json").is_file()
    code, _, err = cli("synth", *MAC, "--device", "ice40-up5k", "--freq", "500", "-o", out)
    assert code == 1
    assert err.startswith("lowbit: error: timing failed: ")
    assert "target 500.00 MHz; critical path" in err
    assert _error_log(err) == out / "nextpnr.log" and _error_log(err).is_file()
    assert not (out / "report.json").exists()


def test_design_that_does_not_fit(cli, tmp_path, monkeypatch):
    tiny = dataclasses.replace(devices.DEVICES["ice40-up5k"],
                               datasheet={"luts": 40, "ffs": 60, "dsp": 8, "bram": 30})
    monkeypatch.setitem(devices.DEVICES, "ice40-up5k", tiny)
    code, _, err = cli("synth", *MAC, "--device", "ice40-up5k", "-o", tmp_path / "run")
    assert code == 1
    assert "fit failed: mac_int8_int4_acc24_wrap_k16 does not fit ice40-up5k: it needs" in err
    need = re.search(r"needs (\d+) LUT4s where ice40-up5k has 40; (\d+) flip-flops where "
                     r"ice40-up5k has 60", err)
    assert need and int(need[1]) > 40 and int(need[2]) > 60
    assert _error_log(err).name == "yosys.log" and _error_log(err).is_file()
    assert not (tmp_path / "run" / "report.json").exists()


def test_tool_crash(cli, tmp_path, monkeypatch):
    import lowbit.flow as flow

    script = tmp_path / "nextpnr-ice40"
    script.write_text("#!/bin/sh\n"
                      'if [ "$1" = "--version" ]; then\n'
                      '  echo "nextpnr-ice40 (Version 0.99)"; exit 0\n'
                      'fi\n'
                      'echo "Info: reading the design"\n'
                      'echo "ERROR: simulated router crash" >&2\nexit 3\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    real = flow.tools_for

    def tools(target, prefer):
        found = real(target, prefer)
        found["nextpnr-ice40"] = Tool(TOOLS["nextpnr-ice40"], (str(script),), f"native {script}")
        return found

    monkeypatch.setattr(flow, "tools_for", tools)
    code, _, err = cli("synth", *MAC, "--device", "ice40-up5k", "-o", tmp_path / "run")
    assert code == 1
    assert "pnr failed: nextpnr-ice40 exited with code 3" in err
    assert "\n  ERROR: simulated router crash\n" in err
    assert _error_log(err) == tmp_path / "run" / "nextpnr.log"
    assert (tmp_path / "run" / "yosys.log").is_file()          # the steps before it are kept
    assert not (tmp_path / "run" / "report.json").exists()


@pytest.mark.parametrize("args,message", [
    (["synth", *MAC, "--device", "virtex7"], "device='virtex7' is not allowed; known devices: "),
    (["build", *MAC, "--board", "arty"], "board='arty' is not allowed; known boards: icebreaker"),
    (["synth", *MAC], "the following arguments are required: --device"),
    (["synth", *MAC, "--device", "ecp5-85f", "--freq", "-3"], "freq=-3.0 is not allowed"),
    (["synth", *MAC, "--device", "ecp5-85f", "--tools", "conda"], "invalid choice: 'conda'"),
    (["synth", *MAC, "--device", "ecp5-85f", "--router", "fast"], "invalid choice: 'fast'"),
    (["synth", "mac", "--a", "int40", "--device", "ecp5-85f"], "a='int40' is not allowed"),
    (["compare", "/nonexistent/report.json"], "report /nonexistent/report.json does not exist"),
])
def test_bad_input_is_one_line_exit_2(cli, tmp_path, args, message):
    code, _, err = cli(*args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_build_of_a_config_without_a_self_test(cli, tmp_path):
    code, _, err = cli("build", "blockdot", "--output", "block", "--board", "icebreaker",
                       "-o", tmp_path / "b")
    assert code == 2 and "fp32 for a board self-test" in err
    assert not (tmp_path / "b" / "report.json").exists()


def _fake_tool(folder, name, version_line):
    folder.mkdir(exist_ok=True)
    exe = folder / name
    exe.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def test_native_tools_only_when_new_enough(tmp_path, monkeypatch):
    old = _fake_tool(tmp_path / "old", "yosys", "Yosys 0.9 (git sha1 1979e0b)")
    new = _fake_tool(tmp_path / "new", "yosys", "Yosys 0.52 (git sha1 fee39a3)")
    monkeypatch.setenv("PATH", f"{old.parent}{os.pathsep}{os.environ['PATH']}")
    assert find_tool("yosys", "native").source.startswith("PyPI")    # too old: passed over
    monkeypatch.setenv("PATH", f"{new.parent}{os.pathsep}{os.environ['PATH']}")
    assert find_tool("yosys", "native").source == f"native {new}"
    assert find_tool("yosys", "pypi").source.startswith("PyPI")


def test_native_preference_falls_back_to_pypi(cli, tmp_path):
    code, out, _ = cli("synth", *MAC, "--device", "ice40-up5k", "--tools", "native",
                       "-o", tmp_path / "n")
    assert code == 0 and "Fmax" in out


def test_a_router_nextpnr_lacks_is_refused():
    from lowbit.boards.steps import FlowOptions
    from lowbit.errors import UsageError

    with pytest.raises(UsageError, match="router='fast' is not allowed; one of auto, router1, "
                                         "router2"):
        FlowOptions(router="fast")
