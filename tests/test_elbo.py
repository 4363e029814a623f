"""Tests of course_vae.elbo: likelihoods, the beta-ELBO and the IWAE bound."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.elbo import (
    beta_elbo_loss,
    elbo,
    importance_log_weights,
    iwae_bound,
    iwae_from_log_weights,
)
from course_vae.kl import kl_normal_std
from course_vae.linear_gaussian import LinearGaussian
from course_vae.models import (
    VAE,
    bernoulli_log_likelihood,
    gaussian_log_likelihood,
    reparameterize,
)


@pytest.fixture(scope="module")
def model() -> VAE:
    return VAE(input_dim=12, hidden=(16,), latent_dim=2, seed=0)


@pytest.fixture(scope="module")
def x_binary() -> torch.Tensor:
    return torch.bernoulli(torch.full((30, 12), 0.3), generator=torch.Generator().manual_seed(1))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_bernoulli_log_likelihood_matches_the_definition(seed):
    g = torch.Generator().manual_seed(seed)
    logits = 4 * torch.randn(5, 7, generator=g, dtype=torch.float64)
    x = torch.bernoulli(torch.full((5, 7), 0.5, dtype=torch.float64), generator=g)
    p = torch.sigmoid(logits)
    manual = (x * torch.log(p) + (1 - x) * torch.log1p(-p)).sum(-1)
    ours = bernoulli_log_likelihood(x, logits)
    assert torch.allclose(ours, manual, rtol=1e-10, atol=1e-10)
    dist = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(-1)
    assert torch.allclose(ours, dist, rtol=1e-10, atol=1e-10)


def test_bernoulli_log_likelihood_is_finite_for_extreme_logits():
    logits = torch.tensor([[1e4, -1e4, 80.0, -80.0]])
    x = torch.tensor([[0.0, 1.0, 0.0, 1.0]])
    ll = bernoulli_log_likelihood(x, logits)
    assert torch.isfinite(ll).all()
    assert torch.allclose(ll, -torch.tensor([1e4 + 1e4 + 80 + 80]), rtol=1e-6)
    with pytest.raises(ValueError, match="x must lie"):
        bernoulli_log_likelihood(torch.tensor([2.0]), torch.tensor([0.0]))
    with pytest.raises(ValueError, match="logits"):
        bernoulli_log_likelihood(torch.zeros(3), torch.tensor([0.0, math.nan, 0.0]))


def test_gaussian_log_likelihood_is_normalised_and_matches_torch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, generator=g, dtype=torch.float64)
    mean = torch.randn(4, 6, generator=g, dtype=torch.float64)
    for std in (0.1, 1.0, torch.linspace(0.2, 2.0, 6, dtype=torch.float64)):
        ref = torch.distributions.Normal(mean, torch.as_tensor(std, dtype=torch.float64))
        assert torch.allclose(
            gaussian_log_likelihood(x, mean, std), ref.log_prob(x).sum(-1), rtol=1e-12
        )
    # normalised: the 1-D density integrates to 1 (trapezoid on a wide grid)
    grid = torch.linspace(-3, 3, 20001, dtype=torch.float64)[:, None]
    dens = gaussian_log_likelihood(grid, torch.zeros(1, dtype=torch.float64), 0.3).exp()
    assert abs(torch.trapezoid(dens, grid[:, 0]).item() - 1) < 1e-6
    with pytest.raises(ValueError, match="std"):
        gaussian_log_likelihood(x, mean, -1.0)
    with pytest.raises(ValueError, match="std"):
        gaussian_log_likelihood(x, mean, torch.ones(5))


def test_elbo_terms_are_consistent(model, x_binary):
    t = elbo(model, x_binary, beta=0.5, generator=3)
    assert t.recon.shape == t.kl.shape == t.elbo.shape == (30,)
    mu, logvar = model.encode(x_binary)
    assert torch.allclose(t.kl, kl_normal_std(mu, logvar))
    assert torch.allclose(t.elbo, t.recon - t.kl)
    assert torch.allclose(t.loss, -(t.recon - 0.5 * t.kl).mean())
    assert torch.allclose(t.recon, bernoulli_log_likelihood(x_binary, t.decoded))
    assert torch.allclose(
        t.z,
        mu
        + torch.exp(0.5 * logvar)
        * torch.randn(mu.shape, generator=torch.Generator().manual_seed(3)),
    )
    again = elbo(model, x_binary, beta=0.5, generator=3)
    assert torch.equal(again.recon, t.recon)
    t1 = elbo(model, x_binary, generator=3)
    assert torch.allclose(t1.loss, -t1.elbo.mean())
    assert torch.allclose(beta_elbo_loss(t.recon, t.kl, 2.0), -(t.recon - 2 * t.kl).mean())
    t.loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()


def test_elbo_with_a_gaussian_decoder():
    m = VAE(input_dim=5, hidden=(8,), latent_dim=2, likelihood="gaussian", obs_std=0.5, seed=0)
    x = torch.rand(6, 5)
    t = elbo(m, x, generator=0)
    ref = torch.distributions.Normal(t.decoded, 0.5).log_prob(x).sum(-1)
    assert torch.allclose(t.recon, ref, atol=1e-5)


def test_elbo_validates_inputs(model, x_binary):
    with pytest.raises(ValueError, match="shape"):
        elbo(model, torch.zeros(3, 5))
    with pytest.raises(ValueError, match="binarise"):
        elbo(model, x_binary * 2)
    with pytest.raises(ValueError, match="beta"):
        elbo(model, x_binary, beta=-1.0)
    with pytest.raises(TypeError, match="model"):
        elbo("model", x_binary)


def test_iwae_with_one_sample_equals_the_elbo_in_expectation(model, x_binary):
    x = x_binary[:3].repeat(3000, 1)
    iw1 = iwae_bound(model, x, 1, generator=0)
    el = elbo(model, x, generator=1).elbo.detach()
    diff = iw1.mean() - el.mean()
    se = math.sqrt(iw1.var() / len(x) + el.var() / len(x))
    assert abs(diff.item()) < 5 * se


def test_iwae_grows_with_k_on_average(model, x_binary):
    x = x_binary.repeat(10, 1)
    means = [iwae_bound(model, x, k, generator=k).mean().item() for k in (1, 5, 50, 500)]
    assert all(b > a for a, b in zip(means[:-1], means[1:], strict=True)), means


def test_chunked_equals_unchunked(model, x_binary):
    whole = iwae_bound(model, x_binary, 100, chunk_size=100, generator=7)
    chunked = iwae_bound(model, x_binary, 100, chunk_size=7, generator=7)
    assert torch.allclose(whole, chunked, rtol=0, atol=1e-5)
    lw = importance_log_weights(
        x_binary,
        *model.encode(x_binary),
        lambda x, z: model.log_likelihood(x.expand(*z.shape[:-1], -1), z)[0],
        n_samples=100,
        chunk_size=13,
        generator=7,
    )
    assert lw.shape == (100, 30)
    assert torch.allclose(iwae_from_log_weights(lw), whole, atol=1e-5)


def test_chunks_bound_the_memory():
    seen = []
    lg = LinearGaussian.random(3, 2, 0.5, seed=0)
    x = lg.sample(4, generator=0)[1]
    mean, var = lg.mean_field_posterior(x)

    def ll(xb, z):
        seen.append(z.shape[0])
        return lg.log_likelihood(xb, z)

    out = iwae_bound(ll, x, 5000, mu=mean, logvar=var.log().expand_as(mean), chunk_size=64)
    assert out.shape == (4,) and max(seen) == 64 and sum(seen) == 5000


def test_iwae_approaches_the_exact_log_likelihood_on_the_linear_gaussian_model():
    # nearly parallel columns: a strongly correlated posterior, far from any diagonal q
    W = torch.tensor([[1.0, 1.0], [1.0, 0.8], [0.5, 0.6]], dtype=torch.float64)
    lg = LinearGaussian(W, torch.tensor([0.5, 0.0, -0.5], dtype=torch.float64), 0.5)
    x = lg.sample(64, generator=0)[1]
    logpx = lg.log_marginal(x)
    mean, cov = lg.posterior(x)
    var = torch.diagonal(cov)  # diagonal q with the posterior's marginal variances
    gap = (logpx - lg.elbo(x, mean, q_var=var)).mean().item()  # exact ELBO gap
    assert gap > 1.0
    errors = {}
    for k in (1, 10, 100, 5000):
        est = iwae_bound(
            lg.log_likelihood, x, k, mu=mean, logvar=var.log().expand_as(mean), generator=k
        )
        errors[k] = (logpx - est).mean().item()
    assert errors[1] > 0.3 * gap  # one sample: an ELBO estimate, far below log p(x)
    assert errors[1] > errors[10] > abs(errors[5000])
    assert abs(errors[5000]) < 0.02  # K = 5000: log p(x) to within 0.02 nats


def test_iwae_is_exact_when_q_is_the_posterior():
    # orthogonal columns in W: the posterior is diagonal, so q can equal it exactly
    W = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    lg = LinearGaussian(W, torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64), 0.5)
    x = lg.sample(5, generator=1)[1]
    mean, cov = lg.posterior(x)
    assert torch.allclose(cov, torch.diag(torch.diagonal(cov)))
    logvar = torch.diagonal(cov).log().expand_as(mean)
    lw = importance_log_weights(x, mean, logvar, lg.log_likelihood, 50, generator=0)
    assert torch.allclose(lw, lg.log_marginal(x).expand_as(lw), atol=1e-10)


def test_iwae_validates(model, x_binary):
    with pytest.raises(ValueError, match="n_samples"):
        iwae_bound(model, x_binary, 0)
    with pytest.raises(ValueError, match="mu and logvar"):
        iwae_bound(model, x_binary, 2, mu=torch.zeros(30, 2))
    with pytest.raises(ValueError, match="mu and logvar"):
        iwae_bound(lambda x, z: z.sum(-1), x_binary, 2)
    with pytest.raises(TypeError, match="model"):
        iwae_bound(3, x_binary, 2)
    with pytest.raises(ValueError, match="chunk_size"):
        iwae_bound(model, x_binary, 2, chunk_size=0)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_elbo_without_the_input_scan_is_the_same_elbo(likelihood, x_binary):
    """elbo(check_input=False), the training loop's call: same draws, same numbers."""
    m = VAE(input_dim=12, hidden=(16,), latent_dim=2, likelihood=likelihood, seed=0)
    checked = elbo(m, x_binary, beta=0.5, generator=3)
    core = elbo(m, x_binary, 0.5, torch.Generator().manual_seed(3), check_input=False)
    for name in ("recon", "kl", "elbo", "loss", "z", "decoded"):
        assert torch.equal(getattr(checked, name), getattr(core, name)), name
    mu, logvar = m.encode(x_binary)
    assert torch.equal(core.z, reparameterize(mu, logvar, generator=3))
    assert torch.equal(core.loss, beta_elbo_loss(core.recon, core.kl, 0.5))
    assert torch.equal(core.kl, kl_normal_std(mu, logvar))


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_the_models_log_likelihood_is_the_public_formula(likelihood, x_binary):
    m = VAE(input_dim=12, hidden=(16,), latent_dim=2, likelihood=likelihood, obs_std=0.3, seed=0)
    z = m.encode(x_binary)[0]
    recon, decoded = m.log_likelihood(x_binary, z)
    assert torch.equal(decoded, m.decode(z))
    if likelihood == "bernoulli":
        assert torch.equal(recon, bernoulli_log_likelihood(x_binary, decoded))
    else:
        assert torch.equal(recon, gaussian_log_likelihood(x_binary, decoded, 0.3))
