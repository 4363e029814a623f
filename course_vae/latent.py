r"""The latent plane of a 2-D (or any-D) VAE: grids of codes, the prior density, the KL cost.

* :func:`latent_grid`: an n x n grid of points z = (z1, z2) over [-extent, extent]^2, in
  image order (top row = largest z2), for a grid of decodings;
* :func:`prior_log_density`: log p(z) = log N(z; 0, I) = -1/2 (|z|^2 + d log 2 pi);
* :func:`encoding_kl`: KL(N(z, diag sigma^2) || N(0, I)), the KL an encoder pays to place
  an example's posterior at z with widths sigma;
* :func:`latent_point_state`: all of it for one point of a model (the chapter's explorer);
* :func:`traversal_codes`: the codes of a latent traversal (one latent moves, the others stay);
* :func:`traversal_state`: one moved code of a model, decoded, with the factors the moved
  latent encodes (chapter 05's explorer).

Where the codes of a data set are, from its posteriors q(z|x_n) = N(mu_n, diag exp(logvar_n)),
n = 1..N, and their mixture, the aggregate posterior q(z) = (1/N) \sum_n q(z|x_n):

* :func:`aggregate_log_density`: log q(z) at given points (e.g. a grid: a map of the holes);
* :func:`moment_matched_gaussian` and :func:`placement_kl`: the Gaussian q_G with the mean
  and covariance of q(z), and KL(q_G || N(0, I)) in closed form, a measure of place and
  scale that the posteriors' widths hardly touch (they enter only through E[sigma^2]);
* :func:`elbo_surgery`: E_n KL(q(z|x_n) || p(z)) = I(n; z) + KL(q(z) || p(z)) (Hoffman &
  Johnson 2016), I(n; z) <= log N, and, because p is Gaussian,
  KL(q(z) || p) = KL(q_G || p) + KL(q(z) || q_G): place and scale, plus shape;
* :func:`sample_fitted_gaussian`, :func:`sample_fitted_mixture`: codes drawn from a Gaussian
  or a Gaussian mixture (scikit-learn) fitted to a set of codes.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import numpy as np
import torch

from course_vae._validate import (
    as_float_tensor,
    check_choice,
    check_finite,
    check_image_shape,
    check_nonnegative_int,
    check_positive_int,
    check_real,
)
from course_vae.kl import kl_normal_std_unchecked

__all__ = [
    "Surgery",
    "aggregate_log_density",
    "elbo_surgery",
    "encoding_kl",
    "moment_matched_gaussian",
    "placement_kl",
    "sample_fitted_gaussian",
    "sample_fitted_mixture",
    "latent_grid",
    "latent_point_state",
    "prior_log_density",
    "traversal_codes",
    "traversal_state",
]

_LOG_2PI = math.log(2 * math.pi)


def latent_grid(extent: float = 3.0, n: int = 15) -> torch.Tensor:
    r"""n*n points z = (z1, z2) on [-extent, extent]^2, shape (n*n, 2), float32.

    Row-major in image order: row i has z2 = extent - 2 extent i / (n - 1) (top = largest
    z2), column j has z1 = -extent + 2 extent j / (n - 1).  ``n = 1`` gives the origin.
    """
    extent = check_real(extent, "extent", low=0.0, low_open=True)
    n = check_positive_int(n, "n")
    axis = torch.linspace(-extent, extent, n) if n > 1 else torch.zeros(1)
    z2, z1 = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def _z(z: Any) -> torch.Tensor:
    z = as_float_tensor(z, "z")
    if z.dim() == 0:
        raise ValueError("z must have at least one dimension (the latent coordinates)")
    check_finite(z, "z")
    return z


def _log_prior(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * ((z**2).sum(-1) + z.shape[-1] * _LOG_2PI)


def _kl_at(z: torch.Tensor, sigma: Any) -> torch.Tensor:
    """:func:`encoding_kl` for a checked ``z``: checks ``sigma`` only."""
    sigma = as_float_tensor(sigma, "sigma").to(z.dtype)
    check_finite(sigma, "sigma")
    if (sigma <= 0).any():
        raise ValueError("sigma must be > 0")
    try:
        sigma = torch.broadcast_to(sigma, z.shape)
    except RuntimeError as exc:
        raise ValueError(
            f"sigma.shape={tuple(sigma.shape)} does not broadcast against z.shape={tuple(z.shape)}"
        ) from exc
    return kl_normal_std_unchecked(z, 2.0 * torch.log(sigma))


def prior_log_density(z: Any) -> torch.Tensor:
    r"""log N(z; 0, I) = -1/2 (\sum_j z_j^2 + d log 2 pi), over the last dimension (nats)."""
    return _log_prior(_z(z))


def encoding_kl(z: Any, sigma: Any) -> torch.Tensor:
    r"""KL(N(z, diag sigma^2) || N(0, I)) = 1/2 \sum_j (z_j^2 + sigma_j^2 - log sigma_j^2 - 1).

    ``sigma`` (> 0) is a number or broadcasts against ``z``; the sum runs over the last
    dimension (nats), by :func:`course_vae.kl.kl_normal_std`.
    """
    return _kl_at(_z(z), sigma)


@torch.no_grad()
def latent_point_state(model: Any, z: Any, sigma: Any = 1.0) -> dict[str, Any]:
    r"""What a model does at one latent point z: the decoded image and what z costs.

    Returns ``z`` (float64, (d,)), ``image`` = E[x|z] (the decoder's mean image, (input_dim,)),
    ``log_prior`` = log N(z; 0, I), ``kl`` = KL(N(z, diag sigma^2) || N(0, I)) and its
    parts ``kl_mean`` = |z|^2 / 2 (paid for the position) and ``kl_width`` = kl - kl_mean
    (paid for widths sigma != 1), all in nats.
    """
    if not (callable(getattr(model, "decode", None)) and hasattr(model, "mean_image")):
        raise TypeError(f"model must be a course_vae VAE, got {type(model).__name__}")
    z = _z(z).to(torch.float64)
    if z.dim() != 1 or z.shape[0] != model.latent_dim:
        raise ValueError(f"z must have shape ({model.latent_dim},), got {tuple(z.shape)}")
    kl = float(_kl_at(z, sigma))
    kl_mean = float(0.5 * (z**2).sum())
    p = next(model.parameters())
    image = model.mean_image(model.decode(z.to(device=p.device, dtype=p.dtype)[None]))[0]
    return {
        "z": z,
        "image": image.detach().cpu(),
        "log_prior": float(_log_prior(z)),
        "kl": kl,
        "kl_mean": kl_mean,
        "kl_width": kl - kl_mean,
    }


def traversal_codes(
    z_base: Any, values: Any = None, dims: Any = None
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    r"""The codes of a latent traversal: row r is ``z_base`` with z_{dims[r]} set to each value.

    ``z_base`` is the (d,) starting code (an int d means the prior mean 0); ``values``
    default to 7 points from -3 to 3; ``dims`` (default all d) picks the rows.  Returns
    ``(codes, values, dims)``: codes of shape (len(dims), len(values), d) in ``z_base``'s
    floating dtype (float64 for non-tensor input), the values as a float64 tensor and the
    dims as a list of ints.
    """
    if isinstance(z_base, numbers.Integral):
        base = torch.zeros(check_positive_int(z_base, "z_base"), dtype=torch.float64)
    else:
        base = as_float_tensor(z_base, "z_base")
        if base.dim() != 1 or base.numel() == 0:
            raise ValueError(
                f"z_base must be a (d,) vector or an int d, got shape {tuple(base.shape)}"
            )
        check_finite(base, "z_base")
    if values is None:
        vals = torch.linspace(-3.0, 3.0, 7, dtype=torch.float64)
    else:
        vals = as_float_tensor(values, "values").to(torch.float64)
        if vals.dim() != 1 or vals.numel() == 0:
            raise ValueError("values must be a non-empty 1-D sequence of numbers")
        check_finite(vals, "values")
    d = base.numel()
    if dims is None:
        rows = list(range(d))
    else:
        rows = [int(check_choice(j, "dims", range(d))) for j in np.atleast_1d(dims).tolist()]
        if not rows:
            raise ValueError("dims must name at least one latent dimension")
    codes = base.detach().repeat(len(rows), len(vals), 1)
    for r, j in enumerate(rows):
        codes[r, :, j] = vals.to(codes.dtype)
    return codes, vals, rows


@torch.no_grad()
def traversal_state(model: Any, report: dict, dim: Any, value: Any, image_shape: Any) -> dict:
    r"""Decode the code ``report["z_base"]`` with z_dim set to ``value``; rank the factors it moves.

    ``report`` is a :func:`course_vae.runs.latent_report` of ``model``.  Returns a
    dict with ``z`` (d,), ``image`` (H, W) the mean image E[x|z] (sigmoid of the logits for
    a Bernoulli decoder), ``dim``, ``value``, ``kl`` the dimension's KL in nats, ``scores``
    (K',) its normalised mutual information with each factor, ``ranking`` the factor names
    by decreasing score, and ``factor_names``.
    """
    z = np.array(report["z_base"], dtype=np.float64)
    dim = check_nonnegative_int(dim, "dim")
    if dim >= z.shape[0]:
        raise ValueError(f"dim must be an integer in [0, {z.shape[0]}), got {dim!r}")
    value = check_real(value, "value")
    h, w = check_image_shape(image_shape)
    z[dim] = value
    p = next(model.parameters())
    decoded = model.decode(torch.as_tensor(z, dtype=p.dtype, device=p.device)[None, :])
    image = model.mean_image(decoded)[0].cpu().double().numpy()
    if image.size != h * w:
        raise ValueError(f"image_shape {(h, w)} does not match the decoder's {image.size} pixels")
    scores = np.asarray(report["scores"], dtype=np.float64)[dim]
    order = np.argsort(-scores, kind="stable")
    return {
        "z": z,
        "image": image.reshape(h, w),
        "dim": dim,
        "value": value,
        "kl": float(report["kl"][dim]),
        "scores": scores,
        "ranking": tuple(report["factor_names"][i] for i in order),
        "factor_names": tuple(report["factor_names"]),
    }


# --------------------------------------------------------------------------- where the codes are


def _posteriors(mu: Any, logvar: Any) -> tuple[torch.Tensor, torch.Tensor]:
    mu, logvar = as_float_tensor(mu, "mu"), as_float_tensor(logvar, "logvar")
    if mu.dim() != 2 or len(mu) == 0 or logvar.shape != mu.shape:
        raise ValueError(f"mu and logvar must have one shape (N, latent_dim), got "
                         f"{tuple(mu.shape)} and {tuple(logvar.shape)}")
    check_finite(mu, "mu")
    check_finite(logvar, "logvar")
    return mu.detach().double(), logvar.detach().double()


@torch.no_grad()
def aggregate_log_density(z: Any, mu: Any, logvar: Any) -> torch.Tensor:
    r"""log q(z) = logsumexp_n log N(z; mu_n, diag exp(logvar_n)) - log N at each row of ``z``.

    ``z`` has shape (..., latent_dim); the result (float64) has shape (...).
    """
    mu, logvar = _posteriors(mu, logvar)
    z = _z(z).double()
    if z.shape[-1] != mu.shape[1]:
        raise ValueError(f"z has {z.shape[-1]} coordinates but the codes have {mu.shape[1]}")
    flat = z.reshape(-1, mu.shape[1])
    inv_std = torch.exp(-0.5 * logvar)
    const = -0.5 * (mu.shape[1] * _LOG_2PI + logvar.sum(-1))
    out = torch.empty(len(flat), dtype=torch.float64)
    step = max(1, 2_000_000 // (len(mu) * mu.shape[1]))
    for i in range(0, len(flat), step):
        sq = (((flat[i : i + step, None] - mu[None]) * inv_std[None]) ** 2).sum(-1)
        out[i : i + step] = torch.logsumexp(const - 0.5 * sq, dim=1) - math.log(len(mu))
    return out.reshape(z.shape[:-1])


def moment_matched_gaussian(mu: Any, logvar: Any) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mean m = mean_n mu_n and covariance S = Cov_n(mu_n) + diag(mean_n sigma_n^2) of q(z).

    (The covariance over n is the population one, divided by N: these are q(z)'s moments.)
    """
    mu, logvar = _posteriors(mu, logvar)
    m = mu.mean(0)
    centred = mu - m
    cov = centred.T @ centred / len(mu) + torch.diag(torch.exp(logvar).mean(0))
    return m, cov


def _gaussian_kl_to_prior(m: torch.Tensor, cov: torch.Tensor) -> float:
    d = len(m)
    return float(0.5 * (torch.trace(cov) + m @ m - d - torch.logdet(cov)))


def placement_kl(mu: Any, logvar: Any) -> float:
    r"""KL(N(m, S) || N(0, I)) = 1/2 (tr S + |m|^2 - d - log det S), (m, S) of q(z) (nats).

    Zero exactly when q(z) has the prior's mean and covariance, whatever the widths of the
    single posteriors and however clumped q(z) is.
    """
    return _gaussian_kl_to_prior(*moment_matched_gaussian(mu, logvar))


class Surgery(NamedTuple):
    """ELBO surgery of one set of posteriors (nats); see :func:`elbo_surgery`."""

    mean_kl: float          # E_n KL(q(z|x_n) || p(z)), closed form
    mutual_info: float      # I(n; z), Monte Carlo
    aggregate_kl: float     # KL(q(z) || p(z)), Monte Carlo, same draws
    log_n: float            # the ceiling of I(n; z)
    placement_kl: float     # KL(q_G || p(z)), closed form
    shape_kl: float         # KL(q(z) || q_G) = aggregate_kl - placement_kl
    stderr: float           # standard error of the Monte Carlo terms


@torch.no_grad()
def elbo_surgery(mu: Any, logvar: Any, n_samples: int = 10,
                 generator: torch.Generator | int | None = 0) -> Surgery:
    r"""E_n KL(q(z|x_n) || p) = I(n; z) + KL(q(z) || p) = I + KL(q_G || p) + KL(q(z) || q_G).

    I(n; z) = E[log q(z|x_n) - log q(z)] and KL(q(z) || p) = E[log q(z) - log p(z)] use the
    same ``n_samples`` draws z ~ q(z|x_n) per point (by
    :func:`course_vae.diagnostics.latent_diagnostics`); q_G is :func:`moment_matched_gaussian`.
    The split of KL(q(z) || p) holds because log q_G - log p is quadratic in z, so its mean
    under q(z) equals its mean under q_G.  ``stderr`` is the larger of the two estimates' SEs.
    """
    from course_vae.diagnostics import latent_diagnostics  # concept modules, no cycle at import

    mu, logvar = _posteriors(mu, logvar)
    diag = latent_diagnostics(mu, logvar, n_samples=n_samples, generator=generator)
    place = placement_kl(mu, logvar)
    agg = diag.aggregate_kl.value
    return Surgery(
        mean_kl=diag.mean_kl, mutual_info=diag.mutual_info.value, aggregate_kl=agg,
        log_n=math.log(len(mu)), placement_kl=place, shape_kl=agg - place,
        stderr=max(diag.mutual_info.stderr, diag.aggregate_kl.stderr),
    )


def _codes(codes: Any, n: Any) -> tuple[torch.Tensor, int]:
    c = as_float_tensor(codes, "codes")
    if c.dim() != 2 or len(c) < 2:
        raise ValueError(f"codes must have shape (N, latent_dim) with N >= 2, got {tuple(c.shape)}")
    check_finite(c, "codes")
    return c.detach().double(), check_positive_int(n, "n")


def sample_fitted_gaussian(
    codes: Any, n: int, generator: torch.Generator | int = 0
) -> torch.Tensor:
    """``n`` draws from N(mean, covariance) of ``codes`` (maximum likelihood fit), float32."""
    c, n = _codes(codes, n)
    g = torch.Generator().manual_seed(generator) if isinstance(generator, int) else generator
    m = c.mean(0)
    cov = (c - m).T @ (c - m) / len(c)
    chol = torch.linalg.cholesky(cov + 1e-9 * torch.eye(c.shape[1], dtype=c.dtype))
    eps = torch.randn(n, c.shape[1], generator=g, dtype=c.dtype)
    return (m + eps @ chol.T).float()


def sample_fitted_mixture(
    codes: Any, n: int, n_components: int = 10, seed: int = 0
) -> torch.Tensor:
    """``n`` draws from a full-covariance Gaussian mixture fitted to ``codes`` (scikit-learn EM)."""
    from sklearn.mixture import GaussianMixture

    c, n = _codes(codes, n)
    k = check_positive_int(n_components, "n_components")
    gm = GaussianMixture(k, covariance_type="full", random_state=int(seed)).fit(c.numpy())
    z, _ = gm.sample(n)
    perm = np.random.default_rng(int(seed)).permutation(n)  # sklearn returns them by component
    return torch.as_tensor(z[perm], dtype=torch.float32)
