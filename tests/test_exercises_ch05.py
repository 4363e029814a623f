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
    c = ex.EX05_CAPACITY["c_max"] * ex.EX05_CAPACITY_STEP / ex.EX05_CAPACITY["n_steps"]
    return -ex.EX05_CAPACITY_RECON + ex.EX05_CAPACITY["gamma"] * abs(ex.EX05_CAPACITY_KL - c)


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
    with pytest.raises(AssertionError, match="C = c_max"):
        ex.check_ch05_capacity_loss(120.0)
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
    obj = KLCapacity(**ex.EX05_CAPACITY)
    c = obj.capacity(ex.EX05_CAPACITY_STEP)
    assert 0 < c < ex.EX05_CAPACITY["c_max"]
    # forgetting the ramp (C = c_max) or the sign of the reconstruction term is wrong
    wrong_c = -ex.EX05_CAPACITY_RECON + ex.EX05_CAPACITY["gamma"] * abs(
        ex.EX05_CAPACITY_KL - ex.EX05_CAPACITY["c_max"])
    wrong_sign = ex.EX05_CAPACITY_RECON + ex.EX05_CAPACITY["gamma"] * abs(ex.EX05_CAPACITY_KL - c)
    for wrong in (wrong_c, wrong_sign):
        with pytest.raises(AssertionError):
            ex.check_ch05_capacity_loss(wrong)
    terms = type("T", (), {"recon": torch.tensor([ex.EX05_CAPACITY_RECON]),
                           "kl": torch.tensor([ex.EX05_CAPACITY_KL])})()
    assert float(obj(terms, step=ex.EX05_CAPACITY_STEP)) == pytest.approx(_capacity_loss())


def test_capacity_loss_absolute_value_and_squared_gap_are_named():
    """Issue 19: dropping the absolute value (7.5) and squaring the gap (46.9)."""
    c = ex.EX05_CAPACITY["c_max"] * ex.EX05_CAPACITY_STEP / ex.EX05_CAPACITY["n_steps"]
    gamma, recon, kl = ex.EX05_CAPACITY["gamma"], ex.EX05_CAPACITY_RECON, ex.EX05_CAPACITY_KL
    no_abs = -recon + gamma * (c - kl)
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
