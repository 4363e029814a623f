"""Exercise checkers of chapter 01 (KL basics): a KL in bits, the cost of a mismatched
Shannon code (predict, then measure), the forward-KL Gaussian fit to a mixture.

Each exercise states the precision it expects; the tolerances below are that precision
(half a unit of the last asked digit, plus rounding slack) or, where the exercise offers
sampling, about four standard errors at the sample size it suggests.
"""

from __future__ import annotations

import math
from typing import Any

from course_vae.exercises.verdict import verdict

__all__ = [
    "CH01_CODE_P",
    "CH01_CODE_Q",
    "CH01_MIX_MEANS",
    "CH01_MIX_STDS",
    "CH01_MIX_WEIGHTS",
    "CH01_P",
    "CH01_Q",
    "check_ch01_extra_bits",
    "check_ch01_forward_fit_std",
    "check_ch01_kl_bits",
]

CH01_Q = (0.7, 0.2, 0.1)
CH01_P = (0.4, 0.4, 0.2)
# Exercise 2: symbols from CH01_CODE_Q written with the Shannon code (lengths ceil(-log2 P))
# built for CH01_CODE_P.
CH01_CODE_Q = (0.7, 0.2, 0.1)
CH01_CODE_P = (0.4, 0.4, 0.2)
CH01_MIX_WEIGHTS = (0.3, 0.7)
CH01_MIX_MEANS = (-1.0, 3.0)
CH01_MIX_STDS = (0.5, 1.0)

# Two decimals asked: half a unit of the second decimal plus slack for rounded logs.
TWO_DECIMALS = 0.006


def _kl_bits(q, p) -> float:
    return math.fsum(qi * math.log2(qi / pi) for qi, pi in zip(q, p, strict=True))


def check_ch01_kl_bits(answer: Any) -> None:
    r"""KL(Q || P) in bits for Q = CH01_Q, P = CH01_P, to 2 decimals: \sum_i Q_i \log_2(Q_i/P_i)."""
    from course_vae.kl import kl_discrete

    expected = float(kl_discrete(list(CH01_Q), list(CH01_P), base=2))
    reverse = _kl_bits(CH01_P, CH01_Q)
    verdict(
        "ch01 KL in bits",
        answer,
        expected,
        TWO_DECIMALS,
        "sum Q_i log2(Q_i / P_i), the expectation under Q (the first argument); "
        "bits = nats / ln 2.",
        refine="carry three or four digits through the logs and round only at the end.",
        mistakes=[
            (expected * math.log(2), "the natural log: that is the KL in nats, not bits"),
            (reverse, "KL(P||Q), the other direction (expectation under P)"),
            (reverse * math.log(2), "KL(P||Q) in nats: both the direction and the unit"),
        ],
    )


def ch01_shannon_extra_bits() -> float:
    """E_Q[ceil(-log2 P)] - H(Q) in bits for CH01_CODE_Q, CH01_CODE_P (exact)."""
    from course_vae.coding import code_lengths, shannon_code

    lengths = code_lengths(shannon_code(list(CH01_CODE_P)))
    mean_length = math.fsum(q * n for q, n in zip(CH01_CODE_Q, lengths, strict=True))
    entropy = -math.fsum(q * math.log2(q) for q in CH01_CODE_Q)
    return mean_length - entropy


def check_ch01_extra_bits(answer: Any) -> None:
    r"""Bits per symbol above H(Q) when symbols from Q = CH01_CODE_Q are written with the
    Shannon code (lengths ceil(-log2 P_i)) built for P = CH01_CODE_P.

    Exact: E_Q[ceil(-log2 P)] - H(Q). Measured on a message of n >= 10,000 symbols the
    per-symbol lengths have sd 0.3 bit, so the standard error is <= 0.003: the tolerance
    0.012 is four of them (and two decimals of an exact answer pass too).
    """
    from course_vae.coding import code_lengths, shannon_code

    expected = ch01_shannon_extra_bits()
    kl = _kl_bits(CH01_CODE_Q, CH01_CODE_P)
    own = code_lengths(shannon_code(list(CH01_CODE_Q)))
    own_length = math.fsum(q * n for q, n in zip(CH01_CODE_Q, own, strict=True))
    entropy = -math.fsum(q * math.log2(q) for q in CH01_CODE_Q)
    verdict(
        "ch01 extra bits of a mismatched code",
        answer,
        expected,
        0.012,
        "average the integer lengths ceil(-log2 P_i) under Q (or encode a sampled message and "
        "count its bits), then subtract H(Q); the wrong-code theorem puts the result between "
        "KL(Q||P) and KL(Q||P) + 1.",
        refine="use a longer message (at least 10,000 symbols) or the exact average.",
        mistakes=[
            (kl, "the ideal lengths -log2 P without rounding up: that is KL(Q||P), the lower "
                 "end of the theorem's range"),
            (expected + entropy, "the average length itself; subtract H(Q)"),
            (own_length - entropy, "Q's own Shannon code, not the one built for P"),
            (expected + entropy - own_length, "the extra over Q's Shannon code, not over H(Q)"),
            (expected * math.log(2), "nats: the code lengths are in bits"),
        ],
    )


def _mixture_moments() -> tuple[float, float, float]:
    w, mu, sd = CH01_MIX_WEIGHTS, CH01_MIX_MEANS, CH01_MIX_STDS
    mean = math.fsum(wk * mk for wk, mk in zip(w, mu, strict=True))
    second = math.fsum(wk * (sk**2 + mk**2) for wk, mk, sk in zip(w, mu, sd, strict=True))
    within = math.fsum(wk * sk**2 for wk, sk in zip(w, sd, strict=True))
    return mean, second - mean**2, within


def check_ch01_forward_fit_std(answer: Any) -> None:
    r"""The std s of the Gaussian N(m, s^2) minimising KL(P || N(m, s^2)) for the mixture
    P = sum_k w_k N(mu_k, sigma_k^2) (CH01_MIX_WEIGHTS, _MEANS, _STDS), to 2 decimals.

    The std of 10^6 samples of P has a standard error of about 0.0015, so a sampled answer
    at that size passes too (tolerance 0.006, four standard errors)."""
    import torch

    d = torch.distributions
    f64 = torch.float64
    mixture = d.MixtureSameFamily(
        d.Categorical(torch.tensor(CH01_MIX_WEIGHTS, dtype=f64)),
        d.Normal(torch.tensor(CH01_MIX_MEANS, dtype=f64), torch.tensor(CH01_MIX_STDS, dtype=f64)),
    )
    expected = float(mixture.stddev)  # torch's own mixture moments
    _, var, within = _mixture_moments()
    w, sd = CH01_MIX_WEIGHTS, CH01_MIX_STDS
    verdict(
        "ch01 forward-KL fit std",
        answer,
        expected,
        TWO_DECIMALS,
        "the forward KL is minimised by matching moments: s^2 = Var_P[x] = E_P[x^2] - "
        "(E_P[x])^2, with E_P[x^2] = sum_k w_k (sigma_k^2 + mu_k^2).",
        mistakes=[
            (var, "the variance s^2; the question asks for the std s"),
            (math.fsum(wk * sk for wk, sk in zip(w, sd, strict=True)),
             "averaging the components' stds; the spread between the modes counts too"),
            (math.sqrt(within), "the within-component variance only; add the spread of the "
                                "means around m"),
            (max(sd), "the reverse-KL answer (mode-seeking: one component's width)"),
        ],
    )
