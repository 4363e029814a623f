"""Exercise checkers of chapter 02 (the Gaussian closed form): a KL by hand, the best sigma,
the gradient with respect to logvar.
"""

from __future__ import annotations

import math
from typing import Any

from course_vae.exercises.verdict import verdict

__all__ = [
    "CH02_BEST_SIGMA_MU",
    "CH02_GRAD_LOGVAR",
    "CH02_GRAD_MU",
    "CH02_KL_MU",
    "CH02_KL_SIGMA",
    "check_ch02_best_sigma",
    "check_ch02_grad_logvar",
    "check_ch02_kl_by_hand",
]

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
    verdict(
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
    verdict(
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
    verdict(
        "ch02 gradient w.r.t. logvar",
        answer,
        float(grad[0]),
        1e-4,
        "differentiate 1/2 (exp(logvar) - logvar) with respect to logvar; mu does not enter.",
    )
