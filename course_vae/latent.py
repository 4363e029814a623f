r"""The latent plane of a 2-D (or any-D) VAE: grids of codes, the prior density, the KL cost.

* :func:`latent_grid`: an n x n grid of points z = (z1, z2) over [-extent, extent]^2, in
  image order (top row = largest z2), for a grid of decodings;
* :func:`prior_log_density`: log p(z) = log N(z; 0, I) = -1/2 (|z|^2 + d log 2 pi);
* :func:`encoding_kl`: KL(N(z, diag sigma^2) || N(0, I)), the KL an encoder pays to place
  an example's posterior at z with widths sigma;
* :func:`latent_point_state`: all of it for one point of a model (the chapter's explorer);
* :func:`traversal_codes`: the codes of a latent traversal (one latent moves, the others stay);
* :func:`traversal_state`: one moved code of a model, decoded, with the factors the moved
  latent encodes (chapter 05's explorer).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from course_vae._validate import (
    as_float_tensor,
    check_choice,
    check_finite,
    check_image_shape,
    check_nonnegative_int,
    check_positive_int,
    check_real,
)
from course_vae.kl import kl_normal_std_unchecked

__all__ = [
    "encoding_kl",
    "latent_grid",
    "latent_point_state",
    "prior_log_density",
    "traversal_codes",
    "traversal_state",
]

_LOG_2PI = math.log(2 * math.pi)


def latent_grid(extent: float = 3.0, n: int = 15) -> torch.Tensor:
    r"""n*n points z = (z1, z2) on [-extent, extent]^2, shape (n*n, 2), float32.

    Row-major in image order: row i has z2 = extent - 2 extent i / (n - 1) (top = largest
    z2), column j has z1 = -extent + 2 extent j / (n - 1).  ``n = 1`` gives the origin.
    """
    extent = check_real(extent, "extent", low=0.0, low_open=True)
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


def _log_prior(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * ((z**2).sum(-1) + z.shape[-1] * _LOG_2PI)


def _kl_at(z: torch.Tensor, sigma: Any) -> torch.Tensor:
    """:func:`encoding_kl` for a checked ``z``: checks ``sigma`` only."""
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
    return kl_normal_std_unchecked(z, 2.0 * torch.log(sigma))


def prior_log_density(z: Any) -> torch.Tensor:
    r"""log N(z; 0, I) = -1/2 (\sum_j z_j^2 + d log 2 pi), over the last dimension (nats)."""
    return _log_prior(_z(z))


def encoding_kl(z: Any, sigma: Any) -> torch.Tensor:
    r"""KL(N(z, diag sigma^2) || N(0, I)) = 1/2 \sum_j (z_j^2 + sigma_j^2 - log sigma_j^2 - 1).

    ``sigma`` (> 0) is a number or broadcasts against ``z``; the sum runs over the last
    dimension (nats), by :func:`course_vae.kl.kl_normal_std`.
    """
    return _kl_at(_z(z), sigma)


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
    kl = float(_kl_at(z, sigma))
    kl_mean = float(0.5 * (z**2).sum())
    p = next(model.parameters())
    image = model.mean_image(model.decode(z.to(device=p.device, dtype=p.dtype)[None]))[0]
    return {
        "z": z,
        "image": image.detach().cpu(),
        "log_prior": float(_log_prior(z)),
        "kl": kl,
        "kl_mean": kl_mean,
        "kl_width": kl - kl_mean,
    }


def traversal_codes(
    z_base: Any, values: Any = None, dims: Any = None
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    r"""The codes of a latent traversal: row r is ``z_base`` with z_{dims[r]} set to each value.

    ``z_base`` is the (d,) starting code (an int d means the prior mean 0); ``values``
    default to 7 points from -3 to 3; ``dims`` (default all d) picks the rows.  Returns
    ``(codes, values, dims)``: codes of shape (len(dims), len(values), d) in ``z_base``'s
    floating dtype (float64 for non-tensor input), the values as a float64 tensor and the
    dims as a list of ints.
    """
    if isinstance(z_base, numbers.Integral):
        base = torch.zeros(check_positive_int(z_base, "z_base"), dtype=torch.float64)
    else:
        base = as_float_tensor(z_base, "z_base")
        if base.dim() != 1 or base.numel() == 0:
            raise ValueError(
                f"z_base must be a (d,) vector or an int d, got shape {tuple(base.shape)}"
            )
        check_finite(base, "z_base")
    if values is None:
        vals = torch.linspace(-3.0, 3.0, 7, dtype=torch.float64)
    else:
        vals = as_float_tensor(values, "values").to(torch.float64)
        if vals.dim() != 1 or vals.numel() == 0:
            raise ValueError("values must be a non-empty 1-D sequence of numbers")
        check_finite(vals, "values")
    d = base.numel()
    if dims is None:
        rows = list(range(d))
    else:
        rows = [int(check_choice(j, "dims", range(d))) for j in np.atleast_1d(dims).tolist()]
        if not rows:
            raise ValueError("dims must name at least one latent dimension")
    codes = base.detach().repeat(len(rows), len(vals), 1)
    for r, j in enumerate(rows):
        codes[r, :, j] = vals.to(codes.dtype)
    return codes, vals, rows


@torch.no_grad()
def traversal_state(model: Any, report: dict, dim: Any, value: Any, image_shape: Any) -> dict:
    r"""Decode the code ``report["z_base"]`` with z_dim set to ``value``; rank the factors it moves.

    ``report`` is a :func:`course_vae.disentanglement.latent_report` of ``model``.  Returns a
    dict with ``z`` (d,), ``image`` (H, W) the mean image E[x|z] (sigmoid of the logits for
    a Bernoulli decoder), ``dim``, ``value``, ``kl`` the dimension's KL in nats, ``scores``
    (K',) its normalised mutual information with each factor, ``ranking`` the factor names
    by decreasing score, and ``factor_names``.
    """
    z = np.array(report["z_base"], dtype=np.float64)
    dim = check_nonnegative_int(dim, "dim")
    if dim >= z.shape[0]:
        raise ValueError(f"dim must be an integer in [0, {z.shape[0]}), got {dim!r}")
    value = check_real(value, "value")
    h, w = check_image_shape(image_shape)
    z[dim] = value
    p = next(model.parameters())
    decoded = model.decode(torch.as_tensor(z, dtype=p.dtype, device=p.device)[None, :])
    image = model.mean_image(decoded)[0].cpu().double().numpy()
    if image.size != h * w:
        raise ValueError(f"image_shape {(h, w)} does not match the decoder's {image.size} pixels")
    scores = np.asarray(report["scores"], dtype=np.float64)[dim]
    order = np.argsort(-scores, kind="stable")
    return {
        "z": z,
        "image": image.reshape(h, w),
        "dim": dim,
        "value": value,
        "kl": float(report["kl"][dim]),
        "scores": scores,
        "ranking": tuple(report["factor_names"][i] for i in order),
        "factor_names": tuple(report["factor_names"]),
    }
