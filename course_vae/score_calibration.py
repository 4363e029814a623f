r"""Known-answer codes that calibrate a disentanglement score: a floor and a ceiling.

A score of a trained model means something only next to what the same score gives, on the
same factors and the same number of rows, to codes whose answer we know:

* ``"random"``  -- codes independent of the factors, z ~ N(0, I): the noise floor (ideal 0);
* ``"perfect"`` -- each factor's index in its own dimension (standardised, in a random order
  of dimensions), plus spare near-constant dimensions N(0, 0.01^2): the ceiling (ideal 1);
* ``"rotated"`` -- the perfect code times a random rotation: all the information is there,
  but every dimension mixes every factor (a good score must drop clearly).

With ``jitter`` > 0 every entry gets independent N(0, jitter^2) noise, so the code is
continuous like a trained model's (a discrete code is scored exactly; a continuous one goes
through the k-NN estimator that real codes meet).  ``keep`` names the factor columns the
perfect code holds (default: all that vary); e.g. ``keep=(3, 4)`` on sprites is the
**position-only** code -- x and y perfectly, one per dimension, and nothing else.

A fourth floor, the trained codes with their rows permuted (so the pairing with the factors
is broken), comes from :func:`permute_rows`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_vae._validate import (
    check_choice,
    check_nonnegative_int,
    check_positive_int,
    check_real,
    codes_array,
)
from course_vae.factor_information import factor_indices

__all__ = ["REFERENCE_KINDS", "matched_reference_codes", "permute_images", "permute_rows",
           "reference_codes"]

REFERENCE_KINDS = ("random", "perfect", "rotated")


def reference_codes(factors: Any, kind: str, n_dims: int | None = None,
                    seed: int = 0, *, jitter: float = 0.0, keep: Any = None) -> np.ndarray:
    """Codes (n, n_dims) of a known answer for ``factors`` (n, K): see the module docstring.

    ``n_dims`` defaults to K + 2 (two spare dimensions); it must be at least the number of
    kept factors for ``"perfect"`` and ``"rotated"``.  ``jitter``: std of independent
    Gaussian noise added to every entry; ``keep``: the factor columns (of ``factors``) the
    code holds, default every non-constant one.  Deterministic in ``seed``.
    """
    check_choice(kind, "kind", REFERENCE_KINDS)
    jitter = check_real(jitter, "jitter", low=0.0)
    v = factor_indices(factors)
    if keep is None:
        keep = [k for k in range(v.shape[1]) if len(np.unique(v[:, k])) > 1]
    else:
        keep = [check_nonnegative_int(k, "keep") for k in keep]
        if not keep or max(keep) >= v.shape[1] or len(set(keep)) != len(keep):
            raise ValueError(f"keep must name distinct factor columns in [0, {v.shape[1]}), "
                             f"got {keep}")
    v = v[:, keep]
    n, k = v.shape
    n_dims = k + 2 if n_dims is None else check_positive_int(n_dims, "n_dims")
    rng = np.random.default_rng(check_nonnegative_int(seed, "seed"))
    if kind == "random":
        return rng.normal(size=(n, n_dims))
    if n_dims < k:
        raise ValueError(f"n_dims must be at least the {k} varying factors, got {n_dims}")
    exact = (v - v.mean(axis=0)) / np.where(v.std(axis=0) > 0, v.std(axis=0), 1.0)
    z = 0.01 * rng.normal(size=(n, n_dims))
    z[:, rng.permutation(n_dims)[:k]] = exact
    if kind == "rotated":
        q, r = np.linalg.qr(rng.normal(size=(n_dims, n_dims)))
        z = z @ (q * np.sign(np.diag(r)))
    if jitter > 0:
        z = z + jitter * rng.normal(size=z.shape)
    return z


def permute_rows(codes: Any, seed: int = 0) -> np.ndarray:
    """``codes`` (n, d) with its rows shuffled: the same marginals, no link to the factors."""
    z = codes_array(codes)
    rng = np.random.default_rng(check_nonnegative_int(seed, "seed"))
    return z[rng.permutation(z.shape[0])]


def matched_reference_codes(factors: Any, kind: str, kl_dims: Any, samples: int,
                            seed: int = 0, *, keep: Any = None) -> np.ndarray:
    r"""Known-answer codes that look like a trained model's sampled codes.

    One Gaussian posterior per image (row of ``factors``, n images), ``samples`` draws each,
    rows grouped by draw as in :func:`~course_vae.runs.sample_codes` (the labels are
    ``factors`` repeated ``samples`` times).  Dimension j has posterior std
    :math:`\sigma_j = e^{-\mathrm{KL}_j}` and per-image means of variance
    :math:`1 - \sigma_j^2`, so the aggregate is N(0, 1) and its KL to the prior is exactly
    ``kl_dims[j]`` (:math:`\tfrac12(1 - \sigma_j^2 + \sigma_j^2 - 1 - \log\sigma_j^2)`).
    The means are the standardised columns of :func:`reference_codes` (``kind``; the kept
    factors go to the dimensions of largest KL, in a random order), scaled by
    :math:`\sqrt{1 - \sigma_j^2}`; dimensions that hold no factor (``"perfect"`` with
    fewer factors than dimensions) are off: N(0, 1) noise, KL 0.  ``"random"`` gives each
    image a random mean: a code with the model's noise and image structure but no link to
    the factors.
    """
    check_choice(kind, "kind", REFERENCE_KINDS)
    samples = check_positive_int(samples, "samples")
    kl = np.asarray(kl_dims, dtype=float)
    if kl.ndim != 1 or not np.isfinite(kl).all() or (kl < 0).any():
        raise ValueError("kl_dims must be a 1-D array of finite non-negative numbers")
    d = len(kl)
    v = factor_indices(factors)
    rng = np.random.default_rng(check_nonnegative_int(seed, "seed"))
    if kind == "random":
        means = rng.normal(size=(v.shape[0], d))
    else:
        base = reference_codes(v, "perfect", n_dims=d, seed=seed, keep=keep)
        placed = np.flatnonzero(np.abs(base).max(axis=0) > 0.5)  # the factor columns
        order = np.argsort(-kl, kind="stable")
        means = np.zeros_like(base)
        means[:, order[:len(placed)]] = base[:, rng.permutation(placed)]
        if kind == "rotated":
            q, r = np.linalg.qr(rng.normal(size=(d, d)))
            means = means @ (q * np.sign(np.diag(r)))
        sd = means.std(axis=0)
        means = (means - means.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    sigma = np.where(np.abs(means).max(axis=0) > 0, np.exp(-kl), 1.0)
    means = means * np.sqrt(np.clip(1.0 - sigma**2, 0.0, None))
    noise = rng.normal(size=(samples, *means.shape))
    return (means[None] + sigma * noise).reshape(-1, d)


def permute_images(codes: Any, n_images: int, seed: int = 0) -> np.ndarray:
    """Sampled ``codes`` (samples * n_images, d), grouped by draw, with whole images shuffled.

    Every draw of image i is given to image perm[i]: the image clusters and the posterior
    noise stay as they are, only the link between the images and their factors is broken
    (the null of a code whose rows are samples of per-image posteriors).
    """
    z = codes_array(codes)
    n_images = check_positive_int(n_images, "n_images")
    if z.shape[0] % n_images:
        raise ValueError(f"codes has {z.shape[0]} rows, not a multiple of n_images={n_images}")
    rng = np.random.default_rng(check_nonnegative_int(seed, "seed"))
    perm = rng.permutation(n_images)
    return z.reshape(-1, n_images, z.shape[1])[:, perm].reshape(z.shape)
