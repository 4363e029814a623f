"""Property tests of the public maths at extreme but legal inputs: finite values, no NaN.

Each property draws inputs from the legal range (log-variances in [-30, 30], large means,
any optimiser step, arbitrary codes...) and asserts that the result is finite and obeys
what the maths promises (KL >= 0, IWAE_K >= ELBO on average...).  Inputs just outside
the legal range raise a ValueError or TypeError that names the argument.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from course_vae import diagnostics, disentanglement, elbo, gradients, latent, schedules
from course_vae.kl import kl_gaussian_full
from course_vae.linear_gaussian import LinearGaussian
from course_vae.models import VAE

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

logvars = st.floats(-30.0, 30.0, allow_nan=False)
means = st.floats(-1e4, 1e4, allow_nan=False)


def _pinned_vae(mu: list[float], logvar: list[float], likelihood: str = "bernoulli") -> VAE:
    """A tiny VAE whose encoder outputs exactly (mu, logvar) for every x (zero last weights)."""
    model = VAE(input_dim=3, hidden=(4,), latent_dim=len(mu), likelihood=likelihood, seed=0)
    last = model.encoder[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor(mu + logvar))
    return model


# --------------------------------------------------------------------------- elbo / iwae


@FAST
@given(
    mu=st.lists(means, min_size=2, max_size=2),
    logvar=st.lists(logvars, min_size=2, max_size=2),
    likelihood=st.sampled_from(["bernoulli", "gaussian"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_elbo_finite_at_extreme_posteriors(mu, logvar, likelihood, seed):
    model = _pinned_vae(mu, logvar, likelihood)
    x = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    terms = elbo.elbo(model, x, beta=0.5, generator=seed)
    for name in ("recon", "kl", "elbo", "loss"):
        value = getattr(terms, name)
        assert torch.isfinite(value).all(), (name, value)
    assert (terms.kl >= 0).all()
    # kl is the closed form 1/2 sum (mu^2 + e^logvar - logvar - 1), the same for both rows
    m, lv = torch.tensor(mu, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64)
    expected = 0.5 * (m**2 + lv.exp() - lv - 1).sum()
    assert torch.allclose(terms.kl.double(), expected.expand(2), rtol=1e-4, atol=1e-4)


@FAST
@given(
    mu=hnp.arrays(np.float64, (3, 2), elements=means),
    logvar=hnp.arrays(np.float64, (3, 2), elements=logvars),
    k=st.integers(1, 8),
)
def test_iwae_bound_and_log_weights_finite(mu, logvar, k):
    lg = LinearGaussian.random(data_dim=2, latent_dim=2, seed=1)
    x = torch.zeros(3, 2, dtype=torch.float64)
    log_w = elbo.importance_log_weights(x, mu, logvar, lg.log_likelihood, k, generator=0)
    assert log_w.shape == (k, 3)
    assert torch.isfinite(log_w).all()
    bound = elbo.iwae_bound(lg.log_likelihood, x, k, mu=mu, logvar=logvar, generator=0)
    assert torch.isfinite(bound).all()
    # the streaming bound and the stored weights agree (same seed, same draws)
    assert torch.allclose(bound, elbo.iwae_from_log_weights(log_w), rtol=1e-9, atol=1e-6)
    # log-mean-exp >= mean (Jensen): IWAE_K is at least the average one-sample ELBO estimate
    assert (bound >= log_w.mean(0) - 1e-6 * log_w.abs().max(0).values - 1e-9).all()


@FAST
@given(
    mu=st.lists(means, min_size=2, max_size=2),
    logvar=st.lists(st.floats(-30.0, 10.0), min_size=2, max_size=2),
    k=st.integers(1, 16),
)
def test_iwae_bound_of_a_vae_finite(mu, logvar, k):
    model = _pinned_vae(mu, logvar)
    x = torch.tensor([[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    bound = elbo.iwae_bound(model, x, k, chunk_size=3)
    assert bound.shape == (2,)
    assert torch.isfinite(bound).all()


@FAST
@given(
    log_w=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 4)),
        elements=st.floats(-1e300, 1e300),
    )
)
def test_iwae_from_log_weights_never_overflows(log_w):
    out = elbo.iwae_from_log_weights(torch.from_numpy(log_w))
    assert torch.isfinite(out).all()
    # log mean exp lies between the mean and the maximum of the log-weights
    t = torch.from_numpy(log_w)
    assert (out <= t.max(0).values + 1e-9 * t.abs().max(0).values + 1e-12).all()


def test_iwae_from_log_weights_rejects_bad_input():
    with pytest.raises(ValueError, match="log_w"):
        elbo.iwae_from_log_weights(torch.tensor(0.0))
    with pytest.raises(ValueError, match="log_w"):
        elbo.iwae_from_log_weights(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="log_w"):
        elbo.iwae_from_log_weights(torch.tensor([[0.0], [math.nan]]))
    # -inf is a legal log-weight (a weight of zero)
    out = elbo.iwae_from_log_weights(torch.tensor([[0.0], [-math.inf]]))
    assert math.isclose(float(out), math.log(0.5), rel_tol=1e-6)


# --------------------------------------------------------------------------- diagnostics


@FAST
@given(
    mu=hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 3)), elements=means),
    data=st.data(),
)
def test_diagnostics_finite_at_extreme_posteriors(mu, data):
    logvar = data.draw(hnp.arrays(np.float64, mu.shape, elements=logvars))
    n = mu.shape[0]
    kl_d = diagnostics.kl_per_dimension(mu, logvar)
    assert torch.isfinite(kl_d).all() and (kl_d >= 0).all()
    act = diagnostics.posterior_mean_variance(mu)
    assert torch.isfinite(act).all() and (act >= 0).all()
    mi = diagnostics.mutual_information(mu, logvar, n_samples=2)
    agg = diagnostics.aggregate_kl(mu, logvar, n_samples=2)
    for est in (mi, agg):
        assert math.isfinite(est.value) and math.isfinite(est.stderr)
    # 0 <= I(x; z) <= log N up to the Monte Carlo noise of the mixture density
    assert -1e-6 - 5 * mi.stderr <= mi.value <= math.log(n) + 1e-6 + 5 * mi.stderr
    diag = diagnostics.latent_diagnostics(mu, logvar, n_samples=2)
    assert math.isfinite(diag.mean_kl)
    assert math.isclose(diag.mean_kl, float(kl_d.sum()), rel_tol=1e-12)
    assert 0 <= diag.n_active <= mu.shape[1]


@pytest.mark.parametrize(("centre", "logvar"), [(1e3, -30.0), (-1e4, 30.0), (50.0, -12.0)])
def test_mutual_information_of_identical_posteriors_is_shift_and_scale_free(centre, logvar):
    # all N posteriors equal: q(z) = q(z|x), and with the same noise eps every per-draw term
    # depends on eps only, so extreme (mu, logvar) must give the value at (0, 0)
    ref = diagnostics.mutual_information(torch.zeros(4, 2), torch.zeros(4, 2), n_samples=3)
    mu = torch.full((4, 2), centre, dtype=torch.float64)
    mi = diagnostics.mutual_information(mu, torch.full((4, 2), logvar), n_samples=3)
    assert math.isclose(mi.value, ref.value, abs_tol=1e-6)
    assert math.isclose(mi.stderr, ref.stderr, abs_tol=1e-6)


# --------------------------------------------------------------------------- disentanglement


codes_arrays = hnp.arrays(
    np.float64,
    st.tuples(st.integers(4, 40), st.integers(2, 4)),
    elements=st.floats(-1e300, 1e300, allow_nan=False),
)


@FAST
@given(codes=codes_arrays, data=st.data())
def test_mig_in_unit_interval_or_clear_error(codes, data):
    factors = data.draw(
        hnp.arrays(np.int64, (codes.shape[0], 2), elements=st.integers(0, 3))
    )
    try:
        result = disentanglement.mig_details(codes, factors)
    except ValueError as exc:  # only when every factor is constant
        assert "factors" in str(exc)
        assert all(len(np.unique(factors[:, k])) == 1 for k in range(2))
        return
    assert 0.0 <= result.score <= 1.0
    assert np.isfinite(result.mutual_info).all() and (result.mutual_info >= 0).all()
    assert np.isfinite(result.entropy).all()


@settings(max_examples=10, deadline=None)
@given(codes=codes_arrays, data=st.data())
def test_dci_in_unit_interval_or_clear_error(codes, data):
    factors = data.draw(hnp.arrays(np.int64, (codes.shape[0], 2), elements=st.integers(0, 2)))
    try:
        res = disentanglement.dci(codes, factors, n_estimators=2, min_samples_leaf=1)
    except ValueError as exc:  # too few non-constant factors
        assert "factors" in str(exc)
        return
    for v in (res.disentanglement, res.completeness, res.informativeness):
        assert math.isfinite(v) and 0.0 <= v <= 1.0
    assert np.isfinite(res.importance).all()


def test_dci_reads_codes_beyond_float32_range_like_scaled_codes():
    # the forests read float32; a power-of-two scale is exact, so the scores must not move
    rng = np.random.default_rng(0)
    z = rng.normal(size=(60, 3))
    v = rng.integers(0, 3, size=(60, 2))
    small = disentanglement.dci(z, v, min_samples_leaf=1)
    huge = disentanglement.dci(z * 2.0**900, v, min_samples_leaf=1)
    assert huge.disentanglement == small.disentanglement
    assert huge.completeness == small.completeness
    assert huge.informativeness == small.informativeness


@FAST
@given(r=hnp.arrays(np.float64, st.tuples(st.integers(2, 5), st.integers(2, 5)),
                    elements=st.floats(0.0, 1e300)))
def test_dci_from_importance_in_unit_interval(r):
    d, c, per_code, rho = disentanglement.dci_from_importance(r)
    assert 0.0 <= d <= 1.0 and 0.0 <= c <= 1.0
    assert np.isfinite(per_code).all() and np.isfinite(rho).all()


# --------------------------------------------------------------------------- schedules


steps = st.integers(0, 10**400)


@FAST
@given(
    step=steps,
    warmup=st.integers(1, 10**6),
    start=st.floats(0.0, 1e300),
    end=st.floats(0.0, 1e300),
)
def test_linear_annealing_any_step(step, warmup, start, end):
    beta = schedules.LinearAnnealing(warmup, start, end)(step)
    assert math.isfinite(beta) and beta >= 0
    # start + (end - start) * frac lies between start and end, up to floating-point rounding
    tol = 4 * 2.0**-52 * max(start, end)
    assert min(start, end) - tol <= beta <= max(start, end) + tol
    if step >= warmup:
        assert abs(beta - end) <= tol


@FAST
@given(
    step=steps,
    total=st.integers(1, 10**6),
    data=st.data(),
    ratio=st.floats(1e-300, 1.0, exclude_min=False),
    end=st.floats(0.0, 1e300),
)
def test_cyclical_annealing_any_step(step, total, data, ratio, end):
    n_cycles = data.draw(st.integers(1, min(total, 50)))
    beta = schedules.CyclicalAnnealing(total, n_cycles, ratio, 0.0, end)(step)
    assert math.isfinite(beta) and 0.0 <= beta <= end * (1 + 1e-12)


@FAST
@given(step=steps, n_steps=st.integers(1, 10**6), c_max=st.floats(0.0, 1e300))
def test_kl_capacity_any_step(step, n_steps, c_max):
    c = schedules.KLCapacity(c_max, n_steps).capacity(step)
    assert math.isfinite(c) and 0.0 <= c <= c_max * (1 + 1e-12)


@FAST
@given(value=st.one_of(st.integers(10**309, 10**400), st.floats(allow_nan=True).filter(
    lambda v: not (math.isfinite(v) and v >= 0))))
def test_schedules_reject_non_finite_or_negative_values(value):
    with pytest.raises(ValueError, match="end"):
        schedules.LinearAnnealing(10, end=value)


@FAST
@given(
    mu=hnp.arrays(np.float64, (3, 4), elements=means),
    logvar=hnp.arrays(np.float64, (3, 4), elements=logvars),
    floor=st.floats(0.0, 10.0),
)
def test_free_bits_finite_at_extreme_posteriors(mu, logvar, floor):
    kl = schedules.kl_per_dimension_batch(torch.from_numpy(mu), torch.from_numpy(logvar))
    assert kl.shape == (3, 4) and torch.isfinite(kl).all() and (kl >= 0).all()
    group = schedules.FreeBits(floor, group_size=2).group_kl(
        torch.from_numpy(mu), torch.from_numpy(logvar)
    )
    assert torch.allclose(group, kl.reshape(3, 2, 2).sum(-1).mean(0))


# --------------------------------------------------------------------------- gradients


@FAST
@given(
    mu=st.floats(-1e3, 1e3),
    sigma=st.floats(1e-6, 1e3),
    estimator=st.sampled_from(sorted(gradients.ESTIMATORS)),
)
def test_gradient_estimators_finite(mu, sigma, estimator):
    f = lambda z: torch.sin(z) + 0.5 * z**2  # noqa: E731
    g = gradients.gradient_estimates(estimator, f, mu, sigma, 8, 4, generator=0)
    assert g.shape == (4,) and torch.isfinite(g).all()
    if estimator == "reparameterisation":
        # f'(z) = cos z + z, with z = mu + sigma eps: each estimate is exactly that
        eps = torch.randn(32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        z = mu + sigma * eps
        assert torch.allclose(g, (torch.cos(z) + z).reshape(4, 8).mean(1))


@FAST
@given(
    mu=st.one_of(st.just(math.nan), st.just(math.inf), st.integers(10**309, 10**400)),
)
def test_gradient_estimators_reject_non_finite_mu(mu):
    with pytest.raises(ValueError, match="mu"):
        gradients.score_gradient_samples(lambda z: z, mu, 1.0, 4)


@FAST
@given(sigma=st.floats(allow_nan=True).filter(lambda s: not (math.isfinite(s) and s > 0)))
def test_gradient_estimators_reject_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma"):
        gradients.reparam_gradient_samples(lambda z: z, 0.0, sigma, 4)


# ---------------------------------------------------------------- latent, linear-Gaussian


@FAST
@given(
    z=hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 3)), elements=means),
    log_sigma=st.floats(-15.0, 15.0),
)
def test_latent_costs_finite(z, log_sigma):
    kl = latent.encoding_kl(z, math.exp(log_sigma))
    assert torch.isfinite(kl).all() and (kl >= 0).all()
    lp = latent.prior_log_density(z)
    assert torch.isfinite(lp).all()


@FAST
@given(
    m=hnp.arrays(np.float64, (2,), elements=st.floats(-1e3, 1e3)),
    log_var=hnp.arrays(np.float64, (2,), elements=st.floats(-20.0, 20.0)),
)
def test_kl_gaussian_full_matches_diagonal_and_is_finite(m, log_var):
    cov = torch.diag(torch.from_numpy(np.exp(log_var)))
    kl = kl_gaussian_full(m, cov, np.zeros(2), torch.eye(2, dtype=torch.float64))
    assert torch.isfinite(kl) and kl >= 0
    expected = 0.5 * float((m**2 + np.exp(log_var) - log_var - 1).sum())
    assert math.isclose(float(kl), expected, rel_tol=1e-9, abs_tol=1e-9)
