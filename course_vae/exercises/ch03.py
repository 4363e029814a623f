"""Exercise checkers of chapter 03 (the ELBO): the mean-field gap of a linear-Gaussian model,
the variance of a score-function sample, the ELBO with q = prior.
"""

from __future__ import annotations

from typing import Any

from course_vae.exercises.verdict import verdict

__all__ = [
    "CH03_GRAD_MU",
    "CH03_GRAD_SIGMA",
    "CH03_LG_B",
    "CH03_LG_NOISE_STD",
    "CH03_LG_W",
    "CH03_LG_X",
    "ch03_linear_gaussian",
    "check_ch03_mean_field_gap",
    "check_ch03_prior_as_q",
    "check_ch03_score_variance",
]

CH03_LG_W = ((1.0, 0.8), (0.6, 1.0), (0.5, 0.4))
CH03_LG_B = (0.0, 0.5, -0.5)
CH03_LG_NOISE_STD = 0.5
CH03_LG_X = (1.0, -0.5, 2.0)
CH03_GRAD_MU = 2.0
CH03_GRAD_SIGMA = 0.5


def ch03_linear_gaussian():
    """The chapter's linear-Gaussian model: W = CH03_LG_W (3 x 2), b = CH03_LG_B, s = 0.5.

    Its two columns of W point in similar directions, so the exact posterior p(z|x) is
    strongly correlated (a diagonal q cannot match it).
    """
    from course_vae.linear_gaussian import LinearGaussian

    return LinearGaussian(CH03_LG_W, CH03_LG_B, CH03_LG_NOISE_STD)


def check_ch03_mean_field_gap(answer: Any) -> None:
    r"""The smallest gap log p(x) - ELBO(q) over diagonal Gaussians q, for the chapter's
    linear-Gaussian model at x = CH03_LG_X: KL(q* || p(z|x)) of the best diagonal q*."""
    model = ch03_linear_gaussian()
    mean, var = model.mean_field_posterior(list(CH03_LG_X))
    expected = float(model.posterior_kl(list(CH03_LG_X), mean, q_var=var))
    verdict(
        "ch03 mean-field gap",
        answer,
        expected,
        1e-4,
        "the best diagonal q has the posterior mean and variances 1/M_jj, M = "
        "I + W^T W / s^2; its gap is 1/2 (sum_j log M_jj - log det M).",
    )


def check_ch03_score_variance(answer: Any) -> None:
    r"""Var of ONE score-function sample f(z) (z - mu) / sigma^2 of d/dmu E[z^2], z ~ N(mu,
    sigma^2), mu = CH03_GRAD_MU, sigma = CH03_GRAD_SIGMA (exact, by Gauss-Hermite quadrature)."""
    import numpy as np

    eps, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()  # weights of E over eps ~ N(0, 1)
    z = CH03_GRAD_MU + CH03_GRAD_SIGMA * eps
    g = z**2 * eps / CH03_GRAD_SIGMA
    expected = float((w * g**2).sum() - (w * g).sum() ** 2)
    verdict(
        "ch03 score-function variance",
        answer,
        expected,
        1e-3 * expected,
        "write g = (mu + sigma eps)^2 eps / sigma, expand in powers of eps and use "
        "E[eps^2] = 1, E[eps^4] = 3, E[eps^6] = 15 (odd moments vanish); Var = E[g^2] - (2 mu)^2.",
    )


def check_ch03_prior_as_q(answer: Any) -> None:
    r"""ELBO(q) in nats when q(z|x) is the prior N(0, I), for the chapter's linear-Gaussian
    model at x = CH03_LG_X (then the KL term is 0 and the gap is KL(p(z) || p(z|x)))."""
    model = ch03_linear_gaussian()
    zeros = [0.0] * model.latent_dim
    expected = float(model.elbo(list(CH03_LG_X), zeros, q_var=[1.0] * model.latent_dim))
    verdict(
        "ch03 ELBO with q = prior",
        answer,
        expected,
        1e-4,
        "with q = p(z) the KL term vanishes and ELBO = E_{p(z)}[log p(x|z)]; or use "
        "log p(x) - KL(N(0, I) || p(z|x)).",
    )
