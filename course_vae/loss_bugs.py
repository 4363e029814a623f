r"""The VAE losses of chapter 06: the correct one, and the bugs people ship.

Every function has the signature of ``pytorch/examples``' vae loss,
``loss_fn(recon_x, x, mu, logvar) -> scalar tensor``, with ``recon_x`` and ``x`` of shape
(batch, pixels) and ``mu``, ``logvar`` of shape (batch, latent dimensions).  Each is written as
a learner would write it.  The reference is the negative ELBO summed over the batch,

    loss = \sum_n [ \sum_p BCE(x_np, recon_np) + KL_n ],
    KL_n = 1/2 \sum_j (mu_nj^2 + e^{l_nj} - l_nj - 1),   l = logvar = log sigma^2.

A bug reweights or deforms the two terms.  Writing any of these losses as
c_rec \sum_n \sum_p r + c_KL \sum_n KL_n (+ a constant), the *effective beta* is
c_KL / c_rec: 1 for the reference, whatever the batch size, pixel count or latent dimension.
:data:`CATALOGUE` lists every loss with the beta, forms and reductions it really has;
:func:`course_vae.audit.audit_vae_loss` measures them from outside.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from course_vae._validate import check_choice, check_real

__all__ = [
    "DATASET_SIZE",
    "LossBug",
    "CATALOGUE",
    "bug_by_name",
    "correct_loss",
    "correct_logits_loss",
    "recon_mean_kl_sum",
    "recon_mean_kl_batch_mean",
    "kl_mean_over_latents",
    "kl_sign_flipped",
    "loss_sign_flipped",
    "logvar_as_log_sigma",
    "kl_missing_half",
    "kld_weight_as_beta",
    "half_squared_error",
    "no_kl",
    "log_det_overflow",
    "monte_carlo_kl",
    "BUILD_CHOICES",
    "build_loss",
    "built_beta",
]

DATASET_SIZE = 1397
"""Training images of the course's digits (``load_digits().n_train``), for the ``kld_weight``."""


def correct_loss(recon_x, x, mu, logvar):
    r"""The reference (``pytorch/examples`` vae): -ELBO summed over pixels, latents and batch.

    BCE = -\sum [x log p + (1 - x) log(1 - p)] over pixels and batch, and
    KL = 1/2 \sum (mu^2 + sigma^2 - log sigma^2 - 1) over latents and batch, with
    sigma^2 = exp(logvar).  Effective beta 1 at any batch size.
    """
    BCE = F.binary_cross_entropy(recon_x, x, reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def correct_logits_loss(recon_x, x, mu, logvar):
    r"""The reference for a decoder that outputs logits z (p = sigmoid(z)): beta 1.

    ``binary_cross_entropy_with_logits`` computes -[x log sigmoid(z) + (1-x) log sigmoid(-z)]
    stably, without ever forming p.
    """
    BCE = F.binary_cross_entropy_with_logits(recon_x, x, reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def recon_mean_kl_sum(recon_x, x, mu, logvar):
    r"""Bug: BCE averaged over batch and pixels (the default ``reduction="mean"``), KL summed.

    The BCE is divided by batch_size * pixels and the KL by nothing, so the KL weighs
    beta = batch_size * pixels (100,352 for MNIST at 128): the posterior collapses.
    Fix: ``F.binary_cross_entropy(recon_x, x, reduction="sum")``.
    """
    BCE = F.binary_cross_entropy(recon_x, x)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def recon_mean_kl_batch_mean(recon_x, x, mu, logvar):
    r"""Bug: BCE averaged over pixels and batch; KL summed over latents, averaged over batch.

    Both terms are divided by the batch size, but only the BCE by the pixels: beta = pixels.
    Fix: sum the BCE over pixels: ``F.binary_cross_entropy(..., reduction="sum") / x.size(0)``.
    """
    BCE = F.binary_cross_entropy(recon_x, x)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    return BCE + KLD


def kl_mean_over_latents(recon_x, x, mu, logvar):
    r"""Bug: the KL averaged over the latent dimensions instead of summed: beta = 1 / latent_dim.

    KL(q || p) of a factorised Gaussian is the *sum* of the per-dimension KLs.
    Fix: ``.sum(dim=1)`` instead of ``.mean(dim=1)``.
    """
    BCE = F.binary_cross_entropy(recon_x, x, reduction="sum")
    KLD = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean(dim=1).sum()
    return BCE + KLD


def kl_sign_flipped(recon_x, x, mu, logvar):
    r"""Bug: the KL with the wrong sign (the -0.5 written 0.5): beta = -1.

    The loss then rewards moving q(z|x) away from the prior, so KL and |mu| grow without bound.
    Fix: ``KLD = -0.5 * torch.sum(...)`` (the KL is >= 0 and is added).
    """
    BCE = F.binary_cross_entropy(recon_x, x, reduction="sum")
    KLD = 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def loss_sign_flipped(recon_x, x, mu, logvar):
    r"""Bug: returns the ELBO, to be maximised, to an optimiser that minimises.

    ELBO = E_q[log p(x|z)] - KL = -BCE - KL: beta is still 1, but both terms have the wrong
    sign, so training drives the reconstruction *away* from x.  Fix: ``return -elbo``.
    """
    log_likelihood = -F.binary_cross_entropy(recon_x, x, reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    elbo = log_likelihood - KLD
    return elbo


def logvar_as_log_sigma(recon_x, x, mu, logvar):
    r"""Bug: the encoder's log-variance l read as log sigma in the KL.

    The KL becomes 1/2 \sum (mu^2 + e^{2l} - 2l - 1), the KL of a Gaussian of variance
    (sigma^2)^2: weight 1, but another form, which pulls sigma^2 to 1 four times as hard
    near l = 0 (curvature d^2/dl^2 of each dimension's term: 2 instead of 1/2).
    Fix: ``1 + logvar - mu.pow(2) - logvar.exp()``.
    """
    BCE = F.binary_cross_entropy(recon_x, x, reduction="sum")
    KLD = -0.5 * torch.sum(1 + 2 * logvar - mu.pow(2) - torch.exp(logvar) ** 2)
    return BCE + KLD


def kl_missing_half(recon_x, x, mu, logvar):
    r"""Bug: the KL without its 1/2: beta = 2.  Fix: ``KLD = -0.5 * torch.sum(...)``."""
    BCE = F.binary_cross_entropy(recon_x, x, reduction="sum")
    KLD = -torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def kld_weight_as_beta(recon_x, x, mu, logvar):
    r"""Bug: an unexplained ``kld_weight = batch_size / dataset_size`` taken for beta.

    The squared error is averaged over batch and pixels (c_rec = 1/(batch * pixels)), the KL is
    averaged over the batch and weighted by batch/N (c_KL = 1/N): beta = batch * pixels / N
    relative to the summed squared error, which changes with the batch size.
    Fix: ``F.mse_loss(recon_x, x, reduction="sum") / x.size(0) + kld_loss`` (beta 1).
    """
    recons_loss = F.mse_loss(recon_x, x)
    kld_loss = torch.mean(-0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1), dim=0)
    kld_weight = x.size(0) / DATASET_SIZE
    return recons_loss + kld_weight * kld_loss


def half_squared_error(recon_x, x, mu, logvar):
    r"""Squared error with 1/2 (a Gaussian decoder of variance 1): beta = 2 relative to SE.

    -log N(x; recon_x, sigma^2) = SE / (2 sigma^2) + const, so 1/2 SE + KL is the ELBO of a
    sigma = 1 decoder, while the KL weighs 2 relative to the summed SE as written.  Not a bug
    if sigma = 1 is meant; for digits in [0, 1] it is a very blurry decoder.
    Fix (if sigma^2 = s2 is meant): ``SE / (2 * s2) + KLD``.
    """
    SE = F.mse_loss(recon_x, x, reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return 0.5 * SE + KLD


def no_kl(recon_x, x, mu, logvar):
    r"""Bug: no KL at all: beta = 0, an autoencoder with noise.  Fix: add the KL term."""
    BCE = F.binary_cross_entropy(recon_x, x, reduction="sum")
    return BCE


def log_det_overflow(recon_x, x, mu, logvar):
    r"""Bug: log det Sigma computed as log(prod_j sigma_j^2): inf / NaN in float32.

    KL = 1/2 (tr Sigma + mu^T mu - d - log det Sigma) is right, but prod_j e^{l_j} overflows
    to inf once \sum_j l_j > 88.7 and underflows to 0 once it is < -103.3 (float32, the
smallest subnormal; below -87.3 it is already subnormal and inexact), so the
    loss is +-inf and its gradients NaN for logvar inside [-30, 30] as soon as there are 3
    latent dimensions (with 20: from logvar > 4.44 in every dimension).  In float64 it equals
    the closed form.
    Fix: log det Sigma = \sum_j logvar_j, i.e.
    ``-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())``.
    """
    BCE = F.binary_cross_entropy(recon_x, x, reduction="sum")
    var = logvar.exp()
    d = mu.size(1)
    KLD = 0.5 * torch.sum(var.sum(1) + mu.pow(2).sum(1) - d - torch.log(var.prod(1)))
    return BCE + KLD


def monte_carlo_kl(recon_x, x, mu, logvar):
    r"""A one-sample Monte Carlo KL: log q(z|x) - log p(z) at one z ~ q(z|x).

    Its expectation is the KL, but one draw is 1/2 \sum (z^2 - eps^2 - l) with
    z = mu + sigma * eps: noisy, and often negative when q is close to the prior (with
    l = 0 it is 1/2 \sum (mu^2 + 2 mu eps), below 0 whenever \sum mu eps < -|mu|^2 / 2).
    Printed, it is a "negative KL".
    Fix: the closed form ``-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())``.
    """
    BCE = F.binary_cross_entropy(recon_x, x, reduction="sum")
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn_like(std)
    log_q = torch.distributions.Normal(mu, std).log_prob(z).sum()
    log_p = torch.distributions.Normal(torch.zeros_like(z), torch.ones_like(z)).log_prob(z).sum()
    return BCE + (log_q - log_p)


@dataclass(frozen=True)
class LossBug:
    r"""One loss of the chapter and the properties it really has.

    ``description`` says what is wrong and ``fix`` the one-line fix.
    ``beta(batch_size, input_dim, latent_dim)`` is the effective beta c_KL / c_rec (None when
    the KL is not of a recognised form); ``beta_formula`` says it in words.  ``kl_form``,
    ``recon_form``, ``reduction`` (and per term ``recon_reduction``, ``kl_reduction``: how each
    scales with the batch, None for a missing or unmeasurable term), ``minimised`` and
    ``finite_at(latent_dim)`` are what :func:`course_vae.audit.audit_vae_loss` should report;
    ``overflow_latent_dim`` is the smallest latent dimension from which the loss or its
    gradients are inf/NaN in float32 for some logvar in [-30, 30] (None: never); ``recon`` is
    what ``recon_x`` holds, ``"probs"`` or ``"logits"``.
    """

    name: str
    fn: Callable
    description: str
    fix: str
    beta: Callable[[int, int, int], float | None]
    beta_formula: str
    kl_form: str = "closed form"
    recon_form: str = "bernoulli"
    reduction: str = "sum"
    recon_reduction: str | None = "sum"
    kl_reduction: str | None = "sum"
    minimised: bool = True
    overflow_latent_dim: int | None = None
    recon: str = "probs"

    def finite_at(self, latent_dim: int) -> bool:
        """Whether loss and gradients stay finite in float32 for logvar in [-30, 30]."""
        return self.overflow_latent_dim is None or latent_dim < self.overflow_latent_dim


def _one(b: int, n: int, d: int) -> float:
    return 1.0


# prod_j e^{l_j} at l = 30 overflows float32 once 30 d > log(float32 max) = 88.72...: d >= 3
_LOG_DET_OVERFLOW_DIM = math.floor(math.log(torch.finfo(torch.float32).max) / 30) + 1
_KL_FIX = "KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"

CATALOGUE: tuple[LossBug, ...] = (
    LossBug("correct", correct_loss, "none: the reference negative ELBO", "nothing to fix",
            _one, "1"),
    LossBug("correct (logits)", correct_logits_loss, "none: the reference, from logits",
            "nothing to fix", _one, "1", recon="logits"),
    LossBug("reconstruction mean, KL sum", recon_mean_kl_sum,
            "BCE averaged over batch and pixels, KL summed",
            'F.binary_cross_entropy(recon_x, x, reduction="sum")',
            lambda b, n, d: float(b * n), "batch_size × input_dim",
            reduction="mixed", recon_reduction="mean"),
    LossBug("reconstruction mean, KL batch mean", recon_mean_kl_batch_mean,
            "BCE averaged over pixels and batch, KL averaged over the batch only",
            'F.binary_cross_entropy(recon_x, x, reduction="sum") / x.size(0)',
            lambda b, n, d: float(n), "input_dim",
            reduction="mean", recon_reduction="mean", kl_reduction="mean"),
    LossBug("KL mean over latents", kl_mean_over_latents,
            "KL averaged over the latent dimensions", "(...).sum(dim=1) instead of .mean(dim=1)",
            lambda b, n, d: 1.0 / d, "1 / latent_dim"),
    LossBug("KL sign flipped", kl_sign_flipped, "KL added with the wrong sign", _KL_FIX,
            lambda b, n, d: -1.0, "-1"),
    LossBug("loss sign flipped", loss_sign_flipped, "returns the ELBO instead of -ELBO",
            "return -elbo", _one, "1 (both terms negated)", minimised=False),
    LossBug("logvar read as log sigma", logvar_as_log_sigma,
            "KL written for log sigma, given log sigma^2", _KL_FIX, _one,
            "1, of the log-sigma form", kl_form="log-sigma"),
    LossBug("KL missing 1/2", kl_missing_half, "KL without its factor 1/2", _KL_FIX,
            lambda b, n, d: 2.0, "2"),
    LossBug("kld_weight taken for beta", kld_weight_as_beta,
            "kld_weight = batch_size / dataset_size on a batch-mean KL, per-pixel-mean MSE",
            'F.mse_loss(recon_x, x, reduction="sum") / x.size(0) + kld_loss',
            lambda b, n, d: b * n / DATASET_SIZE, "batch_size × input_dim / DATASET_SIZE",
            recon_form="squared error", reduction="mixed", recon_reduction="mean"),
    LossBug("1/2 squared error", half_squared_error,
            "1/2 SE + KL: a sigma = 1 Gaussian decoder", "SE / (2 * sigma2) + KLD",
            lambda b, n, d: 2.0, "2 (relative to the summed SE)", recon_form="squared error"),
    LossBug("no KL", no_kl, "the KL term is missing", "return BCE + KLD",
            lambda b, n, d: 0.0, "0", kl_form="none", kl_reduction=None),
    LossBug("log det overflow", log_det_overflow,
            "log det Sigma as log(prod sigma^2): inf/NaN in float32", _KL_FIX, _one, "1",
            overflow_latent_dim=_LOG_DET_OVERFLOW_DIM),
    LossBug("one-sample Monte Carlo KL", monte_carlo_kl,
            "log q(z|x) - log p(z) at one sampled z: noisy, can be negative", _KL_FIX,
            lambda b, n, d: None, "none (not a closed form)", kl_form="unrecognised",
            reduction="unrecognised", kl_reduction=None),
)
"""Every loss of chapter 06 with its expected audit (what :func:`audit_vae_loss` reports)."""


def bug_by_name(name: str) -> LossBug:
    r"""The catalogue entry called ``name`` (ValueError naming the choices otherwise)."""
    for bug in CATALOGUE:
        if bug.name == name:
            return bug
    raise ValueError(f"name must be one of {[b.name for b in CATALOGUE]}, got {name!r}")


# --------------------------------------------------------------------------- a loss builder

BUILD_CHOICES: dict[str, tuple] = {
    "pixels": ("sum", "mean"),
    "recon_batch": ("sum", "mean"),
    "latents": ("sum", "mean"),
    "kl_batch": ("sum", "mean"),
    "kl_sign": (1, -1),
    "logvar_as": ("log sigma^2", "log sigma"),
}
"""The choices of :func:`build_loss` (chapter 06's explorer): how the BCE is reduced over
pixels and over the batch, how the KL is reduced over latents and over the batch, the KL's
sign in the loss, and what the encoder's second output is read as."""


def _reduce(t: torch.Tensor, how: str, dim: int) -> torch.Tensor:
    return t.sum(dim) if how == "sum" else t.mean(dim)


def build_loss(
    pixels: str = "sum",
    recon_batch: str = "sum",
    latents: str = "sum",
    kl_batch: str = "sum",
    kl_sign: int = 1,
    logvar_as: str = "log sigma^2",
    weight: float = 1.0,
) -> Callable:
    r"""A loss ``fn(recon_x, x, mu, logvar)`` = BCE + kl_sign * weight * KL, reduced as chosen.

    The BCE is reduced over pixels (``pixels``) then over the batch (``recon_batch``); the
    per-dimension KL over latents (``latents``) then over the batch (``kl_batch``), each
    ``"sum"`` or ``"mean"``.  ``logvar_as="log sigma"`` writes the KL for an argument read as
    log sigma (the bug of :func:`logvar_as_log_sigma`).  The defaults give
    :func:`correct_loss`; :func:`built_beta` is the effective beta the choices give.
    """
    for name, value in (("pixels", pixels), ("recon_batch", recon_batch),
                        ("latents", latents), ("kl_batch", kl_batch),
                        ("logvar_as", logvar_as)):
        check_choice(value, name, BUILD_CHOICES[name])
    if kl_sign not in (1, -1) or isinstance(kl_sign, bool):
        raise ValueError(f"kl_sign must be 1 or -1, got {kl_sign!r}")
    weight = check_real(weight, "weight")

    def loss_fn(recon_x, x, mu, logvar):
        bce = F.binary_cross_entropy(recon_x, x, reduction="none")
        recon = _reduce(_reduce(bce, pixels, 1), recon_batch, 0)
        if logvar_as == "log sigma":
            per_dim = -0.5 * (1 + 2 * logvar - mu.pow(2) - torch.exp(2 * logvar))
        else:
            per_dim = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
        kld = _reduce(_reduce(per_dim, latents, 1), kl_batch, 0)
        return recon + kl_sign * weight * kld

    loss_fn.__doc__ = (f"BCE ({pixels} over pixels, {recon_batch} over the batch) "
                       f"{'+' if kl_sign > 0 else '-'} {weight:g} * KL ({latents} over "
                       f"latents, {kl_batch} over the batch, logvar read as {logvar_as})")
    return loss_fn


def built_beta(batch_size: int, input_dim: int, latent_dim: int, pixels: str = "sum",
               recon_batch: str = "sum", latents: str = "sum", kl_batch: str = "sum",
               kl_sign: int = 1, logvar_as: str = "log sigma^2", weight: float = 1.0) -> float:
    r"""The effective beta c_KL / c_rec of :func:`build_loss` with these choices.

    c_rec = 1 / (input_dim if pixels="mean") / (batch_size if recon_batch="mean") and
    c_KL = kl_sign * weight / (latent_dim if latents="mean") / (batch_size if kl_batch="mean").
    With ``logvar_as="log sigma"`` it is the weight of the log-sigma form.
    """
    c_rec = 1.0 / (input_dim if pixels == "mean" else 1) / (
        batch_size if recon_batch == "mean" else 1)
    c_kl = kl_sign * float(weight) / (latent_dim if latents == "mean" else 1) / (
        batch_size if kl_batch == "mean" else 1)
    return c_kl / c_rec
