"""Tests of the chapter 02 exercise checkers: right passes, wrong raises, None reminds."""

from __future__ import annotations

import math

import pytest
import torch

from course_vae import exercises as ex
from course_vae.kl import kl_normal_std


def _kl_by_hand() -> float:
    # Independent of the package: the formula written out with math.
    return sum(
        0.5 * (m**2 + s**2 - math.log(s**2) - 1.0)
        for m, s in zip(ex.CH02_KL_MU, ex.CH02_KL_SIGMA, strict=True)
    )


CASES = [
    (ex.check_ch02_kl_by_hand, _kl_by_hand),
    (ex.check_ch02_best_sigma, lambda: 1.0),
    (ex.check_ch02_grad_logvar, lambda: 0.5 * (math.exp(ex.CH02_GRAD_LOGVAR) - 1.0)),
]


@pytest.mark.parametrize("checker, right", CASES)
def test_right_passes_wrong_raises_none_reminds(checker, right, checker_contract):
    checker_contract(checker, right(), [right() + 0.05])


def test_non_number_is_a_type_error():
    with pytest.raises(TypeError, match="number"):
        ex.check_ch02_kl_by_hand([1.75])


def test_common_mistakes_are_rejected():
    # log sigma instead of log sigma^2, and forgetting the 1/2
    mu, sigma = ex.CH02_KL_MU, ex.CH02_KL_SIGMA
    wrong_log = sum(0.5 * (m**2 + s**2 - math.log(s) - 1) for m, s in zip(mu, sigma, strict=True))
    with pytest.raises(AssertionError):
        ex.check_ch02_kl_by_hand(wrong_log)
    # sigma instead of sigma^2 in the linear term
    wrong_sq = sum(0.5 * (m**2 + s - math.log(s**2) - 1) for m, s in zip(mu, sigma, strict=True))
    with pytest.raises(AssertionError):
        ex.check_ch02_kl_by_hand(wrong_sq)
    with pytest.raises(AssertionError):
        ex.check_ch02_kl_by_hand(2 * _kl_by_hand())
    # the gradient w.r.t. sigma^2 instead of logvar: 1/2 (1 - 1/sigma^2)
    with pytest.raises(AssertionError):
        ex.check_ch02_grad_logvar(0.5 * (1 - math.exp(-ex.CH02_GRAD_LOGVAR)))
    # the optimal sigma does not depend on mu: sigma = |mu| is wrong
    with pytest.raises(AssertionError):
        ex.check_ch02_best_sigma(abs(ex.CH02_BEST_SIGMA_MU))


def test_best_sigma_is_a_minimum_of_the_package_kl():
    mu = torch.tensor([ex.CH02_BEST_SIGMA_MU], dtype=torch.float64)
    at_one = kl_normal_std(mu, torch.zeros(1, dtype=torch.float64))
    for s in (0.9, 1.1):
        assert kl_normal_std(mu, torch.tensor([2 * math.log(s)], dtype=torch.float64)) > at_one
