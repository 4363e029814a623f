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
# - use the general diagonal-vs-diagonal form and the full-covariance form (chapter 03's $q$), and show that KL is not symmetric;
# - read the form learners meet in code, `-0.5 * sum(1 + logvar - mu**2 - exp(logvar))`, and say how large its float error is.

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch.distributions import Independent, Normal, kl_divergence

import course_vae as cv
from course_vae.notebook import format_stable as fmt  # prints a number the same on every CPU
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

# %% [markdown]
# Both distributions factorise over the $d$ coordinates, and the KL of a product of
# independent factors is the sum of the factors' KLs: the log of a product is the sum of the
# logs, $\log\frac{q_1(z_1)q_2(z_2)}{p_1(z_1)p_2(z_2)} = \log\frac{q_1(z_1)}{p_1(z_1)} + \log\frac{q_2(z_2)}{p_2(z_2)}$,
# and the expectation under $q_1 q_2$ of a function of $z_1$ alone is its expectation under $q_1$.
# So the per-example KL is a **sum over latent dimensions** (not a mean); in training it is then **averaged over the examples of a batch**
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

# %% [markdown]
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
    print(f"{name:26s} sampled {fmt(est)} +- {fmt(se)}   exact {fmt(exact)}")
    assert abs(est - exact) < 4 * se
entropy_formula = 0.5 * math.log(2 * math.pi * math.e * sigma0**2)
entropy_torch = Normal(torch.tensor(mu0), torch.tensor(sigma0)).entropy().item()
print(f"H(q): formula {fmt(entropy_formula)}, torch {fmt(entropy_torch, spread=1e-6)}")  # torch: float32
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
    print(f"{i:4d}   {fmt(closed[i]):>10}   {fmt(mc[i]):>10}   {fmt(se[i])}   {fmt(ratio, 2):>6}")
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
print(f"batch mean KL: ours {fmt(ours.mean())}, torch {fmt(theirs.mean())} nats; max relative difference < 1e-6: {rel < 1e-6}")
assert rel < 1e-6

# %% [markdown]
# ## 4. The package's implementation
#
# Here is the tested function used throughout the course, the training loop included. It
# checks the types and shapes of its inputs, then computes
# $\tfrac12\sum_j(\mu_j^2 + e^{l_j} - 1 - l_j)$ with $l = \log\sigma^2$:

# %%
cv.show_source(cv.kl.kl_normal_std)

# %% [markdown]
# With $l = \log\sigma^2$, the $\sigma$-part of each term is $\sigma^2 - \log\sigma^2 - 1 = e^{l} - 1 - l$.
# That expression is **always $\ge 0$** (its minimum is 0 at $l = 0$), and a collapsed latent
# dimension — one whose posterior equals the prior — sits exactly at $l \approx 0$, where the
# value is tiny ($\approx l^2/2$).
#
# Computed literally, `exp(l) - 1 - l` subtracts numbers close to 1 and loses its significant
# digits (*catastrophic cancellation*): in float32, `exp(l)` carries about 7 significant
# digits, so for $|l| \lesssim 10^{-3}$ almost nothing of $l^2/2$ survives, and rounding can even
# make the result **negative** — an impossible negative KL. The cell compares the literal
# form, a half-fix with `expm1`, and the package on float32 inputs, against a float64
# reference. (How the package does it is the optional aside below.)

# %%
l32 = torch.linspace(-1e-3, 1e-3, 20_001, dtype=torch.float32)
reference = torch.expm1(l32.double()) - l32.double()
candidates = {
    "exp(l) - 1 - l": torch.exp(l32) - 1 - l32,
    "expm1(l) - l": torch.expm1(l32) - l32,
    "kl_normal_std (x2)": 2 * cv.kl_normal_std(torch.zeros(len(l32), 1), l32[:, None]),
}
nonzero = reference > 0
worst, n_negative = {}, {}
for name, value in candidates.items():
    worst[name] = ((value.double() - reference).abs() / reference)[nonzero].max().item()
    n_negative[name] = int((value < 0).sum())
    # the size of the worst error and the count of negative values depend on the CPU's
    # float32 exp kernel: print which side of a bound each is on (the asserts check it)
    verdict = "above 10% (no reliable digit)" if worst[name] > 0.1 else "below 1e-5"
    print(f"{name:20s} worst relative error {verdict:30s} negative values: {'some' if n_negative[name] else 'none'}")
assert n_negative["exp(l) - 1 - l"] > 0  # the naive form produces "negative KL"
assert worst["exp(l) - 1 - l"] > 1.0 and worst["expm1(l) - l"] > 0.1
assert worst["kl_normal_std (x2)"] < 1e-5 and n_negative["kl_normal_std (x2)"] == 0

# %% [markdown] tags=["aside"]
# **Aside (optional): how `kl_normal_std` computes $e^l - 1 - l$.** Implementation notes, to
# skip on a first read. `torch.expm1(l)` $= e^l - 1$ computed
# accurately removes the first cancellation. The second one ($- l$) is handled by the Taylor
# series $f(l) = l^2/2! + l^3/3! + \dots$ for $|l| \le 1/8$. Beyond that, the package splits
# $l = s + r$ with $s$ clamped to $[-1/8, 1/8]$ and uses
# $e^l - 1 - l = f(s) + (e^s\,\mathrm{expm1}(r) - r)$: one expression for every element, with
# no branch (`_expm1_minus_x_value`, below). Its derivative $e^l - 1$ is given to autograd
# directly, which keeps the training step cheap. How large the literal form's error gets
# depends on the CPU's float32 `exp`: for the worst point of the grid we measured a relative
# error of $5.7\times10^{10}$ with AVX-512 kernels and $3.8\times10^{6}$ with the generic ones,
# and about 2,000 of the 20,001 values negative (between 1,955 and 2,069 on the CPUs we tried).

# %% tags=["aside"]
cv.show_source(cv.kl._expm1_minus_x_value)

# %% [markdown]
# **The form you will meet in code.** Most VAE implementations write the KL as
# `-0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=-1)` — the same closed form with the
# signs moved inside. In float32 near $l = 0$ it is the literal form above, so its *relative*
# error is large; its *absolute* error, though, is one or two roundings of numbers near 1:
# about $6\times10^{-8}$ nats at most on this grid. It too gives negative values there — on an
# Intel Xeon 24 of the 20,001 with AVX-512 kernels, 23 with the generic ones, the most negative
# $-2^{-25} \approx -3.0\times10^{-8}$ nats (measured below). So a "negative KL" of that size is
# rounding, not a bug in the formula; it matters only where tiny per-dimension KLs are compared
# or logged (a collapsed dimension, chapter 04), which is why the package uses `expm1` and a
# series. A KL of even $10^{-3}$ nats is unaffected.

# %%
def kl_code_form(mu, logvar):
    """The KL as VAE code usually writes it (shown for comparison)."""
    return -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=-1)


code_form = kl_code_form(torch.zeros(len(l32), 1), l32[:, None])
abs_error = (code_form.double() - 0.5 * reference).abs().max().item()
negative = code_form[code_form < 0]
print(f"code form on the float32 grid |l| <= 1e-3: max absolute error below 1e-7 nats: {abs_error < 1e-7}")
print(f"  negative values: {'some' if len(negative) else 'none'} (a few dozen of {len(l32):,}), "
      f"all between -1e-7 and 0 nats: {bool((negative > -1e-7).all())}")
agree = (kl_code_form(mu_b, logvar_b) - cv.kl_normal_std(mu_b, logvar_b)).abs().max().item()
print(f"code form = kl_normal_std on the float64 batch of Section 3 (max difference < 1e-9): {agree < 1e-9}")
# measured 5.94e-08 nats with both the AVX-512 and the generic CPU kernels
assert 1e-8 < abs_error < 1e-7 and agree < 1e-9
assert 0 < len(negative) < 100 and float(negative.min()) > -1e-7

# %% [markdown]
# ## 5. The four terms
#
# Write the per-dimension KL as four halved terms, as `cv.kl_normal_std_terms` returns them:
#
# $$\tfrac12\mu^2 \;+\; \tfrac12\sigma^2 \;+\; \big(-\tfrac12\log\sigma^2\big) \;+\; \big(-\tfrac12\big).$$
#
# - $\tfrac12\mu^2$ pulls the mean towards the prior's mean 0 (a quadratic, like an L2 penalty on the code);
# - $\tfrac12\sigma^2$ grows with the width and punishes posteriors **wider** than the prior;
# - $-\tfrac12\log\sigma^2$ grows without bound as $\sigma \to 0$ and punishes posteriors **narrower**
#   than the prior — but on its own it is **negative**, a *bonus*, for $\sigma > 1$ (the green line
#   of the right panel below 0);
# - $-\tfrac12$ is a constant that makes the minimum exactly 0.

# %% [markdown]
# Neither $\sigma$-term is two-sided alone: only their sum $\tfrac12(\sigma^2 - \log\sigma^2 - 1)$ is
# $\ge 0$ and grows in both directions (the black curve of the right panel). In the left panel
# $\sigma = 1$, the $\sigma$-terms cancel and the total *is* $\tfrac12\mu^2$ (wide curve under the dashed total).
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
print(f"grid minimum at mu = {fmt(mu_grid[i])}, sigma = {fmt(sigma_grid[j])}, KL = {fmt(kl_grid[i, j])}")
assert abs(mu_grid[i]) < 1e-9 and abs(sigma_grid[j] - 1) < 1e-9 and kl_grid[i, j].abs() < 1e-12
assert (kl_grid >= 0).all()

# %% [markdown]
# ### Why $-\log\sigma^2$ matters: the posterior that would memorise $x$
#
# The reconstruction term alone would like $\sigma \to 0$: a posterior concentrated on one
# point (a Dirac-like $q$) gives the decoder an exact code for $x$, i.e. the encoder could
# memorise each training example at its own location. The KL **penalises** this — it does not
# forbid it: as $\sigma \to 0$,
# the term $-\tfrac12\log\sigma^2 = -\log\sigma$ grows without bound, so
# $\mathrm{KL} \approx -\log\sigma - \tfrac12$ (per dimension, at $\mu = 0$) tends to infinity —
# slowly (logarithmically), but every factor of 10 in $\sigma$ costs another
# $\log 10 \approx 2.30$ nats. (In the precision $1/\sigma^2$, a factor of 10 costs half that,
# $\tfrac12\log 10 \approx 1.15$ nats.)

# %%
sigmas = [1.0, 1e-1, 1e-2, 1e-4, 1e-8, 1e-16]
kl_sigma = [cv.kl_normal_std([0.0], [2 * math.log(s)]).item() for s in sigmas]
for s, k in zip(sigmas, kl_sigma, strict=True):
    print(f"sigma = {s:7.0e}   KL = {fmt(k):>8} nats   -log(sigma) - 1/2 = {fmt(-math.log(s) - 0.5):>8}")
assert all(b > a for a, b in zip(kl_sigma, kl_sigma[1:], strict=False))  # strictly increasing
for s, k in zip(sigmas[3:], kl_sigma[3:], strict=True):  # sigma^2/2 is negligible here
    assert abs(k - (-math.log(s) - 0.5)) < 1e-6
assert abs((kl_sigma[4] - kl_sigma[3]) - 4 * math.log(10)) < 1e-6  # 4 more decades: 4 log 10 nats

# %% [markdown]
# Every cost in this table is finite. Whether a sharper posterior pays is a trade, in nats,
# against what it buys in the reconstruction term. An upper bound on that gain for a binarised
# $8\times8$ digit (the data of chapter 03): a decoder that knows nothing gives each pixel
# probability $\tfrac12$, i.e. $\log p(x\mid z) = -64\log 2$, and a perfect one $0$; so exact
# reconstruction gains at most $64\log 2 \approx 44.4$ nats per image. Two latent dimensions at
# $\sigma = 10^{-4}$ cost about $2 \times 8.7 = 17.4$ nats: less than that bound. The KL makes
# memorising expensive, and the optimum balances the two terms; chapter 03 measures what
# happens when the KL is removed.

# %%
max_gain = 64 * math.log(2)
cost_two_dims = 2 * kl_sigma[sigmas.index(1e-4)]
print(f"largest possible reconstruction gain per 8x8 binary image: {fmt(max_gain, 1)} nats")
print(f"KL cost of two dimensions at sigma = 1e-4:                {fmt(cost_two_dims, 1)} nats")
assert cost_two_dims < max_gain and math.isfinite(kl_sigma[-1])

# %% [markdown]
# ## 6. Why encoders output $\log\sigma^2$
#
# Two reasons.
#
# **Positivity for free.** A network outputs any real number. With `logvar` as the output,
# $\sigma^2 = e^{\mathrm{logvar}} > 0$ for every value, so the optimiser works on an
# **unconstrained** parameter; outputting $\sigma$ directly would need a constraint
# (softplus, clipping) and a $\sigma \le 0$ would make $\log\sigma^2$ undefined.

# %% [markdown]
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
    # 4 significant digits of float32 values: each printed value lies at least 1e-5
    # (relative) from a rounding boundary, far beyond float32's ~1e-7 between CPU kernels
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
# ### Full covariances
#
# Chapter 03 uses a $q$ with a full covariance. For $q = \mathcal N(\mu_0, \Sigma_0)$ and
# $p = \mathcal N(\mu_1, \Sigma_1)$ in $d$ dimensions the same derivation (with
# $\mathbb E_q[(z - \mu_1)^\top\Sigma_1^{-1}(z - \mu_1)] = \operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_0 - \mu_1)^\top\Sigma_1^{-1}(\mu_0 - \mu_1)$) gives
#
# $$\mathrm{KL}(q\,\|\,p) = \tfrac12\Big[\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1 - \mu_0)^\top\Sigma_1^{-1}(\mu_1 - \mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\Big],$$
#
# `cv.kl.kl_gaussian_full`. With diagonal covariances the trace, the quadratic form
# and the log-determinants all become sums over $j$ and it is the diagonal form above — which
# is why a factorised $q$ against a factorised $p$ is a sum over dimensions.

# %%
from course_vae.kl import kl_gaussian_full

A = torch.randn(16, 3, 3, generator=gen, dtype=torch.float64)
B = torch.randn(16, 3, 3, generator=gen, dtype=torch.float64)
cov_0 = A @ A.transpose(-1, -2) + 0.5 * torch.eye(3, dtype=torch.float64)
cov_1 = B @ B.transpose(-1, -2) + 0.5 * torch.eye(3, dtype=torch.float64)
mean_0, mean_1 = torch.randn(16, 3, generator=gen, dtype=torch.float64), torch.randn(16, 3, generator=gen, dtype=torch.float64)
full = kl_gaussian_full(mean_0, cov_0, mean_1, cov_1)
torch_full = kl_divergence(torch.distributions.MultivariateNormal(mean_0, cov_0), torch.distributions.MultivariateNormal(mean_1, cov_1))
rel_full = ((full - torch_full).abs() / torch_full).max().item()
diag_case = (kl_gaussian_full(mu_q, torch.diag_embed(lv_q.exp()), mu_p, torch.diag_embed(lv_p.exp())) - general).abs().max().item()
print(f"kl_gaussian_full vs torch MultivariateNormal: max relative difference < 1e-9: {rel_full < 1e-9}")
print(f"with diagonal covariances it equals kl_normal (max difference < 1e-9): {diag_case < 1e-9}")
assert rel_full < 1e-9 and diag_case < 1e-9

# %% [markdown]
# KL is not a distance: swapping the arguments changes the value. For $q = \mathcal N(1, 0.4^2)$
# and $p = \mathcal N(0, 1)$, $\mathrm{KL}(q\|p)$ only asks how unlikely $q$'s narrow bump is
# under the wide $p$, while $\mathrm{KL}(p\|q)$ pays for all of $p$'s mass that falls where the
# narrow $q$ is tiny — which is much more.

# %%
m_a, lv_a = [1.0], [2 * math.log(0.4)]
m_b, lv_b = [0.0], [0.0]
kl_qp = cv.kl_normal(m_a, lv_a, m_b, lv_b).item()
kl_pq = cv.kl_normal(m_b, lv_b, m_a, lv_a).item()
print(f"KL(q || p) = {fmt(kl_qp)} nats,  KL(p || q) = {fmt(kl_pq)} nats")
assert abs(kl_qp - 0.5 * (1 + 0.16 - math.log(0.16) - 1)) < 1e-12
assert abs(kl_pq - 0.5 * (1 / 0.16 + 1 / 0.16 - math.log(1 / 0.16) - 1)) < 1e-12
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
# - find, for $\mu = 2$, the $\sigma$ with the smallest KL; then do the same for $\mu = 0$ and compare.

# %%
ClosedFormExplorer(n_dims=3, mu=[0.0, 1.0, -2.0], sigma=[1.0, 0.4, 1.5])

# %% [markdown]
# ## 10. Exercises
#
# Each checker answers **correct**, **close** (with what to refine) or **not right** (naming
# the common slip your answer matches, if it matches one). A wrong try gets a nudge; the next
# one gets the method. Each solution sits collapsed under its exercise: expand it after you
# have tried.
#
# ### Exercise 1 — a KL by hand
#
# Compute, with pencil (two-decimal logs are fine), $\mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I)\big)$
# for $\mu = (1, -0.5)$ and $\sigma = (0.5, 1.5)$, in nats, to 2 decimals. (Or estimate it by
# Monte Carlo with $10^6$ samples: its standard error is then about 0.0014.)

# %%
answer = None  # your answer here
cv.exercises.check_ch02_kl_by_hand(answer)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** $\tfrac12\big[(1 + 0.25 - \log 0.25 - 1) + (0.25 + 2.25 - \log 2.25 - 1)\big] \approx \tfrac12(1.636 + 0.689) \approx 1.163$
# nats; the package gives the same number with $\log\sigma^2 = 2\log\sigma$:

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = cv.kl_normal_std([1.0, -0.5], [2 * math.log(0.5), 2 * math.log(1.5)]).item()
cv.exercises.check_ch02_kl_by_hand(answer)

# %% [markdown]
# ### Exercise 2 — find the bug
#
# A learner's VAE loss (`cv.exercises.buggy_vae_loss`; `recon_log_lik` is $\log p(x\mid z)$
# summed over pixels, shape `(batch,)`; `mu`, `logvar` have shape `(batch, latent_dim)`):
#
# ```python
# def buggy_vae_loss(recon_log_lik, mu, logvar):
#     kl = 0.5 * torch.mean(1 + logvar - mu**2 - torch.exp(logvar), dim=1)
#     return torch.mean(-recon_log_lik + kl)
# ```
#
# Training with it, the KL printed in the logs is negative. Find what is wrong — there is more
# than one thing — and write `fixed_loss`, with the same arguments, that returns the course's
# VAE loss (Section 1 says how each term is reduced). Pass **the function** to the checker: it
# runs your function on test batches, names a bug that remains if it recognises one, and
# gives a hint.

# %%
fixed_loss = None  # your function here
cv.exercises.check_ch02_find_the_bug(fixed_loss)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** Two bugs. The sign: $0.5\sum(1 + l - \mu^2 - e^l) = -\mathrm{KL}$, so this loss *subtracts*
# the KL and minimising it pushes the KL up. And the mean over `dim=1`: the KL of a product is
# the **sum** over dimensions; the mean divides it by the latent dimension and silently weakens
# it against the pixel-summed reconstruction.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
def fixed_loss(recon_log_lik, mu, logvar):
    kl = -0.5 * torch.sum(1 + logvar - mu**2 - torch.exp(logvar), dim=1)
    return torch.mean(-recon_log_lik + kl)


cv.exercises.check_ch02_find_the_bug(fixed_loss)

# %% [markdown]
# ### Exercise 3 — derive: the $\sigma$ where the KL and the reconstruction agree
#
# Suppose that, near the best code, the decoder's expected reconstruction loss grows with the
# posterior's width as $\tfrac c2\sigma^2$ with $c = 3$ (a decoder with slope $w$ and noise $s$ gives
# $c = w^2/s^2$): the reconstruction term wants $\sigma \to 0$, the KL wants $\sigma = 1$. Which $\sigma$
# minimises their sum, $\tfrac c2\sigma^2 + \tfrac12(\mu^2 + \sigma^2 - \log\sigma^2 - 1)$? To 2 decimals.
# Predict first: above or below 1, and does $\mu$ matter?

# %%
answer = None  # your answer here
cv.exercises.check_ch02_sigma_with_reconstruction(answer)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** $\frac{d}{d\sigma}$: $c\sigma + \sigma - 1/\sigma = 0$, so $\sigma^2 = 1/(1 + c)$ and $\sigma = 1/2$;
# $\mu$ does not enter. The KL charges $\tfrac12(\tfrac14 + \log 4 - 1) \approx 0.32$ nats for that
# $\sigma$: a price, paid because the reconstruction gains more. A grid search agrees:

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
sigma_grid_ex = torch.arange(1, 301, dtype=torch.float64) / 100
total_ex = 1.5 * sigma_grid_ex**2 + 0.5 * (sigma_grid_ex**2 - torch.log(sigma_grid_ex**2) - 1)
answer = sigma_grid_ex[total_ex.argmin()].item()
kl_price = cv.kl_normal_std([0.0], [2 * math.log(answer)]).item()
print(f"grid minimum at sigma = {fmt(answer, 2)}; the KL there: {fmt(kl_price)} nats")
assert abs(answer - 0.5) < 1e-9
cv.exercises.check_ch02_sigma_with_reconstruction(answer)

# %% [markdown]
# ## Summary
#
# - For $q = \mathcal N(\mu, \operatorname{diag}\sigma^2)$ and $p = \mathcal N(0, I)$:
#   $\mathrm{KL} = \tfrac12\sum_j(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1)$, derived from
#   $\mathbb E_q[\log q - \log p]$ with $\mathbb E_q[(z-\mu)^2] = \sigma^2$ and $\mathbb E_q[z^2] = \mu^2 + \sigma^2$.
#   In a VAE it is summed over latent dimensions and averaged over the batch.
# - It agrees with Monte Carlo (within 4 standard errors) and with `torch.distributions` (to $10^{-6}$ relative).
# - Its minimum, 0, is at $\mu = 0,\ \sigma = 1$; $\sigma^2$ punishes wide posteriors and
#   $-\log\sigma^2$ punishes narrow ones without bound (alone it is a bonus for $\sigma > 1$; only the sum is two-sided).
#   The KL *penalises* a memorising, near-Dirac posterior — about 2.3 nats per dimension for every factor of 10 in
#   $\sigma$ — it does not forbid it: the cost is weighed against what the reconstruction gains.
# - Encoders output $\log\sigma^2$: positivity for free, and no underflow of $\sigma^2$;
#   `kl_normal_std` uses `expm1` and a series so the value stays accurate and non-negative near the prior.
# - Gradients: $\partial\mathrm{KL}/\partial\mu = \mu$, $\partial\mathrm{KL}/\partial\log\sigma^2 = \tfrac12(\sigma^2 - 1)$.
# - The general diagonal form `kl_normal` reduces to the standard one for $p = \mathcal N(0, I)$, and is the
#   diagonal case of the full-covariance form `kl_gaussian_full`; $\mathrm{KL}(q\|p) \ne \mathrm{KL}(p\|q)$.
# - In code the KL is often `-0.5 * sum(1 + logvar - mu**2 - exp(logvar))`: the same formula, with an absolute
#   float32 error of about $6\times10^{-8}$ nats near the prior — tiny, but enough to print a "negative KL".
