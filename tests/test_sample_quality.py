"""Tests of course_vae.sample_quality: nearest-neighbour distances and the far fraction."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.sample_quality import far_fraction, nearest_distance


def test_distance_to_itself_is_zero_and_brute_force_agrees():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(50, 6, generator=g)
    samples = torch.rand(20, 6, generator=g)
    assert nearest_distance(ref, ref).abs().max() < 1e-6
    brute = torch.stack([((ref.double() - s.double()) ** 2).sum(1).sqrt().min() for s in samples])
    torch.testing.assert_close(nearest_distance(samples, ref, batch_size=7), brute)


@settings(max_examples=20, deadline=None)
@given(shift=st.floats(0.0, 10.0))
def test_a_shifted_copy_is_at_the_shift_distance(shift):
    ref = torch.eye(4, dtype=torch.float64) * 100  # far apart: the nearest is the original
    d = nearest_distance(ref + torch.tensor([shift, 0, 0, 0], dtype=torch.float64), ref)
    assert d.tolist() == pytest.approx([shift] * 4, abs=1e-9)


def test_far_fraction_counts_strictly_greater():
    assert far_fraction([0.5, 1.0, 1.5, 2.0], 1.0) == 0.5
    assert far_fraction([0.5], 1.0) == 0.0


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: nearest_distance(torch.zeros(3, 4), torch.zeros(2, 5)), "pixels"),
        (lambda: nearest_distance(torch.zeros(4), torch.zeros(2, 4)), "samples"),
        (lambda: nearest_distance(torch.zeros(2, 4), torch.zeros(0, 4)), "reference"),
        (lambda: nearest_distance(torch.zeros(2, 4), torch.zeros(2, 4), batch_size=0), "batch"),
        (lambda: far_fraction([], 1.0), "distances"),
        (lambda: far_fraction([float("nan")], 1.0), "distances"),
    ],
)
def test_bad_arguments_are_named(call, word):
    with pytest.raises(ValueError, match=word):
        call()
