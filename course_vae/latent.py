r"""The latent plane of a 2-D (or any-D) VAE: grids of codes, the prior density, the KL cost.

* :func:`latent_grid`: an n x n grid of points z = (z1, z2) over [-extent, extent]^2, in
  image order (top row = largest z2), for a grid of decodings;
* :func:`prior_log_density`: log p(z) = log N(z; 0, I) = -1/2 (|z|^2 + d log 2 pi);
* :func:`encoding_kl`: KL(N(z, diag sigma^2) || N(0, I)), the KL an encoder pays to place
  an example's posterior at z with widths sigma;
* :func:`latent_point_state`: all of it for one point of a model (the chapter's explorer).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from course_vae._validate import as_float_tensor, check_finite, check_positive_int
from course_vae.kl import kl_normal_std

__all__ = ["encoding_kl", "latent_grid", "latent_point_state", "prior_log_density"]

_LOG_2PI = math.log(2 * math.pi)


def latent_grid(extent: float = 3.0, n: int = 15) -> torch.Tensor:
    r"""n*n points z = (z1, z2) on [-extent, extent]^2, shape (n*n, 2), float32.

    Row-major in image order: row i has z2 = extent - 2 extent i / (n - 1) (top = largest
    z2), column j has z1 = -extent + 2 extent j / (n - 1).  ``n = 1`` gives the origin.
    """
    if isinstance(extent, bool) or not isinstance(extent, (int, float)):
        raise TypeError(f"extent must be a number, got {type(extent).__name__}")
    if not (math.isfinite(extent) and extent > 0):
        raise ValueError(f"extent must be finite and > 0, got {extent!r}")
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


def prior_log_density(z: Any) -> torch.Tensor:
    r"""log N(z; 0, I) = -1/2 (\sum_j z_j^2 + d log 2 pi), over the last dimension (nats)."""
    z = _z(z)
    return -0.5 * ((z**2).sum(-1) + z.shape[-1] * _LOG_2PI)


def encoding_kl(z: Any, sigma: Any) -> torch.Tensor:
    r"""KL(N(z, diag sigma^2) || N(0, I)) = 1/2 \sum_j (z_j^2 + sigma_j^2 - log sigma_j^2 - 1).

    ``sigma`` (> 0) is a number or broadcasts against ``z``; the sum runs over the last
    dimension (nats), by :func:`course_vae.kl.kl_normal_std`.
    """
    z = _z(z)
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


@torch.no_grad()
def latent_point_state(model: Any, z: Any, sigma: Any = 1.0) -> dict[str, Any]:
    r"""What a model does at one latent point z: the decoded image and what z costs.

    Returns ``z`` (float64, (d,)), ``image`` = E[x|z] (the decoder's mean image, (input_dim,)),
    ``log_prior`` = log N(z; 0, I), ``kl`` = KL(N(z, diag sigma^2) || N(0, I)) and its
    parts ``kl_mean`` = |z|^2 / 2 (paid for the position) and ``kl_width`` = kl - kl_mean
    (paid for widths sigma != 1), all in nats.
    """
    if not (callable(getattr(model, "decode", None)) and hasattr(model, "mean_image")):
        raise TypeError(f"model must be a course_vae VAE, got {type(model).__name__}")
    z = _z(z).to(torch.float64)
    if z.dim() != 1 or z.shape[0] != model.latent_dim:
        raise ValueError(f"z must have shape ({model.latent_dim},), got {tuple(z.shape)}")
    kl = float(encoding_kl(z, sigma))
    kl_mean = float(0.5 * (z**2).sum())
    p = next(model.parameters())
    image = model.mean_image(model.decode(z.to(device=p.device, dtype=p.dtype)[None]))[0]
    return {
        "z": z,
        "image": image.detach().cpu(),
        "log_prior": float(prior_log_density(z)),
        "kl": kl,
        "kl_mean": kl_mean,
        "kl_width": kl - kl_mean,
    }
