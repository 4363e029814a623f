"""Tests of course_vae.linear_gaussian: exact log p(x), posterior and closed-form ELBO."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import MultivariateNormal, kl_divergence

from course_vae.kl import kl_gaussian_full
from course_vae.linear_gaussian import LinearGaussian

F64 = torch.float64


def _random_q(lg: LinearGaussian, n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(n, lg.latent_dim, generator=g, dtype=F64)
    a = torch.randn(lg.latent_dim, lg.latent_dim, generator=g, dtype=F64)
    cov = a @ a.T + 0.1 * torch.eye(lg.latent_dim, dtype=F64)
    var = torch.rand(n, lg.latent_dim, generator=g, dtype=F64) + 0.05
    return m, cov, var


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.floats(0.1, 2.0), st.integers(0, 1000))
def test_log_marginal_matches_multivariate_normal(d, latent, s, seed):
    lg = LinearGaussian.random(d, latent, s, seed=seed)
    x = lg.sample(6, generator=seed)[1]
    ref = MultivariateNormal(lg.b, covariance_matrix=lg.W @ lg.W.T + s**2 * torch.eye(d, dtype=F64))
    assert torch.allclose(lg.log_marginal(x), ref.log_prob(x), rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.floats(0.1, 2.0), st.integers(0, 1000))
def test_posterior_is_bayes_rule(d, latent, s, seed):
    lg = LinearGaussian.random(d, latent, s, seed=seed)
    x = lg.sample(4, generator=seed)[1]
    mean, cov = lg.posterior(x)
    z = torch.randn(4, latent, generator=torch.Generator().manual_seed(seed + 1), dtype=F64)
    # log p(z|x) = log p(x, z) - log p(x)
    bayes = lg.log_joint(x, z) - lg.log_marginal(x)
    post = MultivariateNormal(mean, covariance_matrix=cov).log_prob(z)
    assert torch.allclose(post, bayes, rtol=1e-8, atol=1e-8)
    assert torch.allclose(torch.linalg.inv(cov), lg.posterior_precision(), rtol=1e-8, atol=1e-8)


def test_log_likelihood_and_prior_match_torch():
    lg = LinearGaussian.random(3, 2, 0.7, seed=1)
    z, x = lg.sample(5, generator=2)
    ref = torch.distributions.Normal(z @ lg.W.T + lg.b, 0.7).log_prob(x).sum(-1)
    assert torch.allclose(lg.log_likelihood(x, z), ref, rtol=1e-12)
    prior = MultivariateNormal(torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64)).log_prob(z)
    assert torch.allclose(lg.log_prior(z), prior, rtol=1e-12)
    # broadcasting: z of shape (k, n, L) against x of shape (n, D)
    zk = torch.stack([z, -z])
    assert lg.log_likelihood(x, zk).shape == (2, 5)


def test_elbo_equals_log_px_when_q_is_the_posterior():
    lg = LinearGaussian.random(4, 3, 0.5, seed=3)
    x = lg.sample(7, generator=0)[1]
    mean, cov = lg.posterior(x)
    assert torch.allclose(lg.elbo(x, mean, q_cov=cov), lg.log_marginal(x), rtol=0, atol=1e-10)
    assert torch.allclose(
        lg.posterior_kl(x, mean, q_cov=cov), torch.zeros(7, dtype=F64), atol=1e-10
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.floats(0.1, 2.0), st.integers(0, 1000))
def test_gap_is_the_kl_to_the_posterior(d, latent, s, seed):
    lg = LinearGaussian.random(d, latent, s, seed=seed)
    x = lg.sample(5, generator=seed)[1]
    m, cov, var = _random_q(lg, 5, seed)
    logpx = lg.log_marginal(x)
    for kw in ({"q_cov": cov}, {"q_var": var}):
        gap = logpx - lg.elbo(x, m, **kw)
        kl = lg.posterior_kl(x, m, **kw)
        assert (kl >= 0).all()
        assert torch.allclose(gap, kl, rtol=1e-8, atol=1e-8)


def test_diagonal_and_full_forms_agree_and_terms_add_up():
    lg = LinearGaussian.random(3, 3, 0.4, seed=4)
    x = lg.sample(5, generator=1)[1]
    m, _, var = _random_q(lg, 5, 1)
    diag = lg.elbo_terms(x, m, q_var=var)
    full = lg.elbo_terms(x, m, q_cov=torch.diag_embed(var))
    for key in ("recon", "kl", "elbo"):
        assert torch.allclose(diag[key], full[key], rtol=1e-12, atol=1e-12)
    assert torch.allclose(diag["elbo"], diag["recon"] - diag["kl"])


def test_closed_form_elbo_matches_monte_carlo():
    lg = LinearGaussian.random(3, 2, 0.6, seed=5)
    x = lg.sample(1, generator=3)[1][0]
    m = torch.tensor([0.3, -0.2], dtype=F64)
    cov = torch.tensor([[0.5, 0.2], [0.2, 0.3]], dtype=F64)
    q = MultivariateNormal(m, covariance_matrix=cov)
    z = q.sample((200_000,))
    w = lg.log_joint(x, z) - q.log_prob(z)
    exact = lg.elbo(x, m, q_cov=cov)
    assert abs(w.mean() - exact) < 5 * w.std() / math.sqrt(len(w))


def test_kl_gaussian_full_matches_torch():
    g = torch.Generator().manual_seed(0)
    for dim in (1, 2, 4):
        a = torch.randn(dim, dim, generator=g, dtype=F64)
        c = torch.randn(dim, dim, generator=g, dtype=F64)
        s1 = a @ a.T + 0.2 * torch.eye(dim, dtype=F64)
        s2 = c @ c.T + 0.3 * torch.eye(dim, dtype=F64)
        m1 = torch.randn(3, dim, generator=g, dtype=F64)
        m2 = torch.randn(dim, generator=g, dtype=F64)
        ref = kl_divergence(MultivariateNormal(m1, s1), MultivariateNormal(m2, s2))
        assert torch.allclose(kl_gaussian_full(m1, s1, m2, s2), ref, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="positive definite"):
        kl_gaussian_full(torch.zeros(2), -torch.eye(2), torch.zeros(2), torch.eye(2))
    with pytest.raises(ValueError, match="symmetric"):
        kl_gaussian_full(
            torch.zeros(2), torch.tensor([[1.0, 0.5], [0.0, 1.0]]), torch.zeros(2), torch.eye(2)
        )


def test_mean_field_posterior_is_the_best_diagonal_q():
    W = torch.tensor([[1.0, 1.0], [1.0, 0.8], [0.5, 0.6]], dtype=F64)
    lg = LinearGaussian(W, torch.zeros(3, dtype=F64), 0.5)
    x = lg.sample(3, generator=0)[1]
    mean, var = lg.mean_field_posterior(x)
    M = lg.posterior_precision()
    gap = lg.posterior_kl(x, mean, q_var=var.expand_as(mean))
    expected = 0.5 * (torch.log(torch.diagonal(M)).sum() - torch.logdet(M))
    assert torch.allclose(gap, expected.expand(3), rtol=1e-10)
    assert (gap > 0.1).all()  # a correlated posterior: a diagonal q cannot close the gap
    for scale in (0.8, 1.25):
        worse = lg.posterior_kl(x, mean, q_var=(scale * var).expand_as(mean))
        assert (worse > gap).all()
    shifted = lg.posterior_kl(x, mean + 0.1, q_var=var.expand_as(mean))
    assert (shifted > gap).all()


def test_validation():
    with pytest.raises(ValueError, match="W"):
        LinearGaussian(torch.zeros(3), torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="b"):
        LinearGaussian(torch.zeros(3, 2), torch.zeros(2), 1.0)
    with pytest.raises(ValueError, match="noise_std"):
        LinearGaussian(torch.zeros(3, 2), torch.zeros(3), 0.0)
    lg = LinearGaussian.random(3, 2, 0.5, seed=0)
    x = torch.zeros(3, dtype=F64)
    m = torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match="exactly one"):
        lg.elbo(x, m)
    with pytest.raises(ValueError, match="exactly one"):
        lg.elbo(x, m, q_var=torch.ones(2), q_cov=torch.eye(2))
    with pytest.raises(ValueError, match="q_var"):
        lg.elbo(x, m, q_var=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="positive definite"):
        lg.elbo(x, m, q_cov=torch.zeros(2, 2))
    with pytest.raises(ValueError, match="x must have shape"):
        lg.log_marginal(torch.zeros(4))
    with pytest.raises(ValueError, match="x contains NaN"):
        lg.log_marginal(torch.tensor([0.0, math.nan, 0.0]))
    assert "latent_dim=2" in repr(lg)


# ---------------------------------------------------------------- chapter 03 (issue 20) additions
from course_vae.linear_gaussian import importance_weight_min_eigenvalue, optimise_diagonal_q  # noqa: E402


def test_optimised_diagonal_q_reaches_the_closed_form_best_diagonal_q():
    lg = LinearGaussian.random(data_dim=3, latent_dim=2, noise_std=0.5, seed=4)
    x = lg.sample(6, generator=0)[1]
    m, v = lg.mean_field_posterior(x)
    zeros = torch.zeros(len(x), 2, dtype=torch.float64)
    mu, logvar = optimise_diagonal_q(lambda xx, z: lg.log_likelihood(xx, z), x, zeros, zeros,
                                     steps=1500, lr=0.03, n_samples=64, generator=1)
    best = lg.elbo(x, m, q_var=v)
    got = lg.elbo(x, mu, q_var=logvar.exp())
    assert (best - got).max() < 0.02 and (got <= best + 1e-12).all()
    assert (lg.elbo(x, zeros, q_var=torch.ones_like(zeros)) < got - 0.1).all()


@pytest.mark.parametrize("rho", [0.3, 0.49, 0.51, 0.8])
def test_weight_variance_is_infinite_exactly_when_the_correlation_exceeds_one_half(rho):
    M = torch.tensor([[2.0, rho * 2.0], [rho * 2.0, 2.0]], dtype=torch.float64)  # precision
    lam = importance_weight_min_eigenvalue(M, 1 / M.diagonal())
    assert (lam > 0) == (rho < 0.5)


# --------------------------------------------------------------------------- chapter 04: linear VAE

from course_vae import diagnostics  # noqa: E402
from course_vae.linear_vae import fit_linear_vae, gaussian_data, linear_vae_optimum  # noqa: E402


def test_linear_vae_optimum_closed_form():
    lam = torch.tensor([4.0, 1.0, 0.25])
    opt = linear_vae_optimum(lam, 0.5, beta=1.0)
    assert opt["collapsed"].tolist() == [False, False, True]
    assert torch.allclose(opt["w2"], torch.tensor([3.5, 0.5, 0.0], dtype=torch.float64))
    expected = 0.5 * torch.log(torch.tensor([8.0, 2.0, 1.0], dtype=torch.float64))
    assert torch.allclose(opt["kl"], expected)
    # beta doubles the noise: beta = 2 at noise 0.5 equals beta = 1 at noise 1
    a, b = linear_vae_optimum(lam, 0.5, 2.0), linear_vae_optimum(lam, 1.0, 1.0)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the closed form maximises the 1-D objective: a grid search over w agrees
    lam1, t = 3.0, 0.8
    w = torch.linspace(0, 3, 30001, dtype=torch.float64)
    c = w**2 + t
    f = -(lam1 / c + torch.log(c / t))
    assert float(w[f.argmax()] ** 2) == pytest.approx(lam1 - t, abs=1e-3)
    with pytest.raises(ValueError):
        linear_vae_optimum(torch.tensor([1.0, -1.0]), 0.5)


def test_trained_linear_vae_matches_the_closed_form():
    lam = torch.tensor([3.0, 1.0, 0.2])
    x = gaussian_data(lam, 1500, seed=1).double()
    x = x - x.mean(0)
    cov = x.T @ x / len(x)
    emp = torch.linalg.eigvalsh(cov).flip(0)
    assert torch.allclose(emp, lam.double(), rtol=0.15)
    fit = fit_linear_vae(cov, 3, 0.4 ** 0.5, beta=1.0, steps=1500)
    mu = x @ fit.V.T
    kl = diagnostics.kl_per_dimension(mu, fit.logvar.expand_as(mu)).sort(descending=True).values
    opt = linear_vae_optimum(emp, 0.4, 1.0)
    assert (opt["kl"] > 0).tolist() == [True, True, False]
    assert kl[2] < 0.02 and torch.allclose(kl, opt["kl"].sort(descending=True).values, atol=0.02)
    assert (fit.W ** 2).sum(0).sort().values[0] < 0.02  # the collapsed column is ~0


# ---------------------------------------------------------------- chapter 05: rotation gap
def test_rotation_gap_closed_form_and_symmetry():
    import math

    from course_vae.linear_vae import rotation_2d, rotation_gap

    gram = torch.diag(torch.tensor([4.0, 1.0], dtype=torch.float64))
    theta = torch.linspace(0, math.pi / 2, 91, dtype=torch.float64)
    gap = rotation_gap(gram, 1.0, rotation_2d(theta))
    assert gap[0].abs() < 1e-12 and gap[-1].abs() < 1e-12 and (gap[1:-1] > 0).all()
    # at 45 degrees: P11 = P22 = 1 + (4 + 1) / 2, det P = 5 * 2
    assert torch.isclose(gap[45], torch.tensor(0.5 * math.log(3.5**2 / 10.0), dtype=torch.float64))
    # equal variances: zero for every rotation
    equal = rotation_gap(2.5 * torch.eye(2, dtype=torch.float64), 1.0, rotation_2d(theta))
    assert equal.abs().max() < 1e-12
    # it is the KL of the best diagonal q to the posterior (LinearGaussian's mean-field gap)
    R = rotation_2d(torch.tensor(0.3, dtype=torch.float64))
    W = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = LinearGaussian(W @ R.T, torch.zeros(5, dtype=torch.float64), 0.7)
    x = torch.zeros(1, 5, dtype=torch.float64)
    mean, var = model.mean_field_posterior(x)
    kl = model.posterior_kl(x, mean, q_var=var)
    assert torch.isclose(kl[0], rotation_gap(W.T @ W, 0.7, R), atol=1e-10)
    with pytest.raises(ValueError, match="gram"):
        rotation_gap(torch.ones(3), 1.0, R)
    with pytest.raises(ValueError, match="rotation"):
        rotation_gap(gram, 1.0, torch.eye(3))


def test_axis_angle_and_trained_linear_vaes_land_on_the_zero_of_the_gap():
    import math

    from course_vae.linear_vae import axis_angle, fit_linear_vae, rotation_2d, rotation_gap

    U, _ = torch.linalg.qr(torch.randn(4, 2, generator=torch.Generator().manual_seed(1),
                                       dtype=torch.float64))
    rot = rotation_2d(torch.tensor(math.radians(20.0), dtype=torch.float64))
    assert abs(axis_angle(U @ rot, U) - 20.0) < 1e-9
    assert abs(axis_angle(U @ rot @ torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64), U)
               - 20.0) < 1e-9  # relabelling the axes changes nothing
    eye = torch.eye(4, dtype=torch.float64)
    cov = U @ torch.diag(torch.tensor([4.0, 1.0], dtype=torch.float64)) @ U.T + eye
    fit = fit_linear_vae(cov, 2, 1.0, steps=1500, lr=0.02, seed=0, U=U, record_every=100)
    assert fit.angles[-1] < 1.0  # aligned
    assert rotation_gap(fit.W.T @ fit.W, 1.0, torch.eye(2, dtype=torch.float64)) < 1e-4
    nll = 0.5 * (4 * math.log(2 * math.pi) + torch.logdet(cov).item() + 4)
    assert abs(fit.loss[-1].item() - nll) < 1e-3  # the exact likelihood is reached
    with pytest.raises(ValueError, match="cov"):
        fit_linear_vae(torch.ones(3), 2, 1.0)


# --- iwae_replicates (chapter 03, referee round 3) ---
from course_vae.linear_gaussian import iwae_replicates  # noqa: E402


def test_iwae_replicates_is_exact_for_the_exact_posterior_and_unbiased_at_k1():
    # orthogonal columns: the posterior precision I + W^T W / s^2 is diagonal, so a diagonal q can
    # equal the posterior, every weight is p(x) and every estimate is log p(x)
    lg = LinearGaussian(W=torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]), b=torch.zeros(3),
                        noise_std=0.5)
    x = torch.tensor([0.3, -1.0, 0.2], dtype=F64)
    m, cov = lg.posterior(x)
    r = iwae_replicates(lg, x, m, cov.diagonal(), (1, 10), n_repeats=5, generator=0)
    assert r.shape == (5, 2)
    assert torch.allclose(r, lg.log_marginal(x).expand(5, 2), atol=1e-10)
    # a wider q: IWAE_1 has mean ELBO(q) (closed form), IWAE_K rises with K and stays below log p(x)
    var = 2 * cov.diagonal()
    r = iwae_replicates(lg, x, m + 0.2, var, (1, 100), n_repeats=4000, generator=1)
    se = r[:, 0].std() / math.sqrt(4000)
    assert abs(r[:, 0].mean() - lg.elbo(x, m + 0.2, q_var=var)) < 4 * se
    se_k = r[:, 1].std() / math.sqrt(4000)
    assert r[:, 0].mean() < r[:, 1].mean() < lg.log_marginal(x) + 4 * se_k
    with pytest.raises(ValueError):
        iwae_replicates(lg, x, m, -var, (1,), n_repeats=2)
