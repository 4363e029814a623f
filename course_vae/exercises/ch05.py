"""Exercise checkers of chapter 05 (the beta-VAE): the indifferent beta of two rate-distortion
points, the MIG of a duplicated code, the capacity loss.
"""

from __future__ import annotations

from typing import Any

from course_vae.exercises.verdict import verdict

__all__ = [
    "CH05_EX_CAPACITY",
    "CH05_EX_CAPACITY_KL",
    "CH05_EX_CAPACITY_RECON",
    "CH05_EX_CAPACITY_STEP",
    "CH05_POINT_A",
    "CH05_POINT_B",
    "check_ch05_capacity_loss",
    "check_ch05_indifferent_beta",
    "check_ch05_mig_duplicate",
]

CH05_POINT_A = (8.0, 3.0)  # (rate R, distortion D) in nats of a model trained with a small beta
CH05_POINT_B = (3.0, 20.0)  # (rate R, distortion D) of a model trained with a large beta
CH05_EX_CAPACITY = {"c_max": 5.0, "n_steps": 800, "gamma": 30.0}
CH05_EX_CAPACITY_STEP = 200
CH05_EX_CAPACITY_KL = 0.5  # batch-mean KL (nats), below C(t): a missing |.| changes the loss
CH05_EX_CAPACITY_RECON = -30.0  # batch-mean log p(x|z) (nats)


# Exercise -> accepted distance from the right answer: half a unit of the second decimal
# plus slack.
TOLERANCE = {"indifferent_beta": 0.006, "mig_duplicate": 0.006, "capacity_loss": 0.006}


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
    verdict(
        "ch05 indifferent beta",
        answer,
        0.5 * (lo + hi),
        TOLERANCE["indifferent_beta"],
        [
            "write the loss D + beta R of each model; where are the two equal?",
            "set D_A + beta R_A = D_B + beta R_B and solve for beta: minus the slope of the "
            "straight line through the two points of the rate-distortion plane.",
        ],
        refine="solve the equation exactly and give beta to two decimals.",
        mistakes=[
            (-0.5 * (lo + hi), "the slope itself; beta is minus the slope (it is > 0)"),
            (1 / (0.5 * (lo + hi)), "rate over distortion: the inverse of beta"),
        ],
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
    verdict(
        "ch05 MIG of a duplicated code",
        answer,
        mig(codes, factors),
        TOLERANCE["mig_duplicate"],
        [
            "MIG scores, per factor, the gap between the best and the second-best latent "
            "dimension: what is that gap for x, and for y?",
            "for each factor, compute the mutual information of every code dimension with it, "
            "divided by the factor's entropy; take the best minus the second best; then "
            "average these gaps over the factors that vary across the grid.",
        ],
        refine="give MIG to two decimals.",
        mistakes=[
            (1.0, "'both factors are stored exactly': MIG scores the gap to the runner-up, "
                  "and x's copy is a runner-up as good as the best"),
            (0.0, "a gap of 0 for y too: y is stored once, its runner-up knows nothing"),
            (0.2, "averaging over all 5 factors of the sprites; only x and y vary on this "
                  "grid, and MIG averages over the factors that vary"),
        ],
    )


def check_ch05_capacity_loss(answer: Any) -> None:
    r"""KLCapacity loss -mean(recon) + gamma |mean(KL) - C(t)| for the CH05_EX_CAPACITY_*
    numbers."""
    from types import SimpleNamespace

    import torch

    from course_vae.schedules import KLCapacity

    objective = KLCapacity(**CH05_EX_CAPACITY)
    terms = SimpleNamespace(
        recon=torch.tensor([CH05_EX_CAPACITY_RECON], dtype=torch.float64),
        kl=torch.tensor([CH05_EX_CAPACITY_KL], dtype=torch.float64),
    )
    c = CH05_EX_CAPACITY
    capacity = objective.capacity(CH05_EX_CAPACITY_STEP)
    gap = abs(CH05_EX_CAPACITY_KL - capacity)
    verdict(
        "ch05 capacity loss",
        answer,
        float(objective(terms, step=CH05_EX_CAPACITY_STEP)),
        TOLERANCE["capacity_loss"],
        [
            "what is the capacity target C at this step, and how does the loss penalise the "
            "KL's distance from it?",
            "first C(t) = c_max * t / n_steps, then -recon + gamma * |KL - C(t)|; the loss "
            "punishes a KL below the target as much as one above it.",
        ],
        refine="give the loss to two decimals.",
        mistakes=[
            (-CH05_EX_CAPACITY_RECON + c["gamma"] * abs(CH05_EX_CAPACITY_KL - c["c_max"]),
             "C = c_max from the start; C(t) ramps up over n_steps"),
            (CH05_EX_CAPACITY_RECON + c["gamma"] * gap,
             "the sign of the reconstruction term: the loss has MINUS log p(x|z)"),
            (-CH05_EX_CAPACITY_RECON + gap, "forgetting gamma"),
            (-CH05_EX_CAPACITY_RECON + c["gamma"] * CH05_EX_CAPACITY_KL, "forgetting C(t)"),
            (-CH05_EX_CAPACITY_RECON + c["gamma"] * (CH05_EX_CAPACITY_KL - capacity),
             "KL - C(t) without the absolute value: the penalty is gamma |KL - C(t)|, the "
             "distance from the target whichever side the KL is on"),
            (-CH05_EX_CAPACITY_RECON + c["gamma"] * gap**2,
             "squaring the gap; the penalty is gamma times its absolute value"),
        ],
    )
