r"""The ELBO and the importance-weighted (IWAE) bound, per example, in nats.

ELBO(x) = E_{q(z|x)}[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x).

* ``recon`` = log p(x|z) for one reparameterised z ~ q(z|x), SUMMED over pixels (or tokens);
* ``kl``    = KL(q(z|x) || N(0, I)) in closed form (:func:`course_vae.kl.kl_normal_std`),
  SUMMED over latent dimensions;
* the training loss AVERAGES over the batch: loss = -mean(recon - beta * kl)
  (:func:`beta_elbo_loss`).

:func:`elbo` works for every model of the course: the model supplies q(z|x) (``encode``)
and log p(x|z) (its ``log_likelihood`` method); the reparameterisation is
:func:`course_vae.models.reparameterize`.

IWAE_K(x) = log (1/K) sum_k p(x, z_k) / q(z_k|x), z_k ~ q(z|x): IWAE_1 has the ELBO as its
expectation, E[IWAE_K] grows with K and tends to log p(x).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from course_vae._validate import (
    as_float_tensor,
    check_bool,
    check_callable,
    check_finite,
    check_model,
    check_positive_int,
    check_real,
)
from course_vae.kl import kl_normal_std
from course_vae.models import reparameterize
from course_vae.rng import as_generator

__all__ = [
    "ELBOTerms",
    "beta_elbo_loss",
    "elbo",
    "importance_log_weights",
    "iwae_bound",
    "iwae_by_k",
    "iwae_from_log_weights",
]


@dataclass
class ELBOTerms:
    """Per-example terms of the ELBO for one minibatch (each of shape (batch,), nats).

    ``recon`` = log p(x|z) at one z ~ q(z|x); ``kl`` = KL(q(z|x) || p(z)); ``elbo`` =
    recon - kl; ``loss`` = -mean(recon - beta * kl), the scalar to minimise.  ``mu``,
    ``logvar``, ``z`` and ``decoded`` (the decoder's output at z) are kept for objectives
    that need them.
    """

    recon: torch.Tensor
    kl: torch.Tensor
    elbo: torch.Tensor
    loss: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    decoded: torch.Tensor
    beta: float

    @classmethod
    def from_parts(
        cls,
        recon: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        z: torch.Tensor,
        decoded: torch.Tensor,
        beta: float = 1.0,
        check_input: bool = True,
    ) -> ELBOTerms:
        """The terms from recon = log p(x|z) and q's (mu, logvar): KL, ELBO and loss follow.

        ``check_input=False``: the KL does not look for non-finite values (the training loop
        checks its loss instead)."""
        kl = kl_normal_std(mu, logvar, check_input=check_input)
        return cls(recon, kl, recon - kl, beta_elbo_loss(recon, kl, beta), mu, logvar, z,
                   decoded, beta)


def beta_elbo_loss(recon: torch.Tensor, kl: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    r"""loss = -mean_batch(recon - beta * kl): per-example sums, averaged over the batch.

    The one loss of the course: minimising it maximises the beta-weighted ELBO, so the KL
    enters with a plus sign.
    """
    beta = check_real(beta, "beta", low=0.0)
    if not (isinstance(recon, torch.Tensor) and isinstance(kl, torch.Tensor)):
        raise TypeError("recon and kl must be tensors of per-example values")
    if recon.shape != kl.shape:
        raise ValueError(f"recon.shape={tuple(recon.shape)} and kl.shape={tuple(kl.shape)} differ")
    return -(recon - beta * kl).mean()


def elbo(
    model: Any,
    x: torch.Tensor,
    beta: float = 1.0,
    generator: torch.Generator | int | None = None,
    check_input: bool = True,
) -> ELBOTerms:
    r"""The (beta-weighted) ELBO of a minibatch ``x`` under ``model``, one z per example.

    z = mu + exp(logvar/2) * eps (eps from ``generator``, a ``torch.Generator`` or an int
    seed); returns :class:`ELBOTerms`: per-example ``recon`` = log p(x|z), ``kl`` =
    KL(q(z|x) || N(0, I)), ``elbo`` = recon - kl, and ``loss`` = -mean(recon - beta * kl).
    ``check_input=False`` skips the scan of x's values for a caller that checked its data
    once already (the training loop does, per data set; as scikit-learn's ``check_input``).
    """
    check_model(model)
    if check_bool(check_input, "check_input"):
        x = model.check_data(x, "x")
        beta = check_real(beta, "beta", low=0.0)
    gen = as_generator(generator, x.device)
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar, generator=gen)
    recon, decoded = model.log_likelihood(x, z, gen)
    return ELBOTerms.from_parts(recon, mu, logvar, z, decoded, beta, check_input)


LogLikelihoodFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _log_weight_chunks(x, mu, logvar, log_likelihood_fn, n_samples, chunk_size, generator):
    """Yield log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) in chunks of shape (k, batch).

    eps_k is drawn one sample at a time, so the draws do not depend on ``chunk_size``.
    """
    done = 0
    while done < n_samples:
        k = min(chunk_size, n_samples - done)
        eps = torch.stack(
            [
                torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
                for _ in range(k)
            ]
        )
        z = reparameterize(mu, logvar, eps)
        # log p(z) - log q(z|x) = -1/2 sum_j (z_j^2 - eps_j^2 - logvar_j)   (the 2 pi terms cancel)
        log_prior_ratio = -0.5 * (z**2 - eps**2 - logvar).sum(-1)
        yield log_likelihood_fn(x, z) + log_prior_ratio
        done += k


def _auto_chunk(batch: int, chunk_size: int | None) -> int:
    if chunk_size is None:
        return max(1, 65536 // max(batch, 1))
    return check_positive_int(chunk_size, "chunk_size")


def _check_q(x: torch.Tensor, mu: Any, logvar: Any) -> tuple[torch.Tensor, torch.Tensor]:
    mu, logvar = as_float_tensor(mu, "mu"), as_float_tensor(logvar, "logvar")
    if mu.shape != logvar.shape or mu.dim() < 1:
        raise ValueError(
            f"mu and logvar must have one common shape (..., latent_dim), got "
            f"{tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    if mu.shape[:-1] != x.shape[:-1]:
        raise ValueError(
            f"mu.shape={tuple(mu.shape)} must match x's batch shape {tuple(x.shape[:-1])}"
        )
    check_finite(mu, "mu")
    check_finite(logvar, "logvar")
    return mu, logvar.to(mu.dtype)


@torch.no_grad()
def importance_log_weights(
    x: torch.Tensor,
    mu: Any,
    logvar: Any,
    log_likelihood_fn: LogLikelihoodFn,
    n_samples: int,
    chunk_size: int | None = None,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    r"""Log importance weights, shape (K, batch).

    log w_k = log p(x|z_k) + log N(z_k; 0, I) - log N(z_k; mu, diag e^{logvar}).

    z_k = mu + exp(logvar/2) * eps_k, k = 1..K.  ``log_likelihood_fn(x, z)`` maps z of shape
    (k, batch, latent) to log p(x|z) of shape (k, batch).  Works for any model, e.g. the
    linear-Gaussian one.  Keeps all K x batch weights: use :func:`iwae_bound` for large K.
    """
    check_callable(log_likelihood_fn, "log_likelihood_fn", "log_likelihood_fn(x, z)")
    x = as_float_tensor(x, "x")
    mu, logvar = _check_q(x, mu, logvar)
    n_samples = check_positive_int(n_samples, "n_samples")
    chunk = _auto_chunk(mu.shape[0] if mu.dim() > 1 else 1, chunk_size)
    gen = as_generator(generator, mu.device)
    return torch.cat(
        list(_log_weight_chunks(x, mu, logvar, log_likelihood_fn, n_samples, chunk, gen))
    )


def iwae_from_log_weights(log_w: torch.Tensor) -> torch.Tensor:
    r"""log (1/K) \sum_k exp(log w_k) along dimension 0, by logsumexp (no overflow)."""
    log_w = as_float_tensor(log_w, "log_w")
    if log_w.dim() == 0 or log_w.shape[0] == 0:
        raise ValueError(
            f"log_w must have shape (K, ...) with K >= 1 samples, got {tuple(log_w.shape)}"
        )
    if torch.isnan(log_w).any():
        raise ValueError("log_w contains NaN")
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])


def _iwae_streaming(x, mu, logvar, fn, n_samples, chunk, gen) -> torch.Tensor:
    lse = None
    for log_w in _log_weight_chunks(x, mu, logvar, fn, n_samples, chunk, gen):
        part = torch.logsumexp(log_w, dim=0)
        lse = part if lse is None else torch.logaddexp(lse, part)
    return lse - math.log(n_samples)


@torch.no_grad()
def iwae_bound(
    model: Any,
    x: torch.Tensor,
    n_samples: int,
    mu: Any = None,
    logvar: Any = None,
    batch_size: int | None = None,
    chunk_size: int | None = None,
    generator: torch.Generator | int | None = 0,
) -> torch.Tensor:
    r"""IWAE_K(x) = log (1/K) \sum_{k=1}^K p(x, z_k) / q(z_k|x), z_k ~ q(z|x), per example (nats).

    ``model`` is a course model (q from its encoder, :func:`elbo`'s protocol) or any callable
    ``log_likelihood_fn(x, z)`` (then give ``mu`` and ``logvar`` of a diagonal Gaussian q).
    Memory stays bounded for large K: the data go in batches of ``batch_size`` and the
    samples in chunks of ``chunk_size`` (default: about 65,536 decoded rows at a time),
    combined with a running logsumexp.  K = 1 gives a one-sample ELBO estimate; the bound
    grows with K towards log p(x).  ``generator`` (int seed by default) draws the noise.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    if isinstance(model, torch.nn.Module):
        check_model(model)
        x = model.check_data(x, "x")
        if mu is not None or logvar is not None:
            raise ValueError("mu and logvar come from the model's encoder; do not pass them")

        def fn(xb: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            return model.log_likelihood(xb, z)[0]

    elif callable(model):
        x = as_float_tensor(x, "x")
        if mu is None or logvar is None:
            raise ValueError("with a log-likelihood function give mu and logvar of q")
        mu, logvar = _check_q(x, mu, logvar)
        fn = model
    else:
        raise TypeError(
            f"model must be a VAE or a log-likelihood function, got {type(model).__name__}"
        )
    n = x.shape[0] if x.dim() > 1 else 1
    batch_size = n if batch_size is None else check_positive_int(batch_size, "batch_size")
    gen = as_generator(generator, x.device)
    out = []
    for start in range(0, n, batch_size):
        xb = x[start : start + batch_size] if x.dim() > 1 else x
        if isinstance(model, torch.nn.Module):
            mb, lb = model.encode(xb)
        else:
            mb = mu[start : start + batch_size] if mu.dim() > 1 else mu
            lb = logvar[start : start + batch_size] if logvar.dim() > 1 else logvar
        chunk = _auto_chunk(xb.shape[0] if xb.dim() > 1 else 1, chunk_size)
        out.append(_iwae_streaming(xb, mb, lb, fn, n_samples, chunk, gen))
    return torch.cat(out) if x.dim() > 1 else out[0]


def iwae_by_k(log_w: Any, ks: Any) -> dict[int, float]:
    r"""Mean IWAE_K for each K of ``ks`` from log importance weights ``log_w`` of shape (S, n).

    For each K dividing S, the S draws are split into S / K disjoint groups of K; each
    group gives IWAE_K = log (1/K) \sum_k w_k per example, and the value is the mean over
    groups and examples (all S draws used for every K, so the small-K values have little
    noise).  IWAE_1 is the ELBO estimate; the values rise with K towards log p(x).
    """
    log_w = as_float_tensor(log_w, "log_w").double()
    if log_w.dim() != 2 or log_w.shape[0] == 0 or log_w.shape[1] == 0:
        raise ValueError(f"log_w must have shape (S, n) with S, n >= 1, got {tuple(log_w.shape)}")
    check_finite(log_w, "log_w")
    s = log_w.shape[0]
    out = {}
    for k in ks:
        k = check_positive_int(k, "K")
        if s % k:
            raise ValueError(f"every K must divide the {s} draws, got K = {k}")
        groups = log_w.reshape(s // k, k, -1)
        out[k] = float((torch.logsumexp(groups, 1) - math.log(k)).mean())
    return out
