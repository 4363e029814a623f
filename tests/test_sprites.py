"""Tests of the sprites data set: counts, one image per combination, labels that match pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.sprites import (
    FACTOR_NAMES,
    SHAPES,
    Sprites,
    factor_index,
    make_sprites,
    shape_mask,
)


@pytest.fixture(scope="module")
def sprites() -> Sprites:
    return make_sprites()


def _com(images_2d: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Centre of mass (column, row) of each image, in pixel-centre coordinates."""
    img = images_2d.double().numpy()
    h, w = img.shape[-2:]
    mass = img.sum(axis=(-2, -1))
    col = (img.sum(axis=-2) * (np.arange(w) + 0.5)).sum(axis=-1) / mass
    row = (img.sum(axis=-1) * (np.arange(h) + 0.5)).sum(axis=-1) / mass
    return col, row


def test_counts_shapes_and_metadata(sprites):
    sizes = sprites.factor_sizes
    assert sprites.factor_names == FACTOR_NAMES
    assert sizes == (3, 4, 4, 8, 8)
    n = math.prod(sizes)
    assert len(sprites) == n
    h, w = sprites.image_shape
    assert sprites.images.shape == (n, h * w) and sprites.images.dtype == torch.float32
    assert sprites.labels.shape == (n, 5) and sprites.labels.dtype == torch.int64
    assert sprites.images_2d().shape == (n, h, w)
    assert set(torch.unique(sprites.images).tolist()) == {0.0, 1.0}  # binary pixels
    for k, size in enumerate(sizes):
        assert len(sprites.factor_values[k]) == size
        assert sorted(torch.unique(sprites.labels[:, k]).tolist()) == list(range(size))
    assert sprites.factor_values[0] == ("square", "ellipse", "heart")
    # orientations evenly spaced in [0, pi/2)
    np.testing.assert_allclose(sprites.factor_values[2], np.arange(4) * np.pi / 8)


def test_every_combination_exactly_once_in_c_order(sprites):
    labels = sprites.labels.numpy()
    assert len(np.unique(labels, axis=0)) == len(sprites)
    expected = np.stack(
        np.meshgrid(*(np.arange(s) for s in sprites.factor_sizes), indexing="ij"), -1
    ).reshape(-1, 5)
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(sprites.index_of(sprites.labels).numpy(), np.arange(len(sprites)))


def test_default_images_are_all_distinct_and_inside_the_canvas(sprites):
    images = sprites.images.numpy()
    assert len(np.unique(images, axis=0)) == len(sprites)
    img = sprites.images_2d().numpy()
    assert (img.sum(axis=(1, 2)) > 0).all()  # no empty image
    h, w = sprites.image_shape
    scales, xs, ys = (np.asarray(sprites.factor_values[k]) for k in (1, 3, 4))
    # each bounding circle lies inside the canvas, so no shape is clipped ...
    assert xs.min() - scales.max() >= 0 and xs.max() + scales.max() <= w
    assert ys.min() - scales.max() >= 0 and ys.max() + scales.max() <= h
    # ... and every lit pixel lies inside its bounding circle
    lab = sprites.labels.numpy()
    r, cx, cy = scales[lab[:, 1]], xs[lab[:, 3]], ys[lab[:, 4]]
    rr, cc = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    dist2 = (cc[None] - cx[:, None, None]) ** 2 + (rr[None] - cy[:, None, None]) ** 2
    assert (dist2[img > 0] <= np.broadcast_to(r[:, None, None] ** 2, img.shape)[img > 0]).all()


def test_index_of_by_name_and_by_list(sprites):
    i = sprites.index_of(shape=2, scale=1, orientation=3, x=5, y=0)
    assert isinstance(i, int)
    assert sprites.labels[i].tolist() == [2, 1, 3, 5, 0]
    assert sprites.index_of([2, 1, 3, 5, 0]) == i
    assert sprites.index_of(np.array([2, 1, 3, 5, 0])) == i


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_index_of_round_trips(data):
    sizes = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=5))
    grids = np.meshgrid(*(np.arange(s) for s in sizes), indexing="ij")
    labels = np.stack([g.reshape(-1) for g in grids], 1)
    row = data.draw(st.integers(0, len(labels) - 1))
    assert int(factor_index(labels[row], sizes)) == row
    np.testing.assert_array_equal(factor_index(labels, sizes).numpy(), np.arange(len(labels)))


def test_centre_of_mass_follows_x_and_y(sprites):
    img = sprites.images_2d()
    xs, ys = sprites.factor_values[3], sprites.factor_values[4]
    for shape in range(3):
        for scale in (0, 3):
            # move x with y fixed: the column of the centre of mass increases, the row stays
            rows = [sprites.index_of(shape=shape, scale=scale, orientation=0, x=i, y=2)
                    for i in range(len(xs))]
            col, row = _com(img[rows])
            assert (np.diff(col) > 0).all()
            assert np.ptp(row) < 0.5
            cols = [sprites.index_of(shape=shape, scale=scale, orientation=0, x=2, y=i)
                    for i in range(len(ys))]
            col, row = _com(img[cols])
            assert (np.diff(row) > 0).all()
            assert np.ptp(col) < 0.5
    # symmetric shapes (square, ellipse) have their centre of mass at (x, y)
    for shape in (0, 1):
        idx = sprites.labels[:, 0] == shape
        col, row = _com(img[idx])
        x_true = np.asarray(xs)[sprites.labels[idx, 3].numpy()]
        y_true = np.asarray(ys)[sprites.labels[idx, 4].numpy()]
        assert np.abs(col - x_true).max() < 0.5 and np.abs(row - y_true).max() < 0.5


def test_area_grows_with_scale_like_scale_squared(sprites):
    area = sprites.images.sum(dim=1).reshape(sprites.factor_sizes).double().numpy()
    assert (np.diff(area, axis=1) > 0).all()  # strictly larger at every next scale
    scales = np.asarray(sprites.factor_values[1])
    # in the continuum the area is c * r^2: the ratio biggest/smallest is close to that
    ratio = area[:, -1].mean() / area[:, 0].mean()
    assert ratio == pytest.approx((scales[-1] / scales[0]) ** 2, rel=0.15)
    # square area (side r*sqrt 2) is 2 r^2: check the largest squares
    assert area[0, -1].mean() == pytest.approx(2 * scales[-1] ** 2, rel=0.1)


def test_orientation_turns_the_ellipse_counter_clockwise(sprites):
    img = sprites.images_2d().double().numpy()
    h, w = sprites.image_shape
    rr, cc = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    for o, theta in enumerate(sprites.factor_values[2]):
        i = sprites.index_of(shape=1, scale=3, orientation=o, x=4, y=4)
        m = img[i] / img[i].sum()
        mc, mr = (m * cc).sum(), (m * rr).sum()
        var_c = (m * (cc - mc) ** 2).sum()
        var_r = (m * (rr - mr) ** 2).sum()
        cov = (m * (cc - mc) * (rr - mr)).sum()
        # major axis angle, measured counter-clockwise on screen (rows point down)
        angle = -0.5 * np.arctan2(2 * cov, var_c - var_r)
        diff = (angle - theta + np.pi / 2) % np.pi - np.pi / 2
        assert abs(diff) < np.deg2rad(8)


def test_shapes_differ_and_masks_fit_the_unit_circle():
    u, v = np.meshgrid(np.linspace(-1.1, 1.1, 441), np.linspace(-1.1, 1.1, 441))
    masks = {s: shape_mask(s, u, v) for s in SHAPES}
    for s, m in masks.items():
        assert m.any(), s
        assert (u[m] ** 2 + v[m] ** 2 <= 1.0 + 1e-9).all(), s  # scale = bounding radius
    names = list(masks)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert (masks[a] != masks[b]).mean() > 0.05, (a, b)
    # the heart's lobes are at the top (v < 0 is up): more mass above the centre line
    assert masks["heart"][v < 0].sum() > masks["heart"][v > 0].sum()


def test_other_configurations():
    sp = make_sprites(size=20, shapes=("triangle", "square"), n_scales=2, n_orientations=1,
                      n_x=3, n_y=5, dtype=torch.float64)
    assert sp.factor_sizes == (2, 2, 1, 3, 5) and len(sp) == 60
    assert sp.images.shape == (60, 400) and sp.images.dtype == torch.float64
    assert sp.factor_values[2] == (0.0,)
    again = make_sprites(size=20, shapes=("triangle", "square"), n_scales=2,
                         n_orientations=1, n_x=3, n_y=5, dtype=torch.float64)
    assert torch.equal(sp.images, again.images)  # deterministic


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "size"),
        ({"size": 6}, "size"),
        ({"shapes": ("circle",)}, "shapes"),
        ({"shapes": ()}, "shapes"),
        ({"shapes": ("square", "square")}, "shapes"),
        ({"shapes": "square"}, "shapes"),
        ({"n_scales": 0}, "n_scales"),
        ({"n_orientations": 2.5}, "n_orientations"),
        ({"n_x": -1}, "n_x"),
        ({"n_y": True}, "n_y"),
        ({"scale_range": (0.0, 1.0)}, "scale_range"),
        ({"scale_range": (0.5, 1.5)}, "scale_range"),
        ({"scale_range": (0.7, 0.7)}, "scale_range"),
        ({"scale_range": "big"}, "scale_range"),
        ({"dtype": torch.int64}, "dtype"),
        ({"size": 64, "n_x": 64, "n_y": 64, "n_orientations": 40}, "too many"),
    ],
)
def test_make_sprites_rejects_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_sprites(**kwargs)


def test_index_of_rejects_bad_combinations(sprites):
    with pytest.raises(ValueError, match="missing"):
        sprites.index_of(shape=0, scale=0)
    with pytest.raises(ValueError, match="unknown"):
        sprites.index_of(shape=0, scale=0, orientation=0, x=0, y=0, colour=1)
    with pytest.raises(TypeError, match="x must be an integer"):
        sprites.index_of(shape=0, scale=0, orientation=0, x=1.5, y=0)
    with pytest.raises(ValueError, match="out of range"):
        sprites.index_of([3, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="labels must have shape"):
        sprites.index_of([0, 0, 0])
    with pytest.raises(TypeError, match="labels must hold integers"):
        sprites.index_of(torch.zeros(5))
    with pytest.raises(ValueError, match="either"):
        sprites.index_of([0, 0, 0, 0, 0], x=1)
    with pytest.raises(ValueError, match="shape must be one of"):
        shape_mask("star", 0.0, 0.0)


# --- chapter 05's data: whole-pixel positions, no factor leaking into another ---------------


@pytest.fixture(scope="module")
def ch05_sprites() -> Sprites:
    from course_vae.recipes import CH05_SPRITES

    return make_sprites(**{k: v for k, v in CH05_SPRITES.items()
                           if k not in ("test_fraction", "split_seed")})


def test_ch05_sprites_have_four_real_factors_each_combination_once(ch05_sprites):
    s = ch05_sprites
    varying = {n: k for n, k in zip(s.factor_names, s.factor_sizes, strict=True) if k > 1}
    assert varying == {"shape": 3, "scale": 3, "x": 6, "y": 3}  # x and y of unequal range
    assert len(s) == 162 == len(torch.unique(s.images, dim=0))
    assert len({tuple(r) for r in s.labels.tolist()}) == 162
    assert np.ptp(s.factor_values[3]) == 10.0 and np.ptp(s.factor_values[4]) == 4.0
    np.testing.assert_allclose(np.diff(s.factor_values[3]), 2.0)  # whole-pixel steps
    np.testing.assert_allclose(np.diff(s.factor_values[4]), 2.0)


def test_ch05_area_depends_only_on_shape_and_scale(ch05_sprites):
    s = ch05_sprites
    area = s.images.sum(dim=1)
    for i in range(s.factor_sizes[0]):
        for j in range(s.factor_sizes[1]):
            a = area[(s.labels[:, 0] == i) & (s.labels[:, 1] == j)]
            assert len(a) == 18 and a.min() == a.max()
    # and moving a sprite by one grid step shifts its pixels by exactly 2 columns
    img = s.images_2d()
    a = img[s.index_of(shape=0, scale=1, orientation=0, x=1, y=2)]
    b = img[s.index_of(shape=0, scale=1, orientation=0, x=2, y=2)]
    assert torch.equal(torch.roll(a, 2, dims=1), b)


def test_split_indices_partition_and_seed():
    from course_vae.sprites import split_indices

    train, test = split_indices(324, 1 / 3, seed=0)
    assert len(train) == 216 and len(test) == 108
    assert sorted(torch.cat([train, test]).tolist()) == list(range(324))
    assert torch.equal(test, torch.sort(test).values)
    again = split_indices(324, 1 / 3, seed=0)
    assert torch.equal(again[1], test)
    assert not torch.equal(split_indices(324, 1 / 3, seed=1)[1], test)
    with pytest.raises(ValueError, match="test_fraction"):
        split_indices(10, 1.0)
    with pytest.raises(ValueError, match="empty"):
        split_indices(2, 0.01)


def test_y_span_gives_unequal_whole_pixel_positions():
    s = make_sprites(size=20, shapes=("square", "ellipse"), n_scales=2, n_orientations=1,
                     n_x=6, n_y=3, y_span=0.4)
    assert s.factor_values[3] == (5.0, 7.0, 9.0, 11.0, 13.0, 15.0)
    assert s.factor_values[4] == (8.0, 10.0, 12.0)
    area = s.images.sum(1)
    for i in range(2):
        for j in range(2):
            cell = area[(s.labels[:, 0] == i) & (s.labels[:, 1] == j)]
            assert cell.min() == cell.max()  # whole-pixel shifts keep the area
    default = make_sprites(size=20, n_x=6, n_y=6, n_scales=1, n_orientations=1)
    assert default.factor_values[4] == default.factor_values[3]  # y_span = 1: unchanged
    with pytest.raises(ValueError, match="y_span"):
        make_sprites(size=20, y_span=0.0)
