"""Input checks shared by the public functions: each error names the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
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
    a: Any, b: Any, name_a: str, name_b: str, last_dim: str = "the latent dimension"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two finite floating tensors (b in a's dtype) that broadcast, with a last dimension."""
    a = as_float_tensor(a, name_a)
    b = as_float_tensor(b, name_b)
    if a.dim() == 0 or b.dim() == 0:
        raise ValueError(f"{name_a} and {name_b} need at least one dimension ({last_dim})")
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError as exc:
        raise ValueError(
            f"{name_a}.shape={tuple(a.shape)} and {name_b}.shape={tuple(b.shape)} do not broadcast"
        ) from exc
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
