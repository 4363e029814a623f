"""Exercise checkers of chapter 04 (posterior collapse): the free-bits penalty of a batch
(per-example vs batch-mean floor), a cyclical beta, the number of active units.
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

# KL(q(z_d | x_n) || N(0, 1)) in nats: rows are the 4 examples of a batch, columns the
# 3 latent dimensions.
CH04_FREE_BITS_KL = (
    (0.05, 0.60, 0.10),
    (0.45, 0.02, 0.08),
    (0.03, 0.50, 0.12),
    (0.35, 0.04, 0.10),
)
CH04_FREE_BITS_FLOOR = 0.25
CH04_CYCLICAL = {"total_steps": 1000, "n_cycles": 4, "ratio": 0.5, "step": 340}
# Posterior means: rows are 4 inputs, columns 5 latent dimensions. Column 3's variance is
# 0.00925 dividing by N but 0.0123 dividing by N - 1; column 4's std (0.07) is above 0.01.
CH04_ACTIVE_MU = (
    (0.9, 0.01, 0.13, 0.1, -0.6),
    (-0.8, -0.005, -0.04, -0.1, 0.5),
    (0.1, 0.005, 0.04, 0.0, 0.3),
    (-0.3, -0.01, -0.13, 0.0, -0.4),
)


# Exercise -> accepted distance from the right answer: half a unit of the second decimal
# plus slack; a count must be exact.
TOLERANCE = {"free_bits": 0.006, "cyclical_beta": 0.006, "active_units": 0.0}


def check_ch04_free_bits(answer: Any) -> None:
    r"""The free-bits KL term \sum_d max(lambda, mean_n KL_{n,d}) of the batch
    CH04_FREE_BITS_KL with lambda = CH04_FREE_BITS_FLOOR, in nats to 2 decimals, computed
    with the package's FreeBits on posteriors whose per-example KLs are exactly those."""
    import torch

    from course_vae.schedules import FreeBits

    kl = torch.tensor(CH04_FREE_BITS_KL, dtype=torch.float64)
    floor = CH04_FREE_BITS_FLOOR
    # mu = sqrt(2 KL) with sigma = 1 gives KL(q(z_d|x) || N(0, 1)) = mu^2 / 2 = KL.
    mu = torch.sqrt(2 * kl)
    expected = float(FreeBits(floor).group_kl(mu, torch.zeros_like(mu)).clamp(min=floor).sum())
    verdict(
        "ch04 free-bits penalty",
        answer,
        expected,
        TOLERANCE["free_bits"],
        [
            "the floor acts on the batch mean of each dimension: in which order do you "
            "average, floor and sum?",
            "first average each column (dimension) over the batch, then raise each mean below "
            "the floor to the floor, then sum over dimensions.",
        ],
        refine="give the sum to two decimals.",
        mistakes=[
            (float(kl.clamp(min=floor).sum(1).mean()),
             "the floor applied to each example's KL before averaging; free bits as in the "
             "IAF code floors the batch-mean KL per dimension"),
            (float(kl.sum(1).mean()), "the plain KL: the floor is missing"),
            (float(kl.mean(0).clamp(min=floor).sum() * kl.shape[0]),
             "summing over the batch instead of averaging"),
            (float(kl.mean(0).clamp(max=floor).sum()), "min instead of max"),
            (float(kl.mean(0).clamp(min=floor).mean()), "a mean over dimensions instead of "
                                                         "a sum"),
            (float((kl.mean(0) - floor).clamp(min=0).sum()),
             "a hinge max(0, KL - lambda): free bits keeps the KL where it is above the floor "
             "and raises it to the floor below it, max(lambda, KL)"),
        ],
    )


def check_ch04_cyclical_beta(answer: Any) -> None:
    r"""beta at step CH04_CYCLICAL["step"] of CyclicalAnnealing(total_steps, n_cycles, ratio),
    to 2 decimals."""
    from course_vae.schedules import CyclicalAnnealing

    c = CH04_CYCLICAL
    expected = CyclicalAnnealing(c["total_steps"], c["n_cycles"], c["ratio"])(c["step"])
    period = c["total_steps"] / c["n_cycles"]
    tau = (c["step"] % period) / period
    verdict(
        "ch04 cyclical beta",
        answer,
        expected,
        TOLERANCE["cyclical_beta"],
        [
            "in which cycle is the step, and how far into it?",
            "period = total_steps / n_cycles; tau = (step mod period) / period; "
            "beta = min(1, tau / ratio); steps count from 0.",
        ],
        refine="compute beta exactly and give it to two decimals.",
        mistakes=[
            (c["step"] / c["total_steps"], "one linear ramp over the whole run"),
            (tau, "tau itself: divide by the ratio R (the ramp takes R of each cycle)"),
            (min(1.0, c["step"] / c["total_steps"] / c["ratio"]), "forgetting the cycles"),
            (min(1.0, ((c["step"] - 1) % period) / period / c["ratio"]),
             "counting steps from 1, as Fu et al.'s formula does (tau = ((t - 1) mod "
             "ceil(T/M)) / (T/M)); the course's CyclicalAnnealing counts them from 0, so "
             "step 340 is t = 341 in the paper's formula"),
            (1.0, "beta on the plateau: check how far into its cycle the step is, and whether "
                  "the ramp (the first R of the cycle) is over"),
        ],
    )


def check_ch04_active_units(answer: Any) -> None:
    r"""Number of active units (Var_n mu_{n,d} > 0.01, dividing by N) of CH04_ACTIVE_MU."""
    import torch

    from course_vae.diagnostics import active_units

    mu = torch.tensor(CH04_ACTIVE_MU, dtype=torch.float64)
    expected = int(active_units(mu, 0.01).sum())
    verdict(
        "ch04 active units",
        answer,
        expected,
        0.0,
        [
            "a unit is active when its posterior mean moves with the input: how much does "
            "each column vary over the rows?",
            "for each column d take the variance of mu_{n,d} over the rows, dividing by N "
            "(the population variance), and count the columns above 0.01.",
        ],
        close=0.0,
        integer=True,
        mistakes=[
            (int((mu.var(0, correction=1) > 0.01).sum()),
             "dividing by N - 1 (the diagnostic uses the population variance: divide by N), "
             "or from counting the inactive units instead of the active ones (both give this "
             "count here)"),
            (int((mu.std(0, correction=0) > 0.01).sum()),
             "comparing the standard deviation, not the variance, with 0.01"),
            (mu.shape[1], "counting every dimension"),
        ],
    )
