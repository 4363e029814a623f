r"""The latent plane of a 2-D (or any-D) VAE: grids of codes, the prior density, the KL cost.

* :func:`latent_grid`: an n x n grid of points z = (z1, z2) over [-extent, extent]^2, in
  image order (top row = largest z2), for a grid of decodings;
* :func:`prior_log_density`: log p(z) = log N(z; 0, I) = -1/2 (|z|^2 + d log 2 pi);
* :func:`encoding_kl`: KL(N(z, diag sigma^2) || N(0, I)), the KL an encoder pays to place
  an example's posterior at z with widths sigma;
* :func:`traversal_codes`: the codes of a latent traversal (one latent moves, the others stay);

Where the codes of a data set are, from its posteriors q(z|x_n) = N(mu_n, diag exp(logvar_n)),
n = 1..N, and their mixture, the aggregate posterior q(z) = (1/N) \sum_n q(z|x_n):

* log q(z) at given points (a map of the holes) is
  :func:`course_vae.diagnostics.aggregate_log_density`;
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
    check_positive_int,
    check_posteriors,
    check_real,
)
from course_vae.kl import kl_normal_std

__all__ = [
    "Surgery",
    "elbo_surgery",
    "encoding_kl",
    "moment_matched_gaussian",
    "placement_kl",
    "sample_fitted_gaussian",
    "sample_fitted_mixture",
    "latent_grid",
    "prior_log_density",
    "traversal_codes",
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
    return kl_normal_std(z, 2.0 * torch.log(sigma))


def prior_log_density(z: Any) -> torch.Tensor:
    r"""log N(z; 0, I) = -1/2 (\sum_j z_j^2 + d log 2 pi), over the last dimension (nats)."""
    return _log_prior(_z(z))


def encoding_kl(z: Any, sigma: Any) -> torch.Tensor:
    r"""KL(N(z, diag sigma^2) || N(0, I)) = 1/2 \sum_j (z_j^2 + sigma_j^2 - log sigma_j^2 - 1).

    ``sigma`` (> 0) is a number or broadcasts against ``z``; the sum runs over the last
    dimension (nats), by :func:`course_vae.kl.kl_normal_std`.
    """
    return _kl_at(_z(z), sigma)


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


# --------------------------------------------------------------------------- where the codes are




def moment_matched_gaussian(mu: Any, logvar: Any) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mean m = mean_n mu_n and covariance S = Cov_n(mu_n) + diag(mean_n sigma_n^2) of q(z).

    (The covariance over n is the population one, divided by N: these are q(z)'s moments.)
    """
    mu, logvar = (t.double() for t in check_posteriors(mu, logvar))
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
                 generator: torch.Generator | int | None = 0, entropy: str = "closed") -> Surgery:
    r"""E_n KL(q(z|x_n) || p) = I(n; z) + KL(q(z) || p) = I + KL(q_G || p) + KL(q(z) || q_G).

    I(n; z) = E[log q(z|x_n) - log q(z)] and KL(q(z) || p) = E[log q(z) - log p(z)] use the
    same ``n_samples`` draws z ~ q(z|x_n) per point (by
    :func:`course_vae.diagnostics.latent_diagnostics`); q_G is :func:`moment_matched_gaussian`.
    The split of KL(q(z) || p) holds because log q_G - log p is quadratic in z, so its mean
    under q(z) equals its mean under q_G.  ``stderr`` is the larger of the two estimates' SEs.

    ``entropy="sampled"``: I(n; z) by
    :func:`course_vae.diagnostics.paired_mutual_information` (log q(z|x_n) at the draw, so
    every term, and the estimate, stays <= log N), and KL(q(z) || p) = E_n KL - I with the
    average KL in closed form; ``stderr`` is then that of I.
    """
    from course_vae.diagnostics import (  # concept modules, no cycle at import
        latent_diagnostics,
        paired_mutual_information,
    )

    check_choice(entropy, "entropy", ("closed", "sampled"))
    mu, logvar = (t.double() for t in check_posteriors(mu, logvar))
    place = placement_kl(mu, logvar)
    if entropy == "sampled":
        mean_kl = float(kl_normal_std(mu, logvar).mean())
        mi = paired_mutual_information(mu, logvar, n_samples=n_samples, generator=generator)
        return Surgery(
            mean_kl=mean_kl, mutual_info=mi.value, aggregate_kl=mean_kl - mi.value,
            log_n=math.log(len(mu)), placement_kl=place, shape_kl=mean_kl - mi.value - place,
            stderr=mi.stderr,
        )
    diag = latent_diagnostics(mu, logvar, n_samples=n_samples, generator=generator)
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


# --------------------------------------------------------------------------- nulls for the codes
# (chapter 03, issue 20): what a finite set of codes whose population is exactly the prior
# scores, so that every ELBO-surgery number and hole rate has a null beside it.


def prior_null_codes(
    n: int, sigma: Any, latent_dim: int | None = None, generator: torch.Generator | int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""N posteriors N(mu_n, diag sigma^2) with mu_n ~ N(0, diag(1 - sigma^2)): (mu, logvar).

    Their population mixture is exactly N(0, I) (a draw mu_n plus its own noise has variance
    (1 - sigma^2) + sigma^2 = 1 per coordinate), so whatever ELBO surgery or a hole map finds
    in these N codes beyond I(n; z) is the finite-N null: clumping by chance, not a model's.
    ``sigma`` (each in (0, 1)) is a number (then ``latent_dim`` is required), a (d,) vector
    of widths, e.g. a model's mean posterior sigma per dimension, or an (n, d) matrix, one row
    per code (e.g. each image's own widths: then mu_n ~ N(0, diag(1 - sigma_n^2)) and the
    population is still exactly N(0, I)).  float64.
    """
    n = check_positive_int(n, "n")
    s = as_float_tensor(sigma, "sigma").detach().double()
    if s.dim() == 0:
        if latent_dim is None:
            raise ValueError("give latent_dim when sigma is a number")
        s = s.repeat(check_positive_int(latent_dim, "latent_dim"))
    elif s.dim() == 2:
        if s.shape[0] != n or (latent_dim is not None and s.shape[1] != latent_dim):
            raise ValueError(f"a matrix sigma must be (n, latent_dim), got {tuple(s.shape)}")
    elif s.dim() != 1 or (latent_dim is not None and len(s) != latent_dim):
        raise ValueError(f"sigma must be a number, a (latent_dim,) vector or an (n, latent_dim) "
                         f"matrix, got {tuple(s.shape)}")
    check_finite(s, "sigma")
    if ((s <= 0) | (s >= 1)).any():
        raise ValueError("every sigma must lie in (0, 1): wider posteriors cannot make N(0, I)")
    g = torch.Generator().manual_seed(generator) if isinstance(generator, int) else generator
    d = s.shape[-1]
    mu = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.sqrt(1 - s**2)
    return mu, torch.log(s**2).expand(n, d).clone()


def matched_null_codes(mu: Any, logvar: Any, generator: torch.Generator | int = 0
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A spread-matched null: new means drawn from N(m, S), each code keeping its own logvar.

    m and S are the mean and covariance of the rows of ``mu``; code n gets a fresh mean
    m + L eps_n (S = L L^T) and the n-th row of ``logvar`` unchanged.  The codes' place,
    scale and widths are the model's; only *where* each needle sits relative to the others is
    random.  What ELBO surgery finds in the model's shape KL(q(z) || q_G) beyond this null is
    clumping (or holes) of the model's own arrangement.  float64 (mu, logvar).
    """
    mu, logvar = (t.detach().double() for t in check_posteriors(mu, logvar))
    if len(mu) < mu.shape[1] + 1:
        raise ValueError("need more codes than latent dimensions to fit a covariance")
    m = mu.mean(0)
    cov = torch.cov(mu.T).reshape(mu.shape[1], mu.shape[1])
    chol = torch.linalg.cholesky(cov)
    g = torch.Generator().manual_seed(generator) if isinstance(generator, int) else generator
    eps = torch.randn(len(mu), mu.shape[1], generator=g, dtype=torch.float64)
    return m + eps @ chol.T, logvar.clone()


class HoleRates(NamedTuple):
    """Shares of points z where q(z) < p(z) (a hole) and where q(z) < p(z) / 10 (a deep hole)."""

    hole: float
    deep: float


def hole_rates(z: Any, mu: Any, logvar: Any, deep_ratio: float = 0.1) -> HoleRates:
    r"""Shares of the rows of ``z`` with q(z) < p(z) and with q(z) < ``deep_ratio`` * p(z).

    q(z) is the aggregate posterior of the codes (``mu``, ``logvar``)
    (:func:`course_vae.diagnostics.aggregate_log_density`), p = N(0, I).  With z drawn from
    the prior: how often a prior sample lands where the codes are sparser than the prior.
    """
    from course_vae.diagnostics import aggregate_log_density

    ratio = check_real(deep_ratio, "deep_ratio", low=0.0, high=1.0, low_open=True)
    z = _z(z)
    log_ratio = aggregate_log_density(z, mu, logvar) - _log_prior(z.double())
    return HoleRates(float((log_ratio < 0).double().mean()),
                     float((log_ratio < math.log(ratio)).double().mean()))


__all__ += ["HoleRates", "hole_rates", "prior_null_codes", "matched_null_codes"]
