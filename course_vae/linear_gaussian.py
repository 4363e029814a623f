r"""A linear-Gaussian latent model where everything is exact: log p(x), p(z|x) and the ELBO.

z ~ N(0, I_L),  x | z ~ N(W z + b, s^2 I_D).  Then

* x ~ N(b, W W^T + s^2 I)                                   (exact log p(x));
* p(z|x) = N(M^{-1} W^T (x - b) / s^2, M^{-1}),  M = I + W^T W / s^2   (full covariance);
* for any Gaussian q = N(m, S):  ELBO(q) = log p(x) - KL(q || p(z|x)),  in closed form.

So a chapter can show ELBO <= log p(x), that the gap is KL(q || posterior), and that it
closes when q is the posterior (and not with a diagonal q if the posterior is correlated).
All computations are in float64.
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
from course_vae.kl import kl_gaussian_full, kl_normal_std
from course_vae.rng import as_generator

__all__ = ["LinearGaussian"]

_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True, repr=False, eq=False)
class LinearGaussian:
    r"""z ~ N(0, I_L), x|z ~ N(W z + b, noise_std^2 I_D): ``W`` is (D, L), ``b`` is (D,)."""

    W: torch.Tensor
    b: torch.Tensor
    noise_std: float

    def __post_init__(self) -> None:
        W, b = as_float64(self.W, "W"), as_float64(self.b, "b")
        if W.dim() != 2:
            raise ValueError(f"W must be a (data_dim, latent_dim) matrix, got {tuple(W.shape)}")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape ({W.shape[0]},), got {tuple(b.shape)}")
        s = check_real(self.noise_std, "noise_std", low=0.0, low_open=True)
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "noise_std", s)

    @classmethod
    def random(
        cls, data_dim: int = 2, latent_dim: int = 2, noise_std: float = 0.5, seed: int = 0
    ) -> LinearGaussian:
        """A model with W and b drawn from N(0, 1) with ``seed``."""
        data_dim = check_positive_int(data_dim, "data_dim")
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        g = torch.Generator().manual_seed(check_seed(seed))
        W = torch.randn(data_dim, latent_dim, generator=g, dtype=torch.float64)
        b = torch.randn(data_dim, generator=g, dtype=torch.float64)
        return cls(W, b, noise_std)

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    def __repr__(self) -> str:
        return (
            f"LinearGaussian(data_dim={self.data_dim}, latent_dim={self.latent_dim}, "
            f"noise_std={self.noise_std})"
        )

    # ------------------------------------------------------------------ checks
    def _x(self, x: Any) -> torch.Tensor:
        x = as_float64(x, "x")
        if x.dim() == 0 or x.shape[-1] != self.data_dim:
            raise ValueError(f"x must have shape (..., {self.data_dim}), got {tuple(x.shape)}")
        return x

    def _z(self, z: Any) -> torch.Tensor:
        z = as_float64(z, "z")
        if z.dim() == 0 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have shape (..., {self.latent_dim}), got {tuple(z.shape)}")
        return z

    # ------------------------------------------------------------------ the model
    def sample(
        self, n: int, generator: torch.Generator | int | None = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """n joint draws (z, x): z of shape (n, L), x of shape (n, D)."""
        n = check_positive_int(n, "n")
        g = as_generator(generator)
        z = torch.randn(n, self.latent_dim, generator=g, dtype=torch.float64)
        noise = torch.randn(n, self.data_dim, generator=g, dtype=torch.float64)
        return z, z @ self.W.T + self.b + self.noise_std * noise

    def log_likelihood(self, x: Any, z: Any) -> torch.Tensor:
        r"""log p(x|z) = log N(x; W z + b, s^2 I), summed over the D coordinates; broadcasts."""
        x, z = self._x(x), self._z(z)
        r = (x - (z @ self.W.T + self.b)) / self.noise_std
        return -0.5 * (r**2).sum(-1) - self.data_dim * (math.log(self.noise_std) + 0.5 * _LOG_2PI)

    def log_prior(self, z: Any) -> torch.Tensor:
        r"""log p(z) = log N(z; 0, I)."""
        z = self._z(z)
        return -0.5 * (z**2).sum(-1) - 0.5 * self.latent_dim * _LOG_2PI

    def log_joint(self, x: Any, z: Any) -> torch.Tensor:
        r"""log p(x, z) = log p(x|z) + log p(z)."""
        return self.log_likelihood(x, z) + self.log_prior(z)

    def marginal_cov(self) -> torch.Tensor:
        r"""Cov[x] = W W^T + s^2 I, shape (D, D)."""
        eye = torch.eye(self.data_dim, dtype=torch.float64)
        return self.W @ self.W.T + self.noise_std**2 * eye

    def log_marginal(self, x: Any) -> torch.Tensor:
        r"""Exact log p(x) = log N(x; b, W W^T + s^2 I), shape (...)."""
        x = self._x(x)
        chol = torch.linalg.cholesky(self.marginal_cov())
        r = torch.linalg.solve_triangular(chol, (x - self.b).unsqueeze(-1), upper=False)
        logdet = 2 * torch.log(torch.diagonal(chol)).sum()
        return -0.5 * ((r**2).sum((-1, -2)) + logdet + self.data_dim * _LOG_2PI)

    def posterior_precision(self) -> torch.Tensor:
        r"""M = I + W^T W / s^2, the precision of p(z|x) (the same for every x), shape (L, L)."""
        eye = torch.eye(self.latent_dim, dtype=torch.float64)
        return eye + self.W.T @ self.W / self.noise_std**2

    def posterior(self, x: Any) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Exact p(z|x) = N(M^{-1} W^T (x - b) / s^2, M^{-1}): (mean (..., L), cov (L, L))."""
        x = self._x(x)
        cov = torch.linalg.inv(self.posterior_precision())
        cov = 0.5 * (cov + cov.T)
        mean = ((x - self.b) @ self.W / self.noise_std**2) @ cov.T
        return mean, cov

    def mean_field_posterior(self, x: Any) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The best diagonal q, minimising KL(q || p(z|x)): mean = posterior mean, var_j = 1/M_jj.

        Returns (mean (..., L), var (L,)).  Its gap KL(q || p(z|x)) = 1/2 (sum_j log M_jj -
        log det M) is zero only when M is diagonal (an uncorrelated posterior).
        """
        mean, _ = self.posterior(x)
        return mean, 1.0 / torch.diagonal(self.posterior_precision())

    # ------------------------------------------------------------------ closed-form ELBO
    def _q(self, x, q_mean, q_var, q_cov):
        x = self._x(x)
        m = self._z(q_mean)
        if (q_var is None) == (q_cov is None):
            raise ValueError("give exactly one of q_var (diagonal) and q_cov (full covariance)")
        if q_var is not None:
            v = as_float64(q_var, "q_var")
            if v.dim() == 0 or v.shape[-1] != self.latent_dim:
                raise ValueError(f"q_var must have shape (..., {self.latent_dim})")
            if (v <= 0).any():
                raise ValueError("q_var must be positive")
            return x, m, v, None
        cov = as_float64(q_cov, "q_cov")
        if cov.dim() < 2 or cov.shape[-2:] != (self.latent_dim, self.latent_dim):
            raise ValueError(f"q_cov must have shape (..., {self.latent_dim}, {self.latent_dim})")
        return x, m, None, cov

    def elbo_terms(
        self, x: Any, q_mean: Any, q_var: Any = None, q_cov: Any = None
    ) -> dict[str, torch.Tensor]:
        r"""Exact ELBO of q = N(q_mean, S) for this model: {"recon", "kl", "elbo"} (nats).

        S = diag(q_var) or q_cov.  recon = E_q[log p(x|z)] = -D/2 log(2 pi s^2)
        - (||x - b - W m||^2 + tr(W^T W S)) / (2 s^2);  kl = KL(q || N(0, I));
        elbo = recon - kl.  No sampling: every value is exact.
        """
        x, m, v, cov = self._q(x, q_mean, q_var, q_cov)
        s2 = self.noise_std**2
        resid = x - self.b - m @ self.W.T
        gram = self.W.T @ self.W
        if v is not None:
            trace = (torch.diagonal(gram) * v).sum(-1)
            kl = kl_normal_std(m, torch.log(v))
        else:
            trace = (gram * cov).sum((-1, -2))
            eye = torch.eye(self.latent_dim, dtype=torch.float64)
            kl = kl_gaussian_full(m, cov, torch.zeros(self.latent_dim, dtype=torch.float64), eye)
        recon = -0.5 * self.data_dim * (_LOG_2PI + math.log(s2)) - ((resid**2).sum(-1) + trace) / (
            2 * s2
        )
        return {"recon": recon, "kl": kl, "elbo": recon - kl}

    def elbo(self, x: Any, q_mean: Any, q_var: Any = None, q_cov: Any = None) -> torch.Tensor:
        r"""Exact ELBO(q) = E_q[log p(x|z)] - KL(q || p(z)), q = N(q_mean, diag(q_var) or q_cov)."""
        return self.elbo_terms(x, q_mean, q_var, q_cov)["elbo"]

    def posterior_kl(
        self, x: Any, q_mean: Any, q_var: Any = None, q_cov: Any = None
    ) -> torch.Tensor:
        r"""KL(q || p(z|x)) for q = N(q_mean, diag(q_var) or q_cov): the gap log p(x) - ELBO(q)."""
        x, m, v, cov = self._q(x, q_mean, q_var, q_cov)
        cov = torch.diag_embed(v) if v is not None else cov
        p_mean, p_cov = self.posterior(x)
        return kl_gaussian_full(m, cov, p_mean, p_cov)


# =========================================================================================
# Chapter 03 (issue 20): the best q per example (approximation vs amortisation gap, Cremer
# et al. 2018) and when the importance weights of a diagonal q have a finite variance.
# =========================================================================================


def optimise_diagonal_q(
    log_likelihood: Any,
    x: Any,
    mu0: Any,
    logvar0: Any,
    steps: int = 300,
    lr: float = 0.05,
    n_samples: int = 16,
    generator: torch.Generator | int | None = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Maximise each example's ELBO over its own diagonal Gaussian q = N(mu_n, diag e^{logvar_n}).

    ``log_likelihood(x, z)`` gives log p(x_n | z) for z of shape (S, N, d) (one row of ``x``
    per n, broadcast over S); the prior is N(0, I), its KL in closed form.  Starting from
    (``mu0``, ``logvar0``), shape (N, d) (e.g. an encoder's output), Adam (``lr``) takes
    ``steps`` steps on the reparameterised ``n_samples``-draw ELBO.  No encoder: the result
    is the best q of the family for each example (up to optimisation), so
    ELBO(q*) - ELBO(encoder) is the **amortisation gap** and log p(x) - ELBO(q*) the
    **approximation gap** of that family (Cremer, Li & Duvenaud 2018).  Returns the
    optimised (mu, logvar), detached.
    """
    steps = check_positive_int(steps, "steps")
    n_samples = check_positive_int(n_samples, "n_samples")
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    if not callable(log_likelihood):
        raise TypeError("log_likelihood must be a function log_likelihood(x, z)")
    mu = torch.as_tensor(mu0).detach().clone().requires_grad_(True)
    logvar = torch.as_tensor(logvar0).detach().clone().to(mu.dtype).requires_grad_(True)
    if mu.dim() != 2 or logvar.shape != mu.shape:
        raise ValueError("mu0 and logvar0 must both have shape (N, latent_dim)")
    gen = as_generator(generator)
    opt = torch.optim.Adam([mu, logvar], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            eps = torch.randn((n_samples, *mu.shape), generator=gen, dtype=mu.dtype)
            z = mu + torch.exp(0.5 * logvar) * eps
            recon = log_likelihood(x, z).mean(0)
            loss = -(recon - kl_normal_std(mu, logvar)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return mu.detach(), logvar.detach()


def importance_weight_min_eigenvalue(precision: Any, q_var: Any) -> float:
    r"""Smallest eigenvalue of 2 M - diag(1 / q_var), M the exact posterior's precision.

    For q = N(m, diag q_var) and a Gaussian posterior N(m', M^{-1}), E_q[w^2] of the
    importance weights w = p(x, z) / q(z) is finite iff 2 M - diag(1 / q_var) is positive
    definite: a negative value means the weights have **infinite variance** (q's tails are
    too thin somewhere), and IWAE_K then approaches log p(x) slowly.  For the best diagonal
    q (q_var = 1 / M_jj) in 2-D this happens exactly when the posterior correlation |rho| > 1/2.
    """
    M = as_float64(precision, "precision")
    v = as_float64(q_var, "q_var")
    if M.dim() != 2 or M.shape[0] != M.shape[1] or v.shape != (M.shape[0],):
        raise ValueError("precision must be (d, d) and q_var (d,)")
    if (v <= 0).any():
        raise ValueError("q_var must be > 0")
    return float(torch.linalg.eigvalsh(2 * M - torch.diag(1 / v)).min())


__all__ += ["importance_weight_min_eigenvalue", "optimise_diagonal_q"]


# --------------------------------------------------------------------------- chapter 04:
# the linear VAE (probabilistic PCA) and which directions collapse

__all__ += ["LinearVAE", "gaussian_data", "linear_vae_optimum"]


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


class LinearVAE(torch.nn.Module):
    r"""A linear VAE: q(z|x) = N(A x + a, diag exp(logvar)) with a learnt logvar shared by
    all inputs, and a decoder x | z ~ N(W z + b, noise_var I) with ``noise_var`` fixed.

    Follows the course's model protocol (``encode``, ``log_likelihood``, ``check_data``), so
    :func:`course_vae.train.train` trains it; its beta-weighted optimum is
    :func:`linear_vae_optimum` of the data's covariance eigenvalues.
    """

    def __init__(self, data_dim: int, latent_dim: int, noise_var: float, seed: int = 0):
        super().__init__()
        self.data_dim = check_positive_int(data_dim, "data_dim")
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.noise_var = check_real(noise_var, "noise_var", low=0.0)
        if self.noise_var <= 0:
            raise ValueError("noise_var must be positive")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(check_seed(seed))
            self.enc = torch.nn.Linear(data_dim, latent_dim)
            self.logvar = torch.nn.Parameter(torch.zeros(latent_dim))
            self.dec = torch.nn.Linear(latent_dim, data_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x), each (n, latent_dim)."""
        return self.enc(x), self.logvar.expand(len(x), -1)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor,
                       generator: torch.Generator | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(log N(x; W z + b, noise_var I) summed over coordinates, the mean W z + b)."""
        mean = self.dec(z)
        ll = -0.5 * (((x - mean) ** 2) / self.noise_var
                     + math.log(2 * math.pi * self.noise_var)).sum(-1)
        return ll, mean

    def check_data(self, data: Any, name: str = "data") -> torch.Tensor:
        """``data`` if it is a finite float tensor (n, data_dim), n >= 1; else raise."""
        if not isinstance(data, torch.Tensor) or not data.is_floating_point():
            raise TypeError(f"{name} must be a float tensor (n, {self.data_dim})")
        if data.dim() != 2 or data.shape[0] == 0 or data.shape[1] != self.data_dim:
            raise ValueError(
                f"{name} must have shape (n, {self.data_dim}), got {tuple(data.shape)}")
        if not torch.isfinite(data).all():
            raise ValueError(f"{name} must be finite")
        return data

    def column_norms2(self) -> torch.Tensor:
        """|W_:,j|^2 of each latent's decoder column (0 for a collapsed latent)."""
        return (self.dec.weight.detach().double() ** 2).sum(0)


# =========================================================================== chapter 05
# Why a diagonal posterior picks axes: the rotation gap of a linear VAE (Rolinek et al.
# 2019; Lucas et al. 2019).  Rotating the latents of a linear-Gaussian model by R leaves
# p(x) unchanged (W -> W R^T), but the best diagonal q pays the mean-field gap
# 1/2 [sum_j log P_jj - log det P] with P = I + R W^T W R^T / s^2.

__all__ += ["LinearVAEFit", "axis_angle", "fit_linear_vae", "rotation_2d", "rotation_gap"]


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


# ---------------------------------------------------------------------------
# Chapter 03 (referee round 3): replicated IWAE_K estimates
# ---------------------------------------------------------------------------


@torch.no_grad()
def iwae_replicates(model: LinearGaussian, x: Any, q_mean: Any, q_var: Any, ks: Any,
                    n_repeats: int, generator: torch.Generator | int | None = 0) -> torch.Tensor:
    r"""``n_repeats`` independent estimates of IWAE_K for each K in ``ks``: (n_repeats, len(ks)).

    Replicate r draws max(ks) weights w = p(x, z) / q(z), z ~ q = N(q_mean, diag q_var), and
    its IWAE_K is log (1/K) \sum_{k<=K} w_k over its first K (nested within a replicate,
    independent across replicates).  The mean over replicates estimates E[IWAE_K], the bound
    that satisfies ELBO <= IWAE_K <= log p(x); one replicate can land above log p(x).
    """
    m, v = as_float64(q_mean, "q_mean"), as_float64(q_var, "q_var")
    if m.shape != (model.latent_dim,) or v.shape != m.shape or (v <= 0).any():
        raise ValueError("q_mean and q_var must be (latent_dim,), q_var > 0")
    ks = [check_positive_int(k, "K") for k in ks]
    n_repeats = check_positive_int(n_repeats, "n_repeats")
    g = as_generator(generator)
    k_max = max(ks)
    eps = torch.randn(n_repeats, k_max, len(m), generator=g, dtype=torch.float64)
    z = m + v.sqrt() * eps
    log_q = -0.5 * (eps**2 + torch.log(2 * math.pi * v)).sum(-1)
    log_w = model.log_joint(x, z.reshape(-1, len(m))).reshape(n_repeats, k_max) - log_q
    return torch.stack([torch.logsumexp(log_w[:, :k], 1) - math.log(k) for k in ks], 1)
__all__ += ["iwae_replicates"]
