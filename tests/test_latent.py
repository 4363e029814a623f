"""Tests of course_vae.latent: latent grids, the prior density, the KL cost of a point."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.explorer_state import latent_point_state
from course_vae.latent import encoding_kl, latent_grid, prior_log_density
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


# --------------------------------------------------------------------------- where the codes are

from course_vae.diagnostics import aggregate_log_density  # noqa: E402
from course_vae.latent import (  # noqa: E402
    elbo_surgery,
    moment_matched_gaussian,
    placement_kl,
    sample_fitted_gaussian,
    sample_fitted_mixture,
)


def _closed_kl(m, var):
    return 0.5 * float((var + m**2 - 1 - torch.log(var)).sum())


def test_identical_posteriors_carry_no_information():
    # all N posteriors equal N(m, diag v): q(z) is that Gaussian, I = 0, KL(q || p) closed form
    m, v = torch.tensor([0.5, -1.0]), torch.tensor([0.3, 2.0])
    mu, logvar = m.repeat(50, 1), torch.log(v).repeat(50, 1)
    s = elbo_surgery(mu, logvar, n_samples=20, generator=0)
    exact = _closed_kl(m.double(), v.double())
    assert s.mean_kl == pytest.approx(exact, abs=1e-6)
    assert s.placement_kl == pytest.approx(exact, abs=1e-6)  # q is its own Gaussian fit
    # Monte Carlo terms (the entropy term is closed form, log q(z) sampled): within 5 SE
    assert abs(s.mutual_info) < 5 * s.stderr and abs(s.aggregate_kl - exact) < 5 * s.stderr
    assert abs(s.shape_kl) < 5 * s.stderr + 0.01


def test_separated_needles_reach_the_log_n_ceiling():
    # N needles far apart: I(n; z) = log N exactly, and the identity mean KL = I + KL(q || p)
    n = 8
    mu = torch.tensor([[4.0 * i - 14.0, 0.0] for i in range(n)])
    logvar = torch.full((n, 2), math.log(1e-4))
    s = elbo_surgery(mu, logvar, n_samples=50, generator=0)
    assert s.log_n == pytest.approx(math.log(n))
    assert s.mutual_info == pytest.approx(math.log(n), abs=5 * s.stderr)
    assert s.mean_kl == pytest.approx(s.mutual_info + s.aggregate_kl, abs=5 * s.stderr + 0.02)
    # shape: KL(q || q_G) = -H(q) - E_q log q_G, H(q) = log N + sum_n H(q(z|x_n)) / N here
    m, cov = moment_matched_gaussian(mu, logvar)
    h_q = math.log(n) + 0.5 * float((math.log(2 * math.pi) + 1 + logvar[0].double()).sum())
    # E (z - m) S^-1 (z - m) = d = 2
    e_log_qg = -0.5 * (2 * math.log(2 * math.pi) + float(torch.logdet(cov)) + 2)
    assert s.shape_kl == pytest.approx(-h_q - e_log_qg, abs=5 * s.stderr + 0.02)


def test_moment_matching_and_placement():
    mu = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 2.0], [-1.0, 2.0]])
    logvar = torch.log(torch.full((4, 2), 0.25))
    m, cov = moment_matched_gaussian(mu, logvar)
    torch.testing.assert_close(m, torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(cov, torch.diag(torch.tensor([1.25, 1.25], dtype=torch.float64)))
    expected = 0.5 * (2.5 + 1.0 - 2 - 2 * math.log(1.25))
    assert placement_kl(mu, logvar) == pytest.approx(expected, abs=1e-7)  # float32 inputs
    # codes on the prior's moments: zero, whatever the widths
    z = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]) * math.sqrt(1 - 1e-2)
    assert placement_kl(z, torch.full((4, 2), math.log(1e-2))) == pytest.approx(0.0, abs=1e-9)


def test_aggregate_log_density_of_one_component_is_its_gaussian():
    z = torch.randn(30, 3, generator=torch.Generator().manual_seed(0))
    mu, logvar = torch.tensor([[0.5, 0.0, -1.0]]), torch.tensor([[0.0, 0.5, -0.5]])
    normal = torch.distributions.Normal(mu.double(), torch.exp(0.5 * logvar.double()))
    ref = normal.log_prob(z.double()).sum(-1)
    torch.testing.assert_close(aggregate_log_density(z, mu, logvar), ref)
    two = aggregate_log_density(z, mu.repeat(2, 1), logvar.repeat(2, 1))  # the same mixture
    torch.testing.assert_close(two, ref)


def test_fitted_samplers_follow_their_codes():
    g = torch.Generator().manual_seed(0)
    codes = torch.cat([torch.randn(500, 2, generator=g) * 0.1 + 5,
                       torch.randn(500, 2, generator=g) * 0.1 - 5])
    zg = sample_fitted_gaussian(codes, 4000, generator=1)
    assert zg.mean(0).abs().max() < 0.3 and (zg.std(0) - codes.std(0)).abs().max() < 0.3
    zm = sample_fitted_mixture(codes, 400, n_components=2, seed=0)
    assert ((zm.abs() - 5).abs() < 1).all()  # every draw near one of the two clumps
    assert 100 < (zm[:, 0] > 0).sum() < 300   # both clumps, in random order
    assert (zm[:200, 0] > 0).any() and (zm[:200, 0] < 0).any()


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: elbo_surgery(torch.zeros(3, 2), torch.zeros(3, 3)), "shape"),
        (lambda: aggregate_log_density(torch.zeros(4, 3), torch.zeros(2, 2), torch.zeros(2, 2)),
         "coordinates"),
        (lambda: sample_fitted_gaussian(torch.zeros(1, 2), 5), "N >= 2"),
    ],
)
def test_bad_code_arguments_are_named(call, word):
    with pytest.raises(ValueError, match=word):
        call()


# ---------------------------------------------------------------- chapter 03 (issue 20) additions
from course_vae.latent import hole_rates, prior_null_codes  # noqa: E402


def test_prior_null_codes_have_the_prior_as_population():
    mu, logvar = prior_null_codes(200_000, [0.5, 0.1, 0.9], generator=0)
    total_var = mu.var(0) + logvar.exp()[0]
    assert torch.allclose(total_var, torch.ones(3, dtype=torch.float64), atol=0.01)
    assert mu.mean(0).abs().max() < 0.01
    mu1, lv1 = prior_null_codes(10, 0.3, latent_dim=4, generator=1)
    assert mu1.shape == lv1.shape == (10, 4)
    assert torch.allclose(lv1, torch.full((10, 4), math.log(0.09), dtype=torch.float64))
    with pytest.raises(ValueError):
        prior_null_codes(10, 1.2, latent_dim=2)
    with pytest.raises(ValueError):
        prior_null_codes(10, 0.3)


def test_hole_rates_known_answer_for_one_narrow_posterior():
    # q(z) = N(0, s^2 I) in 2-D: q < p iff |z|^2 > r^2 = 2 d log(1/s) / (1/s^2 - 1); for z ~ p,
    # P(|z|^2 > r^2) = exp(-r^2 / 2) (chi-square with 2 degrees of freedom)
    s, d = 0.5, 2
    z = torch.randn(200_000, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rates = hole_rates(z, torch.zeros(1, d), torch.full((1, d), 2 * math.log(s)))
    r2 = 2 * d * math.log(1 / s) / (1 / s**2 - 1)
    r2_deep = 2 * (d * math.log(1 / s) + math.log(10)) / (1 / s**2 - 1)
    assert abs(rates.hole - math.exp(-r2 / 2)) < 0.005
    assert abs(rates.deep - math.exp(-r2_deep / 2)) < 0.005


def test_surgery_known_cases():
    # identical posteriors: I(n; z) = 0; far-apart needles: I(n; z) = log N
    n, d = 40, 2
    same = elbo_surgery(torch.full((n, d), 0.3), torch.full((n, d), -0.5), n_samples=20)
    assert abs(same.mutual_info) < 4 * same.stderr + 1e-9
    far_mu = 50.0 * torch.randn(n, d, generator=torch.Generator().manual_seed(0))
    far = elbo_surgery(far_mu, torch.full((n, d), -8.0), n_samples=5)
    assert abs(far.mutual_info - math.log(n)) < 4 * far.stderr + 1e-6
    # the prior null: place and scale near 0
    mu, lv = prior_null_codes(2000, 0.5, latent_dim=d, generator=3)
    assert elbo_surgery(mu, lv, n_samples=2).placement_kl < 0.01


def test_surgery_with_sampled_entropy_stays_below_log_n_and_matches_the_closed_one():
    g = torch.Generator().manual_seed(5)
    n, d = 100, 3
    needles = (torch.randn(n, d, generator=g), torch.full((n, d), 2 * math.log(0.005)))
    s = elbo_surgery(*needles, n_samples=10, entropy="sampled")
    assert s.mutual_info <= s.log_n + 1e-9
    assert abs(s.mean_kl - (s.mutual_info + s.placement_kl + s.shape_kl)) < 1e-9
    wide = (torch.randn(n, d, generator=g), torch.full((n, d), -1.0))
    a = elbo_surgery(*wide, n_samples=30, entropy="sampled", generator=1)
    b = elbo_surgery(*wide, n_samples=30, generator=2)
    assert abs(a.mutual_info - b.mutual_info) < 4 * math.hypot(a.stderr, b.stderr)
    assert abs(a.shape_kl - b.shape_kl) < 4 * math.hypot(a.stderr, b.stderr) + 0.02
    with pytest.raises(ValueError):
        elbo_surgery(*wide, entropy="exact")


from course_vae.latent import matched_null_codes  # noqa: E402


def test_prior_null_codes_take_each_codes_own_widths():
    sig = torch.tensor([[0.1, 0.5], [0.9, 0.2]], dtype=torch.float64).repeat(50_000, 1)
    mu, logvar = prior_null_codes(len(sig), sig, generator=0)
    assert torch.allclose(logvar, torch.log(sig**2))
    for rows in (slice(0, None, 2), slice(1, None, 2)):  # each kind of code: mean var 1 - sigma^2
        assert torch.allclose(mu[rows].var(0), 1 - sig[rows][0] ** 2, atol=0.02)
    with pytest.raises(ValueError):
        prior_null_codes(3, sig)  # rows must match n


def test_matched_null_codes_keep_widths_and_match_mean_and_covariance():
    g = torch.Generator().manual_seed(0)
    a = torch.tensor([[2.0, 0.0], [1.0, 0.5]], dtype=torch.float64)
    shift = torch.tensor([3.0, -1.0], dtype=torch.float64)
    mu = torch.randn(50_000, 2, generator=g, dtype=torch.float64) @ a.T + shift
    logvar = torch.randn(50_000, 2, generator=g, dtype=torch.float64)
    new_mu, new_lv = matched_null_codes(mu, logvar, generator=1)
    assert torch.equal(new_lv, logvar) and not torch.allclose(new_mu, mu)
    assert torch.allclose(new_mu.mean(0), mu.mean(0), atol=0.05)
    assert torch.allclose(torch.cov(new_mu.T), torch.cov(mu.T), atol=0.1)
    # needles: surgery's shape is 1/2 log det C - mean 1/2 sum log sigma^2 - log N,
    # the same for the codes and for their matched null (arrangement does not enter)
    n = 300
    needles = (mu[:n], torch.full((n, 2), 2 * math.log(1e-4), dtype=torch.float64))
    cov = moment_matched_gaussian(*needles)[1]
    formula = (0.5 * torch.logdet(cov) - 2 * math.log(1e-4) - math.log(n)).item()
    for codes in (needles, matched_null_codes(*needles, generator=2)):
        s = elbo_surgery(*codes, n_samples=5, entropy="sampled")
        assert abs(s.mutual_info - s.log_n) < 1e-6
        assert abs(s.shape_kl - formula) < 0.1
    with pytest.raises(ValueError):
        matched_null_codes(mu[:2], logvar[:2])
