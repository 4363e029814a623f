"""Tests of course_vae.made: the MADE decoder is autoregressive and plugs into the ELBO code."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae import diagnostics
from course_vae.elbo import elbo, iwae_bound
from course_vae.made import MADE, AutoregressiveVAE, MaskedLinear, made_degrees, made_masks
from course_vae.models import VAE, bernoulli_log_likelihood
from course_vae.train import evaluate, train


@settings(max_examples=20, deadline=None)
@given(
    d=st.integers(2, 12),
    hidden=st.lists(st.integers(1, 20), min_size=1, max_size=3),
)
def test_mask_products_are_strictly_lower_triangular(d, hidden):
    made = MADE(d, tuple(hidden), cond_dim=2)
    reach = made.connectivity() > 0
    assert not reach.triu().any()  # output i never sees input j >= i
    lower = torch.ones(d, d).tril(-1).bool()
    assert reach[lower].all()  # the direct connection reaches every j < i
    masks = made_masks(d, tuple(hidden))
    assert len(masks) == len(hidden) + 2
    assert all(torch.equal(a, b) for a, b in zip(masks, made.masks, strict=True))


def test_degrees_cycle_through_one_to_d_minus_one():
    deg = made_degrees(5, (9,))
    assert deg[0].tolist() == [1, 2, 3, 4, 5]
    assert deg[1].tolist() == [1, 2, 3, 4, 1, 2, 3, 4, 1]


def test_jacobian_is_strictly_lower_triangular_and_z_reaches_every_output():
    torch.manual_seed(0)
    made = MADE(16, (32, 32), cond_dim=3)
    x = torch.bernoulli(torch.full((16,), 0.5))
    z = torch.randn(3)
    jx, jz = torch.autograd.functional.jacobian(lambda a, b: made(a, b), (x, z))
    assert jx.shape == (16, 16) and jz.shape == (16, 3)
    assert (jx.triu() == 0).all()
    assert (jx[torch.ones(16, 16).tril(-1).bool()] != 0).all()
    assert (jz.abs().sum(1) > 0).all()


def test_perturbing_pixel_i_changes_only_later_logits():
    torch.manual_seed(1)
    made = MADE(10, (40,), cond_dim=2)
    x = torch.bernoulli(torch.full((1, 10), 0.5))
    z = torch.randn(1, 2)
    base = made(x, z)
    for i in range(10):
        x2 = x.clone()
        x2[0, i] = 1 - x2[0, i]
        diff = (made(x2, z) - base).abs()[0]
        assert (diff[: i + 1] == 0).all()
        if i < 9:
            assert diff[i + 1 :].max() > 0


def test_cond_broadcasts_over_leading_sample_dimension():
    made = MADE(6, (8,), cond_dim=2)
    x = torch.rand(4, 6).round()
    z = torch.randn(3, 4, 2)
    out = made(x, z)
    assert out.shape == (3, 4, 6)
    assert torch.allclose(out[1], made(x, z[1]), atol=1e-6)


def test_invalid_arguments_name_the_argument():
    with pytest.raises(ValueError, match="input_dim"):
        MADE(1, (4,))
    with pytest.raises(ValueError, match="hidden"):
        MADE(4, (0,))
    with pytest.raises(ValueError, match="cond_dim"):
        MADE(4, (4,), cond_dim=-1)
    with pytest.raises(ValueError, match="cond"):
        MADE(4, (4,), cond_dim=2)(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="mask"):
        MaskedLinear(3, 2, torch.ones(3, 2))
    with pytest.raises(ValueError, match="likelihood"):
        AutoregressiveVAE(latent_dim=2, likelihood="gaussian")


def test_vae_decode_needs_x_and_elbo_uses_teacher_forcing():
    model = AutoregressiveVAE(input_dim=12, hidden=(16,), latent_dim=2, seed=0, ar_hidden=(20,))
    x = torch.rand(5, 12).round()
    with pytest.raises(ValueError, match="x must be given"):
        model.decode(torch.zeros(5, 2))
    terms = elbo(model, x, generator=0)
    assert terms.recon.shape == terms.kl.shape == (5,)
    # recon is the sum over pixels of Bernoulli log-probabilities given x_<i and z
    logits = model.decode(terms.z, x)
    expected = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(-1)
    assert torch.allclose(terms.recon, expected, atol=1e-5)
    assert isinstance(model, VAE) and model.needs_x


def test_iwae_and_evaluate_work_and_iwae_is_above_elbo_on_average():
    model = AutoregressiveVAE(input_dim=12, hidden=(16,), latent_dim=2, seed=0, ar_hidden=(20,))
    x = torch.rand(64, 12, generator=torch.Generator().manual_seed(0)).round()
    bound = iwae_bound(model, x, n_samples=50)
    ev = evaluate(model, x)
    assert bound.shape == (64,) and torch.isfinite(bound).all()
    assert bound.mean().item() > ev["elbo"]


def test_training_lowers_the_loss_and_diagnostics_run():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(128, 12, generator=g) < torch.linspace(0.1, 0.9, 12)).float()
    model = AutoregressiveVAE(input_dim=12, hidden=(16,), latent_dim=2, seed=0, ar_hidden=(20,))
    hist = train(model, x, x, epochs=15, batch_size=32, progress=False)
    assert hist["test_elbo"][-1] > hist["test_elbo"][0]
    d = diagnostics.model_diagnostics(model, x)
    assert d.kl_per_dim.shape == (2,)


def test_sequential_sampling_matches_teacher_forced_probabilities():
    model = AutoregressiveVAE(input_dim=10, hidden=(8,), latent_dim=2, seed=3, ar_hidden=(16,))
    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    xs, probs = model.decode_sequential(z, generator=0)
    assert set(xs.unique().tolist()) <= {0.0, 1.0}
    # the probabilities along the draw are those of one teacher-forced pass on the drawn x
    assert torch.allclose(probs, torch.sigmoid(model.decode(z, xs)), atol=1e-6)
    xs2, _ = model.decode_sequential(z, generator=0)
    assert torch.equal(xs, xs2)  # seeded
    assert model.sample(3, generator=0).shape == (3, 10)
    assert model.reconstruct(xs).shape == (4, 10)
    with pytest.raises(ValueError, match="z must"):
        model.decode_sequential(torch.zeros(4, 3))


def test_same_seed_gives_same_encoder_as_plain_vae():
    a = AutoregressiveVAE(input_dim=12, hidden=(16,), latent_dim=2, seed=7)
    b = VAE(input_dim=12, hidden=(16,), latent_dim=2, seed=7)
    for p, q in zip(a.encoder.parameters(), b.encoder.parameters(), strict=True):
        assert torch.equal(p, q)
    assert "ar_hidden" in repr(a)


def test_the_likelihood_decodes_with_x_for_an_autoregressive_decoder():
    model = AutoregressiveVAE(input_dim=12, hidden=(16,), latent_dim=2, seed=0, ar_hidden=(20,))
    x, z = torch.rand(5, 12).round(), torch.randn(5, 2)
    recon, decoded = model.log_likelihood(x, z)
    assert torch.equal(decoded, model.decode(z, x))
    assert torch.equal(recon, bernoulli_log_likelihood(x, decoded))
