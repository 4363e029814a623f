"""Checkers for the chapters' exercises.

Each ``check_*`` function computes the right answer with the package, compares the
learner's answer with a tolerance and prints a verdict (it returns nothing, so a
notebook cell shows only the verdict).  An unanswered exercise
(``None``) prints a reminder; a wrong answer raises ``AssertionError`` with a hint,
so a solution cell that calls the checker fails loudly if it is wrong.
"""

from __future__ import annotations

import math
from typing import Any


def _verdict(name: str, answer: Any, expected: float, tol: float, hint: str) -> bool:
    if answer is None:
        print(f"{name}: not answered yet - replace None with your answer and run the cell again.")
        return False
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: the answer must be a number, got {type(answer).__name__}"
        ) from None
    if not math.isfinite(value) or abs(value - expected) > tol:
        raise AssertionError(f"{name}: {value:.6g} is not right. Hint: {hint}")
    print(f"{name}: correct ({value:.4f}).")
    return True


# --- Chapter 02: the Gaussian closed form -------------------------------------------------

CH02_KL_MU = (1.0, -0.5)
CH02_KL_SIGMA = (0.5, 1.5)
CH02_BEST_SIGMA_MU = 2.0
CH02_GRAD_MU = 0.7
CH02_GRAD_LOGVAR = 1.0


def check_ch02_kl_by_hand(answer: Any) -> None:
    r"""KL(N(mu, diag sigma^2) || N(0, I)) for mu = CH02_KL_MU, sigma = CH02_KL_SIGMA, in nats."""
    from course_vae.kl import kl_normal_std

    logvar = [2.0 * math.log(s) for s in CH02_KL_SIGMA]
    expected = float(kl_normal_std(list(CH02_KL_MU), logvar))
    _verdict(
        "ch02 KL by hand",
        answer,
        expected,
        1e-3,
        "sum 1/2 (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1) over both dimensions; "
        "square sigma before taking the log.",
    )


def check_ch02_best_sigma(answer: Any) -> None:
    r"""The sigma > 0 that minimises KL(N(mu, sigma^2) || N(0, 1)) for mu = CH02_BEST_SIGMA_MU."""
    import torch

    from course_vae.kl import kl_normal_std

    # A fine grid search over sigma, so the checker does not just restate the answer.
    sigma = torch.linspace(0.01, 5.0, 49_901, dtype=torch.float64)
    mu = torch.full_like(sigma, CH02_BEST_SIGMA_MU)
    kl = kl_normal_std(mu[:, None], (2.0 * torch.log(sigma))[:, None])
    expected = float(sigma[kl.argmin()])
    _verdict(
        "ch02 best sigma",
        answer,
        expected,
        1e-3,
        "the mu term does not depend on sigma; set d/d sigma of (sigma^2 - log sigma^2) to 0.",
    )


def check_ch02_grad_logvar(answer: Any) -> None:
    r"""dKL/dlogvar at mu = CH02_GRAD_MU, logvar = CH02_GRAD_LOGVAR (one dimension), by autograd."""
    import torch

    from course_vae.kl import kl_normal_std

    logvar = torch.tensor([CH02_GRAD_LOGVAR], dtype=torch.float64, requires_grad=True)
    kl = kl_normal_std(torch.tensor([CH02_GRAD_MU], dtype=torch.float64), logvar)
    (grad,) = torch.autograd.grad(kl, logvar)
    _verdict(
        "ch02 gradient w.r.t. logvar",
        answer,
        float(grad[0]),
        1e-4,
        "differentiate 1/2 (exp(logvar) - logvar) with respect to logvar; mu does not enter.",
    )


# --- Chapter 01: KL basics -------------------------------------------------------------------

CH01_Q = (0.7, 0.2, 0.1)
CH01_P = (0.4, 0.4, 0.2)
CH01_CODE_Q = (0.5, 0.25, 0.125, 0.125)
CH01_CODE_P = (0.25, 0.125, 0.125, 0.5)
CH01_MIX_WEIGHTS = (0.3, 0.7)
CH01_MIX_MEANS = (-1.0, 3.0)
CH01_MIX_STDS = (0.5, 1.0)


def check_ch01_kl_bits(answer: Any) -> None:
    r"""KL(Q || P) in bits for Q = CH01_Q, P = CH01_P: \sum_i Q_i \log_2(Q_i / P_i)."""
    from course_vae.kl import kl_discrete

    expected = float(kl_discrete(list(CH01_Q), list(CH01_P), base=2))
    _verdict(
        "ch01 KL in bits",
        answer,
        expected,
        1e-3,
        "sum Q_i log2(Q_i / P_i) with Q first; bits = nats / ln 2.",
    )


def check_ch01_extra_bits(answer: Any) -> None:
    r"""Extra bits per symbol when symbols from CH01_CODE_Q are written with the Huffman code
    built for CH01_CODE_P instead of the one built for CH01_CODE_Q (an expectation, exact)."""
    from course_vae.coding import expected_length, huffman_code

    q, p = list(CH01_CODE_Q), list(CH01_CODE_P)
    expected = expected_length(q, huffman_code(p)) - expected_length(q, huffman_code(q))
    _verdict(
        "ch01 extra bits",
        answer,
        expected,
        1e-6,
        "average the codeword lengths of P's code under Q, subtract the average length of "
        "Q's own code; both distributions are dyadic, so this is KL(Q||P) in bits.",
    )


def _ch01_mixture():
    import torch

    d = torch.distributions
    f64 = torch.float64
    return d.MixtureSameFamily(
        d.Categorical(torch.tensor(CH01_MIX_WEIGHTS, dtype=f64)),
        d.Normal(torch.tensor(CH01_MIX_MEANS, dtype=f64), torch.tensor(CH01_MIX_STDS, dtype=f64)),
    )


def check_ch01_forward_fit_std(answer: Any) -> None:
    r"""The std s of the Gaussian N(m, s^2) minimising KL(P || N(m, s^2)) for the mixture
    P = sum_k w_k N(mu_k, sigma_k^2) with CH01_MIX_WEIGHTS, CH01_MIX_MEANS, CH01_MIX_STDS."""
    from course_vae.kl import fit_gaussian_1d

    if answer is None:  # no need to run the fit just to print the reminder
        _verdict("ch01 forward-KL fit std", None, 0.0, 0.0, "")
        return
    m, s = fit_gaussian_1d(_ch01_mixture().log_prob, "forward", init=(0.0, 1.0), steps=400, lr=0.05)
    _verdict(
        "ch01 forward-KL fit std",
        answer,
        s,
        1e-2,
        "forward KL matches moments: s^2 = sum_k w_k (sigma_k^2 + mu_k^2) - (sum_k w_k mu_k)^2.",
    )


# --- Chapter 03 ---------------------------------------------------------------------------

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
    _verdict(
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
    _verdict(
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
    _verdict(
        "ch03 ELBO with q = prior",
        answer,
        expected,
        1e-4,
        "with q = p(z) the KL term vanishes and ELBO = E_{p(z)}[log p(x|z)]; or use "
        "log p(x) - KL(N(0, I) || p(z|x)).",
    )


# --- Chapter 04: posterior collapse ---------------------------------------------------------

CH04_FREE_BITS_KL = (0.02, 0.4, 0.15, 1.3)
CH04_FREE_BITS_FLOOR = 0.25
CH04_CYCLICAL = {"total_steps": 1000, "n_cycles": 4, "ratio": 0.5, "step": 340}
CH04_ACTIVE_MU = (
    (0.9, 0.01, -1.2, 0.05),
    (-0.8, -0.02, 1.1, 0.04),
    (0.1, 0.03, 0.2, -0.06),
    (-0.3, -0.01, -0.1, 0.08),
)


def check_ch04_free_bits(answer: Any) -> None:
    r"""The free-bits KL penalty \sum_d max(lambda, KL_d) for batch-mean KLs CH04_FREE_BITS_KL
    and lambda = CH04_FREE_BITS_FLOOR (nats), computed with FreeBits on posteriors whose
    per-dimension KLs are exactly those values."""
    import torch

    from course_vae.schedules import FreeBits

    kl = torch.tensor(CH04_FREE_BITS_KL, dtype=torch.float64)
    # mu_d = sqrt(2 KL_d) with sigma = 1 gives KL(q(z_d|x) || N(0, 1)) = mu_d^2 / 2 = KL_d.
    mu = torch.sqrt(2 * kl)[None, :]
    expected = float(FreeBits(CH04_FREE_BITS_FLOOR).group_kl(mu, torch.zeros_like(mu))
                     .clamp(min=CH04_FREE_BITS_FLOOR).sum())
    _verdict(
        "ch04 free-bits penalty",
        answer,
        expected,
        1e-3,
        "raise every dimension's KL below the floor to the floor, keep the others, then sum.",
    )


def check_ch04_cyclical_beta(answer: Any) -> None:
    r"""beta at step CH04_CYCLICAL["step"] of CyclicalAnnealing(total_steps, n_cycles, ratio)."""
    from course_vae.schedules import CyclicalAnnealing

    c = CH04_CYCLICAL
    expected = CyclicalAnnealing(c["total_steps"], c["n_cycles"], c["ratio"])(c["step"])
    _verdict(
        "ch04 cyclical beta",
        answer,
        expected,
        1e-6,
        "period = total_steps / n_cycles; tau = (step mod period) / period; "
        "beta = min(1, tau / ratio).",
    )


def check_ch04_active_units(answer: Any) -> None:
    r"""Number of active units (Var_n mu_{n,d} > 0.01) of the posterior means CH04_ACTIVE_MU."""
    from course_vae.diagnostics import active_units

    expected = int(active_units(list(CH04_ACTIVE_MU), 0.01).sum())
    _verdict(
        "ch04 active units",
        answer,
        expected,
        1e-9,
        "for each column d take the population variance of mu_{n,d} over the rows "
        "(divide by N) and count the columns above 0.01.",
    )


# --- Chapter 05: beta-VAE -----------------------------------------------------------------

CH05_POINT_A = (8.0, 3.0)  # (rate R, distortion D) in nats of a model trained with a small beta
CH05_POINT_B = (3.0, 20.0)  # (rate R, distortion D) of a model trained with a large beta
CH05_CAPACITY = {"c_max": 5.0, "n_steps": 800, "gamma": 30.0}
CH05_CAPACITY_STEP = 200
CH05_CAPACITY_KL = 2.0  # batch-mean KL (nats)
CH05_CAPACITY_RECON = -30.0  # batch-mean log p(x|z) (nats)


def check_ch05_indifferent_beta(answer: Any) -> None:
    r"""The beta at which the beta-VAE loss D + beta R is the same for CH05_POINT_A and _B."""
    import numpy as np

    (ra, da), (rb, db) = CH05_POINT_A, CH05_POINT_B
    # Bisection on the loss difference, so the checker does not just restate the formula.
    lo, hi = 0.0, 1000.0
    diff = lambda b: (da + b * ra) - (db + b * rb)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.sign(diff(mid)) == np.sign(diff(lo)) else (lo, mid)
    _verdict(
        "ch05 indifferent beta",
        answer,
        0.5 * (lo + hi),
        1e-3,
        "set D_A + beta R_A = D_B + beta R_B and solve for beta: minus the slope of the "
        "straight line through the two points of the rate-distortion plane.",
    )


def _ch05_duplicated_codes():
    import torch

    from course_vae.sprites import make_sprites

    s = make_sprites(size=16, shapes=("square",), n_scales=1, n_orientations=1, n_x=8, n_y=8)
    x, y = s.labels[:, 3].double(), s.labels[:, 4].double()
    return torch.stack([x, y, x], dim=1), s.labels


def check_ch05_mig_duplicate(answer: Any) -> None:
    r"""MIG of the codes (x, y, x) against the factors of an 8 x 8 grid of positions."""
    from course_vae.disentanglement import mig

    codes, factors = _ch05_duplicated_codes()
    _verdict(
        "ch05 MIG of a duplicated code",
        answer,
        mig(codes, factors),
        1e-6,
        "for x the two best dimensions carry the same information (gap 0); for y the best "
        "carries all of H(y) and the runner-up nothing (gap 1); MIG averages the factors "
        "that vary.",
    )


def check_ch05_capacity_loss(answer: Any) -> None:
    r"""KLCapacity loss -mean(recon) + gamma |mean(KL) - C(t)| for the CH05_CAPACITY_* numbers."""
    from types import SimpleNamespace

    import torch

    from course_vae.schedules import KLCapacity

    objective = KLCapacity(**CH05_CAPACITY)
    terms = SimpleNamespace(
        recon=torch.tensor([CH05_CAPACITY_RECON], dtype=torch.float64),
        kl=torch.tensor([CH05_CAPACITY_KL], dtype=torch.float64),
    )
    _verdict(
        "ch05 capacity loss",
        answer,
        float(objective(terms, step=CH05_CAPACITY_STEP)),
        1e-6,
        "first C(t) = c_max * t / n_steps, then -recon + gamma * |KL - C(t)|; the loss "
        "punishes a KL below the target as much as one above it.",
    )
