"""Every config the validator accepts is fuzzed through the RTL; every one it refuses is refused
with a clear error.

The strategies come from the configs' own field declarations (:mod:`config_strategies`). A drawn
config is generated, built with Verilator and run through its kind's whole cocotb testbench
(random, extreme and back-pressured GEMMs against the golden model); a failure shrinks to a
minimal config and is reported as the ``lowbit simulate`` command that reproduces it.

Per kind, the default suite runs one config drawn from a fixed seed (its build is cached after
the first run on a machine) and one from the run's varying seed, printed in pytest's header
(``LOWBIT_FUZZ_SEED=N`` repeats a run). ``pytest -m slow`` runs :data:`SLOW_EXAMPLES` configs
per kind from the same seed.

The slow campaign runs in parts: a part is one kind, a seed and a number of configs, e.g.::

    LOWBIT_FUZZ_SEED=101 LOWBIT_FUZZ_EXAMPLES=40 LOWBIT_FUZZ_LOG=fuzz.jsonl nice -n 19 \
        pytest -m slow tests/test_fuzz_configs.py -k 'many_configs and systolic'

A part's configs are distinct; the same seed and count draw the same ones again (the seed fixes
hypothesis's draws), and parts with distinct seeds draw different ones but for a few of the
simplest, which every part starts with; so parts add up, e.g. five of 40 configs to about the 200
per kind. ``LOWBIT_FUZZ_LOG`` appends one JSON line per simulated config (kind, seed, config
name, the ``lowbit simulate`` command, passed, seconds): the tally across parts and sessions,
counted by distinct config (a failing config's shrink steps are logged too, ``passed`` false).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import pytest
from config_strategies import (
    accepted_configs,
    bad_values,
    clear_error,
    config_values,
    construct,
    drawn_names,
    simulate_command,
)
from hypothesis import HealthCheck, assume, given, seed, settings
from hypothesis import strategies as st

from lowbit.config import CoreConfig
from lowbit.errors import ConfigError
from lowbit.models.perf import GemmShape
from lowbit.registry import get_kind, kinds
from lowbit.simulate import simulate

KINDS = sorted(kinds())
#: configs per kind under ``pytest -m slow``
SLOW_EXAMPLES = 200
#: the fixed part's seed (its configs never change, so their builds stay cached)
FIXED_SEED = 20


def fuzz_seed() -> int:
    """The varying part's seed: ``LOWBIT_FUZZ_SEED`` (set once per run by conftest.py)."""
    return int(os.environ.get("LOWBIT_FUZZ_SEED", "0"))


def fuzz_examples() -> int:
    """Configs per kind of a slow run: ``LOWBIT_FUZZ_EXAMPLES`` (one part of the campaign), else
    :data:`SLOW_EXAMPLES`."""
    text = os.environ.get("LOWBIT_FUZZ_EXAMPLES", str(SLOW_EXAMPLES))
    if not text.isdigit() or int(text) < 1:
        raise pytest.UsageError(f"LOWBIT_FUZZ_EXAMPLES={text!r} is not allowed; allowed: a "
                                "whole number of configs per kind, at least 1")
    return int(text)


def log_case(config: CoreConfig, command: str, passed: bool, seconds: float) -> None:
    """Append the simulated config to ``LOWBIT_FUZZ_LOG`` (one JSON line), when it is set."""
    path = os.environ.get("LOWBIT_FUZZ_LOG")
    if path:
        line = json.dumps({"kind": config.KIND, "seed": fuzz_seed(), "config": config.name,
                           "command": command, "passed": passed, "seconds": round(seconds, 2)})
        with open(path, "a") as log:
            log.write(line + "\n")


# --- the validator: no builds -----------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_drawn_values_are_accepted_or_clearly_refused(kind, data):
    values = data.draw(config_values(kind))
    config = construct(kind, values)
    if isinstance(config, ConfigError):
        assert clear_error(config, kind) is None, f"{config}: {clear_error(config, kind)}"
        return
    again = get_kind(kind).config.from_dict(config.to_dict())
    assert again == config and again.hash == config.hash


#: field values of the research datapaths (issue 17: OliVe pairs, ternary/binary weights on the
#: add/subtract PE, MixPE's group scales, BitMoD's types and bit-serial dequantization), each
#: forced into drawn configs so that their cross-field rules are fuzzed, not only reached by luck
FORCED = [("systolic", "a", "olive4"), ("systolic", "w", "olive4"), ("systolic", "w", "ternary"),
          ("systolic", "mul", "addsub"), ("systolic", "scale", "pow2"), ("mac", "w", "binary"),
          ("mac", "mul", "addsub"), ("bitserial", "w", "bitmod3"), ("bitserial", "w", "bitmod4"),
          ("bitserial", "scale", "serial")]


@pytest.mark.parametrize("kind, name, value", FORCED)
@settings(max_examples=25, deadline=None, database=None)
@given(data=st.data())
def test_research_fields_are_drawn_and_their_rules_hold(kind, name, value, data):
    """The strategies derived from the declarations draw each new value, and configs with it
    (the other fields drawn) are accepted and round-trip, or are refused clearly."""
    cls = get_kind(kind).config
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    assert value in drawn_names(cls, field)
    values = {**data.draw(config_values(kind)), name: value}
    config = construct(kind, values)
    if isinstance(config, ConfigError):
        assert clear_error(config, kind) is None, f"{config}: {clear_error(config, kind)}"
        return
    again = cls.from_dict(config.to_dict())
    assert again == config and again.hash == config.hash


@pytest.mark.parametrize("kind", KINDS)
def test_values_a_field_forbids_are_refused_naming_it(kind):
    """Each field set, alone, to values its declaration forbids: a ConfigError naming the
    field, never another exception and never a config."""
    cls = get_kind(kind).config
    tried = 0
    for f in dataclasses.fields(cls):
        for bad in bad_values(cls, f):
            tried += 1
            with pytest.raises(ConfigError) as info:
                cls.from_dict({f.name: bad})
            assert info.value.field == f.name, f"{f.name}={bad!r}: {info.value}"
            assert clear_error(info.value, kind) is None, str(info.value)
    assert tried >= 10 * len(dataclasses.fields(cls))


#: anything a TOML/JSON file or a flag could hold
JUNK = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                 st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=200, deadline=None, database=None)
@given(data=st.data())
def test_from_dict_takes_any_value_without_crashing(kind, data):
    """Random values of any type in random fields (and unknown keys): a config or a clear
    ConfigError, nothing else."""
    cls = get_kind(kind).config
    names = [f.name for f in dataclasses.fields(cls)]
    values = data.draw(st.dictionaries(st.sampled_from([*names, "bogus", "kind"]), JUNK,
                                       max_size=4))
    try:
        config = cls.from_dict(values)
    except ConfigError as e:
        assert clear_error(e, kind) is None or e.field in ("bogus",), str(e)
        return
    assert isinstance(config, CoreConfig)


# --- the RTL: drawn configs built and simulated ------------------------------------------------

@st.composite
def fuzz_cases(draw, kind: str) -> tuple[CoreConfig, tuple[int, int, int] | None, int]:
    """An accepted config, a small GEMM (None: the testbench's own shapes, when the config
    refuses the drawn one) and a testbench seed."""
    config = draw(accepted_configs(kind))
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 24)))
    try:
        config.check_gemm(GemmShape(*shape))
    except ConfigError:
        shape = None
    return config, shape, draw(st.integers(1, 1 << 16))


def check_in_simulation(case: tuple[CoreConfig, tuple[int, int, int] | None, int]) -> None:
    config, shape, sim_seed = case
    command = simulate_command(config, gemm=shape, seed=sim_seed)
    started, passed = time.monotonic(), False
    try:
        with tempfile.TemporaryDirectory(prefix="lowbit-fuzz-") as tmp:
            result = simulate(config, run_dir=Path(tmp), seed=sim_seed,
                              options={"gemm": list(shape)} if shape else {})
        passed = result.passed
        assert result.run.outcomes, f"no testbench test ran; repeat with: {command}"
        assert result.passed, (f"{config.name} differs from its golden model; repeat with:\n"
                               f"  {command}\n" + "\n".join(result.run.failures[:5]))
    finally:
        log_case(config, command, passed, time.monotonic() - started)


SIM_SETTINGS = settings(deadline=None, database=None, report_multiple_bugs=False,
                        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@pytest.mark.parametrize("kind", KINDS)
def test_fixed_sample_simulates_bit_exact(kind):
    seed(FIXED_SEED)(settings(SIM_SETTINGS, max_examples=1)(given(fuzz_cases(kind))(
        check_in_simulation)))()


@pytest.mark.parametrize("kind", KINDS)
def test_varying_sample_simulates_bit_exact(kind):
    seed(fuzz_seed())(settings(SIM_SETTINGS, max_examples=1)(given(fuzz_cases(kind))(
        check_in_simulation)))()


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_many_configs_simulate_bit_exact(kind):
    """A part of the campaign: :func:`fuzz_examples` distinct configs of ``kind`` from the run's
    seed. Hypothesis draws some configs more than once (its first, simplest examples; fields a
    config does not use); a config that already passed in this run is rejected (``assume``), so
    every example the budget pays for is a new config. A failing one is never rejected, so it
    shrinks as before."""
    passed: set[str] = set()

    def check_new_config(case):
        assume(case[0].hash not in passed)
        check_in_simulation(case)
        passed.add(case[0].hash)

    seed(fuzz_seed())(settings(SIM_SETTINGS, max_examples=fuzz_examples())(given(
        fuzz_cases(kind))(check_new_config)))()
    # hypothesis ends a run early, and passes it, when too many draws are refused or repeated
    assert len(passed) >= fuzz_examples(), (
        f"only {len(passed)} distinct {kind} configs were drawn and accepted, of the "
        f"{fuzz_examples()} asked (seed {fuzz_seed()}): the strategies' refusal rate is too high")


@pytest.mark.parametrize("kind", KINDS)
def test_enough_drawn_configs_are_accepted(kind):
    """At least 1 draw in 25 is a config: hypothesis ends a run early, and passes it, when too
    many draws are refused. With each field drawn from its whole range, ``systolic`` had about 1
    in 100 accepted and a slow run of 200 simulated 1 to 16 configs."""
    outcomes = []

    @seed(FIXED_SEED)
    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(config_values(kind))
    def draw(values):
        outcomes.append(isinstance(construct(kind, values), CoreConfig))

    draw()
    assert sum(outcomes) >= len(outcomes) / 25, f"{sum(outcomes)} of {len(outcomes)} accepted"


def test_a_simulate_command_reproduces_its_config(cli):
    """The printed command gives back the same config (parsed by the CLI itself)."""
    from lowbit.cli import build_parser
    from lowbit.commands.common import config_from_args

    config = get_kind("systolic").config(a="fp4_e2m1", w="int3", acc=20, rows=2, cols=3,
                                         dataflow="os", mul_reg=True, k_bits=5)
    command = simulate_command(config, gemm=(2, 3, 4), seed=9)
    assert command.startswith("lowbit simulate systolic ")
    args = build_parser().parse_args(command.split()[1:])
    assert config_from_args(args) == config and args.gemm == "2x3x4" and args.seed == 9
