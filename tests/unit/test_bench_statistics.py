"""bench.common's statistics: what the benchmarks print beside their budgets is computed from these."""

from __future__ import annotations

import pytest

from bench.common import paired_ratios, percentile


def test_percentile_is_nearest_rank() -> None:
    values = [float(value) for value in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.25) == 25.0
    assert percentile(values, 0.07) == 7.0
    assert percentile([float(value) for value in range(1, 201)], 0.95) == 190.0
    assert percentile([float(value) for value in range(1, 1001)], 0.5) == 500.0
    assert percentile([3.0], 0.95) == 3.0


def test_paired_ratios_divide_within_each_round_not_across_the_run() -> None:
    # GIVEN a machine that slows down halfway: both contenders take twice as long in rounds 3-4,
    # and the first contender is always 10% slower than the second in the same round
    baseline = [100.0, 100.0, 200.0, 200.0, 200.0]
    contender = [110.0, 110.0, 220.0, 220.0, 220.0]
    # WHEN the ratios are taken round by round THEN they show the 10% and nothing of the slowdown
    assert paired_ratios(contender, baseline) == pytest.approx((1.1, 1.1, 1.1))
    # AND a round whose pair is far apart weighs as one round out of five
    assert paired_ratios([*contender[:4], 400.0], baseline)[0] == pytest.approx(1.1)


def test_paired_ratios_report_the_quartiles() -> None:
    ratios = [0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
    top = [ratio * 100.0 for ratio in ratios]
    middle, lower, upper = paired_ratios(top, [100.0] * len(ratios))
    assert (lower, upper) == pytest.approx((0.9, 1.3))
    assert middle == pytest.approx(1.15)


@pytest.mark.parametrize(("top", "bottom"), [([], []), ([1.0, 2.0], [1.0])])
def test_paired_ratios_refuse_unpaired_measurements(top: list[float], bottom: list[float]) -> None:
    with pytest.raises(ValueError, match="need pairs"):
        paired_ratios(top, bottom)
