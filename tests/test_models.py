"""Tests of course_vae.models: config, VAE shapes, seeding, reparameterisation, sampling."""

from __future__ import annotations

import pytest
import torch

from course_vae.models import VAE, VAEConfig, reparameterize
from course_vae.rng import as_generator


def test_config_validates_and_names_the_argument():
    with pytest.raises(ValueError, match="input_dim"):
        VAEConfig(input_dim=0)
    with pytest.raises(ValueError, match="latent_dim"):
        VAEConfig(latent_dim=-1)
    with pytest.raises(ValueError, match="hidden"):
        VAEConfig(hidden=(256, 0))
    with pytest.raises(ValueError, match="likelihood"):
        VAEConfig(likelihood="poisson")
    with pytest.raises(ValueError, match="activation"):
        VAEConfig(activation="swish")
    with pytest.raises(ValueError, match="obs_std"):
        VAEConfig(obs_std=0.0)
    assert VAEConfig(hidden=[128, 64]).hidden == (128, 64)
    assert VAEConfig(hidden=32).hidden == (32,)


def test_config_dict_round_trip():
    cfg = VAEConfig(
        input_dim=784,
        hidden=(400, 200),
        latent_dim=20,
        likelihood="gaussian",
        activation="tanh",
        obs_std=0.3,
    )
    d = cfg.to_dict()
    assert d["hidden"] == [400, 200] and all(
        isinstance(v, (int, float, str, list)) for v in d.values()
    )
    assert VAEConfig.from_dict(d) == cfg
    with pytest.raises(ValueError, match="unknown keys"):
        VAEConfig.from_dict({**d, "dropout": 0.1})


@pytest.mark.parametrize("hidden", [(), (16,), (32, 16)])
def test_vae_shapes(hidden):
    model = VAE(input_dim=10, hidden=hidden, latent_dim=3, seed=0)
    x = torch.rand(7, 10)
    mu, logvar = model.encode(x)
    assert mu.shape == (7, 3) and logvar.shape == (7, 3)
    decoded, mu2, logvar2, z = model(x, generator=0)
    assert decoded.shape == (7, 10) and z.shape == (7, 3)
    assert torch.equal(mu, mu2) and torch.equal(logvar, logvar2)
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert n_linear == 2 * (len(hidden) + 1)


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone():
    cfg = VAEConfig(input_dim=8, hidden=(4,), latent_dim=2)
    state = torch.random.get_rng_state()
    a, b, c = VAE(cfg, seed=0), VAE(cfg, seed=0), VAE(cfg, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(
        torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )
    with pytest.raises(TypeError, match="config"):
        VAE("config")
    with pytest.raises(TypeError, match="not both"):
        VAE(cfg, latent_dim=3)


def test_reparameterize_has_the_right_moments_and_gradients():
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, 2.0 * torch.log(torch.tensor(0.5)).item()], requires_grad=True)
    z = reparameterize(mu, logvar, n_samples=40_000, generator=0)
    assert z.shape == (40_000, 2)
    std = torch.tensor([1.0, 0.5])
    se = std / 200.0  # sqrt(40000) = 200
    assert ((z.mean(0) - mu).abs() < 5 * se).all()
    assert ((z.std(0) - std).abs() < 0.02).all()
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.full((2,), 40_000.0))
    assert logvar.grad.abs().sum() > 0
    assert torch.equal(
        reparameterize(mu, logvar, generator=3), reparameterize(mu, logvar, generator=3)
    )


def test_as_generator():
    assert as_generator(None) is None
    g = torch.Generator()
    assert as_generator(g) is g
    assert torch.equal(
        torch.randn(3, generator=as_generator(4)), torch.randn(3, generator=as_generator(4))
    )
    with pytest.raises(TypeError, match="generator"):
        as_generator(1.5)


def test_sampling_from_the_prior_and_reconstructing():
    model = VAE(input_dim=6, hidden=(8,), latent_dim=2, seed=0)
    z = model.sample_prior(5, generator=1)
    assert z.shape == (5, 2) and torch.equal(z, model.sample_prior(5, generator=1))
    imgs = model.sample(5, generator=1)
    assert torch.allclose(imgs, torch.sigmoid(model.decode(z)))
    assert ((imgs >= 0) & (imgs <= 1)).all()
    x = torch.rand(4, 6)
    mu, _ = model.encode(x)
    assert torch.allclose(model.reconstruct(x), torch.sigmoid(model.decode(mu)))
    gauss = VAE(input_dim=6, hidden=(8,), latent_dim=2, likelihood="gaussian", seed=0)
    assert torch.allclose(gauss.sample(3, generator=2), gauss.decode(gauss.sample_prior(3, 2)))
    with pytest.raises(ValueError, match="n"):
        model.sample_prior(0)
    assert "latent_dim=2" in repr(model)


def test_reparameterize_with_given_or_drawn_noise_is_one_formula():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    eps = torch.randn((2, 5, 3), generator=torch.Generator().manual_seed(7))
    z = reparameterize(mu, logvar, eps)
    assert torch.equal(z, mu + torch.exp(0.5 * logvar) * eps)
    assert torch.equal(reparameterize(mu, logvar, n_samples=2, generator=7), z)
