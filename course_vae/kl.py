"""Kullback-Leibler divergences: discrete, Gaussian closed forms, Monte Carlo, quadrature.

Everywhere: KL(Q || P) = E_Q[log Q(x) - log P(x)] >= 0, with equality iff Q = P,
and in general KL(Q || P) != KL(P || Q).  Results are in nats unless a ``base``
says otherwise (base 2 gives bits).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from course_vae._validate import (
    as_float64,
    check_choice,
    check_finite,
    check_log_base,
    check_pair,
    check_positive_int,
    check_probability_vectors,
    check_real,
    check_seed,
)

__all__ = [
    "kl_discrete",
    "kl_normal_std",
    "kl_normal_std_terms",
    "kl_normal",
    "kl_monte_carlo",
    "kl_quadrature",
    "fit_gaussian_1d",
    "kl_binned_gaussians",
    "fit_factorised_gaussian",
    "kl_gaussian_full",
]


def kl_discrete(p: Any, q: Any, base: float = math.e) -> torch.Tensor:
    r"""KL(p || q) = \sum_i p_i \log(p_i / q_i) along the last dimension.

    ``p`` and ``q`` are probability vectors (or batches of them).  The
    convention 0 log 0 = 0 holds; the result is +inf where q_i = 0 < p_i.
    ``base=2`` gives bits.  Non-tensor inputs are computed in float64.
    """
    p, q = check_probability_vectors(p, q, "p", "q")
    base = check_log_base(base)
    positive = p > 0
    # Where p = 0 the term is 0 whatever q is; mask q there so log(0) never appears.
    safe_p = torch.where(positive, p, torch.ones_like(p))
    safe_q = torch.where(positive, q, torch.ones_like(q))
    terms = torch.where(positive, p * (torch.log(safe_p) - torch.log(safe_q)), torch.zeros_like(p))
    return terms.sum(-1) / math.log(base)


# Series half-width: a power of two, so x - clamp(x, -h, h) is exact in any float format.
_SERIES_HALF_WIDTH = 0.125
# Taylor coefficients 1/k!, k = 2..top, of the series x^2/2! + x^3/3! + ... on |x| <= 1/8:
# truncation error below 1e-8 (float32 and lower) or 1e-16 (float64) relative.
_SERIES = {
    "float64": tuple(1.0 / math.factorial(k) for k in range(2, 11)),
    "other": tuple(1.0 / math.factorial(k) for k in range(2, 7)),
}


_CONSTANTS: dict[tuple, list[torch.Tensor]] = {}


def _series_constants(coefs: tuple[float, ...], dtype: torch.dtype, device: torch.device):
    """The series coefficients as 0-d tensors of ``dtype`` on ``device``, made once."""
    key = (coefs, dtype, device)
    if key not in _CONSTANTS:
        _CONSTANTS[key] = [torch.tensor(c, dtype=dtype, device=device) for c in coefs]
    return _CONSTANTS[key]


@torch.no_grad()  # in-place arithmetic; the derivative expm1(x) is supplied by _Expm1MinusX
def _expm1_minus_x_value(x: torch.Tensor) -> torch.Tensor:
    """exp(x) - 1 - x without cancellation, finite for every finite x that does not overflow.

    Split x = s + r with s = clamp(x, -1/8, 1/8) and r = x - s (exact: 1/8 is a power of 2):

        e^x - 1 - x = f(s) + (e^s expm1(r) - r),   f(s) = s^2/2! + s^3/3! + ... (Taylor)

    For |x| <= 1/8, r = 0 and only the series remains, so e^x - 1 - x ~ x^2/2 keeps all its
    digits where the literal formula cancels.  Outside, e^s expm1(r) - r loses at most
    ~3 bits and f(s) ~ 1/128 is well above rounding.  One expression for every element:
    no mask, no torch.where, no branch, a single exponential.
    """
    coefs = _SERIES["float64" if x.dtype == torch.float64 else "other"]
    consts = _series_constants(coefs, x.dtype, x.device)
    s = x.clamp(-_SERIES_HALF_WIDTH, _SERIES_HALF_WIDTH)
    f_s = s * coefs[-1]  # Horner, one fused pass per coefficient:
    f_s += coefs[-2]  # f = (((c_top s + c_{top-1}) s + ...) + c_2) s^2
    for c in reversed(consts[:-2]):
        f_s = torch.addcmul(c, f_s, s)
    f_s *= s.square()
    r = x - s
    # e^s expm1(r) - r + f(s), with e^s = 1 + s + f(s)
    return torch.addcmul(f_s - r, torch.expm1(r), f_s + s + 1.0)


class _Expm1MinusX(torch.autograd.Function):
    """f(x) = exp(x) - 1 - x with f'(x) = expm1(x): one autograd node instead of a dozen."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return _expm1_minus_x_value(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.expm1(x)  # differentiable again, so double backward works


def _expm1_minus_x(x: torch.Tensor) -> torch.Tensor:
    """exp(x) - 1 - x, accurate near 0 and differentiable (any order)."""
    return _Expm1MinusX.apply(x)


def kl_normal_std_terms(mu: Any, logvar: Any) -> dict[str, torch.Tensor]:
    r"""The four terms of KL(N(mu, diag sigma^2) || N(0, I)) per dimension, halved.

    Returns ``{"mu^2": mu^2/2, "sigma^2": sigma^2/2, "-log sigma^2": -logvar/2,
    "-1": -1/2}``; their sum over keys and over the last dimension is
    :func:`kl_normal_std`.
    """
    mu, logvar = check_pair(mu, logvar, "mu", "logvar")
    mu, logvar = torch.broadcast_tensors(mu, logvar)
    return {
        "mu^2": 0.5 * mu**2,
        "sigma^2": 0.5 * torch.exp(logvar),
        "-log sigma^2": -0.5 * logvar,
        "-1": torch.full_like(mu, -0.5),
    }


def kl_normal_std(mu: Any, logvar: Any, check_input: bool = True) -> torch.Tensor:
    r"""KL(N(mu, diag exp(logvar)) || N(0, I)) = 1/2 \sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)

    Summed over the last dimension.  Computed as 1/2 \sum_j (mu_j^2 + f(l_j)) with
    f(l) = e^l - 1 - l evaluated without cancellation (a Taylor series on |l| <= 1/8, see
    ``_expm1_minus_x_value``), so it stays accurate (relative error ~1e-6 in float32, ~1e-15
    in float64) and finite for logvar in [-30, 30].  Differentiable (any order).

    Its checks cost O(1) on good input: types and shapes, then one look at the (batch,)
    result.  A NaN or infinite mu or logvar always makes the result non-finite, and only
    then are the inputs scanned to name the bad one (a finite logvar so large that e^l
    overflows gives +inf, as it should).  ``check_input=False`` skips that look, for the
    training loop, which checks its loss on every step anyway (as scikit-learn's
    ``check_input``).
    """
    same = (isinstance(mu, torch.Tensor) and isinstance(logvar, torch.Tensor)
            and mu.is_floating_point() and mu.dtype == logvar.dtype
            and mu.shape == logvar.shape and mu.dim() > 0)
    if not same:  # the common case above needs no conversion; the general one is checked
        mu, logvar = check_pair(mu, logvar, "mu", "logvar", scan=False)
    out = 0.5 * (mu.square() + _expm1_minus_x(logvar)).sum(-1)
    if check_input and not bool(out.detach().sum().isfinite()):  # NaN/inf makes the sum so
        check_finite(mu, "mu")
        check_finite(logvar, "logvar")
    return out


def kl_normal(mu_q: Any, logvar_q: Any, mu_p: Any, logvar_p: Any) -> torch.Tensor:
    r"""KL(N(mu_q, diag e^{logvar_q}) || N(mu_p, diag e^{logvar_p})), summed over the last dim.

    = 1/2 \sum_j [(mu_q - mu_p)^2 / s_p^2 + s_q^2 / s_p^2 - log(s_q^2 / s_p^2) - 1]  (s = sigma).
    With mu_p = 0 and logvar_p = 0 this is :func:`kl_normal_std`.
    """
    mu_q, logvar_q = check_pair(mu_q, logvar_q, "mu_q", "logvar_q")
    mu_p, logvar_p = check_pair(mu_p, logvar_p, "mu_p", "logvar_p")
    check_pair(mu_q, mu_p, "mu_q", "mu_p")
    mu_p, logvar_p = mu_p.to(mu_q.dtype), logvar_p.to(mu_q.dtype)
    d = logvar_q - logvar_p
    return 0.5 * ((mu_q - mu_p) ** 2 * torch.exp(-logvar_p) + _expm1_minus_x(d)).sum(-1)


def _cholesky(cov: torch.Tensor, name: str) -> torch.Tensor:
    if cov.dim() < 2 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(f"{name} must be a square matrix (..., L, L), got {tuple(cov.shape)}")
    if not torch.allclose(cov, cov.transpose(-1, -2), rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    chol, info = torch.linalg.cholesky_ex(cov)
    if (info != 0).any():
        raise ValueError(f"{name} must be positive definite")
    return chol


def _logdet_from_chol(chol: torch.Tensor) -> torch.Tensor:
    return 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)


def kl_gaussian_full(mean_q: Any, cov_q: Any, mean_p: Any, cov_p: Any) -> torch.Tensor:
    r"""KL(N(m_q, S_q) || N(m_p, S_p)) for full covariances, in nats (float64).

    = 1/2 [ tr(S_p^{-1} S_q) + (m_p - m_q)^T S_p^{-1} (m_p - m_q) - L + log det S_p - log det S_q ].
    Means have shape (..., L), covariances (..., L, L); leading dimensions broadcast.
    """
    mq, mp = as_float64(mean_q, "mean_q"), as_float64(mean_p, "mean_p")
    for name, t in (("mean_q", mq), ("mean_p", mp)):
        if t.dim() == 0:
            raise ValueError(f"{name} must have shape (..., L), got a scalar")
    sq, sp = as_float64(cov_q, "cov_q"), as_float64(cov_p, "cov_p")
    lq, lp = _cholesky(sq, "cov_q"), _cholesky(sp, "cov_p")
    dim = mq.shape[-1]
    for name, t in (("mean_p", mp), ("cov_q", sq), ("cov_p", sp)):
        if t.shape[-1] != dim:
            raise ValueError(f"{name} has last dimension {t.shape[-1]}, mean_q has {dim}")
    try:
        batch = torch.broadcast_shapes(
            mq.shape[:-1], mp.shape[:-1], sq.shape[:-2], sp.shape[:-2]
        )
    except RuntimeError as exc:
        raise ValueError(
            f"the leading (batch) dimensions of mean_q {tuple(mq.shape)}, mean_p "
            f"{tuple(mp.shape)}, cov_q {tuple(sq.shape)} and cov_p {tuple(sp.shape)} "
            "do not broadcast"
        ) from exc
    lp_b = lp.expand(*batch, dim, dim)
    # tr(S_p^{-1} S_q) = ||L_p^{-1} L_q||_F^2
    a = torch.linalg.solve_triangular(lp_b, lq.expand(*batch, dim, dim), upper=False)
    diff = (mp - mq).expand(*batch, dim).unsqueeze(-1)
    c = torch.linalg.solve_triangular(lp_b, diff, upper=False)
    return 0.5 * (
        (a**2).sum((-1, -2))
        + (c**2).sum((-1, -2))
        - dim
        + _logdet_from_chol(lp)
        - _logdet_from_chol(lq)
    )


def kl_monte_carlo(
    q: torch.distributions.Distribution,
    p: torch.distributions.Distribution,
    n_samples: int = 10_000,
    seed: int | None = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Monte Carlo estimate of KL(q || p) = E_{z~q}[log q(z) - log p(z)], and its standard error.

    Draws ``n_samples`` from ``q`` (any object with ``sample`` and ``log_prob``,
    e.g. a ``torch.distributions`` distribution whose ``log_prob`` returns one value
    per draw: wrap per-dimension Normals in ``Independent``).  Returns
    ``(estimate, standard_error)`` where standard_error = std(w) / sqrt(n).  With
    ``seed`` set the global random state is left untouched.
    """
    for name, dist in (("q", q), ("p", p)):
        if not (hasattr(dist, "sample") and hasattr(dist, "log_prob")):
            raise TypeError(f"{name} must have .sample and .log_prob (a torch distribution)")
    n_samples = check_positive_int(n_samples, "n_samples")
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2 to give a standard error, got {n_samples}")
    if seed is not None:
        seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        z = q.sample((n_samples,))
    w = q.log_prob(z) - p.log_prob(z)
    return w.mean(0), w.std(0) / math.sqrt(n_samples)


def kl_quadrature(
    log_q: Callable[[torch.Tensor], torch.Tensor],
    log_p: Callable[[torch.Tensor], torch.Tensor],
    lo: float = -20.0,
    hi: float = 20.0,
    n_points: int = 20_001,
) -> torch.Tensor:
    r"""KL(Q || P) = \int q(x) \log(q(x)/p(x)) dx for 1-D densities, by the trapezoid rule.

    ``log_q`` and ``log_p`` map a float64 grid on [lo, hi] to log-densities.  Points
    where q underflows to 0 contribute 0 (0 log 0 = 0).  Differentiable with respect
    to parameters used inside ``log_q``/``log_p``.
    """
    n_points = check_positive_int(n_points, "n_points")
    lo, hi = check_real(lo, "lo"), check_real(hi, "hi")
    if not lo < hi:
        raise ValueError(f"need finite lo < hi, got lo={lo}, hi={hi}")
    x = torch.linspace(lo, hi, n_points, dtype=torch.float64)
    lq, lp = log_q(x), log_p(x)
    q = torch.exp(lq)
    integrand = torch.where(q > 0, q * (lq - lp), torch.zeros_like(q))
    return torch.trapezoid(integrand, x)


def fit_gaussian_1d(
    log_p: Callable[[torch.Tensor], torch.Tensor],
    direction: str,
    init: tuple[float, float] = (0.0, 1.0),
    steps: int = 400,
    lr: float = 0.05,
    lo: float = -20.0,
    hi: float = 20.0,
) -> tuple[float, float]:
    r"""Fit Q = N(m, s^2) to a 1-D target P by minimising a KL divergence.

    ``direction="forward"`` minimises KL(P || Q) (mass-covering: Q spreads over every
    mode); ``direction="reverse"`` minimises KL(Q || P) (mode-seeking: Q picks one
    mode, which one depends on ``init``).  Both integrals are computed by quadrature
    and minimised with Adam over (m, log s).  Returns (m, s).
    """
    check_choice(direction, "direction", ("forward", "reverse"))
    steps = check_positive_int(steps, "steps")
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    try:
        m0, s0 = init
    except (TypeError, ValueError):
        raise ValueError(f"init must be (mean, std) with std > 0, got {init!r}") from None
    m0 = check_real(m0, "init mean")
    s0 = check_real(s0, "init std", low=0.0, low_open=True)
    m = torch.tensor(float(m0), dtype=torch.float64, requires_grad=True)
    log_s = torch.tensor(math.log(s0), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([m, log_s], lr=lr)

    def log_q(x: torch.Tensor) -> torch.Tensor:
        return torch.distributions.Normal(m, torch.exp(log_s)).log_prob(x)

    for _ in range(steps):
        opt.zero_grad()
        if direction == "forward":
            loss = kl_quadrature(log_p, log_q, lo, hi, 4001)
        else:
            loss = kl_quadrature(log_q, log_p, lo, hi, 4001)
        loss.backward()
        opt.step()
    return float(m.detach()), float(torch.exp(log_s.detach()))


def kl_binned_gaussians(
    mu_q: float, s_q: float, mu_p: float, s_p: float, bin_width: float, span: float = 10.0
) -> float:
    r"""KL(Q_h || P_h) in nats between Q = N(mu_q, s_q^2) and P = N(mu_p, s_p^2) binned on a grid.

    Bins of width h = ``bin_width`` cover [c - span, c + span] (c the midpoint of the two
    means; ``span`` in units of the larger std), plus two tail bins; Q_h(bin) and P_h(bin)
    are CDF differences. Binning never increases a KL, and as h -> 0 the discrete KL tends
    to the continuous one, (log(s_p/s_q) + (s_q^2 + (mu_q - mu_p)^2) / (2 s_p^2) - 1/2).
    """
    mu_q, mu_p = check_real(mu_q, "mu_q"), check_real(mu_p, "mu_p")
    s_q = check_real(s_q, "s_q", low=0.0, low_open=True)
    s_p = check_real(s_p, "s_p", low=0.0, low_open=True)
    h = check_real(bin_width, "bin_width", low=0.0, low_open=True)
    span = check_real(span, "span", low=0.0, low_open=True) * max(s_q, s_p)
    centre = 0.5 * (mu_q + mu_p)
    n_bins = math.ceil(2 * span / h)
    if n_bins > 2_000_000:
        raise ValueError(f"bin_width={h} gives {n_bins} bins; keep it at most 2,000,000")
    edges = centre - span + h * torch.arange(n_bins + 1, dtype=torch.float64)
    inf = torch.tensor([math.inf], dtype=torch.float64)
    edges = torch.cat([-inf, edges, inf])

    def masses(mu: float, s: float) -> torch.Tensor:
        # bins above the mean from the upper tail, the others from the lower tail, so that
        # small tail masses are differences of small numbers (no cancellation near 1)
        u = (edges - mu) / (s * math.sqrt(2.0))
        upper = 0.5 * (torch.erfc(u[:-1]) - torch.erfc(u[1:]))
        lower = 0.5 * (torch.erfc(-u[1:]) - torch.erfc(-u[:-1]))
        return torch.where(u[:-1] >= 0, upper, lower).clamp(min=0.0)

    q, p = masses(mu_q, s_q), masses(mu_p, s_p)
    keep = q > 0
    return float((q[keep] * (torch.log(q[keep]) - torch.log(p[keep]))).sum())


def fit_factorised_gaussian(
    mean_p: Any, cov_p: Any, direction: str, steps: int = 500, lr: float = 0.05
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Fit a factorised Q = N(m, diag v) to P = N(mean_p, cov_p) by minimising a KL.

    ``"reverse"`` minimises KL(Q || P): the optimum is m = mean_p, v_j = 1 / Lambda_jj
    (Lambda = cov_p^{-1}), narrower than P's marginals when P is correlated (Bishop, PRML
    Sec. 10.1.2). ``"forward"`` minimises KL(P || Q): v_j = (cov_p)_jj, the marginals.
    Adam on (m, log v) with the closed form of the KL (:func:`kl_gaussian_full`
    with a diagonal covariance, written out); returns (m, v), float64.
    """
    check_choice(direction, "direction", ("forward", "reverse"))
    steps = check_positive_int(steps, "steps")
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    mp = torch.as_tensor(mean_p, dtype=torch.float64)
    sp = torch.as_tensor(cov_p, dtype=torch.float64)
    if mp.dim() != 1 or sp.shape != (mp.numel(), mp.numel()):
        raise ValueError(
            f"mean_p must be (d,) and cov_p (d, d), got {tuple(mp.shape)}, {tuple(sp.shape)}"
        )
    precision = torch.linalg.inv(sp)
    logdet_p = torch.logdet(sp)
    d = mp.numel()
    m = torch.zeros_like(mp, requires_grad=True)
    log_v = torch.zeros_like(mp, requires_grad=True)
    opt = torch.optim.Adam([m, log_v], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        diff = m - mp
        if direction == "reverse":  # the full-covariance closed form with a diagonal S_q
            loss = 0.5 * ((precision.diagonal() * log_v.exp()).sum() + diff @ precision @ diff
                          - d + logdet_p - log_v.sum())
        else:
            loss = 0.5 * (((sp.diagonal() + diff**2) / log_v.exp()).sum() - d + log_v.sum()
                          - logdet_p)
        loss.backward()
        opt.step()
    return m.detach(), torch.exp(log_v.detach())
