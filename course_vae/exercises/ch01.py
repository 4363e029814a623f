"""Exercise checkers of chapter 01 (KL basics): a KL in bits, the cost of a mismatched
Shannon code (predict, then measure), the forward-KL Gaussian fit to a mixture.

Each exercise states the precision it expects, and the tolerances below (``TOLERANCE``)
follow from it: half a unit of the last asked digit, plus what the routes the exercise
offers add on top (two-decimal logs; four standard errors of a Monte Carlo answer at the
sample size it suggests), plus a little slack. Every named slip is told apart from the others
(see :mod:`course_vae.exercises.verdict`).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from course_vae.exercises.verdict import verdict

__all__ = [
    "CH01_CODE_MESSAGE_LENGTH",
    "CH01_CODE_P",
    "CH01_CODE_Q",
    "CH01_MIX_MEANS",
    "CH01_MIX_SAMPLES",
    "CH01_MIX_STDS",
    "CH01_MIX_WEIGHTS",
    "CH01_P",
    "CH01_Q",
    "check_ch01_extra_bits",
    "check_ch01_forward_fit_std",
    "check_ch01_kl_bits",
]

# Exercise 1: KL(Q || P) in bits. An asymmetric pair: the two directions differ by 0.25 bit.
CH01_Q = (0.6, 0.3, 0.1)
CH01_P = (0.2, 0.2, 0.6)
# Exercise 2: symbols from CH01_CODE_Q written with the Shannon code (lengths ceil(-log2 P))
# built for CH01_CODE_P (the same pair), measured on a message of this many symbols.
CH01_CODE_Q = CH01_Q
CH01_CODE_P = CH01_P
CH01_CODE_MESSAGE_LENGTH = 100_000
# Exercise 3: the forward-KL Gaussian fit of a two-component mixture (or the std of samples).
CH01_MIX_WEIGHTS = (0.3, 0.7)
CH01_MIX_MEANS = (-1.0, 3.0)
CH01_MIX_STDS = (0.5, 1.0)
CH01_MIX_SAMPLES = 1_000_000

HALF_OF_2ND_DECIMAL = 0.005
SLACK = 0.001


def _kl_bits(q, p) -> float:
    return math.fsum(qi * math.log2(qi / pi) for qi, pi in zip(q, p, strict=True))


def _entropy_bits(q) -> float:
    return -math.fsum(qi * math.log2(qi) for qi in q)


def _mean_length(q, code) -> float:
    return math.fsum(qi * len(w) for qi, w in zip(q, code, strict=True))


def _length_sd(q, code) -> float:
    mean = _mean_length(q, code)
    return math.sqrt(math.fsum(qi * (len(w) - mean) ** 2 for qi, w in zip(q, code, strict=True)))


def _extra_bits_tol() -> float:
    from course_vae.coding import shannon_code

    se = _length_sd(CH01_CODE_Q, shannon_code(list(CH01_CODE_P))) / math.sqrt(
        CH01_CODE_MESSAGE_LENGTH
    )
    return HALF_OF_2ND_DECIMAL + 4 * se + SLACK


def _mixture_moments() -> tuple[float, float, float, float]:
    """Mean, variance, within-component variance and 4th central moment of the mixture."""
    w, mu, sd = CH01_MIX_WEIGHTS, CH01_MIX_MEANS, CH01_MIX_STDS
    mean = math.fsum(wk * mk for wk, mk in zip(w, mu, strict=True))
    second = math.fsum(wk * (sk**2 + mk**2) for wk, mk, sk in zip(w, mu, sd, strict=True))
    within = math.fsum(wk * sk**2 for wk, sk in zip(w, sd, strict=True))
    m4 = math.fsum(
        wk * ((mk - mean) ** 4 + 6 * (mk - mean) ** 2 * sk**2 + 3 * sk**4)
        for wk, mk, sk in zip(w, mu, sd, strict=True)
    )
    return mean, second - mean**2, within, m4


def _forward_fit_tol() -> float:
    # standard error of the std of n samples: sqrt((m4 - var^2) / n) / (2 std)
    _, var, _, m4 = _mixture_moments()
    se = math.sqrt((m4 - var**2) / CH01_MIX_SAMPLES) / (2 * math.sqrt(var))
    return HALF_OF_2ND_DECIMAL + 4 * se + SLACK


# Exercise -> accepted distance from the right answer (see the module docstring).
TOLERANCE = {
    # two decimals from two-decimal logs: 0.005 for the logs, 0.005 for the rounding
    "kl_bits": 2 * HALF_OF_2ND_DECIMAL + SLACK,
    "extra_bits": _extra_bits_tol(),
    "forward_fit_std": _forward_fit_tol(),
}


def check_ch01_kl_bits(answer: Any) -> None:
    r"""KL(Q || P) in bits for Q = CH01_Q, P = CH01_P, to 2 decimals: \sum_i Q_i \log_2(Q_i/P_i).

    Two-decimal logs and a two-decimal answer pass (tolerance 0.011); the other direction
    lies 0.25 bit away, so a coarse answer in the right direction is not taken for it."""
    from course_vae.kl import kl_discrete

    expected = float(kl_discrete(list(CH01_Q), list(CH01_P), base=2))
    reverse = _kl_bits(CH01_P, CH01_Q)
    verdict(
        "ch01 KL in bits",
        answer,
        expected,
        TOLERANCE["kl_bits"],
        [
            "which distribution does the KL average over, and which log gives bits?",
            "KL(Q||P) = sum_i Q_i log2(Q_i / P_i): weights Q_i (the first argument), "
            "log base 2 (or nats / ln 2).",
        ],
        refine="carry three digits through the logs and round only at the end.",
        mistakes=[
            (expected * math.log(2), "the natural log: that is the KL in nats, not bits"),
            (reverse, "KL(P||Q), the other direction (expectation under P)"),
            (reverse * math.log(2), "KL(P||Q) in nats: both the direction and the unit"),
            (-expected, "the sign: sum Q_i log2(P_i / Q_i) is minus the KL (a KL is >= 0)"),
            (-reverse, "the sign and the direction"),
            (expected + _entropy_bits(CH01_Q),
             "the cross-entropy sum Q_i log2(1 / P_i); subtract the entropy H(Q)"),
            (_entropy_bits(CH01_Q), "the entropy H(Q) alone"),
            (0.5 * (expected + reverse),
             "the average of both directions; the KL is not symmetric, this asks for KL(Q||P)"),
        ],
    )


def ch01_shannon_extra_bits() -> float:
    """E_Q[ceil(-log2 P)] - H(Q) in bits for CH01_CODE_Q, CH01_CODE_P (exact)."""
    from course_vae.coding import shannon_code

    return _mean_length(CH01_CODE_Q, shannon_code(list(CH01_CODE_P))) - _entropy_bits(CH01_CODE_Q)


def check_ch01_extra_bits(answer: Any) -> None:
    r"""Bits per symbol above H(Q) when symbols from Q = CH01_CODE_Q are written with the
    Shannon code (lengths ceil(-log2 P_i)) built for P = CH01_CODE_P, to 2 decimals.

    Exact: E_Q[ceil(-log2 P)] - H(Q). Measured on a message of CH01_CODE_MESSAGE_LENGTH
    symbols, the standard error is sd(length) / sqrt(n) = 0.0019; the tolerance is half a
    unit of the second decimal plus four of them.
    """
    from course_vae.coding import huffman_code, shannon_code

    expected = ch01_shannon_extra_bits()
    q, p = CH01_CODE_Q, CH01_CODE_P
    kl = _kl_bits(q, p)
    entropy = _entropy_bits(q)
    own = _mean_length(q, shannon_code(list(q)))
    verdict(
        "ch01 extra bits of a mismatched code",
        answer,
        expected,
        TOLERANCE["extra_bits"],
        [
            "what does the wrong-code theorem predict, and which lengths does a Shannon code "
            "for P give each symbol?",
            "lengths ceil(-log2 P_i); average them under Q (or encode a sampled message and "
            "count its bits per symbol), then subtract H(Q) = -sum Q_i log2 Q_i.",
        ],
        refine="use the exact average of the lengths, or a message of at least "
               f"{CH01_CODE_MESSAGE_LENGTH:,} symbols.",
        mistakes=[
            (kl, "the ideal lengths -log2 P without rounding up: that is KL(Q||P), the lower "
                 "end of the theorem's range"),
            (kl + 1, "KL + 1, the theorem's upper bound; the code costs less than that"),
            (expected + entropy, "the average length itself; subtract H(Q)"),
            (own - entropy, "Q's own Shannon code, not the one built for P"),
            (_mean_length(q, huffman_code(list(q))) - entropy,
             "Q's own Huffman code, not a code built for P"),
            (expected + entropy - own, "the extra over Q's Shannon code, not over H(Q)"),
            (expected * math.log(2), "nats: the code lengths are in bits"),
            (_mean_length(q, huffman_code(list(p))) - entropy,
             "the Huffman code built for P: the exercise uses Shannon's code, lengths "
             "ceil(-log2 P_i)"),
        ],
    )


@functools.cache
def ch01_reverse_fit_stds() -> tuple[float, float]:
    """The std of the reverse-KL Gaussian fits of the Exercise 3 mixture: on the heavier
    component (from any start right of the gap) and on the lighter one."""
    from course_vae.kl import fit_gaussian_1d

    mixture = _mixture()
    _, right = fit_gaussian_1d(mixture.log_prob, "reverse", init=(CH01_MIX_MEANS[1], 1.0))
    _, left = fit_gaussian_1d(mixture.log_prob, "reverse", init=(CH01_MIX_MEANS[0], 0.5))
    return right, left


def _mixture():
    import torch

    d = torch.distributions
    f64 = torch.float64
    return d.MixtureSameFamily(
        d.Categorical(torch.tensor(CH01_MIX_WEIGHTS, dtype=f64)),
        d.Normal(torch.tensor(CH01_MIX_MEANS, dtype=f64), torch.tensor(CH01_MIX_STDS, dtype=f64)),
    )


def check_ch01_forward_fit_std(answer: Any) -> None:
    r"""The std s of the Gaussian N(m, s^2) minimising KL(P || N(m, s^2)) for the mixture
    P = sum_k w_k N(mu_k, sigma_k^2) (CH01_MIX_WEIGHTS, _MEANS, _STDS), to 2 decimals.

    The std of CH01_MIX_SAMPLES samples of P has a standard error of 0.00094, so a sampled
    answer rounded to 2 decimals passes too (tolerance: half a unit of the second decimal
    plus four standard errors)."""
    expected = float(_mixture().stddev)  # torch's own mixture moments
    mean, var, within, _ = _mixture_moments()
    w, sd = CH01_MIX_WEIGHTS, CH01_MIX_STDS
    reverse_right, reverse_left = ch01_reverse_fit_stds()
    verdict(
        "ch01 forward-KL fit std",
        answer,
        expected,
        TOLERANCE["forward_fit_std"],
        [
            "Section 6: what does the forward KL's best Gaussian match?",
            "it matches moments: s^2 = Var_P[x] = E_P[x^2] - (E_P[x])^2, with "
            "E_P[x^2] = sum_k w_k (sigma_k^2 + mu_k^2).",
        ],
        refine=f"carry more digits, or use at least {CH01_MIX_SAMPLES:,} samples.",
        mistakes=[
            (var, "the variance s^2; the question asks for the std s"),
            (mean, "the mean m; the question asks for the std s"),
            (math.sqrt(var + mean**2), "the square root of E_P[x^2]: subtract m^2 = (E_P[x])^2 "
                                       "to get the variance"),
            (math.fsum(wk * sk for wk, sk in zip(w, sd, strict=True)),
             "averaging the components' stds; the spread between the modes counts too"),
            (math.sqrt(within), "the within-component variance only; add the spread of the "
                                "means around m"),
            (max(sd), "one component's own std; the forward fit covers both"),
            (reverse_right, "the reverse-KL fit (mode-seeking: it sits on the heavier "
                            "component)"),
            (reverse_left, "the reverse-KL fit on the lighter component (mode-seeking)"),
        ],
    )
