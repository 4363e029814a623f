r"""Two Monte Carlo estimators of a gradient through an expectation (chapter 03).

The target is  g(mu) = d/dmu E_{z ~ N(mu, sigma^2)}[f(z)]  for a scalar function f.

* Reparameterisation (pathwise): z = mu + sigma * eps, eps ~ N(0, 1), so
  g = E_eps[f'(mu + sigma * eps)]; one sample gives f'(z) (computed by autograd).
* Score function (REINFORCE): g = E_z[f(z) * d/dmu log N(z; mu, sigma^2)]
  = E_z[f(z) (z - mu) / sigma^2]; it needs f only, not f'.  Because E_z[d/dmu log q] = 0,
  subtracting any constant ``baseline`` b from f keeps it unbiased: (f(z) - b)(z - mu) /
  sigma^2; b = E f (a "control variate") usually cuts its variance a lot.

Both are unbiased; their variances differ, often by orders of magnitude.  Everything is
computed in float64 from a seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from course_vae._validate import check_callable, check_choice, check_positive_int, check_real
from course_vae.rng import as_generator

__all__ = [
    "ESTIMATORS",
    "estimator_variance_curve",
    "exact_sample_variance",
    "gradient_estimates",
    "reparam_gradient_samples",
    "score_gradient_samples",
]

ScalarFn = Callable[[torch.Tensor], torch.Tensor]


def _check(f: Any, mu: Any, sigma: Any) -> tuple[float, float]:
    check_callable(f, "f", "f(z) -> values")
    return check_real(mu, "mu"), check_real(sigma, "sigma", low=0.0, low_open=True)


def _apply(f: ScalarFn, z: torch.Tensor) -> torch.Tensor:
    out = f(z)
    if not isinstance(out, torch.Tensor) or out.shape != z.shape:
        raise ValueError(
            f"f must map a tensor of shape {tuple(z.shape)} to one value per element (same shape)"
        )
    if torch.is_grad_enabled() and z.requires_grad and not out.requires_grad:
        raise TypeError(
            "f must be written with differentiable torch operations: its output does not "
            "depend on z through autograd (the reparameterisation estimator needs f')"
        )
    return out


def _eps(n: int, generator: torch.Generator | int | None) -> torch.Tensor:
    return torch.randn(n, generator=as_generator(generator), dtype=torch.float64)


def reparam_gradient_samples(
    f: ScalarFn,
    mu: float,
    sigma: float,
    n_samples: int,
    generator: torch.Generator | int | None = 0,
) -> torch.Tensor:
    r"""Per-sample reparameterised estimates f'(mu + sigma eps_i) of d/dmu E_{N(mu, sigma^2)}[f].

    Shape (n_samples,); the derivative comes from autograd through z = mu + sigma * eps, so
    ``f`` must be written with differentiable torch operations.
    """
    mu, sigma = _check(f, mu, sigma)
    n = check_positive_int(n_samples, "n_samples")
    eps = _eps(n, generator)
    mu_t = torch.full((n,), mu, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        values = _apply(f, mu_t + sigma * eps)
        (grad,) = torch.autograd.grad(values.sum(), mu_t)
    return grad.detach()


def score_gradient_samples(
    f: ScalarFn,
    mu: float,
    sigma: float,
    n_samples: int,
    generator: torch.Generator | int | None = 0,
    baseline: float = 0.0,
) -> torch.Tensor:
    r"""Per-sample score-function estimates (f(z_i) - a)(z_i - mu) / sigma^2, z_i ~ N(mu, sigma^2).

    Shape (n_samples,).  (z - mu) / sigma^2 = d/dmu log N(z; mu, sigma^2); f is only evaluated.
    ``baseline`` a is a constant (default 0, the plain estimator); since the score has mean
    0, every a gives an unbiased estimator, and a near E f a smaller variance (for
    f(z) = z^2: Var = mu^4 / sigma^2 + 14 mu^2 + 15 sigma^2 at a = 0, 8 mu^2 + 10 sigma^2 at
    a = E f = mu^2 + sigma^2).
    """
    mu, sigma = _check(f, mu, sigma)
    a = check_real(baseline, "baseline")
    n = check_positive_int(n_samples, "n_samples")
    eps = _eps(n, generator)
    with torch.no_grad():
        z = mu + sigma * eps
        return (_apply(f, z) - a) * eps / sigma  # (z - mu) / sigma^2 = eps / sigma


ESTIMATORS: dict[str, Callable[..., torch.Tensor]] = {
    "reparameterisation": reparam_gradient_samples,
    "score function": score_gradient_samples,
}
"""The two estimators by name (the keys used by :func:`estimator_variance_curve`)."""


def gradient_estimates(
    estimator: str,
    f: ScalarFn,
    mu: float,
    sigma: float,
    n_samples: int,
    n_repeats: int,
    generator: torch.Generator | int | None = 0,
) -> torch.Tensor:
    r"""``n_repeats`` independent S-sample estimates (1/S) \sum_i g_i, S = ``n_samples``.

    ``estimator`` is a key of :data:`ESTIMATORS`.  Shape (n_repeats,).
    """
    check_choice(estimator, "estimator", ESTIMATORS)
    s = check_positive_int(n_samples, "n_samples")
    r = check_positive_int(n_repeats, "n_repeats")
    gen = as_generator(generator)
    g = ESTIMATORS[estimator](f, mu, sigma, s * r, gen)
    return g.reshape(r, s).mean(1)


def estimator_variance_curve(
    f: ScalarFn,
    mu: float,
    sigma: float,
    sample_counts: Any = (1, 4, 16, 64, 256),
    n_repeats: int = 400,
    generator: torch.Generator | int | None = 0,
) -> dict[str, Any]:
    r"""Mean, variance and standard error of both estimators for each sample count S.

    For every S in ``sample_counts`` and each estimator, draws ``n_repeats`` S-sample
    estimates and returns ``{"sample_counts": [...], name: {"mean": [...], "var": [...],
    "stderr": [...]}}`` where var is the unbiased variance across the repeats (it should
    fall like Var_1 / S) and stderr = sqrt(var / n_repeats) is the standard error of mean.
    """
    if isinstance(sample_counts, (str, bytes)) or not hasattr(sample_counts, "__iter__"):
        raise TypeError(
            f"sample_counts must be a sequence of sample counts, got {type(sample_counts).__name__}"
        )
    counts = [check_positive_int(s, "sample_counts (each)") for s in sample_counts]
    if not counts:
        raise ValueError("sample_counts must hold at least one sample count")
    r = check_positive_int(n_repeats, "n_repeats")
    if r < 2:
        raise ValueError(f"n_repeats must be at least 2 (for a variance), got {r}")
    gen = as_generator(generator)
    out: dict[str, Any] = {"sample_counts": counts}
    for name in ESTIMATORS:
        stats: dict[str, list[float]] = {"mean": [], "var": [], "stderr": []}
        for s in counts:
            est = gradient_estimates(name, f, mu, sigma, s, r, gen)
            var = float(est.var())
            stats["mean"].append(float(est.mean()))
            stats["var"].append(var)
            stats["stderr"].append(math.sqrt(var / r))
        out[name] = stats
    return out


def exact_sample_variance(
    estimator: str, f: ScalarFn, mu: float, sigma: float, baseline: float = 0.0,
    n_nodes: int = 40,
) -> float:
    r"""The variance of ONE sample of an estimator, by Gauss-Hermite quadrature over eps.

    ``estimator`` is a key of :data:`ESTIMATORS`; ``baseline`` is used by the score
    function only.  With ``n_nodes`` nodes the quadrature is exact for a per-sample estimate
    that is a polynomial in eps of degree < ``n_nodes`` (e.g. f(z) = z^2: the exact values
    1 = 4 sigma^2 and mu^4 / sigma^2 + 14 mu^2 + 15 sigma^2 at mu = 2, sigma = 0.5 are 1 and
    123.75), and very accurate for smooth f.  No sampling, so no Monte Carlo error.
    """
    import numpy as np

    check_choice(estimator, "estimator", ESTIMATORS)
    mu, sigma = _check(f, mu, sigma)
    b = check_real(baseline, "baseline")
    n = check_positive_int(n_nodes, "n_nodes")
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)  # weight exp(-eps^2 / 2)
    eps = torch.as_tensor(nodes, dtype=torch.float64)
    w = torch.as_tensor(weights / weights.sum(), dtype=torch.float64)
    if estimator == "reparameterisation":
        mu_t = torch.full((n,), mu, dtype=torch.float64, requires_grad=True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(_apply(f, mu_t + sigma * eps).sum(), mu_t)
    else:
        with torch.no_grad():
            g = (_apply(f, mu + sigma * eps) - b) * eps / sigma
    mean = (w * g).sum()
    return float((w * (g - mean) ** 2).sum())
