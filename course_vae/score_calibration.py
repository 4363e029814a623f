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

__all__ = ["REFERENCE_KINDS", "permute_rows", "reference_codes"]

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
