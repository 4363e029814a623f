"""Tests of the convolutional VAE: the VAE interface, seeding, and training with train()."""

from __future__ import annotations

import pytest
import torch

from course_vae.conv import ConvVAE
from course_vae.elbo import elbo
from course_vae.models import VAE
from course_vae.train import train


def test_shapes_and_interface():
    m = ConvVAE(side=20, latent_dim=6, channels=8, seed=0)
    assert isinstance(m, VAE) and m.config.input_dim == 400 and m.latent_dim == 6
    x = (torch.rand(5, 400) > 0.5).float()
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (5, 6)
    assert m.decode(mu).shape == (5, 400)
    assert m.decode(torch.zeros(2, 3, 6)).shape == (2, 3, 400)  # leading dims kept
    assert m.reconstruct(x).shape == (5, 400) and m.sample(3, generator=0).shape == (3, 400)
    t = elbo(m, x, generator=0)
    assert t.recon.shape == t.kl.shape == (5,)


def test_seeded_init_is_reproducible():
    a, b = ConvVAE(seed=3), ConvVAE(seed=3)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not torch.equal(next(ConvVAE(seed=4).parameters()), next(a.parameters()))


def test_trains_with_the_course_loop():
    x = torch.zeros(16, 64)
    x[:8, :32] = 1.0
    m = ConvVAE(side=8, latent_dim=2, channels=4, seed=0)
    hist = train(m, x, epochs=30, lr=1e-2, batch_size=8, seed=0, progress=False)
    assert hist["train_elbo"][-1] > hist["train_elbo"][0]


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvVAE(side=10)
    with pytest.raises(ValueError, match="channels"):
        ConvVAE(channels=0)
    with pytest.raises(ValueError, match="x must have shape"):
        ConvVAE(side=8).encode(torch.zeros(2, 10))
