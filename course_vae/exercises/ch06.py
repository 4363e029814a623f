"""Exercise checkers of chapter 06 (the KL term in real code): three VAE losses "found in the
wild" (written for the course), whose effective beta and symptom the learner predicts by
reading the code.

Each loss has the ``pytorch/examples`` signature ``loss_fn(recon_x, x, mu, logvar)``; the
checkers compute the right beta with :func:`course_vae.audit.audit_vae_loss` at the
chapter's sizes (:data:`CH06_EX_SIZES`: the digits' 64 pixels, 8 latent dimensions,
batches of 128), and the expected number of active units from that beta with the regimes
chapter 06 measured on its trained runs (:data:`CH06_COLLAPSE_BETA`, :data:`CH06_ALL_ACTIVE_BETA`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from course_vae.exercises.verdict import as_number, verdict

__all__ = [
    "CH06_COLLAPSE_BETA",
    "CH06_EX_SIZES",
    "CH06_ALL_ACTIVE_BETA",
    "CH06_SE_COLLAPSE_BETA",
    "CH06_WILD_LOSSES",
    "check_ch06_active_units",
    "check_ch06_beta",
    "ch06_expected_active_units",
    "wild_loss_1",
    "wild_loss_2",
    "wild_loss_3",
]

CH06_EX_SIZES = {"batch_size": 128, "input_dim": 64, "latent_dim": 8}
"""The sizes at which the exercises' betas are asked: chapter 06's digits model."""
CH06_COLLAPSE_BETA = 4.0
"""From this effective beta up, chapter 06's runs of a BCE loss keep no active unit (it measured
the course's loss at beta 3: 5-7 of 8 active; at 4, 8, 16, 64 and the bug's 8192: 0 of 8 for
every seed)."""
CH06_SE_COLLAPSE_BETA = 2.0
"""The same for a squared-error loss, whose beta is relative to the summed squared error (a
Gaussian decoder of variance beta / 2 on [0, 1] pixels), so the BCE thresholds do not apply:
chapter 06 measured 1/2 SE (beta 2) and kld_weight (beta 5.86): 0 of 8 for every seed."""
CH06_ALL_ACTIVE_BETA = 0.125
"""Up to this beta (and above 0), they keep all 8 units active (it measured 1/8: 8 of 8)."""


def wild_loss_1(recon_x, x, mu, logvar):
    """A loss ported from a Keras tutorial (written for the course)."""
    recon = F.mse_loss(recon_x, x)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
    return recon + kl


def wild_loss_2(recon_x, x, mu, logvar):
    """A loss from a blog post's notebook (written for the course)."""
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    kld = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def wild_loss_3(recon_x, x, mu, logvar):
    """A loss from a course project (written for the course)."""
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum") / x.size(0)
    kld = torch.sum(mu.pow(2) + logvar.exp() - logvar - 1)
    return bce + kld


CH06_WILD_LOSSES = {1: wild_loss_1, 2: wild_loss_2, 3: wild_loss_3}
"""The exercises' losses by number."""


def _which(which: Any) -> int:
    try:
        known = not isinstance(which, bool) and which in CH06_WILD_LOSSES
    except TypeError:  # unhashable: a list, a dict, an array
        known = False
    if not known:
        raise ValueError(f"which must be one of {sorted(CH06_WILD_LOSSES)}, got {which!r}")
    return int(which)


def _audited_beta(which: int) -> float:
    from course_vae.audit import audit_vae_loss

    return float(audit_vae_loss(CH06_WILD_LOSSES[which], **CH06_EX_SIZES).beta)


def ch06_expected_active_units(beta: float, latent_dim: int = CH06_EX_SIZES["latent_dim"],
                               recon_form: str = "bernoulli"):
    """Active units chapter 06's runs show at this effective beta: 0 from
    :data:`CH06_COLLAPSE_BETA` up, all ``latent_dim`` in (0, :data:`CH06_ALL_ACTIVE_BETA`], None
    in between (where the count moves with the seed and the budget).  For
    ``recon_form="squared error"``: 0 from :data:`CH06_SE_COLLAPSE_BETA` up, None below."""
    beta = as_number("beta", beta)
    if recon_form == "squared error":
        return 0 if beta >= CH06_SE_COLLAPSE_BETA else None
    if beta >= CH06_COLLAPSE_BETA:
        return 0
    if 0 < beta <= CH06_ALL_ACTIVE_BETA:
        return int(latent_dim)
    return None


_NUDGE = ("write each term as a constant times its sum over the examples and over its own "
          "dimensions (pixels or latents): what does each reduction multiply it by?")
_HINTS = {
    1: (_NUDGE,
        "F.mse_loss averages over the batch AND the pixels; the KL is summed over latents and "
        "averaged over the batch. Beta is relative to the squared error summed over pixels "
        "(not to (x - x_hat)^2 / 2)."),
    2: (_NUDGE,
        "torch.mean with no dim averages over every element: the batch and the latents."),
    3: (_NUDGE,
        "the BCE is divided by the batch size, the KL is not; and compare the KL with "
        "1/2 sum(mu^2 + sigma^2 - log sigma^2 - 1)."),
}
_MISTAKES = {
    1: lambda b, n, d: [(1.0, "reading F.mse_loss as a sum"),
                        (float(b * n), "taking the KL as summed over the batch"),
                        (1.0 / n, "inverting the ratio: beta is c_KL / c_rec"),
                        (float(n) / b, "forgetting that F.mse_loss also averages over the "
                                       "batch"),
                        (float(n) / 2, "beta relative to a unit-variance Gaussian's "
                                       "(x - x_hat)^2 / 2; the exercise takes it relative to "
                                       "the squared error (x - x_hat)^2 summed over pixels"),
                        (2.0 * n, "a Gaussian's factor 1/2 applied the wrong way round; the "
                                  "exercise takes beta relative to the squared error "
                                  "(x - x_hat)^2 summed over pixels, with no 1/2")],
    2: lambda b, n, d: [(1.0 / d, "forgetting that torch.mean also averages over the batch"),
                        (1.0 / b, "forgetting that torch.mean also averages over the latents"),
                        (float(b * d), "inverting the ratio: beta is c_KL / c_rec")],
    3: lambda b, n, d: [(float(b), "missing the factor 2 (the KL has no 1/2)"),
                        (2.0, "missing that only the BCE is divided by the batch size"),
                        (float(b) / 2, "halving where the missing 1/2 doubles")],
}
# Relative tolerance of the beta; within _BETA_CLOSE (relative) an answer is told to refine.
_BETA_TOL = 1e-3
_BETA_CLOSE = 0.05


def check_ch06_beta(which: Any, answer: Any) -> None:
    r"""The effective beta (c_KL / c_rec) of ``wild_loss_<which>`` at the sizes of
    :data:`CH06_EX_SIZES`, exactly (a fraction such as 1/1024 is fine) or to 4 significant
    figures: tolerance 0.1 %, computed with :func:`course_vae.audit.audit_vae_loss`. For
    the squared-error loss beta is relative to the squared error summed over pixels."""
    which = _which(which)
    expected = _audited_beta(which)
    b, n, d = (CH06_EX_SIZES[k] for k in ("batch_size", "input_dim", "latent_dim"))
    verdict(
        f"ch06 wild loss {which}: effective beta",
        answer,
        expected,
        _BETA_TOL * abs(expected),
        _HINTS[which],
        close=_BETA_CLOSE * abs(expected),
        refine="give beta exactly, e.g. as a fraction (1/3 rather than 0.33), or to 4 "
               "significant figures.",
        mistakes=_MISTAKES[which](b, n, d),
        tol_text=f"{100 * _BETA_TOL:g} %",
    )


def check_ch06_active_units(which: Any, answer: Any) -> None:
    """How many of the 8 latent units stay active (posterior-mean variance > 0.01) after
    training ``wild_loss_<which>`` on the digits with chapter 06's budget: the count its
    runs show at this loss's effective beta (:func:`ch06_expected_active_units`). A count:
    only the exact whole number passes."""
    from course_vae.audit import audit_vae_loss

    which = _which(which)
    beta = _audited_beta(which)
    recon_form = audit_vae_loss(CH06_WILD_LOSSES[which], **CH06_EX_SIZES).recon_form
    expected = ch06_expected_active_units(beta, recon_form=recon_form)
    d = CH06_EX_SIZES["latent_dim"]
    verdict(
        f"ch06 wild loss {which}: active units",
        answer,
        float(expected),
        0.0,
        [
            "first find the effective beta (the other half of this exercise).",
            "compare your effective beta with the chapter's collapse (beta >= "
            f"{CH06_COLLAPSE_BETA:g}) and the all-active (beta <= 1/{1 / CH06_ALL_ACTIVE_BETA:g}) "
            "runs.",
        ],
        close=0.0,
        integer=True,
        mistakes=[(float(d - expected), "the opposite regime (collapse vs all units active)")],
    )
