"""The one verdict every exercise checker prints (or raises)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["verdict"]


def verdict(name: str, answer: Any, expected: float, tol: float, hint: str) -> bool:
    """Print whether ``answer`` is within ``tol`` of ``expected``; raise if it is not.

    ``None`` (not answered yet) prints a reminder and returns False; a non-number raises
    TypeError; a wrong or non-finite answer raises AssertionError with ``hint``; a right
    one prints "correct" and returns True.
    """
    if answer is None:
        print(f"{name}: not answered yet - replace None with your answer and run the cell again.")
        return False
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: the answer must be a number, got {type(answer).__name__}"
        ) from None
    if not math.isfinite(value) or abs(value - expected) > tol:
        raise AssertionError(f"{name}: {value:.6g} is not right. Hint: {hint}")
    print(f"{name}: correct ({value:.4f}).")
    return True
