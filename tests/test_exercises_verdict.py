"""Tests of the verdict every exercise checker gives: right, named mistake, close, wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_vae.exercises.verdict import as_number, verdict


def test_three_outcomes_and_named_mistakes(capsys):
    assert verdict("v", 1.004, 1.0, 0.006, "h") is True
    assert "correct" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="it is what you get from nats"):
        verdict("v", 0.7, 1.0, 0.006, "h", mistakes=[(0.7, "nats")])
    with pytest.raises(AssertionError, match="close.*Refine: more digits.*Hint: h"):
        verdict("v", 1.03, 1.0, 0.006, "h", refine="more digits")
    with pytest.raises(AssertionError, match="not right. Hint: h"):
        verdict("v", 2.0, 1.0, 0.006, "h")


def test_right_wins_over_a_mistake_that_coincides(capsys):
    assert verdict("v", 1.0, 1.0, 0.006, "h", mistakes=[(1.001, "m")]) is True


@pytest.mark.parametrize("good", [1, 1.5, np.float32(1.5), torch.tensor(1.5), np.array([1.5]),
                                  torch.tensor([1.5], dtype=torch.float64)])
def test_numbers_of_every_kind_are_accepted(good):
    assert as_number("v", good) == pytest.approx(float(np.asarray(good).ravel()[0]))


@pytest.mark.parametrize("bad", ["0.5", b"1", True, [0.5], (0.5,), torch.tensor([1.0, 2.0]),
                                 np.zeros(3), {"a": 1}, object()])
def test_non_numbers_get_a_clear_type_error(bad):
    with pytest.raises(TypeError, match="one number"):
        as_number("v", bad)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, torch.tensor(float("nan"))])
def test_nan_and_inf_get_a_clear_message(bad):
    with pytest.raises(AssertionError, match="not a finite number"):
        verdict("v", bad, 1.0, 0.1, "h")


def test_none_reminds(capsys):
    assert verdict("v", None, 1.0, 0.1, "h") is False
    assert "not answered" in capsys.readouterr().out


def _gap(ex) -> float:
    w = np.array(ex.CH03_EX_W)
    m = np.eye(2) + w.T @ w / ex.CH03_EX_NOISE_STD**2
    return 0.5 * (np.log(np.diag(m)).sum() - np.linalg.slogdet(m)[1])


def _close_cases():
    from course_vae import exercises as ex

    q, p = ex.CH01_Q, ex.CH01_P
    kl_bits = sum(a * math.log2(a / b) for a, b in zip(q, p, strict=True))
    kl_hand = sum(0.5 * (m**2 + s**2 - math.log(s**2) - 1)
                  for m, s in zip(ex.CH02_KL_MU, ex.CH02_KL_SIGMA, strict=True))
    return [
        (ex.check_ch01_kl_bits, kl_bits, 0.006),
        (ex.check_ch02_kl_by_hand, kl_hand, 0.006),
        (ex.check_ch03_mean_field_gap, _gap(ex), 0.0006),
        (ex.check_ch04_free_bits, 0.79, 0.006),
        (ex.check_ch05_capacity_loss, 52.5, 0.006),
    ]


@pytest.mark.parametrize("case", range(5))
def test_checkers_say_close_and_what_to_refine(case):
    checker, right, tol = _close_cases()[case]
    for sign in (1, -1):
        with pytest.raises(AssertionError, match="close.*Refine"):
            checker(right + sign * 3 * tol)
