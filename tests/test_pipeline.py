"""Where pipeline registers go (:mod:`lowbit.models.pipeline`): a chain cut into stages keeps
its segments in order, the slowest stage is as fast as any placement allows, and a count the
chain cannot take is refused."""

from itertools import combinations

import pytest

from lowbit.models.pipeline import FP32_ADD, FP32_ROUND, Chain


def slowest(chain: Chain, stages: list[tuple[str, ...]]) -> float:
    weight = dict(chain.segments)
    return max(sum(weight[s] for s in stage) for stage in stages)


@pytest.mark.parametrize("chain", [FP32_ADD, FP32_ROUND, Chain((("a", 1.0), ("b", 5.0),
                                                                ("c", 1.0), ("d", 1.0)))])
def test_cuts_keep_the_order_and_minimise_the_slowest_stage(chain):
    weights = [w for _, w in chain.segments]
    for registers in range(chain.most + 1):
        stages = chain.stages(registers)
        assert len(stages) == registers + 1
        assert tuple(s for stage in stages for s in stage) == chain.names
        assert {stage[-1] for stage in stages[:-1]} == chain.cuts(registers)
        best = min(max(sum(weights[a + 1:b + 1]) for a, b in zip([-1, *c], [*c, len(weights) - 1]))
                   for c in combinations(range(len(weights) - 1), registers))
        assert slowest(chain, stages) == best


def test_the_fp32_adder_in_four_cycles():
    assert FP32_ADD.stages(3) == [("order",), ("align", "add"), ("lead", "amount"),
                                  ("shift", "round")]
    assert FP32_ADD.stages(0) == [FP32_ADD.names]
    assert FP32_ADD.stages(FP32_ADD.most) == [(name,) for name in FP32_ADD.names]


@pytest.mark.parametrize("registers", [-1, FP32_ADD.most + 1])
def test_more_registers_than_segments_is_refused(registers):
    with pytest.raises(ValueError, match="0..6"):
        FP32_ADD.cuts(registers)
