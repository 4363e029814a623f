r"""What log p(x) can be for binarised images: exact values, ceilings and baselines (nats).

* :func:`grid_log_marginal`: the exact log p(x) of a model with a 2-D latent, by summing
  p(x|z) p(z) over a grid of z (the known answer behind chapter 03's gap split);
* :func:`binarisation_entropy` and :func:`data_log_likelihood_ceiling`: the ceilings
  E log p(x) <= -H(x) <= -E_g H(x | g) of images drawn x ~ Bernoulli(g) from grey images g;
* :func:`independent_pixel_log_likelihood` (a model of independent pixels) and
  :func:`binarised_mixture_log_likelihood` (an untrained kernel mixture of product-Bernoullis):
  baselines any latent-variable model should be read against.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from course_vae._validate import (
    as_float_tensor,
    check_finite,
    check_positive_int,
    check_real,
)
from course_vae.diagnostics import Estimate
from course_vae.rng import as_generator

__all__ = [
    "binarisation_entropy",
    "binarised_mixture_log_likelihood",
    "data_log_likelihood_ceiling",
    "grid_log_marginal",
    "independent_pixel_log_likelihood",
]


def _unit_rows(x: Any, name: str) -> torch.Tensor:
    x = as_float_tensor(x, name)
    if x.dim() != 2 or len(x) == 0:
        raise ValueError(f"{name} must have shape (n, pixels) with n >= 1, got {tuple(x.shape)}")
    check_finite(x, name)
    if (x < 0).any() or (x > 1).any():
        raise ValueError(f"{name} must lie in [0, 1]")
    return x.detach().double()


def independent_pixel_log_likelihood(train_probs: Any, x: Any) -> torch.Tensor:
    r"""log p(x) = \sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)] of each binary row of ``x``.

    p_i = (\sum_n t_{n,i} + 1) / (N + 2) from the N rows of ``train_probs`` (pixel
    probabilities, e.g. grey / 16, or binary images; add-one smoothing keeps p_i off 0 and 1).
    A model with no latent variable: every pixel on its own.
    """
    t, x = _unit_rows(train_probs, "train_probs"), _unit_rows(x, "x")
    if t.shape[1] != x.shape[1]:
        raise ValueError(f"x has {x.shape[1]} pixels but train_probs has {t.shape[1]}")
    p = (t.sum(0) + 1) / (len(t) + 2)
    return x @ torch.log(p) + (1 - x) @ torch.log1p(-p)


def binarisation_entropy(grey: Any) -> torch.Tensor:
    r"""H(x | grey) = -\sum_i [g_i log g_i + (1 - g_i) log(1 - g_i)] of x ~ Bernoulli(g), per row.

    The nats of coin flips in binarising a grey image g (pixels in [0, 1]): averaged over
    images it bounds every model's expected log-likelihood of the binarised images,
    E log p(x) <= -H(x) <= -E_g H(x | g).
    """
    g = _unit_rows(grey, "grey")
    h = -(torch.xlogy(g, g) + torch.xlogy(1 - g, 1 - g))
    return h.sum(1)


def binarised_mixture_log_likelihood(centres: Any, x: Any, clip: float = 0.0) -> torch.Tensor:
    r"""log (1/M) \sum_m \prod_i Bern(x_i; c_{m,i}) of each binary row of ``x`` (nats).

    A uniform mixture of M product-Bernoulli kernels centred on the rows of ``centres``
    (pixel probabilities, e.g. grey training images), each probability clipped to
    [clip, 1 - clip].  Nothing is fitted.  With the grey images that were binarised and
    ``clip = 0`` it is the data distribution itself; with training images and a small clip,
    a kernel-density baseline (a memoriser that never saw the test images).
    """
    c, x = _unit_rows(centres, "centres"), _unit_rows(x, "x")
    if c.shape[1] != x.shape[1]:
        raise ValueError(f"x has {x.shape[1]} pixels but centres have {c.shape[1]}")
    clip = check_real(clip, "clip", low=0.0, high=0.5)
    c = c.clamp(clip, 1 - clip)
    floor = -1e4  # log 0, finite so that 0 * log 0 = 0 in the products
    log_c, log_1mc = torch.log(c).clamp_min(floor), torch.log1p(-c).clamp_min(floor)
    log_k = x @ log_c.T + (1 - x) @ log_1mc.T                               # (n, M)
    return torch.logsumexp(log_k, dim=1) - math.log(len(c))


@torch.no_grad()
def data_log_likelihood_ceiling(
    grey: Any, n_samples: int = 4000, generator: torch.Generator | int | None = 0
) -> Estimate:
    r"""-H(x) of x ~ (1/N) \sum_n Bern(g_n), the images binarised from the N grey rows ``grey``.

    E log p(x) <= -H(x) for every model p of such images (Gibbs' inequality); it is tighter
    than -E_n H(x | g_n) (:func:`binarisation_entropy`) by I(n; x), the nats that tell which
    grey image a binary one came from.  Monte Carlo over ``n_samples`` draws (mean, SE).
    """
    g = _unit_rows(grey, "grey")
    n_samples = check_positive_int(n_samples, "n_samples")
    gen = as_generator(generator)
    idx = torch.randint(len(g), (n_samples,), generator=gen)
    x = torch.bernoulli(g[idx], generator=gen)
    w = binarised_mixture_log_likelihood(g, x)
    return Estimate(float(w.mean()), float(w.std() / math.sqrt(w.numel())))


@torch.no_grad()
def grid_log_marginal(log_likelihood_fn, x: Any, extent: float = 6.0, step: float = 0.02,
                      chunk: int = 20_000) -> torch.Tensor:
    r"""log p(x) = log \int p(x|z) N(z; 0, I) dz for a **2-D** latent, by the midpoint rule.

    The integral is a sum over a square grid of cell centres on [-extent, extent]^2 with
    spacing ``step``: log p(x) ~ logsumexp_g [log p(x|z_g) + log p(z_g)] + 2 log step
    (float64 accumulation).  ``log_likelihood_fn(x, z)`` must return log p(x_i|z_g) of shape
    (len(z), len(x)) when given the whole batch x and a chunk z of grid points, each row a
    point.  Outside the square the prior holds under 1e-7 of its mass for extent 6.  (len(x),).
    """
    extent = check_real(extent, "extent", low=0.0, low_open=True)
    step = check_real(step, "step", low=0.0, low_open=True)
    chunk = check_positive_int(chunk, "chunk")
    n_side = int(round(2 * extent / step))
    if n_side < 2:
        raise ValueError("step must be smaller than extent")
    axis = -extent + step * (torch.arange(n_side, dtype=torch.float64) + 0.5)
    g1, g2 = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([g1.reshape(-1), g2.reshape(-1)], 1)
    parts = []
    for start in range(0, len(grid), chunk):
        z = grid[start:start + chunk]
        ll = torch.as_tensor(log_likelihood_fn(x, z)).double()
        if ll.dim() != 2 or ll.shape[0] != len(z):
            raise ValueError("log_likelihood_fn must return (len(z), len(x)), "
                             f"got {tuple(ll.shape)}")
        log_prior = -0.5 * (z**2).sum(1) - math.log(2 * math.pi)
        parts.append(torch.logsumexp(ll + log_prior[:, None], 0))
    return torch.logsumexp(torch.stack(parts), 0) + 2 * math.log(step)
