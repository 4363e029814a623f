"""Tests of course_vae.diagnostics on cases with known answers and a brute-force check."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from course_vae import diagnostics
from course_vae.diagnostics import (
    Estimate,
    LatentDiagnostics,
    _mixture_terms,
    active_units,
    aggregate_kl,
    encode_dataset,
    kl_per_dimension,
    latent_diagnostics,
    model_diagnostics,
    mutual_information,
    posterior_mean_variance,
)
from course_vae.kl import kl_normal_std, kl_quadrature
from course_vae.models import VAE

F64 = torch.float64


def _ignore_x(n=1000, d=3):
    """An encoder that ignores x: every posterior is N(m, diag s^2)."""
    m = torch.tensor([0.3, -1.0, 0.0], dtype=F64)[:d]
    lv = torch.tensor([-0.5, 0.2, 0.0], dtype=F64)[:d]
    return m.expand(n, d).clone(), lv.expand(n, d).clone()


def _identity_like(n=500, d=2):
    """mu = x spread widely (a grid with spacing 1 on each axis), tiny variance."""
    x = torch.arange(n, dtype=F64)
    mu = torch.stack([x * (k + 1) for k in range(d)], dim=1)
    return mu, torch.full((n, d), -12.0, dtype=F64)


# --------------------------------------------------------------------------- per-dim KL


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (6, 4), elements=st.floats(-5, 5)),
    arrays(np.float64, (6, 4), elements=st.floats(-8, 8)),
)
def test_kl_per_dimension_matches_kl_normal_std(mu, logvar):
    mu, logvar = torch.from_numpy(mu), torch.from_numpy(logvar)
    per_dim = kl_per_dimension(mu, logvar)
    assert per_dim.shape == (4,)
    for d in range(4):
        ref = kl_normal_std(mu[:, d : d + 1], logvar[:, d : d + 1]).mean()
        torch.testing.assert_close(per_dim[d], ref)
    torch.testing.assert_close(per_dim.sum(), kl_normal_std(mu, logvar).mean())
    assert torch.all(per_dim >= 0)


def test_kl_per_dimension_extremes_stay_finite():
    mu = torch.tensor([[0.0, 1e3], [0.0, -1e3]], dtype=torch.float32)
    lv = torch.tensor([[-30.0, 30.0], [30.0, -30.0]], dtype=torch.float32)
    out = kl_per_dimension(mu, lv)
    assert torch.isfinite(out).all() and torch.all(out > 0)


# --------------------------------------------------------------------------- active units


def test_active_units_uses_the_variance_of_the_means_and_the_threshold():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 1, generator=g, dtype=F64)
    z = (z - z.mean()) / z.std(correction=0)
    mu = torch.cat([z * math.sqrt(0.005), z * math.sqrt(0.02), z * 0.0 + 3.0], dim=1)
    expected = torch.tensor([0.005, 0.02, 0.0], dtype=F64)
    torch.testing.assert_close(posterior_mean_variance(mu), expected)
    assert active_units(mu).tolist() == [False, True, False]
    assert active_units(mu, threshold=0.001).tolist() == [True, True, False]
    assert active_units(mu, threshold=0.05).tolist() == [False, False, False]
    np.testing.assert_allclose(posterior_mean_variance(mu).numpy(), np.var(mu.numpy(), axis=0))


# --------------------------------------------------------------------------- known answers


def test_encoder_that_ignores_x():
    mu, lv = _ignore_x()
    diag = latent_diagnostics(mu, lv, n_samples=4, generator=1)
    assert diag.n_active == 0
    mi = diag.mutual_info
    assert abs(mi.value) < 4 * mi.stderr
    single = kl_normal_std(mu[0], lv[0]).item()
    agg = diag.aggregate_kl
    assert abs(agg.value - single) < 4 * agg.stderr
    assert agg.stderr < 0.05 * single  # a precise enough check to mean something
    assert diag.mean_kl == pytest.approx(single, rel=1e-12)


def test_encoder_equal_to_the_prior_has_zero_aggregate_kl_exactly():
    mu, lv = torch.zeros(300, 3, dtype=F64), torch.zeros(300, 3, dtype=F64)
    agg = aggregate_kl(mu, lv, n_samples=2)
    assert agg.value == pytest.approx(0.0, abs=1e-12)
    assert agg.stderr == pytest.approx(0.0, abs=1e-12)


def test_identity_like_encoder_is_fully_active_and_mi_reaches_log_n():
    mu, lv = _identity_like(n=500, d=2)
    diag = latent_diagnostics(mu, lv, n_samples=8, generator=2)
    assert diag.n_active == 2
    mi = diag.mutual_info
    assert abs(mi.value - math.log(500)) < 4 * mi.stderr
    assert abs(mi.value - math.log(500)) < 0.05


def test_mixture_that_is_the_prior_has_aggregate_kl_near_zero():
    # q(z|x_n) = N(m_n, s^2) with m_n at the quantiles of N(0, 1 - s^2): the mixture is N(0, 1)
    # up to a discretisation error far below the Monte Carlo noise.
    # In 2-D the means form the product grid of the 1-D quantiles (a product of mixtures).
    k, s2 = 32, 0.5
    m = scipy.stats.norm.ppf((np.arange(k) + 0.5) / k) * math.sqrt(1 - s2)
    grid = np.stack(np.meshgrid(m, m, indexing="ij"), axis=-1).reshape(-1, 2)
    mu = torch.tensor(grid)
    lv = torch.full((k * k, 2), math.log(s2), dtype=F64)
    agg = aggregate_kl(mu, lv, n_samples=20, generator=3)
    assert abs(agg.value) < max(4 * agg.stderr, 1e-3)
    assert agg.stderr < 0.01
    # contrast: the same spread shifted by 1 on each axis has KL(q(z) || p) ~ 1/2 * 2 = 1
    shifted = aggregate_kl(mu + 1.0, lv, n_samples=20, generator=3)
    assert abs(shifted.value - 1.0) < 4 * shifted.stderr + 1e-3


# --------------------------------------------------------------------------- brute force


def _log_normal_1d(z, m, s2):
    return -0.5 * (math.log(2 * math.pi * s2) + (z - m) ** 2 / s2)


def test_tiny_case_against_quadrature():
    """1-D, three posteriors: I and KL(q(z) || p) by quadrature on a fine grid."""
    ms, s2s = [-1.0, 0.5, 2.0], [0.3, 1.0, 0.1]
    mu = torch.tensor(ms, dtype=F64)[:, None]
    lv = torch.log(torch.tensor(s2s, dtype=F64))[:, None]

    def log_mix(z):
        comps = torch.stack([_log_normal_1d(z, m, s2) for m, s2 in zip(ms, s2s, strict=True)])
        return torch.logsumexp(comps, 0) - math.log(3)

    def log_prior(z):
        return _log_normal_1d(z, 0.0, 1.0)

    agg_true = kl_quadrature(log_mix, log_prior).item()
    mi_true = np.mean(
        [
            kl_quadrature(lambda z, m=m, s2=s2: _log_normal_1d(z, m, s2), log_mix).item()
            for m, s2 in zip(ms, s2s, strict=True)
        ]
    )
    # ELBO surgery: the average KL is I + KL(q(z) || p), exactly
    avg_kl = kl_normal_std(mu, lv).mean().item()
    assert mi_true + agg_true == pytest.approx(avg_kl, rel=1e-6)
    assert 0 < mi_true < math.log(3)

    mi = mutual_information(mu, lv, n_samples=40_000, generator=4)
    agg = aggregate_kl(mu, lv, n_samples=40_000, generator=5)
    assert abs(mi.value - mi_true) < 4 * mi.stderr and mi.stderr < 0.01
    assert abs(agg.value - agg_true) < 4 * agg.stderr and agg.stderr < 0.01


def test_tiny_case_against_an_explicit_loop():
    """The mixture density used for each draw equals a plain double loop over torch Normals."""
    g = torch.Generator().manual_seed(6)
    mu = torch.randn(4, 2, generator=g, dtype=F64)
    lv = torch.randn(4, 2, generator=g, dtype=F64) * 0.5
    n_samples, seed = 3, 7
    eps = torch.randn((n_samples, 4, 2), generator=torch.Generator().manual_seed(seed), dtype=F64)
    z = (mu + torch.exp(0.5 * lv) * eps).reshape(-1, 2)
    normal, independent = torch.distributions.Normal, torch.distributions.Independent
    dists = [independent(normal(mu[i], torch.exp(0.5 * lv[i])), 1) for i in range(4)]
    prior = independent(normal(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64)), 1)
    mi_terms, agg_terms = [], []
    for k in range(z.shape[0]):
        own = dists[k % 4]
        log_qz = math.log(sum(math.exp(q.log_prob(z[k]).item()) for q in dists) / 4)
        mi_terms.append(-own.base_dist.entropy().sum().item() - log_qz)
        agg_terms.append(log_qz - prior.log_prob(z[k]).item())
    mi = mutual_information(mu, lv, n_samples=n_samples, generator=seed)
    agg = aggregate_kl(mu, lv, n_samples=n_samples, generator=seed)
    assert mi.value == pytest.approx(np.mean(mi_terms), rel=1e-10)
    assert mi.stderr == pytest.approx(np.std(mi_terms, ddof=1) / math.sqrt(12), rel=1e-8)
    assert agg.value == pytest.approx(np.mean(agg_terms), rel=1e-10)
    assert agg.stderr == pytest.approx(np.std(agg_terms, ddof=1) / math.sqrt(12), rel=1e-8)


def test_average_kl_splits_into_mi_plus_aggregate_kl():
    g = torch.Generator().manual_seed(8)
    mu = torch.randn(400, 4, generator=g, dtype=F64) * torch.tensor([1.5, 0.7, 0.1, 0.0], dtype=F64)
    lv = torch.randn(400, 4, generator=g, dtype=F64) * 0.2 - 1.0
    diag = latent_diagnostics(mu, lv, n_samples=50, generator=9)
    total = diag.mutual_info.value + diag.aggregate_kl.value
    se = math.hypot(diag.mutual_info.stderr, diag.aggregate_kl.stderr)
    assert abs(total - diag.mean_kl) < 4 * se
    assert diag.mutual_info.value > 0 and diag.aggregate_kl.value > 0


# --------------------------------------------------------------------------- mechanics


def test_seeding_and_chunking():
    g = torch.Generator().manual_seed(10)
    mu = torch.randn(37, 3, generator=g, dtype=F64)
    lv = torch.randn(37, 3, generator=g, dtype=F64)
    ref = mutual_information(mu, lv, n_samples=3, generator=11)
    for chunk in (1, 7, 200):
        got = mutual_information(mu, lv, n_samples=3, generator=11, chunk_size=chunk)
        assert got.value == pytest.approx(ref.value, rel=1e-12, abs=1e-12)
    assert mutual_information(mu, lv, n_samples=3, generator=12).value != ref.value
    gen = torch.Generator().manual_seed(11)
    assert mutual_information(mu, lv, n_samples=3, generator=gen).value == ref.value
    state = torch.get_rng_state()
    aggregate_kl(mu, lv, generator=0)
    assert torch.equal(state, torch.get_rng_state())  # the global random state is untouched


@pytest.mark.parametrize("scale, logvar", [(1.0, 0.0), (3.0, -6.0), (40.0, -12.0)])
def test_matmul_and_direct_mixture_densities_agree(scale, logvar):
    g = torch.Generator().manual_seed(15)
    mu = torch.randn(300, 4, generator=g, dtype=F64) * scale
    lv = torch.full((300, 4), logvar, dtype=F64) + torch.rand(300, 4, generator=g, dtype=F64)
    fast = _mixture_terms(mu, lv, 2, 16, None, method="matmul")
    slow = _mixture_terms(mu, lv, 2, 16, 13, method="direct")
    torch.testing.assert_close(fast["log_qz"], slow["log_qz"], rtol=0, atol=1e-6)
    auto = _mixture_terms(mu, lv, 2, 16, None)
    torch.testing.assert_close(auto["log_qz"], slow["log_qz"], rtol=0, atol=1e-6)


def test_latent_diagnostics_agrees_with_the_single_functions():
    g = torch.Generator().manual_seed(13)
    mu = torch.randn(60, 3, generator=g) * torch.tensor([1.0, 0.05, 0.0])
    lv = torch.randn(60, 3, generator=g) * 0.1
    diag = latent_diagnostics(mu, lv, threshold=0.01, n_samples=2, generator=14)
    assert isinstance(diag, LatentDiagnostics)
    assert diag.mutual_info == mutual_information(mu, lv, n_samples=2, generator=14)
    assert diag.aggregate_kl == aggregate_kl(mu, lv, n_samples=2, generator=14)
    assert isinstance(diag.mutual_info, Estimate)
    assert diag.active.tolist() == active_units(mu).tolist() == [True, False, False]
    torch.testing.assert_close(diag.kl_per_dim, kl_per_dimension(mu, lv))
    d = diag.as_dict()
    assert d["n_active"] == 1.0 and d["log_n"] == pytest.approx(math.log(60))
    assert all(isinstance(v, float) for v in d.values())
    text = str(diag)
    assert "active units          1 of 3" in text
    assert f"{diag.mutual_info.value:.4f}" in text and f"{diag.mean_kl:.4f}" in text


def test_extreme_posteriors_give_finite_values():
    mu = torch.tensor([[0.0, 50.0], [1.0, -50.0], [2.0, 0.0]], dtype=torch.float32)
    lv = torch.tensor([[-30.0, 10.0], [-30.0, -30.0], [10.0, 0.0]], dtype=torch.float32)
    diag = latent_diagnostics(mu, lv, n_samples=5)
    for v in diag.as_dict().values():
        assert math.isfinite(v)


# --------------------------------------------------------------------------- encoder


def test_encode_dataset_matches_the_encoder_without_grad_and_restores_mode():
    model = VAE(input_dim=8, hidden=(16,), latent_dim=3, seed=0)
    x = torch.bernoulli(torch.full((50, 8), 0.3), generator=torch.Generator().manual_seed(0))
    model.train()
    mu, lv = encode_dataset(model, x, batch_size=7)
    assert model.training
    assert not mu.requires_grad and not lv.requires_grad
    ref_mu, ref_lv = model.encode(x)
    torch.testing.assert_close(mu, ref_mu.detach())
    torch.testing.assert_close(lv, ref_lv.detach())
    diag = model_diagnostics(model, x, batch_size=16, n_samples=2, generator=0)
    assert diag.mean_kl == pytest.approx(kl_normal_std(ref_mu, ref_lv).mean().item(), rel=1e-5)
    ref = mutual_information(mu, lv, n_samples=2, generator=0)
    assert diag.mutual_info.value == pytest.approx(ref.value, rel=1e-5, abs=1e-6)


def test_encode_dataset_accepts_any_encoder():
    class Fixed:
        def encode(self, x):
            return x[:, :2], torch.zeros_like(x[:, :2])

    x = torch.randn(9, 4)
    mu, lv = encode_dataset(Fixed(), x, batch_size=4)
    torch.testing.assert_close(mu, x[:, :2])
    assert lv.shape == (9, 2)


# --------------------------------------------------------------------------- errors


def test_errors_name_the_argument():
    mu, lv = torch.zeros(5, 2), torch.zeros(5, 2)
    with pytest.raises(ValueError, match="logvar"):
        kl_per_dimension(mu, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="mu"):
        mutual_information(torch.zeros(5), torch.zeros(5))
    with pytest.raises(ValueError, match="mu"):
        aggregate_kl(torch.full((5, 2), math.nan), lv)
    with pytest.raises(ValueError, match="logvar"):
        latent_diagnostics(mu, torch.full((5, 2), math.inf))
    with pytest.raises(ValueError, match="n_samples"):
        mutual_information(mu, lv, n_samples=0)
    with pytest.raises(ValueError, match="chunk_size"):
        aggregate_kl(mu, lv, chunk_size=0)
    with pytest.raises(ValueError, match="threshold"):
        active_units(mu, threshold=-1.0)
    with pytest.raises(TypeError, match="threshold"):
        active_units(mu, threshold="0.01")
    with pytest.raises(TypeError, match="generator"):
        aggregate_kl(mu, lv, generator="seed")
    with pytest.raises(TypeError, match="model"):
        encode_dataset(object(), mu)
    with pytest.raises(TypeError, match="data"):
        encode_dataset(VAE(input_dim=2, latent_dim=1, seed=0), [[0.0, 1.0]])
    with pytest.raises(ValueError, match="batch_size"):
        encode_dataset(VAE(input_dim=2, latent_dim=1, seed=0), mu, batch_size=0)


def test_diagnostics_in_on_epoch_end_do_not_change_training():
    from course_vae.train import train

    x = torch.bernoulli(torch.full((40, 8), 0.4), generator=torch.Generator().manual_seed(1))
    records = []

    def hook(epoch, history):
        records.append(model_diagnostics(model, x, n_samples=2, generator=epoch).as_dict())

    model = VAE(input_dim=8, hidden=(16,), latent_dim=3, seed=0)
    with_hook = train(model, x, x, epochs=2, batch_size=20, progress=False, on_epoch_end=hook)
    assert model.training is False  # train leaves eval mode; encode_dataset restored the mode
    plain = train(VAE(input_dim=8, hidden=(16,), latent_dim=3, seed=0), x, x, epochs=2,
                  batch_size=20, progress=False)
    assert with_hook == plain
    assert len(records) == 2
    # the hook saw the model after each epoch: the last record is the final model's
    final = model_diagnostics(model, x, n_samples=2, generator=2).as_dict()
    assert records[1] == pytest.approx(final)


# --------------------------------------------------------------------------- nats in context

from course_vae.likelihood_bounds import (  # noqa: E402
    binarisation_entropy,
    independent_pixel_log_likelihood,
)


def test_independent_pixels_by_hand():
    train = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])  # p = (3/5, 1/5) with add-one
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = [math.log(0.6) + math.log(0.8), math.log(0.4) + math.log(0.2)]
    assert independent_pixel_log_likelihood(train, x).tolist() == pytest.approx(expected)
    ref = torch.distributions.Bernoulli(probs=torch.tensor([0.6, 0.2])).log_prob(x).sum(-1)
    assert independent_pixel_log_likelihood(train, x).tolist() == pytest.approx(ref.tolist())


def test_binarisation_entropy_is_the_coin_flips():
    g = torch.tensor([[0.5, 0.0, 1.0], [0.25, 0.75, 0.5]])
    h = lambda p: -(p * math.log(p) + (1 - p) * math.log(1 - p))
    expected = [math.log(2), 2 * h(0.25) + math.log(2)]
    assert binarisation_entropy(g).tolist() == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        binarisation_entropy(torch.tensor([[1.5]]))


# ---------------------------------------------------------------- chapter 03 (issue 20) additions
from course_vae.diagnostics import paired_mutual_information  # noqa: E402
from course_vae.elbo import iwae_by_k  # noqa: E402
from course_vae.likelihood_bounds import (  # noqa: E402
    binarised_mixture_log_likelihood,
    data_log_likelihood_ceiling,
)


def test_sampled_mutual_information_known_cases_and_ceiling():
    g = torch.Generator().manual_seed(0)
    n, d = 50, 3
    # identical posteriors: z says nothing about n, I = 0 exactly (every term is 0)
    same = paired_mutual_information(torch.zeros(n, d), torch.zeros(n, d), n_samples=5)
    assert abs(same.value) < 1e-9
    # needles far apart: z names n, I = log N
    far_mu = 100.0 * torch.randn(n, d, generator=g, dtype=torch.float64)
    far = paired_mutual_information(far_mu, torch.full((n, d), -10.0, dtype=torch.float64))
    assert abs(far.value - math.log(n)) < 1e-6
    # needles whose closed-form estimator overshoots log N: the sampled one never does
    mu = torch.randn(n, d, generator=g, dtype=torch.float64)
    logvar = torch.full((n, d), 2 * math.log(0.01), dtype=torch.float64)
    est = paired_mutual_information(mu, logvar, n_samples=20, generator=1)
    assert est.value <= math.log(n) + 1e-9
    # agrees with the closed-form-entropy estimator where both are well inside the ceiling
    mu2 = torch.randn(200, 2, generator=g, dtype=torch.float64)
    lv2 = torch.full((200, 2), -1.0, dtype=torch.float64)
    a = paired_mutual_information(mu2, lv2, n_samples=20, generator=2)
    b = mutual_information(mu2, lv2, n_samples=20, generator=3)
    assert abs(a.value - b.value) < 4 * math.hypot(a.stderr, b.stderr)


def test_binarised_mixture_known_cases():
    g = torch.Generator().manual_seed(0)
    grey = torch.rand(5, 16, generator=g, dtype=torch.float64)
    x = torch.bernoulli(grey, generator=g)
    # clip = 0.5: every pixel a fair coin
    half = binarised_mixture_log_likelihood(grey, x, clip=0.5)
    torch.testing.assert_close(half, torch.full((5,), 16 * math.log(0.5), dtype=torch.float64))
    # one centre: a product of Bernoullis
    one = binarised_mixture_log_likelihood(grey[:1], x)
    direct = (torch.xlogy(x, grey[:1]) + torch.xlogy(1 - x, 1 - grey[:1])).sum(1)
    torch.testing.assert_close(one, direct)
    # a pixel of probability 0 that is on: impossible under that kernel only
    c = torch.tensor([[0.0, 0.5], [0.5, 0.5]], dtype=torch.float64)
    v = binarised_mixture_log_likelihood(c, torch.tensor([[1.0, 1.0]]))
    assert abs(v.item() - (math.log(0.25) - math.log(2))) < 1e-9


def test_data_ceiling_lies_between_the_model_scores_and_the_binarisation_ceiling():
    g = torch.Generator().manual_seed(1)
    grey = torch.rand(40, 20, generator=g, dtype=torch.float64)
    ceiling = data_log_likelihood_ceiling(grey, n_samples=20_000, generator=2)
    cond = -binarisation_entropy(grey).mean().item()
    # -H(x) = -E H(x|g) - I(n; x) with 0 <= I <= log N
    assert cond - math.log(40) - 4 * ceiling.stderr < ceiling.value < cond + 4 * ceiling.stderr
    # the independent-pixel model (a valid model of x) scores no more than -H(x) on average
    x = torch.bernoulli(grey[torch.randint(40, (20_000,), generator=g)], generator=g)
    p = grey.mean(0)
    ind = (torch.xlogy(x, p) + torch.xlogy(1 - x, 1 - p)).sum(1).mean().item()
    assert ind < ceiling.value


# --------------------------------------------------------------------------- chapter 04 additions


def test_paired_mutual_information_is_zero_at_collapse_with_small_error():
    mu, logvar = torch.zeros(300, 8, dtype=torch.float64), torch.zeros(300, 8, dtype=torch.float64)
    est = diagnostics.paired_mutual_information(mu, logvar, 2, generator=3)
    assert est.value == pytest.approx(0.0, abs=1e-12) and est.stderr < 1e-12
    plain = diagnostics.mutual_information(mu, logvar, 2, generator=3)
    assert plain.stderr > 0.05  # the unpaired estimator's noise, sqrt(d / 2 / (S N))
    # near collapse: every estimate across generators within a few of its standard errors of 0
    g = torch.Generator().manual_seed(1234)  # not a seed of the draws below
    mu = 0.05 * torch.randn(300, 8, generator=g, dtype=torch.float64)
    vals = [diagnostics.paired_mutual_information(mu, logvar, 1, generator=s) for s in range(10)]
    spread = torch.tensor([v.value for v in vals]).std()
    assert spread < 3 * vals[0].stderr and spread < 0.01


def test_paired_mutual_information_known_answer_log_n():
    # well-separated needles: I = log N exactly
    n = 50
    mu = torch.arange(n, dtype=torch.float64)[:, None].repeat(1, 2) * 10
    logvar = torch.full((n, 2), -8.0, dtype=torch.float64)
    est = diagnostics.paired_mutual_information(mu, logvar, 4, generator=0)
    assert est.value == pytest.approx(math.log(n), abs=1e-6)
    # and agrees with the unpaired estimator on an intermediate case
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(400, 2, generator=g, dtype=torch.float64)
    logvar = torch.full((400, 2), -1.0, dtype=torch.float64)
    a = diagnostics.paired_mutual_information(mu, logvar, 20, generator=2)
    b = diagnostics.mutual_information(mu, logvar, 20, generator=5)
    assert abs(a.value - b.value) < 4 * math.hypot(a.stderr, b.stderr)


def test_iwae_by_k_groups_and_rises():
    g = torch.Generator().manual_seed(0)
    log_w = torch.randn(1000, 30, generator=g, dtype=torch.float64)
    out = iwae_by_k(log_w, (1, 10, 100, 1000))
    assert out[1] == pytest.approx(float(log_w.mean()))
    assert out[1000] == pytest.approx(float((torch.logsumexp(log_w, 0) - math.log(1000)).mean()))
    vals = [out[k] for k in (1, 10, 100, 1000)]
    assert vals == sorted(vals)
    # constant weights: every K gives the same value (the bound is tight)
    assert set(iwae_by_k(torch.full((10, 3), -2.0), (1, 5, 10)).values()) == {-2.0}
    with pytest.raises(ValueError, match="divide"):
        iwae_by_k(log_w, (3,))
    with pytest.raises(ValueError):
        iwae_by_k(torch.zeros(5), (1,))


def test_linear_probe_accuracy_known_answers():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(4, (800,), generator=g)
    signal = torch.nn.functional.one_hot(y, 4).double() * 3 + 0.3 * torch.randn(800, 4, generator=g)
    noise = torch.randn(800, 4, generator=g)
    assert diagnostics.linear_probe_accuracy(signal[:400], y[:400], signal[400:], y[400:]) > 0.97
    chance = diagnostics.linear_probe_accuracy(noise[:400], y[:400], noise[400:], y[400:])
    assert abs(chance - 0.25) < 0.08  # 400 test rows: sd of chance about 0.02
    with pytest.raises(ValueError):
        diagnostics.linear_probe_accuracy(signal[:10], y[:9], signal[10:20], y[10:20])


from course_vae.likelihood_bounds import grid_log_marginal  # noqa: E402
from course_vae.linear_gaussian import LinearGaussian  # noqa: E402


def test_grid_log_marginal_matches_the_exact_linear_gaussian_evidence():
    lg = LinearGaussian(W=torch.tensor([[1.0, 0.8], [0.9, 1.0], [0.2, -0.5]]),
                        b=torch.tensor([0.1, 0.0, -0.3]), noise_std=0.5)
    x = torch.tensor([[0.5, 1.0, -0.2], [2.0, 1.5, 0.0]], dtype=torch.float64)
    fn = lambda xb, z: lg.log_likelihood(xb[None], z[:, None])  # (grid points, images)
    exact = lg.log_marginal(x)
    assert torch.allclose(grid_log_marginal(fn, x, extent=6.0, step=0.02), exact, atol=1e-6)
    coarse = grid_log_marginal(fn, x, extent=6.0, step=0.05, chunk=999)
    assert torch.allclose(coarse, exact, atol=1e-4)
    with pytest.raises(ValueError):
        grid_log_marginal(lambda xb, z: torch.zeros(len(z)), x)
    with pytest.raises(ValueError):
        grid_log_marginal(fn, x, extent=1.0, step=2.0)
