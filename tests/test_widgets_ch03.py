"""Tests of the chapter 03 explorer (LatentPlaneExplorer): nbval never moves its sliders."""

from __future__ import annotations

import math
import re

import pytest
import torch

from course_vae.latent import encoding_kl, prior_log_density
from course_vae.models import VAE
from course_vae.widgets import LatentPlaneExplorer


def _explorer(**kwargs) -> LatentPlaneExplorer:
    model = VAE(input_dim=64, hidden=(16,), latent_dim=2, seed=0)
    mu = torch.randn(30, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(30) % 10
    return LatentPlaneExplorer(model, mu, labels, (8, 8), **kwargs)


def _numbers(ex: LatentPlaneExplorer) -> tuple[float, float]:
    lp = re.search(r"log p\(z\) = (-?[0-9.]+) nats", ex.readout.value)
    kl = re.search(r"\|\| N\(0, I\)\) = (-?[0-9.]+) nats", ex.readout.value)
    assert lp and kl, ex.readout.value
    return float(lp.group(1)), float(kl.group(1))


def test_initial_readout_is_the_prior_at_the_origin():
    ex = _explorer()
    assert ex.redraws == 1
    assert ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    lp, kl = _numbers(ex)
    assert lp == pytest.approx(-math.log(2 * math.pi), abs=1e-4)
    assert kl == pytest.approx(0.0, abs=1e-4)


def test_moving_z_updates_density_kl_and_image():
    ex = _explorer(sigma=0.5)
    before, image = ex.redraws, ex.image.value
    ex.z1.value = 2.0
    assert ex.redraws == before + 1
    ex.z2.value = -1.0
    assert ex.redraws == before + 2
    lp, kl = _numbers(ex)
    z = torch.tensor([2.0, -1.0], dtype=torch.float64)
    assert lp == pytest.approx(float(prior_log_density(z)), abs=1e-4)
    assert kl == pytest.approx(float(encoding_kl(z, 0.5)), abs=1e-4)
    assert ex.image.value != image


def test_moving_sigma_changes_only_the_width_cost():
    ex = _explorer(z=(1.0, 1.0), sigma=1.0)
    _, kl_one = _numbers(ex)
    assert kl_one == pytest.approx(1.0, abs=1e-4)  # |z|^2 / 2
    ex.sigma.value = 0.1
    _, kl_small = _numbers(ex)
    assert kl_small == pytest.approx(1.0 + (0.01 - math.log(0.01) - 1), abs=1e-4)
    assert "width" in ex.readout.value


def test_repr_is_stable():
    assert repr(_explorer()) == repr(_explorer())
    assert "0x" not in repr(_explorer())


@pytest.mark.parametrize(
    "kwargs, word",
    [({"z": (5.0, 0.0)}, "z"), ({"z": (0.0,)}, "z"), ({"sigma": 0.0}, "sigma")],
)
def test_bad_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        _explorer(**kwargs)


def test_needs_a_2d_model():
    model = VAE(input_dim=64, hidden=(16,), latent_dim=3, seed=0)
    with pytest.raises(ValueError, match="latent_dim"):
        LatentPlaneExplorer(model, torch.zeros(4, 2), torch.zeros(4), (8, 8))
