r"""The linear VAE (probabilistic PCA as a VAE; Tipping & Bishop 1999, Lucas et al. 2019).

Data x ~ N(0, C) with eigenvalues lambda_i; decoder x | z ~ N(W z, s^2 I), z ~ N(0, I);
encoder q(z|x) = N(V x, diag exp(logvar)).  Everything is exact:

* :func:`linear_vae_optimum`: the beta-weighted optimum in closed form -- beta acts as noise
  variance beta s^2, so w_i^2 = max(0, lambda_i - beta s^2) and the directions with
  lambda_i <= beta s^2 collapse (chapter 04's cause (a), made exact);
* :func:`rotation_gap`: the mean-field price 1/2 [sum_j log P_jj - log det P] of a diagonal
  posterior when the latent axes are rotated by R, P = I + R W^T W R^T / s^2: zero where
  W^T W is diagonal, positive elsewhere, and zero for every R when the variances are equal
  (why a diagonal posterior picks axes; chapter 05);
* :func:`fit_linear_vae`: Adam on the exact expected beta-ELBO (no sampling), to check that
  trained linear VAEs land where the closed forms say.

Built on the linear-Gaussian model of :mod:`course_vae.linear_gaussian` (chapter 03).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from course_vae._validate import (
    as_float64,
    check_positive_int,
    check_real,
    check_seed,
)

__all__ = [
    "LinearVAEFit",
    "axis_angle",
    "fit_linear_vae",
    "gaussian_data",
    "linear_vae_optimum",
    "rotation_2d",
    "rotation_gap",
]

_LOG_2PI = math.log(2 * math.pi)


def linear_vae_optimum(eigenvalues: Any, noise_var: float, beta: float = 1.0) -> dict:
    r"""The beta-weighted ELBO's optimum of a linear VAE, per principal direction (closed form).

    Data with covariance U diag(lambda) U^T; decoder x | z ~ N(W z + b, noise_var I); a
    diagonal Gaussian encoder q(z|x) = N(A (x - b), diag s^2); loss recon + beta KL.  Per
    direction i (the optimum aligns the latents with U, Lucas et al. 2019) the objective is
    -(beta / 2) [lambda_i / c_i + log(c_i / (beta noise_var))] + const with
    c_i = w_i^2 + beta noise_var, maximised at c_i = max(lambda_i, beta noise_var):

    * decoder column norm^2 w_i^2 = max(0, lambda_i - beta noise_var) (pPCA with noise_var
      replaced by beta noise_var): the direction **collapses** (w_i = 0, q = prior) iff
      lambda_i <= beta noise_var;
    * KL_i = 1/2 max(0, log(lambda_i / (beta noise_var))) nats;
    * Var_x mu_i = max(0, 1 - beta noise_var / lambda_i) (the active-unit statistic);
    * posterior variance s_i^2 = min(1, beta noise_var / lambda_i).

    Returns a dict of float64 tensors ``w2``, ``kl``, ``mu_var``, ``post_var`` and the bool
    tensor ``collapsed``, each of shape (len(eigenvalues),).
    """
    lam = as_float64(eigenvalues, "eigenvalues")
    if lam.dim() != 1 or lam.numel() == 0 or (lam <= 0).any():
        raise ValueError("eigenvalues must be a non-empty 1-D tensor of positive variances")
    t = check_real(beta, "beta", low=0.0) * check_real(noise_var, "noise_var", low=0.0)
    if t <= 0:
        raise ValueError("beta * noise_var must be positive")
    collapsed = lam <= t
    ratio = torch.clamp(lam / t, min=1.0)
    return {"w2": torch.clamp(lam - t, min=0.0), "kl": 0.5 * torch.log(ratio),
            "mu_var": 1 - 1 / ratio, "post_var": 1 / ratio, "collapsed": collapsed}


def gaussian_data(eigenvalues: Any, n: int, seed: int = 0) -> torch.Tensor:
    r"""``n`` rows of x ~ N(0, U diag(eigenvalues) U^T), U a seeded random rotation (float32)."""
    lam = as_float64(eigenvalues, "eigenvalues")
    if lam.dim() != 1 or (lam <= 0).any():
        raise ValueError("eigenvalues must be a 1-D tensor of positive variances")
    n = check_positive_int(n, "n")
    g = torch.Generator().manual_seed(check_seed(seed))
    d = lam.numel()
    u, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * lam.sqrt()
    return (x @ u.T).float()


def rotation_2d(angle: Any) -> torch.Tensor:
    r"""Rotation matrices R(theta) = [[cos, -sin], [sin, cos]] (float64), shape (..., 2, 2)."""
    a = as_float64(angle, "angle")
    c, s = torch.cos(a), torch.sin(a)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def rotation_gap(gram: Any, noise_std: float, rotation: Any) -> torch.Tensor:
    r"""Mean-field gap (nats per example) of a linear VAE whose latent axes are rotated by R.

    ``gram`` is W^T W (L, L) of the decoder, ``rotation`` R (..., L, L).  With
    P = I + R W^T W R^T / s^2 (the posterior precision of the rotated model),
    returns :math:`\tfrac12[\sum_j \log P_{jj} - \log\det P]` = KL(best diagonal q ||
    p(z|x)), the same for every x.  Zero where R W^T W R^T is diagonal; zero for every R
    when W^T W is a multiple of I (equal variances).  The likelihood log p(x) is the same
    for every R, so this gap is all the ELBO has to prefer one R.
    """
    g = as_float64(gram, "gram")
    if g.dim() != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"gram must be a square (L, L) matrix, got {tuple(g.shape)}")
    r = as_float64(rotation, "rotation")
    if r.dim() < 2 or r.shape[-2:] != g.shape:
        raise ValueError(f"rotation must have shape (..., {g.shape[0]}, {g.shape[0]})")
    s = check_real(noise_std, "noise_std", low=0.0, low_open=True)
    eye = torch.eye(g.shape[0], dtype=torch.float64)
    p = eye + r @ g @ r.transpose(-1, -2) / s**2
    p = 0.5 * (p + p.transpose(-1, -2))
    return 0.5 * (torch.log(torch.diagonal(p, dim1=-2, dim2=-1)).sum(-1) - torch.logdet(p))


def axis_angle(W: Any, U: Any) -> float:
    r"""How far (degrees, in [0, 45]) the latent axes of decoder ``W`` (D, 2) are turned
    away from the generative directions ``U`` (D, 2, orthonormal columns).

    Q, the orthogonal polar factor of U^T W (U^T W = Q S: the rotation part), is compared
    with the nearest signed permutation (a relabelling or sign flip of the axes changes
    nothing): 0 = aligned, 45 = halfway between.
    """
    w, u = as_float64(W, "W"), as_float64(U, "U")
    if w.dim() != 2 or u.shape != w.shape or w.shape[1] != 2:
        raise ValueError(f"W and U must both have shape (D, 2), got {tuple(w.shape)}, "
                         f"{tuple(u.shape)}")
    a, _, bt = torch.linalg.svd(u.T @ w)
    q = a @ bt
    theta = math.degrees(math.atan2(float(q[1, 0]), float(q[0, 0]))) % 90.0
    return min(theta, 90.0 - theta)


@dataclass(frozen=True)
class LinearVAEFit:
    """A trained linear VAE: decoder ``W`` (D, L), encoder ``V`` (L, D) (mu = V x), the
    posterior log-variances ``logvar`` (L,), ``loss`` (steps,) the negative beta-ELBO per
    example, and ``angles`` (every ``record_every`` steps, degrees; L = 2 only, else empty)
    of the decoder's axes against the ``U`` given."""

    W: torch.Tensor
    V: torch.Tensor
    logvar: torch.Tensor
    loss: torch.Tensor
    angles: torch.Tensor


def fit_linear_vae(cov: Any, latent_dim: int, noise_std: float, *, beta: float = 1.0,
                   steps: int = 3000, lr: float = 0.02, seed: int = 0, U: Any = None,
                   record_every: int = 50) -> LinearVAEFit:
    r"""Train a linear VAE on centred data of covariance ``cov`` (D, D) with Adam.

    Decoder x | z ~ N(W z, s^2 I) (s = ``noise_std``, fixed), encoder q(z|x) =
    N(V x, diag exp(logvar)) (for a linear-Gaussian model the best posterior variance does
    not depend on x).  The loss is the exact expected negative beta-ELBO per example
    (no sampling): with A = I - W V,
    :math:`\frac{D}{2}\log 2\pi s^2 + [\mathrm{tr}(A C A^T) + \sum_j e^{\ell_j}\|W_j\|^2]
    / (2 s^2) + \frac{\beta}{2}\sum_j [(V C V^T)_{jj} + e^{\ell_j} - \ell_j - 1]`.
    Initial W, V ~ N(0, 0.1^2) from ``seed``.  Deterministic.
    """
    c = as_float64(cov, "cov")
    if c.dim() != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"cov must be a square (D, D) matrix, got {tuple(c.shape)}")
    L = check_positive_int(latent_dim, "latent_dim")
    s = check_real(noise_std, "noise_std", low=0.0, low_open=True)
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    steps = check_positive_int(steps, "steps")
    record_every = check_positive_int(record_every, "record_every")
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    D = c.shape[0]
    g = torch.Generator().manual_seed(check_seed(seed))
    W = (0.1 * torch.randn(D, L, generator=g, dtype=torch.float64)).requires_grad_()
    V = (0.1 * torch.randn(L, D, generator=g, dtype=torch.float64)).requires_grad_()
    logvar = torch.zeros(L, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([W, V, logvar], lr=lr)
    eye = torch.eye(D, dtype=torch.float64)
    const = 0.5 * D * (_LOG_2PI + 2 * math.log(s))
    losses, angles = [], []
    for step in range(steps):
        a = eye - W @ V
        var = logvar.exp()
        recon = (torch.trace(a @ c @ a.T) + (var * (W**2).sum(0)).sum()) / (2 * s**2)
        kl = 0.5 * (torch.diagonal(V @ c @ V.T) + var - logvar - 1).sum()
        loss = const + recon + beta * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if U is not None and L == 2 and step % record_every == record_every - 1:
            angles.append(axis_angle(W.detach(), U))
    return LinearVAEFit(W=W.detach(), V=V.detach(), logvar=logvar.detach(),
                        loss=torch.tensor(losses, dtype=torch.float64),
                        angles=torch.tensor(angles, dtype=torch.float64))
