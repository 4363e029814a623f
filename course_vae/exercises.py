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
