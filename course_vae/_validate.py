"""Input checks shared by the public functions: each error names the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch


def as_float_tensor(x: Any, name: str) -> torch.Tensor:
    """Return ``x`` as a floating tensor (float64 for non-tensor input) or raise naming ``name``."""
    if isinstance(x, torch.Tensor):
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must be a real floating tensor, got dtype {x.dtype}")
        return x if x.is_floating_point() else x.to(torch.float64)
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a number, array or tensor, got {type(x).__name__}")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric (array-like of numbers): {exc}") from None
    return torch.from_numpy(arr.copy())


def as_float64(x: Any, name: str) -> torch.Tensor:
    """``x`` as a finite float64 tensor, else raise naming ``name``."""
    t = as_float_tensor(x, name).to(torch.float64)
    check_finite(t, name)
    return t


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ValueError naming ``name`` if ``t`` holds NaN or +-inf."""
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def check_positive_int(n: Any, name: str) -> int:
    """Return ``n`` as an int if it is a positive integer, else raise naming ``name``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def check_probability(x: Any, name: str, *, open_left: bool = False) -> float:
    """Return ``x`` as a float in [0, 1] (or (0, 1] with ``open_left``) else raise naming it."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    lo_ok = x > 0 if open_left else x >= 0
    if not (lo_ok and x <= 1):
        raise ValueError(f"{name} must lie in {'(0, 1]' if open_left else '[0, 1]'}, got {x}")
    return x


def check_pair(
    a: Any,
    b: Any,
    name_a: str,
    name_b: str,
    last_dim: str = "the latent dimension",
    scan: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two finite floating tensors (b in a's dtype) that broadcast, with a last dimension.

    ``scan=False`` checks types and shapes only (O(1)); the caller then checks its result.
    """
    a = as_float_tensor(a, name_a)
    b = as_float_tensor(b, name_b)
    if a.dim() == 0 or b.dim() == 0:
        raise ValueError(f"{name_a} and {name_b} need at least one dimension ({last_dim})")
    check_broadcast(a, b, name_a, name_b)
    # Fast path: a sum is finite only if every summand is (NaN or +-inf anywhere makes it NaN
    # or +-inf), and one sum per tensor costs far less than isfinite + all.  A non-finite sum
    # (a bad value, or an overflow of large finite values) falls back to the exact checks,
    # which name the argument.
    if scan and not bool(torch.isfinite(a.detach().sum() + b.detach().sum())):
        check_finite(a, name_a)
        check_finite(b, name_b)
    return a, b.to(a.dtype)


def check_real(
    x: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``x`` as a finite float within the given bounds, else raise naming ``name``.

    TypeError for a non-number (bools are not numbers here); ValueError for NaN, +-inf, an
    integer too large for a float, or a value outside ``[low, high]`` (open ends on request).
    """
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    try:
        x = float(x)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got an integer too large for a float") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x!r}")
    if low is not None and (x <= low if low_open else x < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {x!r}")
    if high is not None and (x >= high if high_open else x > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {x!r}")
    return x


def check_nonnegative_int(n: Any, name: str) -> int:
    """Return ``n`` as an int if it is an integer >= 0, else raise naming ``name``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return int(n)


def check_seed(seed: Any, name: str = "seed") -> int:
    """Return ``seed`` as an int (any integer torch accepts), else TypeError naming ``name``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an integer seed, got {type(seed).__name__}")
    return int(seed)


def check_bool(x: Any, name: str) -> bool:
    """Return ``x`` if it is a bool, else TypeError naming ``name``."""
    if not isinstance(x, bool):
        raise TypeError(f"{name} must be True or False, got {type(x).__name__}")
    return x


def check_choice(x: Any, name: str, choices: Iterable[Any]) -> Any:
    """Return ``x`` if it is one of ``choices``, else ValueError naming ``name`` and the choices."""
    choices = tuple(choices)
    try:
        ok = x in choices
    except TypeError:  # unhashable input against a set-like
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {sorted(map(str, choices))}, got {x!r}")
    return x


def check_keys(mapping: Any, keys: Iterable[str], name: str) -> None:
    """Raise ValueError naming ``name`` and the missing keys if ``mapping`` lacks some ``keys``."""
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ValueError(f"{name} is missing the keys {missing}")


def check_image_shape(shape: Any, name: str = "image_shape") -> tuple[int, int]:
    """Return ``shape`` as a pair (H, W) of positive ints, else raise naming ``name``."""
    try:
        h, w = shape
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (H, W), got {shape!r}") from None
    return check_positive_int(h, f"{name}[0]"), check_positive_int(w, f"{name}[1]")


def check_callable(f: Any, name: str, usage: str) -> Any:
    """Return ``f`` if it is callable, else TypeError naming ``name`` and its ``usage``."""
    if not callable(f):
        raise TypeError(f"{name} must be a callable {usage}, got {type(f).__name__}")
    return f


def check_device(device: Any, name: str = "device") -> torch.device:
    """Return ``device`` as a ``torch.device``, else ValueError naming ``name``."""
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{name} must name a torch device such as 'cpu', got {device!r}") from exc


def check_probability_vectors(
    p: Any, q: Any, name_p: str, name_q: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two broadcast tensors of probability vectors (last dimension: the outcomes).

    Entries finite and >= 0, each vector summing to 1 (to 1e-5 in float32, 1e-9 in float64).
    """
    p = as_float_tensor(p, name_p)
    q = as_float_tensor(q, name_q)
    if p.shape[-1:] != q.shape[-1:] or p.dim() == 0:
        raise ValueError(
            f"{name_p} and {name_q} must be probability vectors over the same outcomes along "
            f"the last dimension; got {name_p}.shape={tuple(p.shape)}, "
            f"{name_q}.shape={tuple(q.shape)}"
        )
    check_broadcast(p, q, name_p, name_q)
    p, q = torch.broadcast_tensors(p, q.to(p.dtype))
    for name, t in ((name_p, p), (name_q, q)):
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
    return p, q


def check_log_base(base: Any) -> float:
    """A logarithm's base: a finite real number > 0 other than 1 (e gives nats, 2 bits)."""
    ok = not isinstance(base, bool) and isinstance(base, numbers.Real)
    try:
        ok = ok and math.isfinite(float(base)) and base > 0 and base != 1
    except OverflowError:
        ok = False
    if not ok:
        raise ValueError(f"base must be a positive number other than 1, got {base!r}")
    return float(base)


def check_broadcast(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise ValueError naming both arguments unless the shapes of ``a`` and ``b`` broadcast."""
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError as exc:
        raise ValueError(
            f"{name_a}.shape={tuple(a.shape)} and {name_b}.shape={tuple(b.shape)} do not broadcast"
        ) from exc


def check_beta_schedule(beta: Any, name: str = "beta") -> Callable[[int], float]:
    """``beta`` as a function of the optimiser step: a callable as it is, a number >= 0 as a
    constant function; else raise naming ``name``."""
    if callable(beta):
        return beta
    fixed = check_real(beta, name, low=0.0)
    return lambda _step: fixed


def check_last_dim(t: Any, name: str, dim: int) -> torch.Tensor:
    """Return ``t`` if it is a floating tensor of shape (..., dim), else raise naming ``name``.

    O(1): types and shapes only, no scan of the values (models call it on every forward pass).
    """
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        raise TypeError(
            f"{name} must be a floating tensor of shape (..., {dim}), got {type(t).__name__}"
            + (f" of dtype {t.dtype}" if isinstance(t, torch.Tensor) else "")
        )
    if t.dim() == 0 or t.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (..., {dim}), got {tuple(t.shape)}")
    return t


def check_model(model: Any, name: str = "model") -> Any:
    """Return ``model`` if it is one of the course's latent-variable models, else TypeError.

    A course model is a ``torch.nn.Module`` with ``encode(x) -> (mu, logvar)`` and
    ``log_likelihood(x, z, generator) -> (log p(x|z), decoder output)`` (the MLP, MADE, conv
    and text VAEs).
    """
    if not (
        isinstance(model, torch.nn.Module)
        and callable(getattr(model, "encode", None))
        and callable(getattr(model, "log_likelihood", None))
        and callable(getattr(model, "check_data", None))
    ):
        raise TypeError(
            f"{name} must be a course_vae model (VAE, ConvVAE, AutoregressiveVAE or TextVAE), "
            f"got {type(model).__name__}"
        )
    return model


def check_posteriors(mu: Any, logvar: Any | None = None) -> Any:
    """Posterior parameters of N codes: mu (N, d) with N, d >= 1, and logvar of mu's shape.

    Returns the detached, finite tensors (mu alone when ``logvar`` is None).  For functions
    that read a whole set of codes at once (diagnostics, the aggregate posterior).
    """
    mu = as_float_tensor(mu, "mu")
    if mu.dim() != 2 or mu.shape[0] == 0 or mu.shape[1] == 0:
        raise ValueError(f"mu must have shape (n, latent_dim) with n >= 1, got {tuple(mu.shape)}")
    check_finite(mu, "mu")
    if logvar is None:
        return mu.detach()
    logvar = as_float_tensor(logvar, "logvar")
    if logvar.shape != mu.shape:
        raise ValueError(
            f"logvar.shape={tuple(logvar.shape)} must equal mu.shape={tuple(mu.shape)}"
        )
    check_finite(logvar, "logvar")
    return mu.detach(), logvar.detach().to(mu.dtype)


def codes_array(codes: Any, name: str = "codes", shape: str = "(n, d)") -> np.ndarray:
    """A finite float64 array of shape (n, d) with n >= 2 rows and d >= 1 columns."""
    t = as_float_tensor(codes, name)
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    if t.shape[0] < 2 or t.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 rows and 1 column, got {tuple(t.shape)}")
    check_finite(t, name)
    return t.detach().cpu().double().numpy()
