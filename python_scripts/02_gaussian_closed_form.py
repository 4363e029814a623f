# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Chapter 02 — The Gaussian closed form
#
# In a VAE the KL term of the ELBO is almost never estimated by sampling: for a Gaussian
# encoder and a standard normal prior it has a closed form. This chapter derives it, checks
# it three independent ways, takes it apart term by term, and explains the numerical
# choices that every VAE implementation makes (encoders output `logvar`, not `sigma`).
#
# ## Learning objectives
#
# After this chapter you can
#
# - derive $\mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I)\big) = \tfrac12\sum_j(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1)$ from the definition;
# - verify a closed form against a Monte Carlo estimate (with its standard error) and against `torch.distributions`;
# - say what each of the four terms does, where the minimum is, and why $\sigma \to 0$ costs unbounded KL;
# - explain why encoders output $\log\sigma^2$, and why the package computes $e^{l} - 1 - l$ with `expm1` and a series;
# - write down the gradients $\partial\mathrm{KL}/\partial\mu_j = \mu_j$ and $\partial\mathrm{KL}/\partial\log\sigma_j^2 = \tfrac12(\sigma_j^2 - 1)$;
# - use the general diagonal-vs-diagonal form and show that it is not symmetric.

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch.distributions import Independent, Normal, kl_divergence

import course_vae as cv
from course_vae.plots import plot_kl_terms_curves
from course_vae.widgets import ClosedFormExplorer

device = cv.setup_notebook(seed=0)

# %% [markdown]
# ## 1. The setting
#
# For an input $x$ the encoder network outputs two vectors of length $d$ (the latent
# dimension): a mean $\mu(x)$ and a log-variance $\log\sigma^2(x)$ (called `logvar` in code).
# They define the approximate posterior
#
# $$q(z \mid x) = \mathcal N\big(z;\ \mu(x),\ \operatorname{diag}\sigma^2(x)\big), \qquad \sigma_j^2(x) = e^{\mathrm{logvar}_j(x)},$$
#
# and the prior is $p(z) = \mathcal N(0, I)$. The ELBO is
# $\mathbb E_{q}[\log p(x\mid z)] - \mathrm{KL}(q(z\mid x)\,\|\,p(z))$; the loss we minimise
# is its negative, so the KL enters the **loss with a plus sign**.
#
# Both distributions factorise over the $d$ coordinates, and the KL of a product of
# independent factors is the sum of the factors' KLs. So the per-example KL is a **sum over
# latent dimensions**; in training it is then **averaged over the examples of a batch**
# (the reconstruction term is summed over pixels and averaged over the batch in the same
# way, so the two terms keep their relative weight).

# %% [markdown]
# ## 2. Deriving the closed form, one dimension at a time
#
# Take one coordinate, $q = \mathcal N(\mu, \sigma^2)$ and $p = \mathcal N(0, 1)$. By definition
#
# $$\mathrm{KL}(q\,\|\,p) = \mathbb E_{z\sim q}\big[\log q(z) - \log p(z)\big].$$
#
# **The two log-densities.**
#
# $$\log q(z) = -\tfrac12\log(2\pi\sigma^2) - \frac{(z-\mu)^2}{2\sigma^2}, \qquad \log p(z) = -\tfrac12\log(2\pi) - \frac{z^2}{2}.$$
#
# **Two moments of $q$.** By definition of the variance, $\mathbb E_q[(z-\mu)^2] = \sigma^2$.
# Writing $z = \mu + (z - \mu)$ and using $\mathbb E_q[z-\mu] = 0$,
#
# $$\mathbb E_q[z^2] = \mu^2 + 2\mu\,\mathbb E_q[z-\mu] + \mathbb E_q[(z-\mu)^2] = \mu^2 + \sigma^2.$$
#
# **First expectation (minus the entropy of $q$).**
#
# $$\mathbb E_q[\log q(z)] = -\tfrac12\log(2\pi\sigma^2) - \frac{\sigma^2}{2\sigma^2} = -\tfrac12\log(2\pi\sigma^2) - \tfrac12 = -H(q), \qquad H(q) = \tfrac12\log(2\pi e\,\sigma^2).$$
#
# **Second expectation (the cross-entropy term).**
#
# $$\mathbb E_q[\log p(z)] = -\tfrac12\log(2\pi) - \tfrac12(\mu^2 + \sigma^2).$$
#
# **Subtract.** The $\log 2\pi$ terms cancel:
#
# $$\mathrm{KL}(q\,\|\,p) = -\tfrac12\log\sigma^2 - \tfrac12 + \tfrac12(\mu^2 + \sigma^2) = \tfrac12\big(\mu^2 + \sigma^2 - \log\sigma^2 - 1\big).$$
#
# **Sum over the $d$ independent coordinates:**
#
# $$\boxed{\ \mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I)\big) = \tfrac12\sum_{j=1}^{d}\big(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1\big)\ }$$
#
# The check cell below tests the three ingredients numerically: the two moments (by
# sampling, within 4 standard errors) and the entropy formula (against `torch`).

# %%
mu0, sigma0 = 0.8, 1.7
z = Normal(mu0, sigma0).sample((200_000,)).double()
for name, samples, exact in [
    ("E[(z-mu)^2] = sigma^2", (z - mu0) ** 2, sigma0**2),
    ("E[z^2] = mu^2 + sigma^2", z**2, mu0**2 + sigma0**2),
]:
    est, se = samples.mean().item(), samples.std().item() / math.sqrt(len(samples))
    print(f"{name:26s} sampled {est:.4f} +- {se:.4f}   exact {exact:.4f}")
    assert abs(est - exact) < 4 * se
entropy_formula = 0.5 * math.log(2 * math.pi * math.e * sigma0**2)
entropy_torch = Normal(torch.tensor(mu0), torch.tensor(sigma0)).entropy().item()
print(f"H(q): formula {entropy_formula:.4f}, torch {entropy_torch:.4f}")
assert abs(entropy_formula - entropy_torch) < 1e-5

# %% [markdown]
# ## 3. Checking the closed form
#
# ### Against Monte Carlo
#
# The definition is an expectation, so it can be estimated without any algebra:
# draw $z^{(s)} \sim q$ and average $w^{(s)} = \log q(z^{(s)}) - \log p(z^{(s)})$.
# `cv.kl_monte_carlo` returns that average and its standard error
# $\mathrm{SE} = \mathrm{std}(w)/\sqrt{S}$. If the closed form is right, the difference should
# be a few standard errors at most; we require less than 4 for every row of a random batch of
# 8 posteriors with $d = 4$ (in `Independent`, the per-dimension log-densities are summed,
# matching the sum over latent dimensions).

# %%
gen = torch.Generator().manual_seed(1)
mu = torch.randn(8, 4, generator=gen, dtype=torch.float64)
logvar = 1.5 * torch.randn(8, 4, generator=gen, dtype=torch.float64)

q = Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)
p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
closed = cv.kl_normal_std(mu, logvar)
mc, se = cv.kl_monte_carlo(q, p, n_samples=20_000, seed=0)

print(" row   closed form   Monte Carlo    SE      |diff|/SE")
for i in range(len(closed)):
    ratio = abs(closed[i] - mc[i]) / se[i]
    print(f"{i:4d}   {closed[i]:10.4f}   {mc[i]:10.4f}   {se[i]:.4f}   {ratio:6.2f}")
assert ((closed - mc).abs() < 4 * se).all()

# %% [markdown]
# ### Against `torch.distributions`
#
# PyTorch implements the same closed form independently (`kl_divergence` of two
# `Independent(Normal)` distributions). On a larger random batch the two agree to a relative
# $10^{-6}$.

# %%
mu_b = 2 * torch.randn(256, 16, generator=gen, dtype=torch.float64)
logvar_b = 2 * torch.randn(256, 16, generator=gen, dtype=torch.float64)
ours = cv.kl_normal_std(mu_b, logvar_b)
theirs = kl_divergence(
    Independent(Normal(mu_b, torch.exp(0.5 * logvar_b)), 1),
    Independent(Normal(torch.zeros_like(mu_b), torch.ones_like(mu_b)), 1),
)
rel = ((ours - theirs).abs() / theirs.abs()).max().item()
print(f"batch mean KL: ours {ours.mean():.4f}, torch {theirs.mean():.4f} nats; max relative difference < 1e-6: {rel < 1e-6}")
assert rel < 1e-6

# %% [markdown]
# ## 4. The package's implementation
#
# Here is the tested function used throughout the course. It checks its inputs, then
# computes $\tfrac12\sum_j(\mu_j^2 + e^{l_j} - 1 - l_j)$ with $l = \log\sigma^2$; the
# training loop calls the unchecked core `kl_normal_std_unchecked` directly:

# %%
cv.show_source(cv.kl.kl_normal_std)
cv.show_source(cv.kl.kl_normal_std_unchecked)

# %% [markdown]
# With $l = \log\sigma^2$, the $\sigma$-part of each term is $\sigma^2 - \log\sigma^2 - 1 = e^{l} - 1 - l$.
# That expression is **always $\ge 0$** (its minimum is 0 at $l = 0$), and a collapsed latent
# dimension — one whose posterior equals the prior — sits exactly at $l \approx 0$, where the
# value is tiny ($\approx l^2/2$).
#
# Computed literally, `exp(l) - 1 - l` subtracts numbers close to 1 and loses all its
# significant digits (*catastrophic cancellation*): in float32, `exp(l)` carries about 7
# significant digits, so for $|l| \lesssim 10^{-3}$ almost nothing of $l^2/2$ survives, and the
# rounding error can even make the result **negative** — a negative KL, which is impossible.
# `torch.expm1(l)` $= e^l - 1$ computed accurately removes the first cancellation; the second
# one ($- l$) is handled by the Taylor series $f(l) = l^2/2! + l^3/3! + \dots$ for $|l| \le 1/8$.
# Beyond that, the package splits $l = s + r$ with $s$ clamped to $[-1/8, 1/8]$ and uses
# $e^l - 1 - l = f(s) + (e^s\,\mathrm{expm1}(r) - r)$, one expression for every element with no
# branch (`_expm1_minus_x_value`, shown below; its derivative $e^l - 1$ is supplied to autograd
# directly, which keeps the training step cheap). The cell compares the three on float32 inputs with a float64 reference.

# %%
cv.show_source(cv.kl._expm1_minus_x_value)

# %%
l32 = torch.linspace(-1e-3, 1e-3, 20_001, dtype=torch.float32)
reference = torch.expm1(l32.double()) - l32.double()
candidates = {
    "exp(l) - 1 - l": torch.exp(l32) - 1 - l32,
    "expm1(l) - l": torch.expm1(l32) - l32,
    "kl_normal_std (x2)": 2 * cv.kl_normal_std(torch.zeros(len(l32), 1), l32[:, None]),
}
nonzero = reference > 0
worst = {}
for name, value in candidates.items():
    worst[name] = ((value.double() - reference).abs() / reference)[nonzero].max().item()
    n_negative = int((value < 0).sum())
    print(f"{name:20s} worst relative error {worst[name]:9.2e}   negative values: {n_negative:5d} of {len(l32)}")
assert int((candidates["exp(l) - 1 - l"] < 0).sum()) > 0  # the naive form produces "negative KL"
assert worst["exp(l) - 1 - l"] > 1.0 and worst["expm1(l) - l"] > 0.1
assert worst["kl_normal_std (x2)"] < 1e-5 and int((candidates["kl_normal_std (x2)"] < 0).sum()) == 0

# %% [markdown]
# ## 5. The four terms
#
# Write the per-dimension KL as four halved terms, as `cv.kl_normal_std_terms` returns them:
#
# $$\tfrac12\mu^2 \;+\; \tfrac12\sigma^2 \;+\; \big(-\tfrac12\log\sigma^2\big) \;+\; \big(-\tfrac12\big).$$
#
# - $\tfrac12\mu^2$ pulls the mean towards the prior's mean 0 (a quadratic, like an L2 penalty on the code);
# - $\tfrac12\sigma^2$ punishes posteriors **wider** than the prior;
# - $-\tfrac12\log\sigma^2$ punishes posteriors **narrower** than the prior, without bound;
# - $-\tfrac12$ is a constant that makes the minimum exactly 0.
#
# The $\sigma$-terms balance at $\frac{d}{d\sigma^2}\big(\sigma^2 - \log\sigma^2\big) = 1 - 1/\sigma^2 = 0$,
# i.e. $\sigma = 1$; so the unique minimum is $\mu = 0,\ \sigma = 1$ (posterior = prior), with KL = 0.

# %%
fig = plot_kl_terms_curves()
plt.show()

# %% [markdown]
# A grid search over $(\mu, \sigma)$ confirms the minimum numerically:

# %%
mu_grid = torch.arange(-300, 301, dtype=torch.float64) / 100  # -3.00, -2.99, ..., 3.00
sigma_grid = torch.arange(5, 301, dtype=torch.float64) / 100  # 0.05, 0.06, ..., 3.00
M, S = torch.meshgrid(mu_grid, sigma_grid, indexing="ij")
kl_grid = cv.kl_normal_std(M[..., None], 2 * torch.log(S)[..., None])
i, j = divmod(int(kl_grid.argmin()), kl_grid.shape[1])
print(f"grid minimum at mu = {mu_grid[i]:.4f}, sigma = {sigma_grid[j]:.4f}, KL = {kl_grid[i, j]:.4f}")
assert abs(mu_grid[i]) < 1e-9 and abs(sigma_grid[j] - 1) < 1e-9 and kl_grid[i, j].abs() < 1e-12
assert (kl_grid >= 0).all()

# %% [markdown]
# ### Why $-\log\sigma^2$ matters: the posterior that would memorise $x$
#
# The reconstruction term alone would like $\sigma \to 0$: a posterior concentrated on one
# point (a Dirac-like $q$) gives the decoder an exact code for $x$, i.e. the encoder could
# memorise each training example at its own location. The KL forbids this: as $\sigma \to 0$,
# the term $-\tfrac12\log\sigma^2 = -\log\sigma$ grows without bound, so
# $\mathrm{KL} \approx -\log\sigma - \tfrac12$ (per dimension, at $\mu = 0$) tends to infinity —
# slowly (logarithmically), but every factor of 10 in precision costs another
# $\log 10 \approx 2.30$ nats.

# %%
sigmas = [1.0, 1e-1, 1e-2, 1e-4, 1e-8, 1e-16]
kl_sigma = [cv.kl_normal_std([0.0], [2 * math.log(s)]).item() for s in sigmas]
for s, k in zip(sigmas, kl_sigma, strict=True):
    print(f"sigma = {s:7.0e}   KL = {k:8.4f} nats   -log(sigma) - 1/2 = {-math.log(s) - 0.5:8.4f}")
assert all(b > a for a, b in zip(kl_sigma, kl_sigma[1:], strict=False))  # strictly increasing
for s, k in zip(sigmas[3:], kl_sigma[3:], strict=True):  # sigma^2/2 is negligible here
    assert abs(k - (-math.log(s) - 0.5)) < 1e-6
assert abs((kl_sigma[4] - kl_sigma[3]) - 4 * math.log(10)) < 1e-6  # 4 more decades: 4 log 10 nats

# %% [markdown]
# ## 6. Why encoders output $\log\sigma^2$
#
# Two reasons.
#
# **Positivity for free.** A network outputs any real number. With `logvar` as the output,
# $\sigma^2 = e^{\mathrm{logvar}} > 0$ for every value, so the optimiser works on an
# **unconstrained** parameter; outputting $\sigma$ directly would need a constraint
# (softplus, clipping) and a $\sigma \le 0$ would make $\log\sigma^2$ undefined.
#
# **Range.** The KL needs $\log\sigma^2$ itself. Going through $\sigma$ — compute
# $\sigma = e^{\mathrm{logvar}/2}$, square it, take its log — throws away the very number we
# needed whenever $\sigma^2$ is not representable. In float32, $e^{-200} \approx 10^{-87}$
# is below the smallest float32 ($\approx 1.4\times10^{-45}$), so $\sigma^2$ becomes 0,
# $\log\sigma^2 = -\infty$ and the KL is `inf`; its gradient is not finite either, so an
# optimiser step with it would corrupt the encoder's weights. The logvar form uses $l$ directly and gives the
# exact value $\tfrac12(e^{-200} + 200 - 1) = 99.5$. At $\mathrm{logvar} = \pm 30$ both forms
# are fine. Above $\mathrm{logvar} \approx 88.7$, $e^{\mathrm{logvar}}$ itself overflows
# float32 and **no** formula can help (the KL really is astronomically large); the naive form
# then even gives NaN. The naive form below is written here only as a counter-example.

# %%
def kl_naive_from_sigma(mu, logvar):
    """Counter-example: KL computed through sigma (do not use)."""
    sigma = torch.exp(0.5 * logvar)
    return 0.5 * (mu**2 + sigma**2 - torch.log(sigma**2) - 1).sum(-1)


rows = {}
print("   logvar |   naive KL   d/dlogvar |  kl_normal_std   d/dlogvar   (float32)")
for value in [-200.0, -30.0, 0.5, 30.0, 100.0]:
    out = []
    for fn in (kl_naive_from_sigma, cv.kl_normal_std):
        lv = torch.tensor([value], dtype=torch.float32, requires_grad=True)
        kl = fn(torch.zeros(1), lv)
        (grad,) = torch.autograd.grad(kl, lv)
        out += [kl.item(), grad.item()]
    rows[value] = out
    print(f"{value:9.1f} | {out[0]:10.4g} {out[1]:10.4g} | {out[2]:12.4g} {out[3]:12.4g}")

naive_kl, naive_grad, good_kl, good_grad = rows[-200.0]
assert math.isinf(naive_kl) and not math.isfinite(naive_grad)
assert abs(good_kl - 99.5) < 1e-4 and abs(good_grad - (-0.5)) < 1e-6
for value in (-30.0, 0.5, 30.0):  # both fine: same value and gradient
    a, ga, b, gb = rows[value]
    assert math.isclose(a, b, rel_tol=1e-5) and math.isclose(ga, gb, rel_tol=1e-5, abs_tol=1e-6)
assert math.isnan(rows[100.0][0]) and math.isinf(rows[100.0][2])  # overflow: NaN vs inf

# %% [markdown]
# ## 7. Gradients
#
# Differentiate one term $\tfrac12(\mu^2 + e^{l} - l - 1)$ with respect to $\mu$ and to
# $l = \log\sigma^2$:
#
# $$\frac{\partial\,\mathrm{KL}}{\partial\mu_j} = \mu_j, \qquad \frac{\partial\,\mathrm{KL}}{\partial\log\sigma_j^2} = \tfrac12\big(e^{l_j} - 1\big) = \tfrac12\big(\sigma_j^2 - 1\big).$$
#
# The KL pushes each mean towards 0 with a force equal to the mean, and each log-variance
# towards 0 ($\sigma = 1$). In logvar coordinates the push up from a tiny $\sigma$ is at most
# $\tfrac12$ per dimension, while the push down from a large $\sigma$ grows like $\sigma^2$.
# Autograd through the package function agrees:

# %%
mu_g = torch.randn(32, 5, generator=gen, dtype=torch.float64, requires_grad=True)
logvar_g = (2 * torch.randn(32, 5, generator=gen, dtype=torch.float64)).requires_grad_(True)
grad_mu, grad_logvar = torch.autograd.grad(cv.kl_normal_std(mu_g, logvar_g).sum(), (mu_g, logvar_g))
err_mu = (grad_mu - mu_g).abs().max().item()
err_logvar = (grad_logvar - 0.5 * (torch.exp(logvar_g) - 1)).abs().max().item()
print(f"max |dKL/dmu - mu| < 1e-12: {err_mu < 1e-12};  max |dKL/dlogvar - (sigma^2 - 1)/2| < 1e-12: {err_logvar < 1e-12}")
assert err_mu < 1e-12 and err_logvar < 1e-12

# %% [markdown]
# ## 8. The general diagonal form, and asymmetry
#
# The same derivation with a diagonal Gaussian $p = \mathcal N(\mu_p, \operatorname{diag}\sigma_p^2)$
# (use $\mathbb E_q[(z - \mu_p)^2] = (\mu_q - \mu_p)^2 + \sigma_q^2$) gives
#
# $$\mathrm{KL}(q\,\|\,p) = \tfrac12\sum_j\left[\frac{(\mu_{q,j} - \mu_{p,j})^2}{\sigma_{p,j}^2} + \frac{\sigma_{q,j}^2}{\sigma_{p,j}^2} - \log\frac{\sigma_{q,j}^2}{\sigma_{p,j}^2} - 1\right],$$
#
# which is `cv.kl_normal(mu_q, logvar_q, mu_p, logvar_p)`. It is needed for learned priors
# and for comparing two posteriors. With $\mu_p = 0$, $\sigma_p = 1$ it reduces to the
# standard form.

# %%
mu_q, lv_q = torch.randn(64, 6, generator=gen, dtype=torch.float64), torch.randn(64, 6, generator=gen, dtype=torch.float64)
mu_p, lv_p = torch.randn(64, 6, generator=gen, dtype=torch.float64), torch.randn(64, 6, generator=gen, dtype=torch.float64)
general = cv.kl_normal(mu_q, lv_q, mu_p, lv_p)
torch_general = kl_divergence(
    Independent(Normal(mu_q, torch.exp(0.5 * lv_q)), 1), Independent(Normal(mu_p, torch.exp(0.5 * lv_p)), 1)
)
rel_general = ((general - torch_general).abs() / torch_general).max().item()
reduces = (cv.kl_normal(mu_q, lv_q, torch.zeros_like(mu_q), torch.zeros_like(lv_q)) - cv.kl_normal_std(mu_q, lv_q)).abs().max().item()
print(f"kl_normal vs torch: max relative difference < 1e-6: {rel_general < 1e-6}")
print(f"kl_normal with p = N(0, I) equals kl_normal_std (max difference < 1e-12): {reduces < 1e-12}")
assert rel_general < 1e-6 and reduces < 1e-12

# %% [markdown]
# KL is not a distance: swapping the arguments changes the value. For $q = \mathcal N(1, 0.5^2)$
# and $p = \mathcal N(0, 1)$, $\mathrm{KL}(q\|p)$ only asks how unlikely $q$'s narrow bump is
# under the wide $p$, while $\mathrm{KL}(p\|q)$ pays for all of $p$'s mass that falls where the
# narrow $q$ is tiny — which is much more.

# %%
m_a, lv_a = [1.0], [2 * math.log(0.5)]
m_b, lv_b = [0.0], [0.0]
kl_qp = cv.kl_normal(m_a, lv_a, m_b, lv_b).item()
kl_pq = cv.kl_normal(m_b, lv_b, m_a, lv_a).item()
print(f"KL(q || p) = {kl_qp:.4f} nats,  KL(p || q) = {kl_pq:.4f} nats")
assert abs(kl_qp - 0.5 * (1 + 0.25 - math.log(0.25) - 1)) < 1e-12
assert abs(kl_pq - 0.5 * (1 / 0.25 + 1 / 0.25 - math.log(4) - 1)) < 1e-12
assert kl_pq - kl_qp > 1.0

# %% [markdown]
# ## 9. Explorer
#
# Move the sliders of three latent dimensions. The bars are the four halved terms of each
# dimension (from `cv.kl_normal_std_terms`), the black diamond is that dimension's KL, and
# the readout shows the total (from `cv.kl_normal_std`, summed over the dimensions). Things
# to try:
#
# - set every $\mu_j = 0$, $\sigma_j = 1$: all diamonds at 0 (the posterior *is* the prior);
# - push one $\sigma$ to its minimum 0.05: watch the $-\log\sigma^2/2$ bar grow;
# - find, for $\mu = 2$, the $\sigma$ with the smallest KL (it does not depend on $\mu$).

# %%
ClosedFormExplorer(n_dims=3, mu=[0.0, 1.0, -2.0], sigma=[1.0, 0.5, 1.5])

# %% [markdown]
# ## 10. Exercises
#
# ### Exercise 1 — a KL by hand
#
# Compute, with pencil (or `math`), $\mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I)\big)$
# for $\mu = (1, -0.5)$ and $\sigma = (0.5, 1.5)$, in nats. Careful: the formula needs
# $\sigma^2$, not $\sigma$.

# %%
answer = None  # your answer here
cv.exercises.check_ch02_kl_by_hand(answer)

# %% [markdown]
# **Solution.** $\tfrac12\big[(1 + 0.25 - \log 0.25 - 1) + (0.25 + 2.25 - \log 2.25 - 1)\big] \approx 1.1627$;
# the package gives the same number with $\log\sigma^2 = 2\log\sigma$:

# %%
answer = cv.kl_normal_std([1.0, -0.5], [2 * math.log(0.5), 2 * math.log(1.5)]).item()
cv.exercises.check_ch02_kl_by_hand(answer)

# %% [markdown]
# ### Exercise 2 — the best $\sigma$ for a fixed $\mu$
#
# For one dimension with $\mu = 2$, which $\sigma > 0$ minimises the KL to $\mathcal N(0, 1)$?

# %%
answer = None  # your answer here
cv.exercises.check_ch02_best_sigma(answer)

# %% [markdown]
# **Solution.** The $\mu^2$ term does not depend on $\sigma$, and
# $\frac{d}{d\sigma}(\sigma^2 - \log\sigma^2) = 2\sigma - 2/\sigma = 0$ gives $\sigma = 1$
# whatever $\mu$ is. Numerically, by minimising over $\log\sigma^2$ with gradient descent
# (using the gradient of Section 7):

# %%
lv = torch.tensor([1.5], dtype=torch.float64, requires_grad=True)
opt = torch.optim.SGD([lv], lr=0.5)
for _ in range(200):
    opt.zero_grad()
    cv.kl_normal_std(torch.tensor([2.0], dtype=torch.float64), lv).backward()
    opt.step()
answer = math.exp(0.5 * lv.item())
cv.exercises.check_ch02_best_sigma(answer)

# %% [markdown]
# ### Exercise 3 — a gradient
#
# For one dimension with $\mu = 0.7$ and $\log\sigma^2 = 1$, what is
# $\partial\,\mathrm{KL}/\partial\log\sigma^2$?

# %%
answer = None  # your answer here
cv.exercises.check_ch02_grad_logvar(answer)

# %% [markdown]
# **Solution.** $\tfrac12(\sigma^2 - 1) = \tfrac12(e^{1} - 1) \approx 0.8591$ ($\mu$ does not
# enter). By autograd:

# %%
lv = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
(g,) = torch.autograd.grad(cv.kl_normal_std(torch.tensor([0.7], dtype=torch.float64), lv), lv)
answer = g.item()
print(f"autograd: {answer:.4f}, formula: {0.5 * (math.e - 1):.4f}")
cv.exercises.check_ch02_grad_logvar(answer)

# %% [markdown]
# ## Summary
#
# - For $q = \mathcal N(\mu, \operatorname{diag}\sigma^2)$ and $p = \mathcal N(0, I)$:
#   $\mathrm{KL} = \tfrac12\sum_j(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1)$, derived from
#   $\mathbb E_q[\log q - \log p]$ with $\mathbb E_q[(z-\mu)^2] = \sigma^2$ and $\mathbb E_q[z^2] = \mu^2 + \sigma^2$.
#   In a VAE it is summed over latent dimensions and averaged over the batch.
# - It agrees with Monte Carlo (within 4 standard errors) and with `torch.distributions` (to $10^{-6}$ relative).
# - Its minimum, 0, is at $\mu = 0,\ \sigma = 1$; $\sigma^2$ punishes wide posteriors and
#   $-\log\sigma^2$ punishes narrow ones without bound, which stops the encoder from memorising inputs.
# - Encoders output $\log\sigma^2$: positivity for free, and no underflow of $\sigma^2$;
#   `kl_normal_std` uses `expm1` and a series so the value stays accurate and non-negative near the prior.
# - Gradients: $\partial\mathrm{KL}/\partial\mu = \mu$, $\partial\mathrm{KL}/\partial\log\sigma^2 = \tfrac12(\sigma^2 - 1)$.
# - The general diagonal form `kl_normal` reduces to the standard one for $p = \mathcal N(0, I)$, and $\mathrm{KL}(q\|p) \ne \mathrm{KL}(p\|q)$.
