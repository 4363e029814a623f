"""Tests of chapter 03's exercise checkers: answers at the stated precision and Monte Carlo
answers at the suggested size pass; named mistakes are recognised; NaN, types, None."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_vae import exercises as ex


def _posterior():
    W = np.array(ex.CH03_EX_W)
    M = np.eye(2) + W.T @ W / ex.CH03_EX_NOISE_STD**2
    return W, M


def _mean_field_gap() -> float:
    # Independent of the checker: 1/2 (sum_j log M_jj - log det M) with numpy.
    _, M = _posterior()
    return 0.5 * (np.log(np.diag(M)).sum() - np.linalg.slogdet(M)[1])


def _score_variance() -> float:
    mu, s = ex.CH03_EX_SCORE_MU, ex.CH03_EX_SCORE_SIGMA
    return mu**4 / s**2 + 18 * mu**2 + 15 * s**2 - 4 * mu**2


def _prior_elbo() -> float:
    # E_{p(z)}[log N(x; W z + b, s^2 I)] in closed form, written out with numpy.
    W, b, x = np.array(ex.CH03_EX_W), np.array(ex.CH03_EX_B), np.array(ex.CH03_EX_X)
    s2 = ex.CH03_EX_NOISE_STD**2
    return -0.5 * len(x) * math.log(2 * math.pi * s2) - (((x - b) ** 2).sum() + (W**2).sum()) / (
        2 * s2
    )


CASES = [
    (ex.check_ch03_mean_field_gap, _mean_field_gap, 3),
    (ex.check_ch03_score_variance, _score_variance, 1),
    (ex.check_ch03_prior_as_q, _prior_elbo, 1),
]


@pytest.mark.parametrize("checker, right, decimals", CASES)
def test_contract_and_answers_at_the_stated_precision_pass(checker, right, decimals,
                                                            checker_contract):
    checker_contract(checker, right(), [right() * 1.5 + 1.0])
    checker(round(right(), decimals))


def test_score_variance_from_a_million_samples_passes():
    mu, s = ex.CH03_EX_SCORE_MU, ex.CH03_EX_SCORE_SIGMA
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        z = mu + s * torch.randn(1_000_000, generator=gen, dtype=torch.float64)
        ex.check_ch03_score_variance(float((z**2 * (z - mu) / s**2).var()))


def test_prior_elbo_from_a_million_samples_passes():
    lg = ex.ch03_exercise_model()
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(1_000_000, 2, generator=gen, dtype=torch.float64)
        ex.check_ch03_prior_as_q(float(lg.log_likelihood(list(ex.CH03_EX_X), z).mean()))


def test_mistakes_are_named():
    lg = ex.ch03_exercise_model()
    x = list(ex.CH03_EX_X)
    with pytest.raises(AssertionError, match="log p\\(x\\); with q = prior"):
        ex.check_ch03_prior_as_q(float(lg.log_marginal(x)))
    with pytest.raises(AssertionError, match="normaliser"):
        ex.check_ch03_prior_as_q(_prior_elbo() + 1.5 * math.log(2 * math.pi * 0.25))
    with pytest.raises(AssertionError, match="reparameterised"):
        ex.check_ch03_score_variance(4 * ex.CH03_EX_SCORE_SIGMA**2)
    with pytest.raises(AssertionError, match="without subtracting"):
        ex.check_ch03_score_variance(_score_variance() + 4 * ex.CH03_EX_SCORE_MU**2)
    with pytest.raises(AssertionError, match="full-covariance"):
        ex.check_ch03_mean_field_gap(0.0)
    with pytest.raises(AssertionError, match="1/2"):
        ex.check_ch03_mean_field_gap(2 * _mean_field_gap())
    _, M = _posterior()
    cov = np.linalg.inv(M)
    # q with the posterior's marginal variances: KL(N(m, diag cov) || N(m, cov))
    marginal = 0.5 * (np.trace(M @ np.diag(np.diag(cov))) - 2 - np.log(np.diag(cov)).sum()
                      - np.linalg.slogdet(M)[1])
    with pytest.raises(AssertionError, match="marginal variances"):
        ex.check_ch03_mean_field_gap(marginal)


def test_the_exercise_posterior_is_correlated_and_not_the_chapters_model():
    lg = ex.ch03_exercise_model()
    _, cov = lg.posterior(list(ex.CH03_EX_X))
    assert abs(float(cov[0, 1] / cov.diagonal().sqrt().prod())) > 0.5
    assert _mean_field_gap() > 0.3
    assert ex.CH03_EX_W != ex.CH03_LG_W and torch.isfinite(cov).all()
