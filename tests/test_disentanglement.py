"""Tests of MIG and DCI on representations whose answer is known (as disentanglement_lib's)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import mutual_info_score

from course_vae.disentanglement import dci, dci_from_importance, mig, mig_details
from course_vae.factor_information import (
    discrete_entropy,
    discrete_mutual_info,
    factor_indices,
    histogram_discretize,
)
from course_vae.sprites import make_sprites

N_POINTS = 3000
SIZES = (3, 6, 8, 8)  # independent random factors, like disentanglement_lib's tests


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, s, N_POINTS) for s in SIZES], axis=1)


@pytest.fixture(scope="module")
def sprite_labels() -> np.ndarray:
    return make_sprites(size=20, n_orientations=2).labels.numpy()


def _standardise(v: np.ndarray) -> np.ndarray:
    v = v.astype(float)
    return (v - v.mean(0)) / v.std(0)


def _hadamard_mix(v: np.ndarray) -> np.ndarray:
    """Rotate 4 standardised factors so each code loads +-1/2 on every factor."""
    h = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0
    np.testing.assert_allclose(h @ h.T, np.eye(4))
    return _standardise(v) @ h


# --- building blocks ------------------------------------------------------------------------


def test_histogram_discretize_equal_width_bins():
    z = np.array([[0.0, 5.0], [0.5, 5.0], [0.99, 5.0], [1.0, 5.0], [0.26, 5.0]])
    bins = histogram_discretize(z, n_bins=4)
    np.testing.assert_array_equal(bins[:, 0], [0, 2, 3, 3, 1])  # max falls in the last bin
    np.testing.assert_array_equal(bins[:, 1], 0)  # a constant column goes to bin 0
    extreme = np.array([[-1e308], [0.0], [1e308]])  # span overflows float64 if not careful
    np.testing.assert_array_equal(histogram_discretize(extreme, 2)[:, 0], [0, 1, 1])
    # same bins as disentanglement_lib: np.digitize(x, np.histogram(x, n)[1][:-1]) - 1
    x = np.random.default_rng(1).normal(size=(500, 1))
    edges = np.histogram(x[:, 0], 20)[1][:-1]
    np.testing.assert_array_equal(histogram_discretize(x)[:, 0], np.digitize(x[:, 0], edges) - 1)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 4)),
              elements=st.floats(-1e6, 1e6)), st.integers(1, 25))
def test_histogram_bins_in_range_and_monotone(z, n_bins):
    bins = histogram_discretize(z, n_bins)
    assert bins.min() >= 0 and bins.max() < n_bins
    for j in range(z.shape[1]):
        order = np.argsort(z[:, j], kind="stable")
        assert (np.diff(bins[order, j]) >= 0).all()  # larger value, same or later bin


def test_entropy_and_mutual_information_known_values(factors):
    h = discrete_entropy(factors)
    np.testing.assert_allclose(h, np.log(SIZES), atol=0.01)  # near-uniform factors
    assert discrete_entropy(np.zeros((10, 1)))[0] == 0.0
    mi = discrete_mutual_info(factors, factors)
    np.testing.assert_allclose(np.diag(mi), h, atol=1e-12)  # I(v; v) = H(v)
    for i in range(len(SIZES)):
        for k in range(len(SIZES)):
            assert mi[i, k] == pytest.approx(mutual_info_score(factors[:, i], factors[:, k]),
                                             abs=1e-12)
    # a full factorial design makes the factors exactly independent
    grid = np.stack(np.meshgrid(np.arange(3), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    np.testing.assert_allclose(discrete_mutual_info(grid, grid),
                               np.diag(np.log([3, 5])), atol=1e-12)


def test_factor_indices_maps_values_to_ranks():
    v = np.array([[2.5, -1.0], [0.5, -1.0], [2.5, 7.0]])
    np.testing.assert_array_equal(factor_indices(v), [[1, 0], [0, 0], [1, 1]])


# --- MIG: known answers ---------------------------------------------------------------------


def test_mig_identity_is_one(factors, sprite_labels):
    assert 0.9 <= mig(factors, factors) <= 1.0
    assert 0.9 <= mig(_standardise(factors) * 3.0 - 1.0, factors) <= 1.0  # affine-invariant
    res = mig_details(sprite_labels, sprite_labels)
    assert res.score == pytest.approx(1.0, abs=1e-12)  # factorial design: exactly 1
    np.testing.assert_array_equal(res.top_dims[:, 0], np.arange(sprite_labels.shape[1]))
    np.testing.assert_allclose(res.entropy, np.log(sprite_labels.max(0) + 1), atol=1e-12)


def test_mig_identity_plus_noise_dimensions_stays_high(factors):
    noise = np.random.default_rng(2).normal(size=(N_POINTS, 6))
    assert 0.9 <= mig(np.concatenate([noise[:, :3], factors, noise[:, 3:]], 1), factors) <= 1.0


def test_mig_noise_is_low(factors):
    noise = np.random.default_rng(3).normal(size=(N_POINTS, 10))
    assert 0.0 <= mig(noise, factors) <= 0.2


def test_mig_duplicated_latents_is_low(factors):
    assert 0.0 <= mig(np.concatenate([factors, factors], 1), factors) <= 0.1


def test_mig_of_a_mixing_rotation_is_low(factors):
    v = factors
    assert mig(_hadamard_mix(v), v) <= 0.15
    # random rotations mix too: on average far below the identity's 1
    rng = np.random.default_rng(4)
    scores = [mig(_standardise(v) @ np.linalg.qr(rng.normal(size=(4, 4)))[0], v)
              for _ in range(5)]
    assert np.mean(scores) < 0.4


def test_mig_per_factor_gap_is_the_top_two_difference(factors):
    noise = np.random.default_rng(5).normal(size=(N_POINTS, 2))
    # code 0 carries factor 0 exactly; code 1 carries a coarsened (two-level) copy
    codes = np.column_stack([factors[:, 0], factors[:, 0] > 0, noise])
    res = mig_details(codes, factors)
    mi = res.mutual_info
    top = np.sort(mi[:, 0])[::-1]
    assert res.per_factor[0] == pytest.approx((top[0] - top[1]) / res.entropy[0])
    assert res.top_dims[0].tolist() == [0, 1]
    assert res.score == pytest.approx(np.mean(res.per_factor))


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(4, 40), st.integers(2, 5)),
           elements=st.floats(-1e3, 1e3)),
    st.data(),
)
def test_mig_in_unit_interval_for_any_input(codes, data):
    n = codes.shape[0]
    k = data.draw(st.integers(1, 3))
    v = data.draw(arrays(np.int64, (n, k), elements=st.integers(0, 3)))
    if all(len(np.unique(v[:, j])) == 1 for j in range(k)):
        with pytest.raises(ValueError, match="constant"):
            mig(codes, v)
        return
    score = mig(codes, v)
    assert 0.0 <= score <= 1.0
    # permuting the code dimensions does not change the score
    assert mig(codes[:, ::-1], v) == pytest.approx(score, abs=1e-12)


def test_mig_skips_constant_factors(factors):
    with_constant = np.column_stack([factors, np.zeros(N_POINTS)])
    res = mig_details(factors, with_constant)
    assert np.isnan(res.per_factor[-1])
    assert res.score == pytest.approx(mig(factors, factors))


def test_mig_rejects_bad_input(factors):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        mig(factors[:, :1], factors)
    with pytest.raises(ValueError, match="same number of rows"):
        mig(factors[:10], factors[:11])
    with pytest.raises(ValueError, match="codes contains NaN"):
        mig(np.full((5, 2), np.nan), factors[:5])
    with pytest.raises(ValueError, match="codes must have shape"):
        mig(np.zeros(5), factors[:5])
    with pytest.raises(ValueError, match="n_bins"):
        mig(factors, factors, n_bins=0)
    with pytest.raises(TypeError, match="factors"):
        mig(factors, "abc")


# --- DCI: known answers ---------------------------------------------------------------------


def test_dci_from_importance_known_matrices():
    d, c, per_code, rho = dci_from_importance(np.eye(3))
    assert (d, c) == (pytest.approx(1.0), pytest.approx(1.0))
    np.testing.assert_allclose(rho, 1 / 3)
    d, c, _, _ = dci_from_importance(np.ones((4, 3)))
    assert d == pytest.approx(0.0, abs=1e-12) and c == pytest.approx(0.0, abs=1e-12)
    # one code shared half/half by two factors, the other code unused
    r = np.array([[0.5, 0.5], [0.0, 0.0]])
    d, c, per_code, rho = dci_from_importance(r)
    assert d == pytest.approx(0.0, abs=1e-12) and c == pytest.approx(1.0)
    np.testing.assert_allclose(rho, [1.0, 0.0])
    # by hand: rows p = (0.8, 0.2) and (0, 1), weights 0.5 each, entropy base 2
    r = np.array([[0.8, 0.2], [0.0, 1.0]])
    h = -(0.8 * math.log2(0.8) + 0.2 * math.log2(0.2))
    d, _, per_code, _ = dci_from_importance(r)
    np.testing.assert_allclose(per_code, [1 - h, 1.0])
    assert d == pytest.approx(0.5 * (1 - h) + 0.5 * 1.0)
    assert dci_from_importance(np.zeros((2, 2)))[:2] == (0.0, 0.0)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(2, 6)),
              elements=st.floats(0, 1e6)))
def test_dci_from_importance_in_unit_interval(r):
    d, c, per_code, rho = dci_from_importance(r)
    assert 0.0 <= d <= 1.0 and 0.0 <= c <= 1.0
    assert ((per_code >= 0) & (per_code <= 1)).all()
    if r.sum() > 0:
        assert rho.sum() == pytest.approx(1.0)


def test_dci_identity_is_one(factors):
    res = dci(factors, factors)
    assert res.disentanglement >= 0.9 and res.completeness >= 0.9
    assert res.informativeness == pytest.approx(1.0)
    assert (np.argmax(res.importance, axis=0) == np.arange(len(SIZES))).all()


def test_dci_noise_is_low(factors):
    noise = np.random.default_rng(6).normal(size=(N_POINTS, 10))
    res = dci(noise, factors)
    assert 0.0 <= res.disentanglement <= 0.2
    # held-out accuracy near chance (1 / number of values) for every factor
    assert (res.per_factor_accuracy < 1.0 / np.array(SIZES) + 0.1).all()


def test_dci_mixing_rotation_is_low(factors):
    v = factors[:, :4]
    assert dci(_hadamard_mix(v), v).disentanglement <= 0.15


def test_dci_duplicated_latents_disentangled_but_incomplete(factors):
    res = dci(np.concatenate([factors, factors], 1), factors)
    assert res.disentanglement >= 0.9  # each code still serves one factor
    # each factor splits its importance over 2 of the 2K codes: C = 1 - log 2 / log(2K)
    expected = 1 - math.log(2) / math.log(2 * len(SIZES))
    assert res.completeness == pytest.approx(expected, abs=0.1)
    assert res.completeness < 0.85


def test_dci_is_deterministic_and_seeded(factors):
    codes = np.random.default_rng(7).normal(size=(500, 4)) + factors[:500, :1]
    a, b = dci(codes, factors[:500]), dci(codes, factors[:500])
    np.testing.assert_array_equal(a.importance, b.importance)
    assert a.disentanglement == b.disentanglement
    other = dci(codes, factors[:500], seed=1)
    assert not np.array_equal(a.importance, other.importance)


def test_dci_rejects_bad_input(factors):
    with pytest.raises(ValueError, match="test_fraction"):
        dci(factors, factors, test_fraction=1.0)
    with pytest.raises(ValueError, match="n_estimators"):
        dci(factors, factors, n_estimators=0)
    with pytest.raises(ValueError, match="seed"):
        dci(factors, factors, seed=-1)
    with pytest.raises(ValueError, match="non-constant factors"):
        dci(factors, np.column_stack([factors[:, 0], np.zeros(N_POINTS)]))
    with pytest.raises(ValueError, match="importance must be non-negative"):
        dci_from_importance(-np.eye(2))
    with pytest.raises(ValueError, match="importance must have shape"):
        dci_from_importance(np.ones((1, 3)))


# ---------------------------------------------------------------- issue 22: information on samples
from course_vae.disentanglement import traversal_change  # noqa: E402
from course_vae.factor_information import (  # noqa: E402
    is_discrete_code,
    mutual_info_knn,
    ross_mutual_info,
)


def test_ross_estimator_is_scikit_learns():
    from sklearn.feature_selection import mutual_info_classif

    rng = np.random.default_rng(3)
    y = rng.integers(0, 6, 432)
    x = rng.normal(size=(432, 3))
    x[:, 0] += 0.5 * y
    ref = mutual_info_classif(x, y, discrete_features=False, random_state=0)
    ours = np.array([ross_mutual_info(x[:, j] / x[:, j].std(), y) for j in range(3)])
    np.testing.assert_allclose(ours, ref, atol=0.01)
    assert ours[0] > 0.2 and ours[1] < 0.06


def test_knn_information_of_known_codes():
    rng = np.random.default_rng(0)
    v = np.stack([rng.integers(0, 3, 400), rng.integers(0, 6, 400)], 1)
    exact = v + 1e-6 * rng.normal(size=v.shape)
    mi, h = mutual_info_knn(exact, v)
    assert mi[0, 0] > 0.95 * h[0] and mi[1, 1] > 0.95 * h[1]  # each column knows its factor
    assert mi[0, 1] < 0.05 and mi[1, 0] < 0.05  # and not the other
    assert (mi <= h[None, :]).all()
    np.testing.assert_array_equal(mi, mutual_info_knn(exact, v)[0])  # deterministic


def test_auto_estimator_and_upper_bound():
    rng = np.random.default_rng(1)
    v = np.stack([rng.integers(0, 4, 200), rng.integers(0, 4, 200)], 1)
    assert is_discrete_code(v) and not is_discrete_code(v + rng.normal(size=v.shape))
    assert mig_details(v, v).estimator == "matched"
    assert mig_details(v + 1e-6 * rng.normal(size=v.shape), v).estimator == "knn"
    z = v + 1e-6 * rng.normal(size=v.shape)
    capped = mig_details(z, v, upper_bound=[0.1, 2.0])
    assert capped.mutual_info[0].max() <= 0.1 + 1e-12  # cut to the bound
    assert capped.mutual_info[1, 1] > 1.0
    assert np.isclose(mig(z, v, upper_bound=[0.1, 2.0]), capped.score)
    with pytest.raises(ValueError, match="upper_bound"):
        mig(z, v, upper_bound=[0.1])
    with pytest.raises(ValueError, match="upper_bound"):
        mig(z, v, upper_bound=[-1.0, 1.0])
    with pytest.raises(ValueError, match="estimator"):
        mig(z, v, estimator="kde")
    with pytest.raises(ValueError, match="more than n_neighbors"):
        mutual_info_knn(z[:5], np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 2]]))


def test_traversal_change_sees_only_the_used_dimensions():
    import torch

    w = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.0]], dtype=torch.float64)  # z3 unused

    def decode(z):  # 3 "pixels": sigmoid(z1), sigmoid(z2 / 2), 0.5 -- z3 moves nothing
        return torch.sigmoid(z @ torch.cat([w, torch.zeros(1, 3, dtype=torch.float64)]).T)

    codes = np.random.default_rng(0).normal(size=(20, 3))
    move = traversal_change(decode, codes, span=2.0)
    assert move[2] == 0.0 and move[0] > move[1] > 0.0


def test_dci_groups_keep_every_group_on_one_side():
    """A code that identifies only its group (4 noisy copies per group, factors random per
    group): a row split lets the forests recognise the group, a group split scores chance."""
    rng = np.random.default_rng(0)
    n_groups, copies = 60, 4
    groups = np.repeat(np.arange(n_groups), copies)
    v = np.repeat(rng.integers(0, 3, size=(n_groups, 2)), copies, axis=0)
    z = np.repeat(rng.normal(size=(n_groups, 3)), copies, axis=0)
    z = z + 0.01 * rng.normal(size=z.shape)
    by_row = dci(z, v, seed=0).informativeness
    by_group = dci(z, v, seed=0, groups=groups).informativeness
    assert by_row > 0.9 and by_group < 0.6 and by_row > by_group + 0.3
    with pytest.raises(ValueError):
        dci(z, v, groups=groups[:-1])
    with pytest.raises(ValueError):
        dci(z, v, groups=np.zeros(len(v)))  # one group cannot be split
