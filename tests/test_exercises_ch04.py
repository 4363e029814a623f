"""Tests of the chapter 04 exercise checkers: right passes, wrong raises, None reminds."""

from __future__ import annotations

import pytest
import torch

from course_vae import exercises as ex
from course_vae.diagnostics import active_units
from course_vae.schedules import CyclicalAnnealing

CASES = [
    # (checker, right answer computed independently, a wrong answer learners give)
    (ex.check_ch04_free_bits,
     sum(max(ex.CH04_FREE_BITS_FLOOR, k) for k in ex.CH04_FREE_BITS_KL),
     sum(ex.CH04_FREE_BITS_KL)),  # forgot the floor
    (ex.check_ch04_cyclical_beta,
     min(1.0, ((ex.CH04_CYCLICAL["step"] % 250) / 250) / ex.CH04_CYCLICAL["ratio"]),
     ex.CH04_CYCLICAL["step"] / ex.CH04_CYCLICAL["total_steps"]),  # one linear ramp
    (ex.check_ch04_active_units,
     int((torch.tensor(ex.CH04_ACTIVE_MU).var(0, correction=0) > 0.01).sum()),
     4),
]


@pytest.mark.parametrize("check, right, wrong", CASES)
def test_right_passes_wrong_raises_none_reminds(check, right, wrong, checker_contract):
    checker_contract(check, right, [wrong])


def test_constants_give_the_stated_values():
    c = ex.CH04_CYCLICAL
    assert CyclicalAnnealing(c["total_steps"], c["n_cycles"], c["ratio"])(c["step"]) == (
        pytest.approx(0.72)
    )
    assert int(active_units(list(ex.CH04_ACTIVE_MU)).sum()) == 2
