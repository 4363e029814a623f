"""Exercise checkers of chapter 01 (KL basics): KL in bits, the extra bits of a wrong code,
the forward-KL Gaussian fit to a mixture.
"""

from __future__ import annotations

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
CH01_CODE_Q = (0.5, 0.25, 0.125, 0.125)
CH01_CODE_P = (0.25, 0.125, 0.125, 0.5)
CH01_MIX_WEIGHTS = (0.3, 0.7)
CH01_MIX_MEANS = (-1.0, 3.0)
CH01_MIX_STDS = (0.5, 1.0)


def check_ch01_kl_bits(answer: Any) -> None:
    r"""KL(Q || P) in bits for Q = CH01_Q, P = CH01_P: \sum_i Q_i \log_2(Q_i / P_i)."""
    from course_vae.kl import kl_discrete

    expected = float(kl_discrete(list(CH01_Q), list(CH01_P), base=2))
    verdict(
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
    verdict(
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
        verdict("ch01 forward-KL fit std", None, 0.0, 0.0, "")
        return
    m, s = fit_gaussian_1d(_ch01_mixture().log_prob, "forward", init=(0.0, 1.0), steps=400, lr=0.05)
    verdict(
        "ch01 forward-KL fit std",
        answer,
        s,
        1e-2,
        "forward KL matches moments: s^2 = sum_k w_k (sigma_k^2 + mu_k^2) - (sum_k w_k mu_k)^2.",
    )
