"""Tests of course_vae.kl: reference agreement, properties, extremes, errors."""

from __future__ import annotations

import decimal
import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch.distributions import Categorical, Independent, Normal, kl_divergence

from course_vae.kl import (
    fit_gaussian_1d,
    kl_discrete,
    kl_monte_carlo,
    kl_normal,
    kl_normal_std,
    kl_normal_std_terms,
    kl_quadrature,
)

F64 = torch.float64


def _rand_probs(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return rng.dirichlet(np.ones(k), size=n)


# --------------------------------------------------------------------------- discrete


def test_kl_discrete_matches_scipy_and_torch():
    rng = np.random.default_rng(0)
    p, q = _rand_probs(rng, 50, 6), _rand_probs(rng, 50, 6)
    ours = kl_discrete(p, q).numpy()
    ref_scipy = scipy.special.rel_entr(p, q).sum(-1)
    ref_torch = kl_divergence(
        Categorical(probs=torch.tensor(p)), Categorical(probs=torch.tensor(q))
    )
    np.testing.assert_allclose(ours, ref_scipy, rtol=1e-6)
    np.testing.assert_allclose(ours, ref_torch.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours, scipy.stats.entropy(p.T, q.T), rtol=1e-6)


def test_kl_discrete_bits_are_nats_over_ln2():
    p, q = [0.5, 0.25, 0.25], [0.25, 0.25, 0.5]
    nats = kl_discrete(p, q).item()
    bits = kl_discrete(p, q, base=2).item()
    assert bits == pytest.approx(nats / math.log(2), rel=1e-12)
    # hand value: 0.5*log2(2) + 0 + 0.25*log2(0.5) = 0.25 bits
    assert bits == pytest.approx(0.25, rel=1e-12)


def test_kl_discrete_zero_conventions():
    # 0 log 0 = 0: outcomes with p = 0 cost nothing, even where q = 0
    assert kl_discrete([1.0, 0.0], [1.0, 0.0]).item() == 0.0
    assert kl_discrete([0.5, 0.5, 0.0], [0.25, 0.75, 0.0]).item() == pytest.approx(
        0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75)
    )
    # q = 0 < p: infinite
    assert math.isinf(kl_discrete([0.5, 0.5], [1.0, 0.0]).item())


def test_kl_discrete_is_asymmetric():
    p, q = [0.9, 0.1], [0.5, 0.5]
    assert abs(kl_discrete(p, q).item() - kl_discrete(q, p).item()) > 0.05


def test_kl_discrete_broadcasts_and_keeps_float32():
    p = torch.tensor([[0.2, 0.8], [0.5, 0.5]], dtype=torch.float32)
    q = torch.tensor([0.5, 0.5], dtype=torch.float32)
    out = kl_discrete(p, q)
    assert out.shape == (2,) and out.dtype == torch.float32
    assert out[1].item() == pytest.approx(0.0, abs=1e-7)


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, 5, elements=st.floats(1e-6, 1.0)),
    arrays(np.float64, 5, elements=st.floats(1e-6, 1.0)),
)
def test_kl_discrete_nonnegative_and_zero_iff_equal(a, b):
    p, q = a / a.sum(), b / b.sum()
    kl = kl_discrete(p, q).item()
    assert kl >= -1e-12
    assert kl_discrete(p, p).item() == pytest.approx(0.0, abs=1e-12)
    if np.abs(p - q).max() > 1e-3:
        assert kl > 0


@pytest.mark.parametrize(
    ("p", "q", "match"),
    [
        ([0.5, 0.6], [0.5, 0.5], "p must sum to 1"),
        ([0.5, 0.5], [0.2, 0.2], "q must sum to 1"),
        ([1.5, -0.5], [0.5, 0.5], "p has negative"),
        ([0.5, 0.5], [1.5, -0.5], "q has negative"),
        ([0.5, 0.5], [0.2, 0.3, 0.5], "same outcomes"),
        ([float("nan"), 1.0], [0.5, 0.5], "p contains NaN"),
    ],
)
def test_kl_discrete_errors_name_the_argument(p, q, match):
    with pytest.raises(ValueError, match=match):
        kl_discrete(p, q)


@pytest.mark.parametrize("base", [1, 0, -2, float("inf"), "2", True, 1.0, float("nan")])
def test_kl_discrete_rejects_bad_base(base):
    with pytest.raises(ValueError, match="base"):
        kl_discrete([0.5, 0.5], [0.5, 0.5], base=base)


def test_kl_discrete_accepts_numpy_bases():
    nats = kl_discrete([0.5, 0.5], [0.25, 0.75]).item()
    for base in (np.float32(2.0), np.float64(2.0), np.int64(2)):
        assert kl_discrete([0.5, 0.5], [0.25, 0.75], base=base).item() == pytest.approx(
            nats / math.log(2), rel=1e-12
        )


def test_kl_discrete_rejects_non_numeric():
    with pytest.raises(TypeError, match="p must"):
        kl_discrete("abc", [0.5, 0.5])
    with pytest.raises(TypeError, match="q must"):
        kl_discrete([0.5, 0.5], None)


# --------------------------------------------------------------------------- Gaussians


def test_kl_normal_std_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(64, 8, generator=g, dtype=F64) * 3
    logvar = torch.randn(64, 8, generator=g, dtype=F64) * 4
    q = Normal(mu, torch.exp(0.5 * logvar))
    ref = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)
    torch.testing.assert_close(kl_normal_std(mu, logvar), ref, rtol=1e-6, atol=0)


def test_kl_normal_std_matches_scipy_quadrature_1d():
    for m, lv in [(0.3, -1.2), (-2.0, 0.7), (1.0, 0.0)]:
        s = math.exp(0.5 * lv)
        x = np.linspace(m - 12 * s, m + 12 * s, 200_001)
        q = scipy.stats.norm.pdf(x, m, s)
        integrand = q * (scipy.stats.norm.logpdf(x, m, s) - scipy.stats.norm.logpdf(x))
        ref = np.trapezoid(integrand, x)
        assert kl_normal_std(torch.tensor([m]), torch.tensor([lv])).item() == pytest.approx(
            ref, rel=1e-6
        )


def test_kl_normal_std_terms_sum_to_total():
    mu = torch.tensor([[0.5, -1.0, 2.0]], dtype=F64)
    logvar = torch.tensor([[0.1, -2.0, 1.5]], dtype=F64)
    terms = kl_normal_std_terms(mu, logvar)
    assert set(terms) == {"mu^2", "sigma^2", "-log sigma^2", "-1"}
    total = sum(terms.values()).sum(-1)
    torch.testing.assert_close(total, kl_normal_std(mu, logvar), rtol=1e-12, atol=1e-12)


def test_kl_normal_std_zero_only_at_standard_normal():
    assert kl_normal_std(torch.zeros(5), torch.zeros(5)).item() == 0.0
    assert kl_normal_std(torch.tensor([1e-3]), torch.zeros(1)).item() > 0
    assert kl_normal_std(torch.zeros(1), torch.tensor([1e-3])).item() > 0


def _half_expm1_minus_x_exact(values: torch.Tensor) -> torch.Tensor:
    """(exp(l) - 1 - l) / 2 in 50-digit decimal arithmetic, rounded to float64."""
    decimal.getcontext().prec = 50
    out = []
    for v in values.tolist():
        d = decimal.Decimal(v)
        out.append(float((d.exp() - 1 - d) / 2))
    return torch.tensor(out, dtype=F64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kl_normal_std_accurate_over_logvar_range(dtype):
    """Against a 50-digit reference, including tiny logvar where exp(l) - 1 - l cancels."""
    lv = torch.cat(
        [
            torch.linspace(-30, 30, 601, dtype=F64),
            torch.logspace(-12, -1, 50, dtype=F64),
            -torch.logspace(-12, -1, 50, dtype=F64),
            torch.linspace(-0.2, 0.2, 81, dtype=F64),
            torch.linspace(0.124, 0.126, 21, dtype=F64),  # either side of the series' edge 1/8
            -torch.linspace(0.124, 0.126, 21, dtype=F64),
        ]
    ).to(dtype)
    out = kl_normal_std(torch.zeros_like(lv).unsqueeze(-1), lv.unsqueeze(-1))
    assert out.dtype == dtype and torch.isfinite(out).all()
    ref = _half_expm1_minus_x_exact(lv.to(F64))  # at the input as rounded to dtype
    rtol = 1e-5 if dtype == torch.float32 else 1e-13
    torch.testing.assert_close(out.to(F64), ref, rtol=rtol, atol=0)


def test_kl_normal_std_finite_at_extremes_with_finite_gradients():
    mu = torch.tensor([0.0, 0.0, 50.0, -50.0], requires_grad=True)
    logvar = torch.tensor([30.0, -30.0, 30.0, -30.0], requires_grad=True)
    out = kl_normal_std(mu, logvar)
    out.backward()
    assert torch.isfinite(out)
    assert torch.isfinite(mu.grad).all() and torch.isfinite(logvar.grad).all()
    # d/dmu = mu, d/dlogvar = (exp(logvar) - 1) / 2
    torch.testing.assert_close(mu.grad, mu.detach())
    torch.testing.assert_close(logvar.grad, 0.5 * torch.expm1(logvar.detach()))


def test_kl_normal_std_gradcheck():
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(3, 4, generator=g, dtype=F64, requires_grad=True)
    # include values inside the series region and outside it
    logvar = torch.tensor([[0.0, 0.05, -0.08, 1.0]] * 3, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(kl_normal_std, (mu, logvar))
    assert torch.autograd.gradgradcheck(kl_normal_std, (mu, logvar))


def test_kl_normal_std_gradcheck_across_the_series_edge():
    mu = torch.zeros(1, 6, dtype=F64, requires_grad=True)
    logvar = torch.tensor(
        [[0.125, -0.125, 0.125 + 1e-9, -0.125 - 1e-9, -3.0, 5.0]], dtype=F64, requires_grad=True
    )
    assert torch.autograd.gradcheck(kl_normal_std, (mu, logvar))
    assert torch.autograd.gradgradcheck(kl_normal_std, (mu, logvar))


def test_kl_normal_std_checks_cost_no_scan_but_still_name_a_bad_input():
    """The hot path looks at the (batch,) result only; a NaN/inf input is still named."""
    g = torch.Generator().manual_seed(3)
    for dtype in (torch.float32, F64):
        mu = torch.randn(16, 5, generator=g, dtype=dtype)
        logvar = torch.randn(16, 5, generator=g, dtype=dtype) * 3
        ref = 0.5 * (mu.double() ** 2 + logvar.double().exp() - logvar.double() - 1).sum(-1)
        assert torch.allclose(kl_normal_std(mu, logvar).double(), ref, rtol=1e-5)
        for bad in (math.nan, math.inf, -math.inf):
            m2, l2 = mu.clone(), logvar.clone()
            m2[3, 1] = bad
            with pytest.raises(ValueError, match="mu"):
                kl_normal_std(m2, logvar)
            l2[7, 4] = bad
            with pytest.raises(ValueError, match="logvar"):
                kl_normal_std(mu, l2)


def test_kl_normal_std_large_finite_inputs_are_not_rejected():
    # the inputs' sums overflow to inf (the fast finite check's fallback), yet every value
    # is finite: no error, and the KL itself is +inf as mu^2 overflows float32
    mu = torch.tensor([3e38, 3e38, -3e38])
    out = kl_normal_std(mu, torch.zeros(3))
    assert out.item() == math.inf
    # a bad logvar is still reported by name when mu's sum overflows
    with pytest.raises(ValueError, match="logvar contains NaN"):
        kl_normal_std(mu, torch.tensor([0.0, float("nan"), 0.0]))
    # NaN and inf together, in either argument: the first bad argument is named
    with pytest.raises(ValueError, match="mu contains NaN"):
        kl_normal_std(torch.tensor([math.inf, math.nan]), torch.tensor([-math.inf, 0.0]))
    with pytest.raises(ValueError, match="logvar contains NaN"):
        kl_normal_std(torch.zeros(2), torch.tensor([math.inf, -math.inf]))


def test_kl_normal_matches_torch_and_reduces_to_std():
    g = torch.Generator().manual_seed(2)
    mq, lq, mp, lp = (torch.randn(32, 5, generator=g, dtype=F64) * 2 for _ in range(4))
    ref = kl_divergence(Normal(mq, torch.exp(0.5 * lq)), Normal(mp, torch.exp(0.5 * lp))).sum(-1)
    torch.testing.assert_close(kl_normal(mq, lq, mp, lp), ref, rtol=1e-6, atol=0)
    torch.testing.assert_close(
        kl_normal(mq, lq, torch.zeros(5, dtype=F64), torch.zeros(5, dtype=F64)),
        kl_normal_std(mq, lq),
        rtol=1e-12,
        atol=1e-12,
    )


def test_kl_normal_is_asymmetric():
    mq, lq = torch.tensor([0.0]), torch.tensor([0.0])
    mp, lp = torch.tensor([1.0]), torch.tensor([2.0])
    assert abs(kl_normal(mq, lq, mp, lp) - kl_normal(mp, lp, mq, lq)).item() > 0.1


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, 3, elements=st.floats(-30, 30)),
    arrays(np.float64, 3, elements=st.floats(-30, 30)),
    arrays(np.float64, 3, elements=st.floats(-30, 30)),
    arrays(np.float64, 3, elements=st.floats(-30, 30)),
)
def test_kl_normal_properties(mq, lq, mp, lp):
    mq, lq, mp, lp = (torch.from_numpy(a) for a in (mq, lq, mp, lp))
    kl = kl_normal(mq, lq, mp, lp)
    assert torch.isfinite(kl)
    assert kl.item() >= 0
    assert kl_normal(mq, lq, mq, lq).item() == 0.0
    std = kl_normal_std(mq, lq)
    assert torch.isfinite(std) and std.item() >= 0


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float32, 4, elements=st.floats(-30, 30, width=32)),
    arrays(np.float32, 4, elements=st.floats(-30, 30, width=32)),
)
def test_kl_normal_std_float32_finite_nonnegative(mu, logvar):
    out = kl_normal_std(torch.from_numpy(mu), torch.from_numpy(logvar))
    assert out.dtype == torch.float32
    assert torch.isfinite(out) and out.item() >= 0


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((torch.zeros(3), torch.zeros(4)), ValueError, "mu.shape=.*logvar.shape"),
        ((torch.tensor(0.0), torch.tensor(0.0)), ValueError, "at least one dimension"),
        ((torch.tensor([float("nan")]), torch.zeros(1)), ValueError, "mu contains NaN"),
        ((torch.zeros(1), torch.tensor([float("inf")])), ValueError, "logvar contains NaN"),
        ((torch.zeros(1, dtype=torch.complex64), torch.zeros(1)), TypeError, "mu must be a real"),
        ((None, torch.zeros(1)), TypeError, "mu must be"),
    ],
)
def test_kl_normal_std_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        kl_normal_std(*args)


def test_kl_normal_errors_name_arguments():
    z = torch.zeros(3)
    with pytest.raises(ValueError, match="mu_p"):
        kl_normal(z, z, torch.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match="logvar_p contains NaN"):
        kl_normal(z, z, z, torch.full((3,), float("nan")))


# --------------------------------------------------------------------------- Monte Carlo


def test_kl_monte_carlo_agrees_within_standard_errors():
    mu = torch.tensor([0.5, -1.0, 2.0], dtype=F64)
    logvar = torch.tensor([0.3, -0.5, 1.0], dtype=F64)
    q = Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)
    p = Independent(Normal(torch.zeros(3, dtype=F64), torch.ones(3, dtype=F64)), 1)
    est, se = kl_monte_carlo(q, p, n_samples=20_000, seed=0)
    exact = kl_normal_std(mu, logvar)
    assert se.item() > 0
    assert abs(est - exact).item() < 4 * se.item()


def test_kl_monte_carlo_is_seeded_and_leaves_global_rng_alone():
    q, p = Normal(torch.tensor(0.0), 1.0), Normal(torch.tensor(1.0), 2.0)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = kl_monte_carlo(q, p, 500, seed=7)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = kl_monte_carlo(q, p, 500, seed=7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_kl_monte_carlo_standard_error_shrinks_like_one_over_sqrt_n():
    q, p = Normal(torch.tensor(0.0, dtype=F64), 1.0), Normal(torch.tensor(1.0, dtype=F64), 2.0)
    _, se_small = kl_monte_carlo(q, p, 1_000, seed=0)
    _, se_big = kl_monte_carlo(q, p, 100_000, seed=0)
    assert se_small.item() / se_big.item() == pytest.approx(10.0, rel=0.1)


def test_kl_monte_carlo_errors():
    q = Normal(torch.tensor(0.0), 1.0)
    with pytest.raises(TypeError, match="p must have"):
        kl_monte_carlo(q, object())
    with pytest.raises(ValueError, match="n_samples"):
        kl_monte_carlo(q, q, n_samples=0)
    with pytest.raises(ValueError, match="n_samples"):
        kl_monte_carlo(q, q, n_samples=1)
    with pytest.raises(TypeError, match="seed"):
        kl_monte_carlo(q, q, seed="0")


# --------------------------------------------------------------------------- quadrature, fits


def test_kl_quadrature_matches_closed_form():
    q, p = Normal(torch.tensor(0.3, dtype=F64), 0.7), Normal(torch.tensor(-1.0, dtype=F64), 1.6)
    quad = kl_quadrature(q.log_prob, p.log_prob)
    assert quad.item() == pytest.approx(kl_divergence(q, p).item(), rel=1e-8)


def test_kl_quadrature_errors():
    n = Normal(torch.tensor(0.0, dtype=F64), 1.0)
    with pytest.raises(ValueError, match="lo < hi"):
        kl_quadrature(n.log_prob, n.log_prob, lo=1.0, hi=-1.0)
    with pytest.raises(ValueError, match="n_points"):
        kl_quadrature(n.log_prob, n.log_prob, n_points=0)
    with pytest.raises(ValueError, match="lo must be finite"):
        kl_quadrature(n.log_prob, n.log_prob, lo=-math.inf)
    with pytest.raises(TypeError, match="hi must be a real number"):
        kl_quadrature(n.log_prob, n.log_prob, hi="20")


def _mixture_log_prob(x: torch.Tensor) -> torch.Tensor:
    comps = Normal(torch.tensor([-5.0, 5.0], dtype=F64), torch.tensor([1.0, 1.0], dtype=F64))
    return torch.logsumexp(comps.log_prob(x.unsqueeze(-1)) + math.log(0.5), dim=-1)


def test_forward_kl_fit_matches_moments_and_reverse_picks_a_mode():
    """Modes at +-5 (sd 1): far enough apart that reverse KL has a local optimum at each mode."""
    m_f, s_f = fit_gaussian_1d(_mixture_log_prob, "forward", init=(0.5, 1.0), steps=600, lr=0.05)
    # forward KL optimum = moment matching: mean 0, variance 1 + 5^2 = 26
    assert m_f == pytest.approx(0.0, abs=0.05)
    assert s_f == pytest.approx(math.sqrt(26.0), rel=0.02)
    m_r, s_r = fit_gaussian_1d(_mixture_log_prob, "reverse", init=(1.0, 1.0), steps=600, lr=0.05)
    assert m_r == pytest.approx(5.0, abs=0.05)
    assert s_r == pytest.approx(1.0, rel=0.05)


def test_fit_gaussian_errors():
    with pytest.raises(ValueError, match="direction"):
        fit_gaussian_1d(_mixture_log_prob, "sideways")
    with pytest.raises(ValueError, match="init"):
        fit_gaussian_1d(_mixture_log_prob, "forward", init=(0.0, -1.0))
    with pytest.raises(ValueError, match="init"):
        fit_gaussian_1d(_mixture_log_prob, "forward", init=(0.0,))
    with pytest.raises(ValueError, match="lr"):
        fit_gaussian_1d(_mixture_log_prob, "forward", lr=0.0)


def test_binned_gaussians_rise_to_the_closed_form():
    from course_vae.kl import kl_binned_gaussians

    closed = float(kl_normal([0.3], [math.log(0.5)], [-1.0], [math.log(2.0)]))
    widths = [1.0, 0.5, 0.25, 0.125, 0.01]
    values = [kl_binned_gaussians(0.3, 0.5**0.5, -1.0, 2.0**0.5, h) for h in widths]
    assert all(v <= closed + 1e-12 for v in values)  # binning never increases a KL
    assert all(b > a for a, b in zip(values, values[1:], strict=False))  # nested refinements
    assert closed - values[-1] < 1e-4
    assert kl_binned_gaussians(1.0, 2.0, 1.0, 2.0, 0.1) == pytest.approx(0.0, abs=1e-12)


def test_binned_gaussians_reject_bad_input():
    from course_vae.kl import kl_binned_gaussians

    with pytest.raises(ValueError, match="bin_width"):
        kl_binned_gaussians(0.0, 1.0, 0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="s_q"):
        kl_binned_gaussians(0.0, -1.0, 0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="bins"):
        kl_binned_gaussians(0.0, 1.0, 0.0, 1.0, 1e-7)


def test_factorised_fit_reverse_underestimates_forward_matches_marginals():
    from course_vae.kl import fit_factorised_gaussian

    cov = torch.tensor([[1.0, 0.8], [0.8, 2.0]], dtype=torch.float64)
    mean = torch.tensor([0.5, -1.0], dtype=torch.float64)
    m_rev, v_rev = fit_factorised_gaussian(mean, cov, "reverse", steps=400, lr=0.1)
    m_fwd, v_fwd = fit_factorised_gaussian(mean, cov, "forward", steps=400, lr=0.1)
    assert torch.allclose(m_rev, mean, atol=1e-3) and torch.allclose(m_fwd, mean, atol=1e-3)
    assert torch.allclose(v_rev, 1 / torch.linalg.inv(cov).diagonal(), atol=1e-3)
    assert torch.allclose(v_fwd, cov.diagonal(), atol=1e-3)
    assert (v_rev < v_fwd).all()
    with pytest.raises(ValueError, match="direction"):
        fit_factorised_gaussian(mean, cov, "sideways")
    with pytest.raises(ValueError, match="cov_p"):
        fit_factorised_gaussian(mean, cov[:1], "reverse")
