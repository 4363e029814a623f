r"""A simple, honest measure of how data-like generated images are: nearest-neighbour distance.

For each generated image s (a row of mean pixel intensities in [0, 1]) the Euclidean
distance to the closest image of a reference set R (e.g. the grey training images):

    d(s) = min_{r in R} ||s - r||_2.

Images that look like digits lie close to some training digit; blurs and blends of
several digits, or images from regions of the latent space that no data point uses, lie
further away.  :func:`far_fraction` turns the distances into the fraction of samples
further than a threshold (for instance a high quantile of held-out test images' own
nearest distances).  It measures closeness to the data, not diversity.
"""

from __future__ import annotations

from typing import Any

import torch

from course_vae._validate import as_float_tensor, check_finite, check_positive_int, check_real

__all__ = ["far_fraction", "nearest_distance"]


def _rows(x: Any, name: str) -> torch.Tensor:
    x = as_float_tensor(x, name)
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n, pixels) with n >= 1, got {tuple(x.shape)}")
    check_finite(x, name)
    return x.detach().to(torch.float64)


@torch.no_grad()
def nearest_distance(samples: Any, reference: Any, batch_size: int = 1024) -> torch.Tensor:
    r"""d_i = min_r ||samples_i - reference_r||_2 for every row i of ``samples``, shape (n,).

    Computed in float64, ``batch_size`` samples at a time against all references.
    """
    s, r = _rows(samples, "samples"), _rows(reference, "reference")
    if s.shape[1] != r.shape[1]:
        raise ValueError(
            f"samples have {s.shape[1]} pixels per row but reference has {r.shape[1]}"
        )
    batch_size = check_positive_int(batch_size, "batch_size")
    out = [
        torch.cdist(s[i : i + batch_size], r).min(dim=1).values
        for i in range(0, len(s), batch_size)
    ]
    return torch.cat(out)


def far_fraction(distances: Any, threshold: float) -> float:
    r"""The fraction of ``distances`` strictly greater than ``threshold`` (a number in [0, 1])."""
    d = as_float_tensor(distances, "distances")
    if d.numel() == 0:
        raise ValueError("distances must hold at least one value")
    check_finite(d, "distances")
    threshold = check_real(threshold, "threshold")
    return float((d > threshold).double().mean())
