"""The one verdict every exercise checker prints (or raises): right, close, or wrong.

* **right**: ``|answer - expected| <= tol`` prints "correct" (without repeating the value, so
  an executed solution does not print the answer) and returns True;
* a **named mistake**: the answer lies nearest to the value a known slip gives (nats for
  bits, sigma for sigma^2, KL(P||Q) for KL(Q||P), ...) and within that slip's window,
  ``min(tol, half the distance to the nearest other slip)``, so two slips closer than
  ``2 tol`` are still told apart: AssertionError naming it;
* **close**: within ``close`` (default ``2 tol``) of the right value: AssertionError saying
  what to refine - a text each exercise writes for itself (more digits, a longer message,
  more samples: only what that exercise can use);
* **wrong**: anything else: AssertionError with a hint.

Hints **escalate**: a checker may give a sequence of hints, a nudge first and the method
later (never the value). The engine counts the wrong (or close) tries of each exercise in
this session and shows hint ``k`` at try ``k`` (the last one from then on); a right answer
resets the count, and :func:`reset_attempts` resets it by hand.

Every value shown is printed with up to 10 significant digits, so 1.9999999 is never shown
as "2". ``None`` (not answered yet) prints a reminder; a non-number raises TypeError and a
NaN or infinite answer AssertionError, both with a message that says so. A one-element list,
tuple, array or tensor counts as its one number.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["as_number", "attempts", "reset_attempts", "show", "verdict"]

# wrong (or close) tries per exercise name in this session; a right answer resets it
_ATTEMPTS: dict[str, int] = {}


def show(value: float) -> str:
    """``value`` with up to 10 significant digits: 1.9999999 stays 1.9999999, 0.5 is 0.5."""
    return f"{value:.10g}"


def attempts(name: str) -> int:
    """How many wrong or close tries the exercise ``name`` has had since its last right one."""
    return _ATTEMPTS.get(name, 0)


def reset_attempts(name: str | None = None) -> None:
    """Forget the tries of exercise ``name`` (of every exercise when ``name`` is None)."""
    if name is None:
        _ATTEMPTS.clear()
    else:
        _ATTEMPTS.pop(name, None)


def _one_element(name: str, answer: Any) -> Any:
    """The single element of a list/tuple/array/tensor, or a TypeError saying what was got."""
    if isinstance(answer, (list, tuple)):
        if len(answer) != 1:
            raise TypeError(
                f"{name}: the answer must be one number (int or float), got a "
                f"{type(answer).__name__} with {len(answer)} elements"
            )
        return _one_element(name, answer[0])
    numel = getattr(answer, "numel", None)
    size = numel() if callable(numel) else getattr(answer, "size", None)
    if size is not None and not isinstance(answer, numbers.Number):
        if size != 1:
            raise TypeError(
                f"{name}: the answer must be one number (int or float), got "
                f"{type(answer).__name__} with {size} elements"
            )
        dtype = str(getattr(answer, "dtype", ""))
        for kind in ("bool", "complex"):
            if kind in dtype:
                raise TypeError(
                    f"{name}: the answer must be one number (int or float), got a "
                    f"{type(answer).__name__} of dtype {dtype}"
                )
        return answer.item() if hasattr(answer, "item") else answer
    return answer


def as_number(name: str, answer: Any) -> float:
    """``answer`` as a finite float, or a clear TypeError / AssertionError.

    Accepts Python and NumPy numbers and one-element lists, tuples, arrays and tensors;
    refuses bools, strings, complex numbers, dicts, sets and anything with more than one
    element.
    """
    value = _one_element(name, answer)
    if isinstance(value, (bool, str, bytes)) or type(value).__name__ == "bool_":
        raise TypeError(
            f"{name}: the answer must be one number (int or float), got "
            f"{type(value).__name__} {value!r}"
        )
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name}: the answer must be one number (int or float), got the complex {value!r}"
        )
    if not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name}: the answer must be one number (int or float), got {type(value).__name__}"
        )
    try:
        value = float(value)
    except OverflowError:
        value = math.inf if value > 0 else -math.inf
    if not math.isfinite(value):
        raise AssertionError(
            f"{name}: the answer is {value}, not a finite number. A NaN usually comes from "
            "0/0, log of a negative number or exp overflow; an inf from log(0) or 1/0. "
            "Look at the intermediate values of your computation."
        )
    return value


def _hint(name: str, hints: Sequence[str]) -> str:
    """Count one more wrong try of ``name`` and return the hint for it."""
    _ATTEMPTS[name] = _ATTEMPTS.get(name, 0) + 1
    k = min(_ATTEMPTS[name], len(hints))
    if len(hints) == 1:
        return f"Hint: {hints[0]}"
    more = " (try again for a further hint)" if k < len(hints) else ""
    return f"Hint {k} of {len(hints)}: {hints[k - 1]}{more}"


def mistake_windows(mistakes: Sequence[tuple[float, str]], tol: float) -> list[float]:
    """Each slip's window: ``min(tol, half the distance to the nearest other slip)``."""
    values = [v for v, _ in mistakes]
    out = []
    for i, v in enumerate(values):
        gaps = [abs(v - w) for j, w in enumerate(values) if j != i]
        out.append(min([tol, *(0.5 * g for g in gaps)]))
    return out


def named_mistake(value: float, mistakes: Sequence[tuple[float, str]], tol: float) -> str | None:
    """The slip whose value is nearest ``value``, if ``value`` lies within its window."""
    best, best_dist = None, math.inf
    for (wrong, what), window in zip(mistakes, mistake_windows(mistakes, tol), strict=True):
        dist = abs(value - wrong)
        if dist <= window and dist < best_dist:
            best, best_dist = what, dist
    return best


def verdict(
    name: str,
    answer: Any,
    expected: float,
    tol: float,
    hint: str | Sequence[str],
    *,
    close: float | None = None,
    refine: str = "give the answer to the precision the exercise asks for.",
    mistakes: Iterable[tuple[float, str]] = (),
    integer: bool = False,
    tol_text: str | None = None,
) -> bool:
    """Print "correct" when ``|answer - expected| <= tol``; otherwise raise AssertionError.

    ``hint`` is one hint or a sequence escalating over the wrong tries (a nudge first, the
    method later); ``mistakes`` is a list of (value a known slip gives, what that slip is),
    matched nearest-first within ``min(tol, half the spacing)``; ``close`` (default
    ``2 * tol``) is the distance within which a not-quite-right answer is told to ``refine``
    rather than called wrong. ``integer=True`` (a count) refuses a non-whole number and says
    so. ``tol_text`` (e.g. "0.1 %") is how the messages state the tolerance, in place of
    ``±tol``: for a relative tolerance, whose absolute size would give the answer away.
    Returns False (and prints a reminder) for ``None``.
    """
    hints = [hint] if isinstance(hint, str) else list(hint)
    if not hints:
        raise ValueError("verdict needs at least one hint")
    if answer is None:
        print(f"{name}: not answered yet - replace None with your answer and run the cell again.")
        return False
    value = as_number(name, answer)
    if integer and value != round(value):
        _ATTEMPTS[name] = _ATTEMPTS.get(name, 0) + 1
        raise AssertionError(
            f"{name}: {show(value)} is not a whole number, and the answer is a count. "
            "Count with integers (e.g. int((values > threshold).sum())) rather than "
            "adding up floats."
        )
    error = abs(value - expected)
    if error <= tol:
        _ATTEMPTS.pop(name, None)
        shown = tol_text if tol_text is not None else f"±{tol:.2g}"
        within = f" (accepted within {shown} of the answer)" if tol > 0 else ""
        print(f"{name}: correct{within}.")
        return True
    mistakes = list(mistakes)
    what = named_mistake(value, mistakes, tol)
    if what is not None:
        raise AssertionError(
            f"{name}: {show(value)} is not right - it is what you get from {what}. "
            f"{_hint(name, hints)}"
        )
    close = 2.0 * tol if close is None else close
    if error <= close:
        shown = tol_text if tol_text is not None else f"±{tol:.2g}"
        within = f"within {shown} of" if tol > 0 else "equal to"
        raise AssertionError(
            f"{name}: {show(value)} is close, but not {within} the answer. "
            f"Refine: {refine} {_hint(name, hints)}"
        )
    raise AssertionError(f"{name}: {show(value)} is not right. {_hint(name, hints)}")
