"""Tests of course_vae.gradients: the reparameterised and score-function estimators."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.gradients import (
    ESTIMATORS,
    estimator_variance_curve,
    gradient_estimates,
    reparam_gradient_samples,
    score_gradient_samples,
)

square = lambda z: z**2


@settings(max_examples=20, deadline=None)
@given(mu=st.floats(-3.0, 3.0), sigma=st.floats(0.1, 2.0))
def test_reparam_samples_are_the_derivative_at_the_sampled_points(mu, sigma):
    # same seed -> same eps; f'(z) = 2 z with z = mu + sigma eps
    g = reparam_gradient_samples(square, mu, sigma, 50, generator=3)
    eps = torch.randn(50, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(g, 2 * (mu + sigma * eps))


@settings(max_examples=20, deadline=None)
@given(mu=st.floats(-3.0, 3.0), sigma=st.floats(0.1, 2.0))
def test_score_samples_are_f_times_the_score(mu, sigma):
    g = score_gradient_samples(square, mu, sigma, 50, generator=4)
    eps = torch.randn(50, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    z = mu + sigma * eps
    # the score d/dmu log N(z; mu, sigma^2) by autograd, one sample at a time
    per = []
    for zi in z:
        m = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
        (d,) = torch.autograd.grad(torch.distributions.Normal(m, sigma).log_prob(zi), m)
        per.append(d)
    per = torch.stack(per)
    torch.testing.assert_close(g, z**2 * per)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("mu, sigma", [(2.0, 0.5), (-1.0, 1.5)])
def test_both_are_unbiased_for_a_known_gradient(name, mu, sigma):
    # d/dmu E[sin z] = E[cos z] = cos(mu) exp(-sigma^2 / 2)
    g = ESTIMATORS[name](torch.sin, mu, sigma, 400_000, generator=0)
    true = math.cos(mu) * math.exp(-(sigma**2) / 2)
    se = g.std().item() / math.sqrt(len(g))
    assert abs(g.mean().item() - true) < 4 * se


def test_reparam_variance_is_much_smaller_on_z_squared():
    r = reparam_gradient_samples(square, 2.0, 0.5, 100_000, generator=1).var().item()
    s = score_gradient_samples(square, 2.0, 0.5, 100_000, generator=2).var().item()
    assert r == pytest.approx(4 * 0.5**2, rel=0.03)  # Var[2 (mu + sigma eps)] = 4 sigma^2
    assert s == pytest.approx(2.0**4 / 0.25 + 18 * 4 + 15 * 0.25 - 16, rel=0.05)
    assert s > 50 * r


def test_gradient_estimates_average_groups_and_are_seeded():
    a = gradient_estimates("score function", square, 1.0, 1.0, 8, 30, generator=5)
    b = gradient_estimates("score function", square, 1.0, 1.0, 8, 30, generator=5)
    assert a.shape == (30,)
    torch.testing.assert_close(a, b)
    per = score_gradient_samples(square, 1.0, 1.0, 240, generator=5)
    torch.testing.assert_close(a, per.reshape(30, 8).mean(1))


def test_variance_curve_falls_like_one_over_s():
    curve = estimator_variance_curve(square, 2.0, 0.5, sample_counts=(1, 16, 256), n_repeats=400)
    assert curve["sample_counts"] == [1, 16, 256]
    for name in ESTIMATORS:
        var = curve[name]["var"]
        assert var[0] / var[2] == pytest.approx(256, rel=0.35)
        for v, se in zip(var, curve[name]["stderr"], strict=True):
            assert se == pytest.approx(math.sqrt(v / 400))


def test_extreme_values_stay_finite():
    g = reparam_gradient_samples(square, 1e6, 1e-6, 10)
    assert torch.isfinite(g).all()
    g = score_gradient_samples(square, 0.0, 1e3, 10)
    assert torch.isfinite(g).all()


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"mu": float("nan")}, "mu"),
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": -1.0}, "sigma"),
        ({"n_samples": 0}, "n_samples"),
    ],
)
def test_bad_arguments_are_named(kwargs, word):
    args = {"f": square, "mu": 0.0, "sigma": 1.0, "n_samples": 4} | kwargs
    for fn in (reparam_gradient_samples, score_gradient_samples):
        with pytest.raises(ValueError, match=word):
            fn(**args)


def test_bad_f_and_estimator_names():
    with pytest.raises(TypeError, match="f must"):
        score_gradient_samples(3.0, 0.0, 1.0, 4)
    with pytest.raises(ValueError, match="f must"):
        score_gradient_samples(lambda z: z.sum(), 0.0, 1.0, 4)
    with pytest.raises(ValueError, match="estimator"):
        gradient_estimates("pathwise", square, 0.0, 1.0, 2, 2)
    with pytest.raises(ValueError, match="n_repeats"):
        estimator_variance_curve(square, 0.0, 1.0, n_repeats=1)
    with pytest.raises(ValueError, match="sample_counts"):
        estimator_variance_curve(square, 0.0, 1.0, sample_counts=())


@pytest.mark.parametrize("mu, sigma", [(2.0, 0.5), (1.0, 1.0)])
def test_score_baseline_keeps_the_mean_and_cuts_the_variance_to_its_closed_form(mu, sigma):
    # f = z^2: Var = mu^4/sigma^2 + 14 mu^2 + 15 sigma^2 (b = 0), 8 mu^2 + 10 sigma^2 (b = E f)
    n = 400_000
    plain = score_gradient_samples(square, mu, sigma, n, generator=7)
    based = score_gradient_samples(square, mu, sigma, n, generator=7, baseline=mu**2 + sigma**2)
    v0 = mu**4 / sigma**2 + 14 * mu**2 + 15 * sigma**2
    v1 = 8 * mu**2 + 10 * sigma**2
    for g, v in ((plain, v0), (based, v1)):
        assert abs(g.mean().item() - 2 * mu) < 4 * math.sqrt(v / n)
        assert abs(g.var().item() - v) < 0.05 * v
    # same draws: the difference is exactly -b * eps / sigma
    eps = torch.randn(n, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    torch.testing.assert_close(plain - based, (mu**2 + sigma**2) * eps / sigma)


def test_score_baseline_is_checked():
    with pytest.raises((TypeError, ValueError)):
        score_gradient_samples(square, 0.0, 1.0, 4, baseline=float("nan"))


def test_exact_sample_variance_known_answers():
    from course_vae.gradients import exact_sample_variance

    mu, sigma = 2.0, 0.5
    v_r = exact_sample_variance("reparameterisation", square, mu, sigma)
    assert abs(v_r - 4 * sigma**2) < 1e-10
    assert abs(exact_sample_variance("score function", square, mu, sigma) - 123.75) < 1e-9
    b = mu**2 + sigma**2
    v1 = exact_sample_variance("score function", square, mu, sigma, baseline=b)
    assert abs(v1 - (8 * mu**2 + 10 * sigma**2)) < 1e-9           # 34.5
    # the best constant baseline, b = mu^2 + 3 sigma^2, does a little better still
    best = mu**2 + 3 * sigma**2
    assert exact_sample_variance("score function", square, mu, sigma, baseline=best) < v1
    # a smooth non-polynomial f against a large Monte Carlo sample
    g = score_gradient_samples(torch.sin, 0.5, 1.0, 400_000, generator=3)
    v = exact_sample_variance("score function", torch.sin, 0.5, 1.0)
    assert abs(g.var().item() - v) < 0.02 * v
