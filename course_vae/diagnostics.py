r"""Diagnostics of posterior collapse, computed from the data's posteriors q(z|x_n), n = 1..N.

Each q(z|x_n) = N(mu_n, diag exp(logvar_n)) is given by the rows of ``mu`` and ``logvar``
(shape (N, latent_dim)); :func:`encode_dataset` gets them from a model's encoder.  The
aggregate posterior is the mixture q(z) = (1/N) \sum_n q(z|x_n).  All values in nats.

* :func:`kl_per_dimension`: KL_d = (1/N) \sum_n KL(q(z_d|x_n) || N(0, 1)); \sum_d KL_d is the
  average KL term of the ELBO.
* :func:`active_units`: dimension d is active when A_d = Var_n(mu_{n,d}) > threshold
  (Burda et al. 2016; threshold 0.01).
* :func:`mutual_information`: I(x; z) = E_x[KL(q(z|x) || q(z))] (He et al. 2019).
* :func:`aggregate_kl`: KL(q(z) || N(0, I)).

The average KL splits exactly as E_x KL(q(z|x) || p(z)) = I(x; z) + KL(q(z) || p(z))
(Hoffman & Johnson 2016): a KL spent on information about x, and a KL spent on a
mismatch between q(z) and the prior.  :func:`latent_diagnostics` computes everything
from one set of samples.  Nats in context for binary images:
:func:`independent_pixel_log_likelihood` (no latent) and :func:`binarisation_entropy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from course_vae._validate import (
    as_float_tensor,
    check_finite,
    check_positive_int,
    check_posteriors,
    check_real,
)
from course_vae.kl import kl_normal_std
from course_vae.models import reparameterize
from course_vae.rng import as_generator

__all__ = [
    "Estimate",
    "LatentDiagnostics",
    "active_units",
    "aggregate_log_density",
    "aggregate_kl",
    "encode_dataset",
    "kl_per_dimension",
    "latent_diagnostics",
    "model_diagnostics",
    "mutual_information",
    "posterior_mean_variance",
]

_LOG_2PI = math.log(2 * math.pi)
_CHUNK_ELEMENTS = 2**22  # about 32 MiB of float64 per (draws, N, latent_dim) block


class Estimate(NamedTuple):
    """A Monte Carlo estimate and its standard error, in nats."""

    value: float
    stderr: float


def _kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return kl_normal_std(mu.unsqueeze(-1), logvar.unsqueeze(-1)).mean(0)


def _activity(mu: torch.Tensor) -> torch.Tensor:
    return mu.detach().var(0, correction=0)


def _work_dtype(t: torch.Tensor) -> torch.dtype:
    return torch.float32 if t.device.type == "mps" else torch.float64


@torch.no_grad()
def encode_dataset(
    model: Any, data: torch.Tensor, batch_size: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, logvar) of q(z|x) for every row of ``data``, from ``model.encode`` in batches.

    No gradients; the model is put in eval mode and its mode restored afterwards.  Each
    batch goes to the device of the model's parameters.  Returns two (n, latent_dim)
    tensors on that device.
    """
    if callable(getattr(model, "check_data", None)):  # a course model checks its own data
        data = model.check_data(data, "data")
    elif not callable(getattr(model, "encode", None)):
        raise TypeError(
            f"model must have an encode(x) -> (mu, logvar) method, got {type(model).__name__}"
        )
    elif not isinstance(data, torch.Tensor) or data.dim() < 2 or data.shape[0] == 0:
        raise ValueError(f"data must be a tensor (n, ...) with n >= 1, got {type(data).__name__}")
    batch_size = check_positive_int(batch_size, "batch_size")
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    device = params[0].device if params else data.device
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        mus, logvars = [], []
        for start in range(0, len(data), batch_size):
            mu, logvar = model.encode(data[start : start + batch_size].to(device))
            mus.append(mu.detach())
            logvars.append(logvar.detach())
    finally:
        if was_training is not None:
            model.train(was_training)
    return torch.cat(mus), torch.cat(logvars)


def kl_per_dimension(mu: Any, logvar: Any) -> torch.Tensor:
    r"""KL_d = (1/N) \sum_n KL(q(z_d|x_n) || N(0, 1)), shape (latent_dim,).

    Per example and dimension 1/2 (mu^2 + sigma^2 - log sigma^2 - 1), by
    :func:`~course_vae.kl.kl_normal_std` on one dimension at a time; the sum over d is the
    data-average of ``kl_normal_std(mu, logvar)``.
    """
    return _kl_per_dim(*check_posteriors(mu, logvar))


def posterior_mean_variance(mu: Any) -> torch.Tensor:
    r"""A_d = Var_n(E_q[z_d | x_n]) = (1/N) \sum_n (mu_{n,d} - \bar mu_d)^2, shape (latent_dim,).

    The population variance (divide by N) of the posterior means across the data.
    """
    mu = check_posteriors(mu)
    check_finite(mu, "mu")
    return _activity(mu)


def active_units(mu: Any, threshold: float = 0.01) -> torch.Tensor:
    r"""Boolean mask (latent_dim,): dimension d is active when Var_n(mu_{n,d}) > threshold.

    Burda et al. (2016): a unit whose posterior mean does not move with x carries no
    information about x.  ``int(mask.sum())`` is the number of active units.
    """
    threshold = check_real(threshold, "threshold", low=0.0)
    return posterior_mean_variance(mu) > threshold


def _check_sampling(n_samples: Any, chunk_size: Any) -> tuple[int, int | None]:
    n_samples = check_positive_int(n_samples, "n_samples")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    return n_samples, chunk_size


def _mixture_terms(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    n_samples: int,
    generator: torch.Generator | int | None,
    chunk_size: int | None,
    method: str = "auto",
) -> dict[str, torch.Tensor]:
    r"""Draw z_{s,n} ~ q(z|x_n) (s = 1..S) and evaluate, for each draw (shape (S*N,)):

    ``log_qz`` = log q(z) (:func:`aggregate_log_density`), ``log_pz`` = log N(z; 0, I), and
    ``neg_entropy`` = E_{q(z|x_n)}[log q(z|x_n)] = -1/2 \sum_d (log 2 pi + 1 + logvar_{n,d})
    of the draw's own posterior (closed form).  The noise eps is drawn all at once (S, N, d),
    so the draws do not depend on ``chunk_size``.
    """
    dtype = _work_dtype(mu)
    mu, logvar = mu.to(dtype), logvar.to(dtype)
    n, d = mu.shape
    gen = as_generator(generator, mu.device)
    eps = torch.randn((n_samples, n, d), generator=gen, device=mu.device, dtype=dtype)
    z = reparameterize(mu, logvar, eps).reshape(-1, d)  # row s*N + n is z_{s,n}
    log_qz = _log_aggregate(z, mu, logvar, chunk_size, method)
    log_pz = -0.5 * (z**2).sum(-1) - 0.5 * d * _LOG_2PI
    neg_entropy = (-0.5 * (_LOG_2PI + 1 + logvar).sum(-1)).repeat(n_samples)
    return {"log_qz": log_qz, "log_pz": log_pz, "neg_entropy": neg_entropy}


def _log_aggregate(
    z: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    chunk_size: int | None = None,
    method: str = "auto",
) -> torch.Tensor:
    r"""log q(z) = logsumexp_m log N(z; mu_m, diag sigma_m^2) - log N at each row of z (M, d).

    The squared distances \sum_d (z_d - mu_{m,d})^2 / sigma_{m,d}^2 of ``chunk_size`` rows to
    all N posteriors are expanded into matrix products ("matmul", fast); when z^2 / sigma^2 is
    so large that the expansion would lose more than about 1e-6 nats to cancellation (tiny
    variances far from 0), the differences are formed explicitly ("direct", slower).
    """
    n, d = mu.shape
    const = -0.5 * (d * _LOG_2PI + logvar.sum(-1))  # (N,)
    if method == "auto":
        # rounding error of the expansion ~ eps * max (|z|^2 + |mu|^2) / sigma^2
        scale = ((z**2).sum(-1).max() + (mu**2).sum(-1).max()) * torch.exp(-logvar).max()
        method = "matmul" if float(scale) < 1e-6 / torch.finfo(mu.dtype).eps else "direct"
    if method == "matmul":
        prec = torch.exp(-logvar)  # (N, d) 1 / sigma^2
        prec_mu = prec * mu
        const = const - 0.5 * (mu * prec_mu).sum(-1)
        chunk = chunk_size or max(1, _CHUNK_ELEMENTS // n)
    else:
        inv_std = torch.exp(-0.5 * logvar)
        chunk = chunk_size or max(1, _CHUNK_ELEMENTS // (n * d))
    log_qz = torch.empty(z.shape[0], device=mu.device, dtype=mu.dtype)
    for start in range(0, z.shape[0], chunk):
        zc = z[start : start + chunk]
        if method == "matmul":
            # -1/2 sum_d (z^2 - 2 z mu) / sigma^2; the mu^2 / sigma^2 part is in const
            log_q = const - 0.5 * ((zc**2) @ prec.T - 2.0 * (zc @ prec_mu.T))
        else:
            sq = (((zc.unsqueeze(1) - mu.unsqueeze(0)) * inv_std.unsqueeze(0)) ** 2).sum(-1)
            log_q = const - 0.5 * sq
        log_qz[start : start + chunk] = torch.logsumexp(log_q, dim=1) - math.log(n)
    return log_qz


@torch.no_grad()
def aggregate_log_density(z: Any, mu: Any, logvar: Any) -> torch.Tensor:
    r"""log q(z) = logsumexp_n log N(z; mu_n, diag exp(logvar_n)) - log N at each row of ``z``.

    q(z) = (1/N) \sum_n q(z|x_n) is the aggregate posterior of the N codes (mu, logvar).
    ``z`` has shape (..., latent_dim); the result (float64) has shape (...).  E.g. on a grid:
    a map of where q(z) falls below the prior (its holes).
    """
    mu, logvar = (t.double() for t in check_posteriors(mu, logvar))
    z = as_float_tensor(z, "z")
    if z.dim() == 0 or z.shape[-1] != mu.shape[1]:
        raise ValueError(f"z has {z.shape[-1] if z.dim() else 0} coordinates but the codes have "
                         f"{mu.shape[1]}")
    check_finite(z, "z")
    flat = z.detach().double().reshape(-1, mu.shape[1]).to(mu.device)
    return _log_aggregate(flat, mu, logvar).reshape(z.shape[:-1])


def _estimate(w: torch.Tensor) -> Estimate:
    se = float(w.std() / math.sqrt(w.numel())) if w.numel() > 1 else math.nan
    return Estimate(float(w.mean()), se)


@torch.no_grad()
def mutual_information(
    mu: Any,
    logvar: Any,
    n_samples: int = 1,
    generator: torch.Generator | int | None = 0,
    chunk_size: int | None = None,
) -> Estimate:
    r"""I(x; z) = E_x[KL(q(z|x) || q(z))] = E_x E_{q(z|x)}[log q(z|x)] - E_{z~q(z)}[log q(z)].

    As in He et al. (2019): the first term in closed form, -1/2 \sum_d (log 2 pi + 1 +
    logvar_d), averaged over the data; the second by Monte Carlo with ``n_samples`` draws
    z ~ q(z|x_n) per data point and log q(z) = logsumexp_m log q(z|x_m) - log N over all N
    posteriors.  x is uniform over the N given points, so 0 <= I <= log N; the estimate can
    come out slightly negative (or slightly above log N) from sampling noise, and is
    returned as is, not clipped.  ``stderr`` = std / sqrt(S N) of the per-draw terms
    (it ignores that all draws share the same mixture, so read it as a guide).
    ``generator`` (int seed by default) draws the noise; memory stays bounded by
    evaluating ``chunk_size`` draws against all N posteriors at a time.
    """
    mu, logvar = check_posteriors(mu, logvar)
    n_samples, chunk_size = _check_sampling(n_samples, chunk_size)
    t = _mixture_terms(mu, logvar, n_samples, generator, chunk_size)
    return _estimate(t["neg_entropy"] - t["log_qz"])


@torch.no_grad()
def aggregate_kl(
    mu: Any,
    logvar: Any,
    n_samples: int = 1,
    generator: torch.Generator | int | None = 0,
    chunk_size: int | None = None,
) -> Estimate:
    r"""KL(q(z) || N(0, I)) = E_{z~q(z)}[log q(z) - log N(z; 0, I)], q(z) = (1/N) \sum_n q(z|x_n).

    Monte Carlo over ``n_samples`` draws from each component (a stratified sample of the
    mixture), with the mixture density log q(z) = logsumexp_n log q(z|x_n) - log N computed
    exactly.  Returns the estimate and its standard error std / sqrt(S N); the estimate can
    come out slightly negative when q(z) is close to the prior.  Seeded by ``generator``;
    chunked like :func:`mutual_information`.
    """
    mu, logvar = check_posteriors(mu, logvar)
    n_samples, chunk_size = _check_sampling(n_samples, chunk_size)
    t = _mixture_terms(mu, logvar, n_samples, generator, chunk_size)
    return _estimate(t["log_qz"] - t["log_pz"])


@dataclass(eq=False)
class LatentDiagnostics:
    """Collapse diagnostics of one set of posteriors (nats; see :func:`latent_diagnostics`)."""

    n: int
    kl_per_dim: torch.Tensor
    mean_kl: float
    activity: torch.Tensor
    active: torch.Tensor
    threshold: float
    mutual_info: Estimate
    aggregate_kl: Estimate

    @property
    def n_active(self) -> int:
        """Number of active units."""
        return int(self.active.sum())

    @property
    def latent_dim(self) -> int:
        return int(self.kl_per_dim.numel())

    def as_dict(self) -> dict[str, float]:
        """Plain floats, e.g. to append to a training history."""
        return {
            "mean_kl": self.mean_kl,
            "n_active": float(self.n_active),
            "mutual_info": self.mutual_info.value,
            "mutual_info_stderr": self.mutual_info.stderr,
            "aggregate_kl": self.aggregate_kl.value,
            "aggregate_kl_stderr": self.aggregate_kl.stderr,
            "log_n": math.log(self.n),
        }

    def __str__(self) -> str:
        per_dim = ", ".join(f"{v:.3f}" for v in self.kl_per_dim.tolist())
        return (
            f"average KL            {self.mean_kl:.4f} nats  (per dimension: {per_dim})\n"
            f"active units          {self.n_active} of {self.latent_dim} "
            f"(Var_x E[z_d|x] > {self.threshold:g})\n"
            f"mutual info I(x; z)   {self.mutual_info.value:.4f} +- "
            f"{self.mutual_info.stderr:.4f} nats  (at most log N = {math.log(self.n):.4f})\n"
            f"KL(q(z) || p(z))      {self.aggregate_kl.value:.4f} +- "
            f"{self.aggregate_kl.stderr:.4f} nats"
        )


@torch.no_grad()
def latent_diagnostics(
    mu: Any,
    logvar: Any,
    threshold: float = 0.01,
    n_samples: int = 1,
    generator: torch.Generator | int | None = 0,
    chunk_size: int | None = None,
) -> LatentDiagnostics:
    r"""Per-dimension KL, active units, I(x; z) and KL(q(z) || p(z)) from one set of draws.

    With the same draws, I + KL(q(z) || p(z)) estimates the average KL
    E_x KL(q(z|x) || p(z)) (their difference is Monte Carlo noise of E[log p(z)] only).
    Arguments as in :func:`active_units` and :func:`mutual_information`.
    """
    mu, logvar = check_posteriors(mu, logvar)
    n_samples, chunk_size = _check_sampling(n_samples, chunk_size)
    threshold = check_real(threshold, "threshold", low=0.0)
    kl_d = _kl_per_dim(mu, logvar)
    activity = _activity(mu)
    t = _mixture_terms(mu, logvar, n_samples, generator, chunk_size)
    return LatentDiagnostics(
        n=mu.shape[0],
        kl_per_dim=kl_d,
        mean_kl=float(kl_d.sum()),
        activity=activity,
        active=activity > threshold,
        threshold=threshold,
        mutual_info=_estimate(t["neg_entropy"] - t["log_qz"]),
        aggregate_kl=_estimate(t["log_qz"] - t["log_pz"]),
    )


def model_diagnostics(
    model: Any,
    data: torch.Tensor,
    batch_size: int = 1024,
    **kwargs: Any,
) -> LatentDiagnostics:
    """:func:`latent_diagnostics` of ``model``'s posteriors on ``data`` (:func:`encode_dataset`)."""
    mu, logvar = encode_dataset(model, data, batch_size)
    return latent_diagnostics(mu, logvar, **kwargs)


# --------------------------------------------------------------------------- what z carries:
# the paired I(x; z) estimator, a linear probe

__all__ += ["linear_probe_accuracy", "paired_mutual_information"]


@torch.no_grad()
def paired_mutual_information(
    mu: Any,
    logvar: Any,
    n_samples: int = 1,
    generator: torch.Generator | int | None = 0,
    chunk_size: int | None = None,
) -> Estimate:
    r"""I(x; z) = E_n E_{z ~ q(z|x_n)}[log q(z|x_n) - log q(z)], both logs at the *same* draw.

    The estimator of :func:`mutual_information` puts the closed-form entropy of q(z|x_n)
    beside a Monte Carlo log q(z); their noises do not cancel, and near collapse its
    standard error is about sqrt(d / 2 / (S N)) nats even when I = 0.  Here each draw
    z_{s,n} contributes log q(z_{s,n}|x_n) - log q(z_{s,n}): near collapse (every q(z|x_n)
    close to q(z)) the two logs nearly cancel draw by draw, so the estimate of I = 0 is
    close to 0 with a small standard error.  Same target, same x uniform over the N
    points (0 <= I <= log N), so no bias is traded for the smaller variance; and every
    term is <= log N exactly, because q(z) >= q(z|x_n) / N, so the estimate never
    overshoots its ceiling (chapter 03's I(n; z)).  Returns the
    mean over the S N draws and its standard error std / sqrt(S N).
    """
    mu, logvar = check_posteriors(mu, logvar)
    n_samples, chunk_size = _check_sampling(n_samples, chunk_size)
    dtype = _work_dtype(mu)
    mu, logvar = mu.to(dtype), logvar.to(dtype)
    n, d = mu.shape
    gen = as_generator(generator, mu.device)
    eps = torch.randn((n_samples, n, d), generator=gen, device=mu.device, dtype=dtype)
    z = reparameterize(mu, logvar, eps).reshape(-1, d)
    log_q_own = (-0.5 * (_LOG_2PI + logvar + eps**2).sum(-1)).reshape(-1)
    return _estimate(log_q_own - _log_aggregate(z, mu, logvar, chunk_size))


def linear_probe_accuracy(
    features_train: Any, labels_train: Any, features_test: Any, labels_test: Any,
    weight_decay: float = 1e-3, steps: int = 200,
) -> float:
    r"""Test accuracy of a multinomial logistic regression from ``features`` to integer labels.

    Features are standardised with the training mean and std; the weights are fitted by
    L-BFGS (``steps`` iterations) on the training rows with an L2 penalty ``weight_decay``;
    the score is the share of test rows whose most probable class is their label.  With
    features that carry nothing about the labels it is chance (1 / classes for balanced
    classes, up to sampling noise).
    """
    xtr, xte = as_float_tensor(features_train, "features_train").double(), as_float_tensor(
        features_test, "features_test").double()
    ytr, yte = torch.as_tensor(labels_train).long(), torch.as_tensor(labels_test).long()
    if xtr.dim() != 2 or xte.dim() != 2 or xtr.shape[1] != xte.shape[1]:
        raise ValueError("features must be (n, d) matrices with the same d")
    if len(ytr) != len(xtr) or len(yte) != len(xte):
        raise ValueError("one label per row of features")
    check_finite(xtr, "features_train")
    check_finite(xte, "features_test")
    weight_decay = check_real(weight_decay, "weight_decay", low=0.0)
    steps = check_positive_int(steps, "steps")
    mean, std = xtr.mean(0), xtr.std(0).clamp(min=1e-8)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    n_class = int(max(ytr.max(), yte.max())) + 1
    w = torch.zeros(xtr.shape[1] + 1, n_class, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=steps, line_search_fn="strong_wolfe")
    xtr1 = torch.cat([xtr, torch.ones(len(xtr), 1, dtype=torch.float64)], 1)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xtr1 @ w, ytr) + weight_decay * (w[:-1] ** 2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    xte1 = torch.cat([xte, torch.ones(len(xte), 1, dtype=torch.float64)], 1)
    with torch.no_grad():
        return float(((xte1 @ w).argmax(1) == yte).double().mean())


# ---------------------------------------------------------------------------
# Chapter 03 (referee round 3): exact log p(x) of a 2-D latent model by grid integration
# ---------------------------------------------------------------------------



