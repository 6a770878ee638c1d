"""The paired t-test of issue 28 against textbook values (critical values of Student's t,
which any table gives to 3 decimals) and hand-worked examples."""

import math

import pytest

from wsol_tf.reproduction.paired_test import (
    describe,
    paired_t_test,
    t_cdf_two_sided,
    t_critical,
)

# Two-sided 95% and 99% critical values of Student's t (standard tables, 3 decimals).
TABLE_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 9: 2.262, 10: 2.228,
            20: 2.086, 30: 2.042}  # fmt: skip
TABLE_99 = {1: 63.657, 2: 9.925, 5: 4.032, 10: 3.169}


@pytest.mark.parametrize("dof", sorted(TABLE_95))
def test_critical_values_match_the_table(dof):
    assert t_critical(dof) == pytest.approx(TABLE_95[dof], abs=6e-4)
    if dof in TABLE_99:
        assert t_critical(dof, alpha=0.01) == pytest.approx(TABLE_99[dof], abs=6e-4)


def test_closed_forms_of_one_and_two_degrees_of_freedom():
    for t in (0.0, 0.3, 1.0, 4.0, 50.0):
        assert t_cdf_two_sided(t, 1) == pytest.approx(2 * math.atan(t) / math.pi, abs=1e-12)
        assert t_cdf_two_sided(t, 2) == pytest.approx(t / math.sqrt(2 + t * t), abs=1e-12)
    # Large dof tends to the normal: P(|Z| <= 1.96) = 0.95.
    assert t_cdf_two_sided(1.959964, 2000) == pytest.approx(0.95, abs=2e-4)
    with pytest.raises(ValueError):
        t_cdf_two_sided(1.0, 0)


def test_a_hand_worked_paired_test():
    # d = (1, 2, 3): mean 2, sd 1, se 1/sqrt(3), t = 2 sqrt(3) = 3.464, dof 2:
    # p = 1 - t / sqrt(2 + t^2) = 1 - 3.464 / 3.742 = 0.0742 -> not resolved at 0.05.
    test = paired_t_test([1.0, 2.0, 3.0])
    assert test["t"] == pytest.approx(2 * math.sqrt(3))
    assert test["p"] == pytest.approx(1 - 2 * math.sqrt(3) / math.sqrt(14))
    assert not test["resolved"] and test["direction"] is None
    low, high = test["ci"]
    assert low == pytest.approx(2 - 4.303 / math.sqrt(3), abs=1e-3) and low < 0 < high
    # The same gap with a tenth of the spread is resolved, and below when negative.
    tight = paired_t_test([-1.9, -2.0, -2.1])
    assert tight["resolved"] and tight["direction"] == "below" and tight["p"] < 0.01
    assert "**below** (resolved)" in describe(tight)


def test_degenerate_inputs():
    assert paired_t_test([])["n"] == 0 and describe(paired_t_test([])) == "no paired seeds"
    one = paired_t_test([1.5])
    assert one["p"] is None and not one["resolved"] and "one seed" in describe(one)
    same = paired_t_test([2.0, 2.0, 2.0])  # every seed moved by exactly 2
    assert same["p"] == 0.0 and same["resolved"] and same["direction"] == "above"
    zero = paired_t_test([0.0, 0.0])
    assert zero["p"] == pytest.approx(1.0) and not zero["resolved"]
    assert paired_t_test([1.0, None, float("nan"), 3.0])["n"] == 2
