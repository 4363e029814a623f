"""Kullback-Leibler divergences: discrete, Gaussian closed forms, Monte Carlo, quadrature.

Everywhere: KL(Q || P) = E_Q[log Q(x) - log P(x)] >= 0, with equality iff Q = P,
and in general KL(Q || P) != KL(P || Q).  Results are in nats unless a ``base``
says otherwise (base 2 gives bits).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from course_vae._validate import as_float_tensor, check_finite, check_pair, check_positive_int

__all__ = [
    "kl_discrete",
    "kl_normal_std",
    "kl_normal_std_terms",
    "kl_normal",
    "kl_monte_carlo",
    "kl_quadrature",
    "fit_gaussian_1d",
]


def kl_discrete(p: Any, q: Any, base: float = math.e) -> torch.Tensor:
    r"""KL(p || q) = \sum_i p_i \log(p_i / q_i) along the last dimension.

    ``p`` and ``q`` are probability vectors (or batches of them).  The
    convention 0 log 0 = 0 holds; the result is +inf where q_i = 0 < p_i.
    ``base=2`` gives bits.  Non-tensor inputs are computed in float64.
    """
    p = as_float_tensor(p, "p")
    q = as_float_tensor(q, "q")
    if p.shape[-1:] != q.shape[-1:] or p.dim() == 0:
        raise ValueError(
            f"p and q must be probability vectors over the same outcomes along the last "
            f"dimension; got p.shape={tuple(p.shape)}, q.shape={tuple(q.shape)}"
        )
    try:
        torch.broadcast_shapes(p.shape, q.shape)
    except RuntimeError as exc:
        raise ValueError(
            f"p.shape={tuple(p.shape)} and q.shape={tuple(q.shape)} do not broadcast"
        ) from exc
    p, q = torch.broadcast_tensors(p, q.to(p.dtype))
    for name, t in (("p", p), ("q", q)):
        check_finite(t, name)
        if (t < 0).any():
            raise ValueError(f"{name} has negative entries; probabilities must be >= 0")
        tol = 1e-5 if t.dtype in (torch.float16, torch.bfloat16, torch.float32) else 1e-9
        sums = t.sum(-1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=tol, rtol=0):
            bad = sums.flatten()[(sums.flatten() - 1).abs().argmax()].item()
            raise ValueError(
                f"{name} must sum to 1 along the last dimension (found a row summing to {bad:.6g})"
            )
    if not (isinstance(base, (int, float)) and base > 0 and base != 1 and math.isfinite(base)):
        raise ValueError(f"base must be a positive number other than 1, got {base!r}")
    positive = p > 0
    # Where p = 0 the term is 0 whatever q is; mask q there so log(0) never appears.
    safe_p = torch.where(positive, p, torch.ones_like(p))
    safe_q = torch.where(positive, q, torch.ones_like(q))
    terms = torch.where(positive, p * (torch.log(safe_p) - torch.log(safe_q)), torch.zeros_like(p))
    return terms.sum(-1) / math.log(base)


def _expm1_minus_x_value(x: torch.Tensor) -> torch.Tensor:
    """exp(x) - 1 - x without cancellation near 0: a Taylor series where |x| < 0.1."""
    small = x.abs() < 0.1
    direct = torch.expm1(x) - x
    if not bool(small.any()):  # fast path: nothing near 0
        return direct
    xs = x.clamp(-0.1, 0.1)  # the series' argument, finite whatever x is
    top = 10 if x.dtype == torch.float64 else 7  # truncation error far below the dtype's eps
    poly = torch.full_like(xs, 1.0 / math.factorial(top))
    for k in range(top - 1, 1, -1):  # Horner form of x^2/2! + x^3/3! + ... + x^top/top!
        poly = poly * xs + 1.0 / math.factorial(k)
    return torch.where(small, poly * xs * xs, direct)


class _Expm1MinusX(torch.autograd.Function):
    """f(x) = exp(x) - 1 - x with f'(x) = expm1(x): one autograd node instead of a dozen."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return _expm1_minus_x_value(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.expm1(x)  # differentiable again, so double backward works


def _expm1_minus_x(x: torch.Tensor) -> torch.Tensor:
    """exp(x) - 1 - x, accurate near 0 and differentiable (any order)."""
    return _Expm1MinusX.apply(x)


def _check_pair(a: Any, b: Any, name_a: str, name_b: str) -> tuple[torch.Tensor, torch.Tensor]:
    return check_pair(a, b, name_a, name_b, "the latent dimension")


def kl_normal_std_terms(mu: Any, logvar: Any) -> dict[str, torch.Tensor]:
    r"""The four terms of KL(N(mu, diag sigma^2) || N(0, I)) per dimension, halved.

    Returns ``{"mu^2": mu^2/2, "sigma^2": sigma^2/2, "-log sigma^2": -logvar/2,
    "-1": -1/2}``; their sum over keys and over the last dimension is
    :func:`kl_normal_std`.
    """
    mu, logvar = _check_pair(mu, logvar, "mu", "logvar")
    mu, logvar = torch.broadcast_tensors(mu, logvar)
    return {
        "mu^2": 0.5 * mu**2,
        "sigma^2": 0.5 * torch.exp(logvar),
        "-log sigma^2": -0.5 * logvar,
        "-1": torch.full_like(mu, -0.5),
    }


def kl_normal_std(mu: Any, logvar: Any) -> torch.Tensor:
    r"""KL(N(mu, diag exp(logvar)) || N(0, I)) = 1/2 \sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)

    Summed over the last dimension.  Computed as 1/2 \sum_j (mu_j^2 + expm1(l_j) - l_j)
    with a series near l_j = 0, so it stays accurate (no cancellation) and finite for
    logvar in [-30, 30] in float32 and float64.  Differentiable.
    """
    mu, logvar = _check_pair(mu, logvar, "mu", "logvar")
    return kl_normal_std_unchecked(mu, logvar)


def kl_normal_std_unchecked(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """:func:`kl_normal_std` without input checks: the training loop's hot path."""
    return 0.5 * (mu**2 + _expm1_minus_x(logvar)).sum(-1)


def kl_normal(mu_q: Any, logvar_q: Any, mu_p: Any, logvar_p: Any) -> torch.Tensor:
    r"""KL(N(mu_q, diag e^{logvar_q}) || N(mu_p, diag e^{logvar_p})), summed over the last dim.

    = 1/2 \sum_j [(mu_q - mu_p)^2 / s_p^2 + s_q^2 / s_p^2 - log(s_q^2 / s_p^2) - 1]  (s = sigma).
    With mu_p = 0 and logvar_p = 0 this is :func:`kl_normal_std`.
    """
    mu_q, logvar_q = _check_pair(mu_q, logvar_q, "mu_q", "logvar_q")
    mu_p, logvar_p = _check_pair(mu_p, logvar_p, "mu_p", "logvar_p")
    _check_pair(mu_q, mu_p, "mu_q", "mu_p")
    mu_p, logvar_p = mu_p.to(mu_q.dtype), logvar_p.to(mu_q.dtype)
    d = logvar_q - logvar_p
    return 0.5 * ((mu_q - mu_p) ** 2 * torch.exp(-logvar_p) + _expm1_minus_x(d)).sum(-1)


def kl_monte_carlo(
    q: torch.distributions.Distribution,
    p: torch.distributions.Distribution,
    n_samples: int = 10_000,
    seed: int | None = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Monte Carlo estimate of KL(q || p) = E_{z~q}[log q(z) - log p(z)], and its standard error.

    Draws ``n_samples`` from ``q`` (any object with ``sample`` and ``log_prob``,
    e.g. a ``torch.distributions`` distribution whose ``log_prob`` returns one value
    per draw: wrap per-dimension Normals in ``Independent``).  Returns
    ``(estimate, standard_error)`` where standard_error = std(w) / sqrt(n).  With
    ``seed`` set the global random state is left untouched.
    """
    for name, dist in (("q", q), ("p", p)):
        if not (hasattr(dist, "sample") and hasattr(dist, "log_prob")):
            raise TypeError(f"{name} must have .sample and .log_prob (a torch distribution)")
    n_samples = check_positive_int(n_samples, "n_samples")
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2 to give a standard error, got {n_samples}")
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        z = q.sample((n_samples,))
    w = q.log_prob(z) - p.log_prob(z)
    return w.mean(0), w.std(0) / math.sqrt(n_samples)


def kl_quadrature(
    log_q: Callable[[torch.Tensor], torch.Tensor],
    log_p: Callable[[torch.Tensor], torch.Tensor],
    lo: float = -20.0,
    hi: float = 20.0,
    n_points: int = 20_001,
) -> torch.Tensor:
    r"""KL(Q || P) = \int q(x) \log(q(x)/p(x)) dx for 1-D densities, by the trapezoid rule.

    ``log_q`` and ``log_p`` map a float64 grid on [lo, hi] to log-densities.  Points
    where q underflows to 0 contribute 0 (0 log 0 = 0).  Differentiable with respect
    to parameters used inside ``log_q``/``log_p``.
    """
    n_points = check_positive_int(n_points, "n_points")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite lo < hi, got lo={lo}, hi={hi}")
    x = torch.linspace(lo, hi, n_points, dtype=torch.float64)
    lq, lp = log_q(x), log_p(x)
    q = torch.exp(lq)
    integrand = torch.where(q > 0, q * (lq - lp), torch.zeros_like(q))
    return torch.trapezoid(integrand, x)


def fit_gaussian_1d(
    log_p: Callable[[torch.Tensor], torch.Tensor],
    direction: str,
    init: tuple[float, float] = (0.0, 1.0),
    steps: int = 400,
    lr: float = 0.05,
    lo: float = -20.0,
    hi: float = 20.0,
) -> tuple[float, float]:
    r"""Fit Q = N(m, s^2) to a 1-D target P by minimising a KL divergence.

    ``direction="forward"`` minimises KL(P || Q) (mass-covering: Q spreads over every
    mode); ``direction="reverse"`` minimises KL(Q || P) (mode-seeking: Q picks one
    mode, which one depends on ``init``).  Both integrals are computed by quadrature
    and minimised with Adam over (m, log s).  Returns (m, s).
    """
    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' or 'reverse', got {direction!r}")
    steps = check_positive_int(steps, "steps")
    m0, s0 = init
    if not (math.isfinite(m0) and math.isfinite(s0) and s0 > 0):
        raise ValueError(f"init must be (mean, std) with std > 0, got {init!r}")
    m = torch.tensor(float(m0), dtype=torch.float64, requires_grad=True)
    log_s = torch.tensor(math.log(s0), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([m, log_s], lr=lr)

    def log_q(x: torch.Tensor) -> torch.Tensor:
        return torch.distributions.Normal(m, torch.exp(log_s)).log_prob(x)

    for _ in range(steps):
        opt.zero_grad()
        if direction == "forward":
            loss = kl_quadrature(log_p, log_q, lo, hi, 4001)
        else:
            loss = kl_quadrature(log_q, log_p, lo, hi, 4001)
        loss.backward()
        opt.step()
    return float(m.detach()), float(torch.exp(log_s.detach()))
