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
