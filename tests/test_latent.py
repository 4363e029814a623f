"""Tests of course_vae.latent: latent grids, the prior density, the KL cost of a point."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.latent import encoding_kl, latent_grid, latent_point_state, prior_log_density
from course_vae.models import VAE


def test_grid_is_in_image_order():
    g = latent_grid(2.0, 5)
    assert g.shape == (25, 2)
    assert g[0].tolist() == [-2.0, 2.0]  # top-left: smallest z1, largest z2
    assert g[4].tolist() == [2.0, 2.0]
    assert g[-1].tolist() == [2.0, -2.0]
    assert g[12].tolist() == [0.0, 0.0]
    assert latent_grid(1.0, 1).tolist() == [[0.0, 0.0]]


@settings(max_examples=25, deadline=None)
@given(z=st.lists(st.floats(-10, 10), min_size=1, max_size=4))
def test_prior_log_density_matches_torch(z):
    t = torch.tensor(z, dtype=torch.float64)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(t).sum()
    assert float(prior_log_density(t)) == pytest.approx(float(expected), abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(z=st.lists(st.floats(-5, 5), min_size=2, max_size=2), sigma=st.floats(0.01, 3.0))
def test_encoding_kl_is_the_closed_form(z, sigma):
    kl = float(encoding_kl(z, sigma))
    expected = sum(0.5 * (m**2 + sigma**2 - math.log(sigma**2) - 1) for m in z)
    assert kl == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert kl >= 0


def test_point_state_decodes_and_splits_the_kl():
    model = VAE(input_dim=64, hidden=(16,), latent_dim=2, seed=0)
    st_ = latent_point_state(model, [1.0, -2.0], sigma=0.5)
    with torch.no_grad():
        image = torch.sigmoid(model.decode(torch.tensor([[1.0, -2.0]])))[0]
    torch.testing.assert_close(st_["image"], image)
    assert st_["kl_mean"] == pytest.approx(2.5)
    assert st_["kl_width"] == pytest.approx(2 * 0.5 * (0.25 - math.log(0.25) - 1))
    assert st_["kl"] == pytest.approx(st_["kl_mean"] + st_["kl_width"])
    assert st_["log_prior"] == pytest.approx(-0.5 * 5 - math.log(2 * math.pi))


def test_extreme_values_stay_finite():
    assert math.isfinite(float(encoding_kl([1e3, -1e3], 1e-30)))
    assert math.isfinite(float(prior_log_density([1e100])))


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: latent_grid(0.0, 3), "extent"),
        (lambda: latent_grid(1.0, 0), "n"),
        (lambda: encoding_kl([0.0], 0.0), "sigma"),
        (lambda: encoding_kl([0.0, 1.0], [1.0, 1.0, 1.0]), "sigma"),
        (lambda: prior_log_density([float("nan")]), "z"),
        (lambda: latent_point_state(VAE(latent_dim=2, seed=0), [0.0, 0.0, 0.0]), "z"),
    ],
)
def test_bad_arguments_are_named(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_point_state_needs_a_model():
    with pytest.raises(TypeError, match="model"):
        latent_point_state(object(), [0.0, 0.0])
