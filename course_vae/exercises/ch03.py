"""Exercise checkers of chapter 03 (the ELBO): the gap a diagonal q cannot close, the variance
of a score-function sample, the ELBO with q = prior.

The exercises use their own linear-Gaussian model (``ch03_exercise_model``), not the one the
chapter's text works through (``ch03_linear_gaussian``), so no answer is printed before.
"""

from __future__ import annotations

import math
from typing import Any

from course_vae.exercises.verdict import verdict

__all__ = [
    "CH03_EX_B",
    "CH03_EX_NOISE_STD",
    "CH03_EX_SCORE_MU",
    "CH03_EX_SCORE_SIGMA",
    "CH03_EX_W",
    "CH03_EX_X",
    "CH03_GRAD_MU",
    "CH03_GRAD_SIGMA",
    "CH03_LG_B",
    "CH03_LG_NOISE_STD",
    "CH03_LG_W",
    "CH03_LG_X",
    "ch03_exercise_model",
    "ch03_prior_elbo_se",
    "ch03_linear_gaussian",
    "check_ch03_mean_field_gap",
    "check_ch03_prior_as_q",
    "check_ch03_score_variance",
]

# The chapter's own worked model and estimator settings (used in its text).
CH03_LG_W = ((1.0, 0.8), (0.6, 1.0), (0.5, 0.4))
CH03_LG_B = (0.0, 0.5, -0.5)
CH03_LG_NOISE_STD = 0.5
CH03_LG_X = (1.0, -0.5, 2.0)
CH03_GRAD_MU = 2.0
CH03_GRAD_SIGMA = 0.5
# The exercises' model and estimator settings (different numbers: answers not in the text).
# Three latent dimensions: in two, the best forward-KL gap of a diagonal q equals the best
# reverse one (both -1/2 log(1 - r^2)), so the wrong direction would give the right number.
CH03_EX_W = ((1.0, 0.7, 0.3), (0.5, 1.0, 0.6), (0.8, 0.6, 1.0))
CH03_EX_B = (0.0, 0.0, 0.5)
CH03_EX_NOISE_STD = 0.5
CH03_EX_X = (1.5, -0.5, 1.0)
CH03_EX_SCORE_MU = 1.0
CH03_EX_SCORE_SIGMA = 0.5


def ch03_linear_gaussian():
    """The chapter's linear-Gaussian model: W = CH03_LG_W (3 x 2), b = CH03_LG_B, s = 0.5."""
    from course_vae.linear_gaussian import LinearGaussian

    return LinearGaussian(CH03_LG_W, CH03_LG_B, CH03_LG_NOISE_STD)


def ch03_exercise_model():
    """The exercises' linear-Gaussian model: W = CH03_EX_W (3 x 3), b = CH03_EX_B, s = 0.5.

    Its columns of W point in similar directions, so p(z|x) is strongly correlated."""
    from course_vae.linear_gaussian import LinearGaussian

    return LinearGaussian(CH03_EX_W, CH03_EX_B, CH03_EX_NOISE_STD)


# The sample size the exercises suggest for Monte Carlo answers.
N_SAMPLES = 1_000_000


def check_ch03_mean_field_gap(answer: Any) -> None:
    r"""The smallest gap log p(x) - ELBO(q) over diagonal Gaussians q, for the exercise model
    at x = CH03_EX_X, in nats to 3 decimals: KL(q* || p(z|x)) of the best diagonal q*."""
    import torch

    model = ch03_exercise_model()
    x = list(CH03_EX_X)
    mean, var = model.mean_field_posterior(x)
    expected = float(model.posterior_kl(x, mean, q_var=var))
    post_mean, post_cov = model.posterior(x)
    marginal = float(model.posterior_kl(x, post_mean, q_var=post_cov.diagonal()))
    # the forward direction: min over diagonal q of KL(p(z|x) || q), reached at the marginals
    forward = 0.5 * float(torch.log(post_cov.diagonal()).sum() - torch.logdet(post_cov))
    verdict(
        "ch03 mean-field gap",
        answer,
        expected,
        TOLERANCE["mean_field_gap"],
        [
            "the gap is a KL with q first: which direction is that (chapter 01), and which "
            "variances does the best diagonal q take in that direction?",
            "the best diagonal q has the posterior's mean and variances 1/M_jj, with "
            "M = I + W^T W / s^2 the posterior precision (not the marginal variances "
            "Sigma_jj); evaluate KL(q || p(z|x)) for it (the closed form of chapter 02).",
        ],
        close=0.006,
        refine="carry more digits and give three decimals.",
        mistakes=[
            (forward, "the forward direction: min over diagonal q of KL(p(z|x) || q), which "
                      "takes the marginal variances; the gap has q first"),
            (marginal, "a q with the posterior's marginal variances Sigma_jj (what the forward "
                       "KL would fit), scored by the right KL; the reverse KL picks the "
                       "narrower 1/M_jj"),
            (2 * expected, "dropping the 1/2"),
            (expected / math.log(2), "bits; the question asks for nats"),
            (0.0, "a full-covariance q; a diagonal q cannot match a correlated posterior"),
        ],
    )


def _score_moments(mu: float, sigma: float) -> tuple[float, float, float]:
    """Mean, variance and the fourth central moment of g = f(z)(z - mu)/sigma^2, f(z) = z^2,
    by 60-point Gauss-Hermite quadrature (exact for these polynomials)."""
    import numpy as np

    eps, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()  # weights of E over eps ~ N(0, 1)
    g = (mu + sigma * eps) ** 2 * eps / sigma
    mean = float((w * g).sum())
    var = float((w * (g - mean) ** 2).sum())
    return mean, var, float((w * (g - mean) ** 4).sum())


def check_ch03_score_variance(answer: Any) -> None:
    r"""Var of ONE score-function sample f(z)(z - mu)/sigma^2 of d/dmu E[z^2], z ~ N(mu,
    sigma^2), mu = CH03_EX_SCORE_MU, sigma = CH03_EX_SCORE_SIGMA.

    Derived by hand it passes to 1 decimal; estimated from 10^6 samples its standard error
    is sqrt((m4 - Var^2) / n) = 0.11, and the tolerance, 0.05 (rounding to one decimal) plus
    four of them, also holds a sampled answer rounded to one decimal."""
    mu, sigma = CH03_EX_SCORE_MU, CH03_EX_SCORE_SIGMA
    mean, expected, _ = _score_moments(mu, sigma)
    verdict(
        "ch03 score-function variance",
        answer,
        expected,
        TOLERANCE["score_variance"],
        [
            "write the sample with z = mu + sigma eps and expand it in powers of eps; which "
            "moments of eps do you need?",
            "g = (mu + sigma eps)^2 eps / sigma; use E[eps^2] = 1, E[eps^4] = 3, "
            "E[eps^6] = 15 (odd moments vanish); Var = E[g^2] - (E g)^2 with E g = 2 mu. "
            "Or average over 10^6 samples.",
        ],
        refine="derive it exactly, or use at least 10^6 samples.",
        mistakes=[
            (expected + mean**2, "E[g^2] without subtracting the squared mean (2 mu)^2"),
            (4 * sigma**2, "the reparameterised sample 2 (mu + sigma eps), variance 4 sigma^2"),
            (mean, "the mean of the sample (the gradient 2 mu), not its variance"),
            (4 * mu**2 * sigma**2 + 2 * sigma**4, "Var f(z), the variance of z^2 itself"),
            (expected * sigma**4, "f(z)(z - mu) without the 1/sigma^2 of the score"),
            (expected * sigma**2, "dividing by sigma only: the score is (z - mu) / sigma^2"),
            (_score_moments(mu, math.sqrt(sigma))[1],
             f"sigma^2 = {sigma:g}: the given {sigma:g} is sigma, so sigma^2 = {sigma**2:g}"),
        ],
    )


def _prior_elbo_parts() -> tuple[float, float, float]:
    """(normaliser, -|x - b|^2 / (2 s^2), -tr(W^T W) / (2 s^2)) of E_{p(z)} log p(x|z)."""
    W, b, x, s = CH03_EX_W, CH03_EX_B, CH03_EX_X, CH03_EX_NOISE_STD
    norm = -0.5 * len(x) * math.log(2 * math.pi * s**2)
    data = -math.fsum((xi - bi) ** 2 for xi, bi in zip(x, b, strict=True)) / (2 * s**2)
    trace = -math.fsum(w**2 for row in W for w in row) / (2 * s**2)
    return norm, data, trace


def ch03_prior_elbo_se(n: int = N_SAMPLES) -> float:
    """Standard error of the mean of log p(x|z) over ``n`` draws z ~ N(0, I) (exact).

    log p(x|z) = const - |u|^2 / (2 s^2) with u = x - b - W z ~ N(x - b, W W^T), and
    Var |u|^2 = 2 tr(A^2) + 4 m^T A m for A = W W^T, m = x - b."""
    from course_vae._validate import check_positive_int

    n = check_positive_int(n, "n")
    W, b, x, s = CH03_EX_W, CH03_EX_B, CH03_EX_X, CH03_EX_NOISE_STD
    A = [[math.fsum(wi * wj for wi, wj in zip(ri, rj, strict=True)) for rj in W] for ri in W]
    m = [xi - bi for xi, bi in zip(x, b, strict=True)]
    tr_a2 = math.fsum(a * a for row in A for a in row)
    mam = math.fsum(m[i] * A[i][j] * m[j] for i in range(len(m)) for j in range(len(m)))
    return math.sqrt(2 * tr_a2 + 4 * mam) / (2 * s**2) / math.sqrt(n)


def _score_variance_se(n: int = N_SAMPLES) -> float:
    """Standard error of the variance of ``n`` score-function samples, sqrt((m4 - Var^2)/n)."""
    _, var, m4 = _score_moments(CH03_EX_SCORE_MU, CH03_EX_SCORE_SIGMA)
    return math.sqrt((m4 - var**2) / n)


# Exercise -> accepted distance from the right answer (for the Monte Carlo ones: half a
# unit of the asked decimal, plus four standard errors at N_SAMPLES, plus slack).
TOLERANCE = {
    "mean_field_gap": 0.0006,  # three decimals: 0.0005, plus slack
    "score_variance": 0.05 + 4 * _score_variance_se() + 0.005,
    "prior_as_q": 0.05 + 4 * ch03_prior_elbo_se() + 0.005,
}


def check_ch03_prior_as_q(answer: Any) -> None:
    r"""ELBO(q) in nats when q(z|x) is the prior N(0, I), for the exercise model at
    x = CH03_EX_X (then the KL term is 0): to 1 decimal, or a Monte Carlo average of
    log p(x|z), z ~ p(z), over 10^6 samples (standard error ``ch03_prior_elbo_se()``, 0.016);
    the tolerance, 0.05 (rounding to one decimal) plus four standard errors, also holds a
    sampled answer rounded to one decimal."""
    import torch

    from course_vae.kl import kl_gaussian_full

    model = ch03_exercise_model()
    x = list(CH03_EX_X)
    zeros = [0.0] * model.latent_dim
    expected = float(model.elbo(x, zeros, q_var=[1.0] * model.latent_dim))
    log_px = float(model.log_marginal(x))
    post_mean, post_cov = model.posterior(x)
    eye = torch.eye(model.latent_dim, dtype=torch.float64)
    kl_post_prior = float(kl_gaussian_full(post_mean, post_cov, torch.zeros_like(post_mean), eye))
    norm, data, trace = _prior_elbo_parts()
    s = CH03_EX_NOISE_STD
    verdict(
        "ch03 ELBO with q = prior",
        answer,
        expected,
        TOLERANCE["prior_as_q"],
        [
            "with q = p(z), which of the ELBO's two terms vanishes, and what is left to "
            "average over z ~ p(z)?",
            "ELBO = E_{p(z)}[log p(x|z)]: average log N(x; W z + b, s^2 I) over z ~ N(0, I), "
            "using E|x - b - W z|^2 = |x - b|^2 + tr(W^T W); or average it over 10^6 draws; "
            "or use log p(x) - KL(N(0, I) || p(z|x)).",
        ],
        refine="give one decimal, or use 10^6 samples.",
        mistakes=[
            (log_px, "log p(x); with q = prior the gap KL(p(z) || p(z|x)) is not 0"),
            (log_px - kl_post_prior, "log p(x) - KL(p(z|x) || p(z)): the gap has q first, "
                                     "KL(p(z) || p(z|x))"),
            (norm + data, "log p(x | z = 0): the average over z ~ p(z) adds -tr(W^T W)/(2 s^2)"),
            (data + trace, "dropping the Gaussian's normaliser -D/2 log(2 pi s^2)"),
            (-0.5 * len(x) * math.log(2 * math.pi * s) + (data + trace) * s,
             "s in place of s^2"),
            (-expected, "the sign: this is a log-likelihood bound, negative here"),
        ],
    )
