"""Tests of course_vae.sample_quality: improved precision and recall, the feature net."""

from __future__ import annotations

import pytest
import torch

# --------------------------------------------------------------------------- precision and recall
from course_vae.sample_quality import (
    blends,
    class_means,
    coverage,
    knn_radii,
    precision_recall,
    train_feature_net,
)


def test_a_set_against_itself_scores_one_and_disjoint_sets_zero():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(60, 5, generator=g)
    assert precision_recall(a, a) == (1.0, 1.0)
    assert precision_recall(a, a + 1000.0) == (0.0, 0.0)


def test_knn_radius_is_the_kth_neighbour_on_a_line():
    pts = torch.tensor([[0.0], [1.0], [3.0], [6.0], [10.0]])
    # neighbours of 0: 1, 3, 6 -> r_3 = 6; of 10: 6, 3, 1 -> r_3 = 9; of 3: 1 or 6 (2, 3), 0 (3)
    assert knn_radii(pts, k=3).tolist() == [6.0, 5.0, 3.0, 5.0, 9.0]
    assert knn_radii(pts, k=1).tolist() == [1.0, 1.0, 2.0, 3.0, 4.0]


def test_precision_counts_generated_points_inside_real_balls():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])  # k = 1 radii: all 1
    fake = torch.tensor([[0.5], [3.9], [5.0], [-2.0]])  # inside, inside, out, out
    assert coverage(fake, real, k=1) == 0.5
    p, r = precision_recall(real, fake, k=1)
    assert p == 0.5
    # fake radii (k = 1): 0.5 -> 2.5 (to -2), 3.9 -> 1.1, 5.0 -> 1.1, -2.0 -> 2.5; real 0, 1, 2
    # lie within 2.5 of 0.5, and 3 within 1.1 of 3.9: recall 1
    assert knn_radii(fake, k=1).tolist() == pytest.approx([2.5, 1.1, 1.1, 2.5])
    assert r == 1.0


def test_blurs_and_blends_are_what_they_say():
    x = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0, 0, 1, 1])
    half = torch.tensor([[0.5, 0.5], [0.5, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(class_means(x, y), half)
    b = blends(x, y, 10, generator=0)
    assert b.shape == (10, 2) and ((b * 2) == (b * 2).round()).all()  # every pixel a half-integer
    pure = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert not (b == pure).all(1).any()  # never a pure image


def test_feature_net_is_seeded_and_leaves_the_global_rng_alone():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 6, generator=g)
    y = torch.arange(40) % 2
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    n1 = train_feature_net(x, y, epochs=2, seed=1)
    after = torch.rand(1)
    n2 = train_feature_net(x, y, epochs=2, seed=1)
    assert before == after
    torch.testing.assert_close(n1.features(x), n2.features(x))
    assert n1.features(x).shape == (40, 64) and n1.head.out_features == 3  # 2 classes + "not one"
    assert train_feature_net(x, y, epochs=1, negatives=False).head.out_features == 2


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: precision_recall(torch.zeros(5, 3), torch.zeros(5, 4)), "columns"),
        (lambda: precision_recall(torch.zeros(3, 3), torch.zeros(5, 3), k=3), "k = 3"),
        (lambda: coverage(torch.zeros(0, 3), torch.zeros(5, 3)), "query"),
        (lambda: knn_radii(torch.zeros(5, 3), k=0), "k"),
        (lambda: train_feature_net(torch.zeros(4, 3), torch.zeros(3)), "labels"),
    ],
)
def test_bad_precision_recall_arguments_are_named(call, word):
    with pytest.raises(ValueError, match=word):
        call()


# ---------------------------------------------------------------- chapter 03 (issue 20) additions
from course_vae.sample_quality import blur, shift  # noqa: E402


def test_shift_moves_pixels_and_blur_spreads_them():
    img = torch.zeros(1, 64)
    img[0, 3 * 8 + 4] = 1.0                        # one pixel at row 3, column 4
    s = shift(img, (8, 8), dx=1, dy=-2)
    assert s[0, 1 * 8 + 5] == 1.0 and s.sum() == 1.0
    assert shift(img, (8, 8), dx=-5).sum() == 0.0   # pushed off the edge
    b = blur(img, (8, 8), sigma=1.0).reshape(8, 8)
    assert abs(b.sum().item() - 1.0) < 1e-6 and b[3, 4] == b.max() and b[3, 4] < 0.2
    assert b[3, 3] == b[3, 5] == b[2, 4] == b[4, 4] > 0
    with pytest.raises(ValueError):
        shift(img, (8, 8), dx=8)
    with pytest.raises(ValueError):
        blur(img, (4, 4))
