"""The one verdict every exercise checker prints (or raises): right, close, or wrong.

* **right**: ``|answer - expected| <= tol`` prints "correct" and returns True;
* a **named mistake**: the answer matches (within ``tol``) the value a known slip gives
  (nats for bits, sigma for sigma^2, KL(P||Q) for KL(Q||P), ...): AssertionError naming it;
* **close**: within ``close`` of the right value but outside ``tol``: AssertionError saying
  what to refine (more digits, more samples);
* **wrong**: anything else: AssertionError with a hint.

``None`` (not answered yet) prints a reminder; a non-number raises TypeError and a NaN or
infinite answer AssertionError, both with a message that says so.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = ["as_number", "verdict"]


def as_number(name: str, answer: Any) -> float:
    """``answer`` as a finite float, or a clear TypeError / AssertionError.

    Accepts Python and NumPy numbers and one-element tensors/arrays; refuses bools, strings,
    lists and anything with more than one element.
    """
    if isinstance(answer, bool) or isinstance(answer, (str, bytes)):
        raise TypeError(
            f"{name}: the answer must be one number (int or float), got "
            f"{type(answer).__name__} {answer!r}"
        )
    numel = getattr(answer, "numel", None) or getattr(answer, "size", None)
    if not isinstance(answer, numbers.Number):
        n = numel() if callable(numel) else numel
        if n != 1 or isinstance(answer, (list, tuple, dict, set)):
            raise TypeError(
                f"{name}: the answer must be one number (int or float), got "
                f"{type(answer).__name__}" + (f" with {n} elements" if n is not None else "")
            )
    try:
        value = float(answer.item() if hasattr(answer, "item") else answer)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: the answer must be one number (int or float), got {type(answer).__name__}"
        ) from None
    if not math.isfinite(value):
        raise AssertionError(
            f"{name}: the answer is {value}, not a finite number. A NaN usually comes from "
            "0/0, log of a negative number or exp overflow; an inf from log(0) or 1/0. "
            "Look at the intermediate values of your computation."
        )
    return value


def verdict(
    name: str,
    answer: Any,
    expected: float,
    tol: float,
    hint: str,
    *,
    close: float | None = None,
    refine: str = "check your rounding and carry more digits (or more samples).",
    mistakes: Iterable[tuple[float, str]] = (),
) -> bool:
    """Print "correct" when ``|answer - expected| <= tol``; otherwise raise AssertionError.

    ``mistakes`` is a list of (value a known slip gives, what that slip is); ``close``
    (default ``10 * tol``) is the distance within which a not-quite-right answer is told to
    ``refine`` rather than called wrong. Returns False (and prints a reminder) for ``None``.
    """
    if answer is None:
        print(f"{name}: not answered yet - replace None with your answer and run the cell again.")
        return False
    value = as_number(name, answer)
    error = abs(value - expected)
    if error <= tol:
        print(f"{name}: correct ({value:.6g}; accepted within ±{tol:.2g}).")
        return True
    for wrong_value, what in mistakes:
        if abs(value - wrong_value) <= tol:
            raise AssertionError(
                f"{name}: {value:.6g} is not right - it is what you get from {what}. "
                f"Hint: {hint}"
            )
    close = 10.0 * tol if close is None else close
    if error <= close:
        raise AssertionError(
            f"{name}: {value:.6g} is close, but not within ±{tol:.2g} of the answer. "
            f"Refine: {refine} Hint: {hint}"
        )
    raise AssertionError(f"{name}: {value:.6g} is not right. Hint: {hint}")
