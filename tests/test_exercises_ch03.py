"""Tests of the chapter 03 exercise checkers: right passes, wrong raises, None reminds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_vae import exercises as ex


def _mean_field_gap() -> float:
    # Independent of the checker: 1/2 (sum_j log M_jj - log det M) with numpy.
    W = np.array(ex.CH03_LG_W)
    M = np.eye(2) + W.T @ W / ex.CH03_LG_NOISE_STD**2
    return 0.5 * (np.log(np.diag(M)).sum() - np.linalg.slogdet(M)[1])


def _score_variance() -> float:
    mu, s = ex.CH03_GRAD_MU, ex.CH03_GRAD_SIGMA
    return mu**4 / s**2 + 18 * mu**2 + 15 * s**2 - 4 * mu**2


def _prior_elbo() -> float:
    # E_{p(z)}[log N(x; W z + b, s^2 I)] in closed form, written out with numpy.
    W, b, x = np.array(ex.CH03_LG_W), np.array(ex.CH03_LG_B), np.array(ex.CH03_LG_X)
    s2 = ex.CH03_LG_NOISE_STD**2
    return -0.5 * len(x) * math.log(2 * math.pi * s2) - (((x - b) ** 2).sum() + (W**2).sum()) / (
        2 * s2
    )


CASES = [
    (ex.check_ch03_mean_field_gap, _mean_field_gap),
    (ex.check_ch03_score_variance, _score_variance),
    (ex.check_ch03_prior_as_q, _prior_elbo),
]


@pytest.mark.parametrize("checker, right", CASES)
def test_right_passes_wrong_raises_none_reminds(checker, right, checker_contract):
    checker_contract(checker, right(), [right() * 1.05 + 0.05])


def test_common_mistakes_are_rejected():
    lg = ex.ch03_linear_gaussian()
    x = list(ex.CH03_LG_X)
    with pytest.raises(AssertionError):  # log p(x) instead of the ELBO with q = prior
        ex.check_ch03_prior_as_q(float(lg.log_marginal(x)))
    with pytest.raises(AssertionError):  # the reparameterised variance 4 sigma^2
        ex.check_ch03_score_variance(4 * ex.CH03_GRAD_SIGMA**2)
    with pytest.raises(AssertionError):  # E[g^2] without subtracting the squared mean
        ex.check_ch03_score_variance(_score_variance() + 4 * ex.CH03_GRAD_MU**2)
    with pytest.raises(AssertionError):  # the full-covariance q closes the gap: 0 is wrong here
        ex.check_ch03_mean_field_gap(0.0)


def test_the_posterior_is_correlated_so_the_gap_is_real():
    lg = ex.ch03_linear_gaussian()
    _, cov = lg.posterior(list(ex.CH03_LG_X))
    corr = cov[0, 1] / cov.diagonal().sqrt().prod()
    assert abs(float(corr)) > 0.5
    assert _mean_field_gap() > 0.5
    assert torch.isfinite(cov).all()
