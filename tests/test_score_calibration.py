"""Known-answer tests of the disentanglement scores at chapter 05's sample size.

The chapter scores 8 draws z ~ q(z|x) for each of its 54 held-out sprites (162 sprites:
3 shapes x 3 scales x 6 x-positions x 3 y-positions), so n = 432 continuous codes.  At that
size, with continuous codes (the k-NN estimator that real codes go through), random codes
must score <= 0.05, a perfect code (jittered, any order of dimensions, spare near-constant
dimensions) >= 0.9, a randomly rotated perfect code clearly less, and a position-only code
(x and y perfectly, nothing else) about 0.5.  (Until issue 22 these tests used a discrete
perfect code, which the binned estimator kept unbinned, so it never met the binning real
codes go through: that ceiling was too optimistic.)
"""

from __future__ import annotations

import numpy as np
import pytest

from course_vae.disentanglement import dci, mig, mig_details
from course_vae.factor_information import rank_discretize
from course_vae.recipes import CH05_SPRITES, CH05_SWEEP
from course_vae.score_calibration import REFERENCE_KINDS, permute_rows, reference_codes
from course_vae.sprites import make_sprites, split_indices


@pytest.fixture(scope="module")
def held_out_labels() -> np.ndarray:
    kwargs = {k: v for k, v in CH05_SPRITES.items() if k not in ("test_fraction", "split_seed")}
    sprites = make_sprites(**kwargs)
    _, test = split_indices(len(sprites), CH05_SPRITES["test_fraction"],
                            CH05_SPRITES["split_seed"])
    return np.tile(sprites.labels[test].numpy(), (CH05_SWEEP["samples"], 1))


@pytest.mark.parametrize("seed", range(5))
def test_known_answers_at_the_notebooks_sample_size(held_out_labels, seed):
    v = held_out_labels
    assert v.shape == (432, 5)
    random_z = reference_codes(v, "random", n_dims=6, seed=seed)
    perfect = reference_codes(v, "perfect", n_dims=6, seed=seed, jitter=1e-6)
    rotated = reference_codes(v, "rotated", n_dims=6, seed=seed, jitter=1e-6)
    position = reference_codes(v, "perfect", n_dims=6, seed=seed, jitter=1e-6, keep=(3, 4))
    assert mig_details(perfect, v).estimator == "knn"  # continuous: no bins
    assert mig(random_z, v) <= 0.05
    assert dci(random_z, v).disentanglement <= 0.05
    assert mig(perfect, v) >= 0.9
    res = dci(perfect, v)
    assert res.disentanglement >= 0.9 and res.informativeness == 1.0
    assert mig(rotated, v) < mig(perfect, v) - 0.3
    assert dci(rotated, v).disentanglement < res.disentanglement - 0.3
    assert mig(permute_rows(perfect, seed), v) <= 0.05  # the link to the factors is gone
    pos = mig_details(position, v)
    assert 0.4 < pos.score < 0.55  # perfect on x and y, nothing on shape and scale
    assert (pos.per_factor[[3, 4]] > 0.85).all() and (pos.per_factor[[0, 1]] < 0.1).all()


def test_binned_estimators_lose_part_of_the_ceiling(held_out_labels):
    v = held_out_labels
    perfect = reference_codes(v, "perfect", n_dims=6, seed=0, jitter=1e-6)
    knn = mig(perfect, v)
    assert mig(perfect, v, n_bins=20) < knn
    assert mig(perfect, v, estimator="matched") < knn - 0.1  # bin edges across unequal classes
    noise = np.random.default_rng(0).normal(size=(432, 6))
    biased = mig_details(noise, v, n_bins=20).mutual_info
    calibrated = mig_details(noise, v).mutual_info
    assert biased.mean() > 3 * calibrated.mean()


def test_reference_codes_shapes_and_layout(held_out_labels):
    v = held_out_labels
    for kind in REFERENCE_KINDS:
        z = reference_codes(v, kind, seed=3)
        assert z.shape == (432, 6)  # 4 varying factors + 2 spare dimensions
        np.testing.assert_array_equal(z, reference_codes(v, kind, seed=3))
    z = reference_codes(v, "perfect", n_dims=5, seed=1)
    spare = z.std(axis=0) < 0.1
    assert spare.sum() == 1
    with pytest.raises(ValueError, match="n_dims"):
        reference_codes(v, "perfect", n_dims=3)
    with pytest.raises(ValueError, match="kind"):
        reference_codes(v, "ideal")
    rotated = reference_codes(v, "rotated", n_dims=6, seed=2)
    perfect = reference_codes(v, "perfect", n_dims=6, seed=2)
    # a rotation keeps the geometry: the same pairwise distances
    np.testing.assert_allclose(np.linalg.norm(rotated[:5] - rotated[5:10], axis=1),
                               np.linalg.norm(perfect[:5] - perfect[5:10], axis=1))


def test_rank_discretize_equal_frequency_and_ties():
    z = np.arange(12.0)[:, None]
    np.testing.assert_array_equal(rank_discretize(z, 3)[:, 0], np.repeat([0, 1, 2], 4))
    # a column with few distinct values keeps them as its bins
    np.testing.assert_array_equal(rank_discretize(np.array([[5.0], [1.0], [5.0]]), 3)[:, 0],
                                  [1, 0, 1])
    # ties never split across bins
    tied = np.array([0.0, 0, 0, 0, 0, 1, 2, 3, 4, 5])[:, None]
    bins = rank_discretize(tied, 3)[:, 0]
    assert len(set(bins[:5])) == 1 and bins.max() <= 2


# ---------------------------------------------------------------- codes that look like models'
# Each model code is 54 per-image clusters of 8 posterior samples with noise set by KL_j; the
# known answers and the nulls must have that structure too (referees of chapter 05).

KL_LIKE_MODELS = np.array([2.0, 1.8, 1.5, 1.2, 0.9, 0.7])


def test_matched_reference_codes_have_the_models_kl_and_layout(held_out_labels):
    from course_vae.score_calibration import matched_reference_codes

    images = held_out_labels[:54]
    z = matched_reference_codes(images, "rotated", KL_LIKE_MODELS, 8, seed=0)
    assert z.shape == (432, 6)
    draws = z.reshape(8, 54, 6)
    mean, var = draws.mean(axis=0), draws.var(axis=0, ddof=1).mean(axis=0)
    # posterior variance sigma_j^2 = exp(-2 KL_j), aggregate variance 1 -> KL_j per dimension
    assert np.allclose(var, np.exp(-2 * KL_LIKE_MODELS), rtol=0.25)
    kl = 0.5 * ((mean**2).mean(axis=0) + np.exp(-2 * KL_LIKE_MODELS) - 1 + 2 * KL_LIKE_MODELS)
    assert np.allclose(kl, KL_LIKE_MODELS, atol=0.25)
    perfect = matched_reference_codes(images, "perfect", KL_LIKE_MODELS, 8, seed=0, keep=(3, 4))
    spare = perfect.reshape(8, 54, 6)[:, :, 2:]  # the four smallest KL_j hold no factor: off
    assert abs(spare.std() - 1.0) < 0.1 and np.abs(spare.mean(axis=0)).mean() < 0.5


@pytest.mark.parametrize("seed", range(3))
def test_image_level_nulls_score_what_structureless_image_codes_score(held_out_labels, seed):
    from course_vae.score_calibration import matched_reference_codes, permute_images

    v = held_out_labels
    images = v[:54]
    groups = np.tile(np.arange(54), 8)
    random_z = matched_reference_codes(images, "random", KL_LIKE_MODELS, 8, seed=seed)
    perfect = matched_reference_codes(images, "perfect", KL_LIKE_MODELS, 8, seed=seed)
    # a row split lets the forests recognise the image; an image split does not
    row_split = dci(random_z, v, seed=seed).informativeness
    image_split = dci(random_z, v, seed=seed, groups=groups).informativeness
    assert row_split > 0.7 and image_split < 0.5 and row_split > image_split + 0.3
    assert dci(perfect, v, seed=seed, groups=groups).informativeness > 0.8
    # whole images permuted: the perfect code loses its link to the factors
    shuffled = permute_images(perfect, 54, seed)
    assert sorted(map(tuple, shuffled.round(12))) == sorted(map(tuple, perfect.round(12)))
    assert mig(shuffled, v, upper_bound=KL_LIKE_MODELS) < 0.15
    assert mig(perfect, v, upper_bound=KL_LIKE_MODELS) > 0.7
    with pytest.raises(ValueError):
        permute_images(perfect, 55, seed)
