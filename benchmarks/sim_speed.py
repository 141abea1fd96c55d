"""Simulation speed: a 16×16 INT8 weight-stationary array on a 256×256×256 GEMM, checked
bit-exactly, through the bulk stream harness, through the per-beat cocotb drivers, and as the
ceiling a bare Verilator C++ loop around the same core; Icarus too when it is installed.

Per path it prints the build time (apart: a cached build costs nothing), the GEMM test's wall
time (stimulus, simulation, read-back and the golden check: cocotb's time of the test), the
simulated cycles of the test (the GEMM's cycles, counted as the performance model counts them,
in brackets) and cycles per second, and the CPU seconds of the GEMM itself (the simulator and
the testbench share one process: ``time.process_time``; the bare loop's ``std::clock``) with
GEMM cycles per CPU-second, which a loaded machine disturbs less than wall time; then the
ratios bulk / bare and bulk / per-beat, per CPU-second and by wall clock. The bulk, per-beat
and bare paths run ``--repeat`` times (default 3), interleaved: the table holds each figure's
median and the spread of cycles per CPU-second, and each ratio is the median of the ratios of
runs made back to back (on a shared machine a core's speed drifts by ±20% over minutes, so
a pair measured together sees about the same machine; every run is listed). The bare
loop is built here from the core's manifest (random beats on every input stream at full rate,
every result taken, one thread, ``-O2``) and is never checked: it is the model's own speed.
Goals: bulk ≥ 50 % of the bare loop; with ``--large``, a 1024×1024×1024 GEMM in bulk, checked,
in under 2 minutes.

    python benchmarks/sim_speed.py [--quick] [--large] [--repeat 3] [--rows 16 --cols 16]
        [--gemm 256x256x256] [--per-beat-gemm MxNxK] [--icarus-gemm MxNxK]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

from lowbit.cache import cached_dir, digest
from lowbit.commands.common import console
from lowbit.hw.interface import CoreInterface
from lowbit.hw.verilog import GeneratedCore, generate
from lowbit.kinds.systolic import SystolicConfig
from lowbit.models.perf import GemmShape
from lowbit.models.systolic import SystolicTiler
from lowbit.sim import bulk, runner
from lowbit.simulate import simulate
from lowbit.tools import require_tool, tool_version

LARGE = GemmShape(1024, 1024, 1024)


# --- the bare loop ---------------------------------------------------------------------------

def _member(port: str) -> str:
    """The C++ member Verilator names a port (``__`` is escaped as ``___05F``)."""
    return port.replace("__", "___05F")


def _random_value(port, width: int) -> list[str]:
    """C++ statements giving ``port`` a random value of ``width`` bits."""
    name = f"top->{_member(port)}"
    if width > 64:
        words = -(-width // 32)
        top_bits = width - 32 * (words - 1)
        return [f"for (int i = 0; i < {words}; i++) {name}[i] = rnd();",
                f"{name}[{words - 1}] &= 0x{(1 << top_bits) - 1:x}u;"]
    mask = f"0x{(1 << width) - 1:x}ull"
    return [f"{name} = ((uint64_t(rnd()) << 32) | rnd()) & {mask};"]


def bare_loop_source(iface: CoreInterface, params: dict[str, int]) -> str:
    """A C++ main around the Verilated core: parameters set, reset, then ``argv[1]`` cycles
    of random beats offered on every input stream with every result taken; prints the rate."""
    body = []
    for st in iface.inputs:
        body.append(f"top->{_member(st.name + '__valid')} = 1;")
        if st.width:
            body += _random_value(f"{st.name}__payload", st.width)
    ready = [f"top->{_member(st.name + '__ready')} = 1;" for st in iface.results]
    count = " + ".join(f"top->{_member(st.name + '__valid')}" for st in iface.results)
    setup = [f"top->{_member(name)} = {value};" for name, value in params.items()]
    lines = [
        '#include "Vcore.h"', '#include "verilated.h"', "#include <chrono>", "#include <cstdint>",
        "#include <cstdio>", "#include <cstdlib>", "#include <ctime>",
        "static uint64_t state = 0x9E3779B97F4A7C15ull;",
        "static inline uint32_t rnd() {",
        "    state ^= state << 13; state ^= state >> 7; state ^= state << 17;",
        "    return uint32_t(state);", "}",
        "int main(int argc, char** argv) {",
        "    const long cycles = atol(argv[1]);",
        "    Verilated::commandArgs(argc, argv);",
        "    Vcore* top = new Vcore;",
        *(f"    {s}" for s in setup + ready),
        "    top->rst = 1;",
        "    for (int i = 0; i < 4; i++) { top->clk = !top->clk; top->eval(); }",
        "    top->rst = 0;",
        "    long results = 0;",
        "    auto start = std::chrono::steady_clock::now();",
        "    std::clock_t cpu = std::clock();",
        "    for (long c = 0; c < cycles; c++) {",
        *(f"        {s}" for s in body),
        "        top->clk = 0; top->eval();",
        f"        results += {count};",
        "        top->clk = 1; top->eval();",
        "    }",
        "    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)"
        ".count();",
        "    double cpu_s = double(std::clock() - cpu) / CLOCKS_PER_SEC;",
        '    printf("cycles %ld seconds %.6f cpu %.6f results %ld\\n", cycles, s, cpu_s, results);',
        "    delete top;",
        "    return 0;",
        "}", ""]
    return "\n".join(lines)


def build_bare(core: GeneratedCore, params: dict[str, int]) -> tuple[Path, float, bool]:
    """The bare loop's binary (cached by its sources and the Verilator version); returns
    (binary, build seconds, cached)."""
    tool = require_tool("verilator")
    source = bare_loop_source(CoreInterface.from_manifest(core.manifest), params)
    flags = ["-Wno-fatal", "-Wno-lint", "-CFLAGS", "-O2"]
    key = digest("bare-loop", core.verilog, source, flags, tool_version(tool))
    started = time.monotonic()

    def compile_into(tmp: Path) -> None:
        (tmp / "core.v").write_text(core.verilog)
        (tmp / "main.cpp").write_text(source)
        env = {**tool.environ(), **runner.OBJCACHE}
        done = subprocess.run(
            [*tool.command, "--cc", "--exe", "--build", *flags, "--top-module", core.name,
             "--prefix", "Vcore", "-Mdir", str(tmp / "obj"), "-o", "bare", "core.v", "main.cpp"],
            cwd=tmp, env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"the bare loop did not build:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        shutil.move(tmp / "obj" / "bare", tmp / "bare")
        shutil.rmtree(tmp / "obj")

    path, hit = cached_dir("bench-bare-loop", key, compile_into)
    return path / "bare", time.monotonic() - started, hit


def run_bare(binary: Path, cycles: int) -> dict:
    out = subprocess.run([str(binary), str(cycles)], capture_output=True, text=True, check=True)
    found = re.search(r"cycles (\d+) seconds ([\d.]+) cpu ([\d.]+)", out.stdout)
    ran, seconds, cpu = int(found[1]), float(found[2]), float(found[3])
    return {"path": "bare loop (C++)", "cycles": ran, "test_s": seconds, "cpu_s": cpu,
            "rate": ran / seconds, "cpu_rate": ran / cpu, "checked": "-"}


# --- the cocotb paths ------------------------------------------------------------------------

def run_cocotb(config: SystolicConfig, shape: GemmShape, streams: str, simulator: str,
               out) -> dict:
    label = f"{'bulk' if streams == 'bulk' else 'per-beat'} ({simulator})"
    with out.status(f"{label}: GEMM {shape} ({shape.macs:,} MACs)"), \
            tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        result = simulate(config, simulator=simulator, run_dir=Path(tmp), testcase="gemm_tiled",
                          options={"gemm": [shape.m, shape.n, shape.k], "streams": streams},
                          opt="O2")
        process = time.monotonic() - started
    (outcome,) = result.run.outcomes
    record = next((r for r in result.run.records if r.get("test") == "gemm_tiled"), {})
    cycles = int(outcome.sim_time_ns // runner.CLOCK_PERIOD_NS)
    gemm_cycles, cpu = record.get("cycles", 0), record.get("cpu_s", 0.0)
    return {"path": label, "gemm": shape, "cycles": cycles, "gemm_cycles": gemm_cycles,
            "model": record.get("model_cycles"), "test_s": outcome.real_time_s, "cpu_s": cpu,
            "process_s": process, "rate": cycles / outcome.real_time_s,
            "cpu_rate": gemm_cycles / cpu if cpu else 0.0,
            "checked": "yes" if result.passed else "NO", "failures": result.run.failures}


def build_time(config: SystolicConfig, simulator: str, out) -> tuple[float, bool]:
    with out.status(f"{simulator}: building the harness model (cached after the first time)"):
        _, build = bulk.build(generate(config), simulator)
    return build.seconds, build.cached


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _spread(values: list[float], fmt: str) -> str:
    """``min–max`` of a figure over the repeats (one value: just it)."""
    if len(values) < 2:
        return format(values[0], fmt) if values else "-"
    return f"{format(min(values), fmt)}–{format(max(values), fmt)}"


def repeated(runs: list[dict]) -> dict:
    """One row of the table from the repeats of a path: the medians of its figures, the
    spread of cycles per CPU-second, checked only if every repeat was."""
    row = dict(runs[0])
    for key in ("test_s", "cpu_s", "process_s", "rate", "cpu_rate"):
        if key in row:
            row[key] = _median([r[key] for r in runs])
    row["cpu_rates"] = [r["cpu_rate"] for r in runs]
    row["checked"] = "NO" if any(r["checked"] == "NO" for r in runs) else runs[0]["checked"]
    row["failures"] = [f for r in runs for f in r.get("failures", [])]
    return row


def ratios(num: list[dict], den: list[dict], key: str) -> list[float]:
    """Per repeat, ``key`` of one path over the other's, each pair measured back to back (a
    loaded machine's speed drifts over minutes: a pair sees about the same machine)."""
    return [a[key] / b[key] for a, b in zip(num, den, strict=True) if b[key]]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=16)
    p.add_argument("--cols", type=int, default=16)
    p.add_argument("--gemm", default="256x256x256", help="MxNxK of the bulk path and the bare "
                   "loop's cycles (default 256x256x256)")
    p.add_argument("--per-beat-gemm", help="a smaller MxNxK for the per-beat path (default: "
                   "the same GEMM)")
    p.add_argument("--icarus-gemm", default="32x32x32", help="MxNxK under Icarus, bulk path "
                   "(default 32x32x32)")
    p.add_argument("--repeat", type=int, default=3, help="runs of the bulk, per-beat and bare "
                   "paths, interleaved (default 3): medians, spreads and per-run ratios")
    p.add_argument("--quick", action="store_true", help="a 4×4 array: 128x128x128 in bulk, "
                   "64x64x64 per beat, 32x32x32 under Icarus")
    p.add_argument("--large", action="store_true",
                   help=f"also a {LARGE} GEMM in bulk (goal: under 2 minutes, checked)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error(f"--repeat {args.repeat} is not allowed; it must be at least 1")
    if args.quick:
        args.rows = args.cols = 4
        args.gemm, args.per_beat_gemm, args.icarus_gemm = "128x128x128", "64x64x64", "32x32x32"
    out = console()
    shape = GemmShape.parse(args.gemm)
    config = SystolicConfig(rows=args.rows, cols=args.cols, dataflow="ws", a="int8", w="int8",
                            acc=32, depth=256)
    out.print(f"{config.name}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
              f"on {os.cpu_count()} cores")

    builds = {"verilator": build_time(config, "verilator", out)}
    core = generate(config)
    params = dict(SystolicTiler(config).runs(shape)[0].params)
    with out.status("building the bare Verilator loop (cached after the first time)"):
        binary, bare_s, bare_cached = build_bare(core, params)

    per_beat = GemmShape.parse(args.per_beat_gemm) if args.per_beat_gemm else shape
    runs: dict[str, list[dict]] = {"bulk": [], "beats": [], "bare": []}
    for _ in range(args.repeat):
        runs["bulk"].append(run_cocotb(config, shape, "bulk", "verilator", out))
        runs["beats"].append(run_cocotb(config, per_beat, "beats", "verilator", out))
        with out.status("bare Verilator loop"):
            runs["bare"].append(run_bare(binary, max(runs["bulk"][-1]["cycles"], 200_000)))
    rows = [repeated(runs[path]) for path in ("bulk", "beats", "bare")]
    if shutil.which("iverilog"):
        builds["icarus"] = build_time(config, "icarus", out)
        rows.append(repeated([run_cocotb(config, GemmShape.parse(args.icarus_gemm), "bulk",
                                         "icarus", out)]))
    else:
        out.print("Icarus: skipped, iverilog is not installed (apt-get install iverilog)")
    if args.large:
        rows.append(repeated([run_cocotb(config, LARGE, "bulk", "verilator", out)]))

    table = Table(title=f"{config.name}: simulation speed (GEMMs bit-exact against the golden "
                        f"model; medians of {args.repeat} runs where repeated)")
    for col in ("path", "GEMM", "cycles (GEMM)", "model", "test s", "cycles/s", "CPU s",
                "cycles/CPU-s", "spread", "process s", "exact"):
        table.add_column(col, justify="left" if col in ("path", "GEMM") else "right")
    for r in rows:
        gemm = r.get("gemm")
        table.add_row(r["path"], str(gemm) if gemm else "random beats",
                      f"{r['cycles']:,}" + (f" ({r['gemm_cycles']:,})" if gemm else ""),
                      f"{r['model']:,}" if gemm else "-", f"{r['test_s']:.2f}",
                      f"{r['rate']:,.0f}", f"{r['cpu_s']:.2f}", f"{r['cpu_rate']:,.0f}",
                      _spread(r["cpu_rates"], ",.0f"),
                      f"{r['process_s']:.1f}" if gemm else "-", r["checked"])
    out.print(table)
    build_line = ", ".join(f"{sim} harness model {'cached' if hit else f'{s:.1f} s'}"
                           for sim, (s, hit) in builds.items())
    out.print(f"builds: {build_line}; bare loop {'cached' if bare_cached else f'{bare_s:.1f} s'}")
    for den, label, fmt, unit, goal in (("bare", "bulk / bare loop", ".0%", "",
                                          "; goal: at least 50%"),
                                         ("beats", "bulk / per-beat", ".1f", "x", "")):
        cpu = ratios(runs["bulk"], runs[den], "cpu_rate")
        wall = ratios(runs["bulk"], runs[den], "rate")
        out.print(f"{label}: {format(_median(cpu), fmt)}{unit} per CPU-second (runs: "
                  f"{', '.join(format(x, fmt) + unit for x in cpu)}), "
                  f"{format(_median(wall), fmt)}{unit} by wall clock{goal}")
    if args.large:
        large = rows[-1]
        out.print(f"{LARGE} in bulk: {large['test_s']:.1f} s in the test "
                  f"({large['cpu_s']:.1f} CPU-s), {large['process_s']:.1f} s with start-up "
                  "(goal: under 120 s, checked)")
    failures = [f"{r['path']}: {f}" for r in rows for f in r.get("failures", [])]
    for failure in failures:
        out.print(f"FAIL {failure}", style="red", markup=False)
    return 0 if not failures and all(r["checked"] != "NO" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
