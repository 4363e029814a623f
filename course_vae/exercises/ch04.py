"""Exercise checkers of chapter 04 (posterior collapse): the free-bits penalty, a cyclical
beta, the number of active units.
"""

from __future__ import annotations

from typing import Any

from course_vae.exercises.verdict import verdict

__all__ = [
    "CH04_ACTIVE_MU",
    "CH04_CYCLICAL",
    "CH04_FREE_BITS_FLOOR",
    "CH04_FREE_BITS_KL",
    "check_ch04_active_units",
    "check_ch04_cyclical_beta",
    "check_ch04_free_bits",
]

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
    verdict(
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
    verdict(
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
    verdict(
        "ch04 active units",
        answer,
        expected,
        1e-9,
        "for each column d take the population variance of mu_{n,d} over the rows "
        "(divide by N) and count the columns above 0.01.",
    )
