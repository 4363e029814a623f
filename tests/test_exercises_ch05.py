"""Tests of the chapter 05 exercise checkers: right passes, wrong raises, None reminds."""

from __future__ import annotations

import pytest
import torch

from course_vae import exercises as ex
from course_vae.disentanglement import mig
from course_vae.exercises.verdict import reset_attempts
from course_vae.schedules import KLCapacity


@pytest.fixture(autouse=True)
def _fresh_attempts():
    reset_attempts()


def _indifferent_beta() -> float:
    (ra, da), (rb, db) = ex.CH05_POINT_A, ex.CH05_POINT_B
    return (db - da) / (ra - rb)


def _capacity_loss() -> float:
    c = ex.CH05_EX_CAPACITY["c_max"] * ex.CH05_EX_CAPACITY_STEP / ex.CH05_EX_CAPACITY["n_steps"]
    gamma = ex.CH05_EX_CAPACITY["gamma"]
    return -ex.CH05_EX_CAPACITY_RECON + gamma * abs(ex.CH05_EX_CAPACITY_KL - c)


CASES = [
    (ex.check_ch05_indifferent_beta, _indifferent_beta),
    (ex.check_ch05_mig_duplicate, lambda: 0.5),
    (ex.check_ch05_capacity_loss, _capacity_loss),
]


@pytest.mark.parametrize("checker, right", CASES)
def test_right_passes_wrong_raises_none_reminds(checker, right, checker_contract):
    checker_contract(checker, right(), [right() + 0.05])
    checker(round(right(), 2))  # the precision the exercises ask for


def test_named_mistakes():
    b = _indifferent_beta()
    with pytest.raises(AssertionError, match="minus the slope"):
        ex.check_ch05_indifferent_beta(-b)
    with pytest.raises(AssertionError, match="inverse"):
        ex.check_ch05_indifferent_beta(1 / b)
    with pytest.raises(AssertionError, match="runner-up"):
        ex.check_ch05_mig_duplicate(1.0)
    # C = c_max: 30 + 30 |0.5 - 5| = 165 (120 with the old KL = 2; referee C, finding 7)
    with pytest.raises(AssertionError, match="C = c_max"):
        ex.check_ch05_capacity_loss(165.0)
    with pytest.raises(AssertionError, match="sign of the reconstruction"):
        ex.check_ch05_capacity_loss(-7.5)


def test_indifferent_beta_equalises_the_losses():
    b = _indifferent_beta()
    (ra, da), (rb, db) = ex.CH05_POINT_A, ex.CH05_POINT_B
    assert da + b * ra == pytest.approx(db + b * rb)
    # common mistake: the slope without its sign
    with pytest.raises(AssertionError):
        ex.check_ch05_indifferent_beta(-b)


def test_duplicated_code_scores_half_and_exact_code_scores_one():
    codes, factors = ex.ch05._ch05_duplicated_codes()
    assert mig(codes[:, :2], factors) == pytest.approx(1.0)
    assert mig(codes, factors) == pytest.approx(0.5)
    with pytest.raises(AssertionError):
        ex.check_ch05_mig_duplicate(1.0)  # 'it contains both factors, so MIG = 1' is wrong


def test_capacity_loss_matches_the_objective_and_common_mistakes_fail():
    obj = KLCapacity(**ex.CH05_EX_CAPACITY)
    c = obj.capacity(ex.CH05_EX_CAPACITY_STEP)
    assert 0 < c < ex.CH05_EX_CAPACITY["c_max"]
    # forgetting the ramp (C = c_max) or the sign of the reconstruction term is wrong
    wrong_c = -ex.CH05_EX_CAPACITY_RECON + ex.CH05_EX_CAPACITY["gamma"] * abs(
        ex.CH05_EX_CAPACITY_KL - ex.CH05_EX_CAPACITY["c_max"])
    wrong_sign = ex.CH05_EX_CAPACITY_RECON + ex.CH05_EX_CAPACITY["gamma"] * abs(
        ex.CH05_EX_CAPACITY_KL - c)
    for wrong in (wrong_c, wrong_sign):
        with pytest.raises(AssertionError):
            ex.check_ch05_capacity_loss(wrong)
    terms = type("T", (), {"recon": torch.tensor([ex.CH05_EX_CAPACITY_RECON]),
                           "kl": torch.tensor([ex.CH05_EX_CAPACITY_KL])})()
    assert float(obj(terms, step=ex.CH05_EX_CAPACITY_STEP)) == pytest.approx(_capacity_loss())


def test_capacity_loss_absolute_value_and_squared_gap_are_named():
    """Issue 19: dropping the absolute value (7.5) and squaring the gap (46.9)."""
    c = ex.CH05_EX_CAPACITY["c_max"] * ex.CH05_EX_CAPACITY_STEP / ex.CH05_EX_CAPACITY["n_steps"]
    gamma, recon = ex.CH05_EX_CAPACITY["gamma"], ex.CH05_EX_CAPACITY_RECON
    kl = ex.CH05_EX_CAPACITY_KL
    # KL - C(t) unsigned (the KL is now below C(t), finding 7 of referee C: with KL = 2 the
    # old expression C(t) - KL was the slip; with KL = 0.5 it is the right 52.5)
    no_abs = -recon + gamma * (kl - c)
    squared = -recon + gamma * (kl - c) ** 2
    assert no_abs == pytest.approx(7.5) and squared == pytest.approx(46.875)
    for answer, name in [(no_abs, "without the absolute value"), (7.5, "absolute value"),
                         (squared, "squaring the gap"), (46.88, "squaring the gap")]:
        with pytest.raises(AssertionError, match=name):
            ex.check_ch05_capacity_loss(answer)


def test_non_number_is_a_type_error_and_one_element_list_is_a_number():
    """Issue 19: a one-element list was refused while a one-element tensor was accepted;
    now both count as their one number (this test used to expect a TypeError for [52.5])."""
    with pytest.raises(TypeError, match="one number"):
        ex.check_ch05_capacity_loss([52.5, 1.0])
    ex.check_ch05_capacity_loss([52.5])
    ex.check_ch05_capacity_loss(torch.tensor([52.5]))


# ---------------------------------------------------------------- referee C


def test_referee_c_capacity_missing_absolute_value_is_not_accepted():
    """Finding 7: with KL = 2 > C(t) = 1.25, 30 + 30 (2 - 1.25) without |.| was right; the
    KL now lies below C(t), so the referee's expression is named, not accepted."""
    c = ex.CH05_EX_CAPACITY["c_max"] * ex.CH05_EX_CAPACITY_STEP / ex.CH05_EX_CAPACITY["n_steps"]
    assert ex.CH05_EX_CAPACITY_KL < c
    with pytest.raises(AssertionError, match="without the absolute value"):
        ex.check_ch05_capacity_loss(30 + 30 * (ex.CH05_EX_CAPACITY_KL - c))
    ex.check_ch05_capacity_loss(30 + 30 * abs(ex.CH05_EX_CAPACITY_KL - c))


def test_referee_c_mig_over_all_factors_is_named():
    """Finding 9: averaging the gaps over all 5 factors gives 0.2."""
    with pytest.raises(AssertionError, match="all 5 factors"):
        ex.check_ch05_mig_duplicate(0.2)


def test_referee_c_mig_second_hint_is_a_method_not_the_gaps():
    """Finding 8: the second hint stated gap 0 and gap 1, leaving only arithmetic."""
    messages = []
    for _ in range(2):
        with pytest.raises(AssertionError) as err:
            ex.check_ch05_mig_duplicate(0.9)
        messages.append(str(err.value))
    assert "Hint 2 of 2" in messages[1]
    assert "gap 0" not in messages[1] and "gap 1" not in messages[1]
    assert "mutual information" in messages[1]


def test_referee_c_capacity_constants_follow_the_ch0n_naming():
    """Finding 10: EX05_* renamed CH05_EX_* (like CH06_EX_SIZES)."""
    assert not [n for n in ex.__all__ if n.startswith("EX0")]
    assert {"CH05_EX_CAPACITY", "CH05_EX_CAPACITY_KL", "CH05_EX_CAPACITY_RECON",
            "CH05_EX_CAPACITY_STEP"} <= set(ex.__all__)
