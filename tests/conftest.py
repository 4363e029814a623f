"""Shared test helpers."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import pytest
from browser_tools import launch_chromium


@pytest.fixture
def checker_contract(capsys) -> Callable[[Callable, float, Iterable[float]], None]:
    """Every exercise checker: the right answer passes, wrong ones raise, None reminds.

    Checkers return None and print their verdict; a close or wrong answer raises
    AssertionError ("close ... Refine" or "not right ... Hint"), a NaN AssertionError
    saying it is not a finite number, a string TypeError asking for one number.
    """

    def check(checker: Callable, right: float, wrongs: Iterable[float]) -> None:
        assert checker(right) is None
        assert "correct" in capsys.readouterr().out
        for wrong in wrongs:
            with pytest.raises(AssertionError, match="not right|close"):
                checker(wrong)
        with pytest.raises(AssertionError, match="not a finite number"):
            checker(math.nan)
        with pytest.raises(TypeError, match="one number"):
            checker("0.5")
        assert checker(None) is None
        assert "not answered" in capsys.readouterr().out

    return check


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for every real-browser test of this process (tests/browser,
    tests/site); skipped locally, failed in CI, when playwright or a Chromium is missing."""
    yield from launch_chromium()
