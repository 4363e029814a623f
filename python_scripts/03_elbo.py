# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Chapter 03 — The ELBO
#
# A VAE is trained by maximising the **evidence lower bound** (ELBO)
#
# $$\mathrm{ELBO}(x) = \mathbb E_{q(z\mid x)}[\log p(x\mid z)] - \mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big) \;\le\; \log p(x).$$
#
# This chapter derives the bound two ways, checks it exactly on a model where $\log p(x)$ is
# known, shows why the **reparameterisation trick** makes it trainable, trains a VAE on real
# (offline, bundled) digit images, measures how loose the bound is with the IWAE bound, and
# removes the KL term to see what it was doing.
#
# ## Learning objectives
#
# After this chapter you can
#
# - derive the ELBO from Jensen's inequality and from the identity $\log p(x) = \mathrm{ELBO}(q) + \mathrm{KL}(q(z\mid x)\,\|\,p(z\mid x))$, and say what the gap is;
# - verify both on a linear-Gaussian model, and explain why a diagonal $q$ cannot close the gap when the exact posterior is correlated;
# - compare the reparameterised and the score-function gradient estimators (both unbiased, very different variances);
# - train a VAE with a Bernoulli decoder on binarised digits, state the sum-vs-mean convention and the sign of the KL in the loss;
# - estimate $\log p(x)$ with the importance-weighted bound $\mathrm{IWAE}_K$ and read its ordering $\mathrm{ELBO} \le \mathrm{IWAE}_K \le \log p(x)$;
# - explain the KL term as a regulariser: what breaks (samples from the prior, the aggregate posterior) when it is removed, and what does not (reconstructions).

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch.distributions import Normal

import course_vae as cv
from course_vae import gradients, latent, sample_quality
from course_vae.diagnostics import aggregate_kl, encode_dataset
from course_vae.elbo import importance_log_weights, iwae_from_log_weights
from course_vae.linear_gaussian import kl_gaussian_full
from course_vae.plots import (
    plot_beta_comparison,
    plot_elbo_vs_q,
    plot_gradient_variance,
    plot_image_rows,
    plot_latent_manifold,
    plot_latent_scatter,
    plot_training_curves,
)
from course_vae.recipes import CH03_BETA_VAE, CH03_VAE, train_recipe
from course_vae.widgets import LatentPlaneExplorer

device = cv.setup_notebook(seed=0)

# %% [markdown]
# ## 1. The ELBO, derived two ways
#
# A latent-variable model has a prior $p(z)$ and a decoder $p(x\mid z)$; the **evidence** is
# $\log p(x) = \log\int p(x\mid z)\,p(z)\,dz$, an integral we cannot compute for a neural
# decoder. Take any distribution $q(z\mid x)$ (the encoder) that is positive wherever $p(z\mid x)$ is.
#
# **Way 1 — Jensen's inequality.** Multiply and divide by $q$, then use that $\log$ is
# concave, so $\log\mathbb E[w] \ge \mathbb E[\log w]$:
#
# $$\log p(x) = \log\mathbb E_{q(z\mid x)}\!\left[\frac{p(x, z)}{q(z\mid x)}\right] \;\ge\; \mathbb E_{q(z\mid x)}\!\left[\log\frac{p(x\mid z)\,p(z)}{q(z\mid x)}\right] = \mathbb E_q[\log p(x\mid z)] - \mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big).$$
#
# This says *that* it is a bound, not *how far* from $\log p(x)$ it is.
#
# **Way 2 — an identity.** Write $p(x, z) = p(z\mid x)\,p(x)$ inside the ELBO:
#
# $$\mathrm{ELBO}(q) = \mathbb E_q\!\left[\log\frac{p(z\mid x)\,p(x)}{q(z\mid x)}\right] = \log p(x) - \mathrm{KL}\big(q(z\mid x)\,\|\,p(z\mid x)\big).$$
#
# So $\log p(x) = \mathrm{ELBO}(q) + \mathrm{KL}(q(z\mid x)\,\|\,p(z\mid x))$ **exactly**: the gap
# is the KL from $q$ to the *exact posterior*, it is $\ge 0$ (chapter 01), and it is $0$ iff
# $q(z\mid x) = p(z\mid x)$. Maximising the ELBO over $q$ therefore does two things at once:
# it pushes the bound up towards $\log p(x)$ and pulls $q$ towards the true posterior.
#
# Note the two different KLs: $\mathrm{KL}(q\,\|\,p(z))$ (to the **prior**) is a term *of* the
# ELBO, computable in closed form (chapter 02); $\mathrm{KL}(q\,\|\,p(z\mid x))$ (to the
# **posterior**) is the *gap*, which we can almost never compute — except in the model below.

# %% [markdown]
# ## 2. Checking the identity where everything is exact
#
# In the linear-Gaussian model $z \sim \mathcal N(0, I_2)$, $x\mid z \sim \mathcal N(Wz + b, s^2 I_3)$,
# $\log p(x)$, the posterior $p(z\mid x) = \mathcal N(m^*, S^*)$ and the ELBO of any Gaussian $q$
# are available in closed form (`cv.linear_gaussian`). The chapter's $W$ has two similar
# columns, so the exact posterior is **strongly correlated**:

# %%
lg = cv.exercises.ch03_linear_gaussian()
x_lg = torch.tensor(cv.exercises.CH03_LG_X, dtype=torch.float64)
log_px = lg.log_marginal(x_lg).item()
post_mean, post_cov = lg.posterior(x_lg)
corr = (post_cov[0, 1] / post_cov.diagonal().sqrt().prod()).item()
print(f"log p(x) = {log_px:.4f} nats")
print(f"posterior mean = ({post_mean[0]:.4f}, {post_mean[1]:.4f}), correlation of z1 and z2 = {corr:.4f}")
assert abs(corr) > 0.5

# %% [markdown]
# First, the closed-form ELBO itself is checked against a Monte Carlo average of
# $\log p(x, z) - \log q(z\mid x)$ with $z \sim q$ (here $q$ is a diagonal Gaussian), within 4
# standard errors:

# %%
q_mean, q_std = torch.tensor([1.0, -0.5], dtype=torch.float64), torch.tensor([0.4, 0.7], dtype=torch.float64)
q = Normal(q_mean, q_std)
z = q.sample((200_000,))
w = lg.log_joint(x_lg, z) - q.log_prob(z).sum(-1)
mc, se = w.mean().item(), (w.std() / math.sqrt(len(w))).item()
closed = lg.elbo(x_lg, q_mean, q_var=q_std**2).item()
print(f"ELBO: closed form {closed:.4f}, Monte Carlo {mc:.4f} +- {se:.4f}; log p(x) = {log_px:.4f}")
assert abs(mc - closed) < 4 * se and closed < log_px

# %% [markdown]
# Now a **family of $q$'s**: centred at the posterior mean, with covariance $c\,S$ for a
# scale $c$ from $0.1$ to $10$, and two choices of $S$:
#
# - **full covariance**, $S = S^*$ (the exact posterior's covariance): at $c = 1$, $q$ *is* the posterior;
# - **diagonal**, $S = \operatorname{diag}(1/M_{jj})$ with $M = (S^*)^{-1}$: the best diagonal (mean-field) $q$ at $c = 1$.
#
# For each $q$ we compute the ELBO (closed form, `lg.elbo`) and, independently, the KL to the
# exact posterior (`kl_gaussian_full`). The identity says $\log p(x) - \mathrm{ELBO} = \mathrm{KL}$ for every $q$.

# %%
scales = torch.logspace(-1, 1, 81, dtype=torch.float64)
mf_mean, mf_var = lg.mean_field_posterior(x_lg)
families = {"full covariance": post_cov, "diagonal": torch.diag(mf_var)}
elbos, kls = {}, {}
for name, S in families.items():
    covs = scales[:, None, None] * S
    elbos[name] = lg.elbo(x_lg, post_mean.expand(len(scales), 2), q_cov=covs)
    kls[name] = kl_gaussian_full(post_mean, covs, post_mean, post_cov)

fig = plot_elbo_vs_q(scales, elbos, log_px, gaps_kl=kls, param_label="scale c of q's covariance (c S)")
for ax in fig.axes:
    ax.set_xscale("log")
plt.show()

# %%
i_one = int((scales - 1).abs().argmin())
M = lg.posterior_precision()
mf_gap_formula = 0.5 * (torch.log(M.diagonal()).sum() - torch.logdet(M)).item()
for name in families:
    gap = log_px - elbos[name]
    print(f"{name:16s} max ELBO {elbos[name].max():.4f} at c = {scales[elbos[name].argmax()]:.4f}; "
          f"smallest gap {gap.min():.4f} nats; max |gap - KL| < 1e-9: {(gap - kls[name]).abs().max() < 1e-9}")
    assert (elbos[name] <= log_px + 1e-12).all()         # a lower bound, for every q
    assert (gap - kls[name]).abs().max() < 1e-9           # the gap is KL(q || p(z|x))
    assert int(elbos[name].argmax()) == i_one             # best scale: c = 1
full_gap = log_px - elbos["full covariance"][i_one].item()
diag_gap = log_px - elbos["diagonal"][i_one].item()
print(f"at c = 1: full-covariance gap {abs(full_gap):.4f} (closed); diagonal gap {diag_gap:.4f} "
      f"= 1/2 (sum log M_jj - log det M) = {mf_gap_formula:.4f}")
assert abs(full_gap) < 1e-10
assert diag_gap > 0.5 and abs(diag_gap - mf_gap_formula) < 1e-10

# %% [markdown]
# The gap **closes for the full-covariance $q$** (it can equal the posterior) but **not for
# the diagonal $q$**: its best member still misses the correlation of $z_1$ and $z_2$, and
# pays $\tfrac12(\sum_j \log M_{jj} - \log\det M) \approx 0.56$ nats. A VAE's encoder outputs
# a diagonal Gaussian, so its ELBO carries such a gap on top of the encoder's own errors
# (the *amortisation* gap). Section 5 measures the total with the IWAE bound.

# %% [markdown]
# ## 3. The reparameterisation trick
#
# Training needs $\nabla_\phi\,\mathbb E_{q_\phi(z\mid x)}[f(z)]$: a gradient of an expectation
# *whose distribution depends on the parameters*. Take the toy case $q = \mathcal N(\mu, \sigma^2)$,
# $f(z) = z^2$: $\mathbb E[z^2] = \mu^2 + \sigma^2$, so the true gradient is $d/d\mu = 2\mu$.
#
# - **Score function** (REINFORCE): $\nabla_\mu\mathbb E_q[f] = \mathbb E_q[f(z)\,\nabla_\mu\log q(z)] = \mathbb E_q\!\left[f(z)\,\frac{z - \mu}{\sigma^2}\right]$. Needs only values of $f$ — but every sample's $f(z)$ is multiplied by a random sign-changing factor.
# - **Reparameterisation**: write $z = \mu + \sigma\varepsilon$, $\varepsilon \sim \mathcal N(0, 1)$; the distribution of $\varepsilon$ no longer depends on $\mu$, so $\nabla_\mu\mathbb E_\varepsilon[f(\mu + \sigma\varepsilon)] = \mathbb E_\varepsilon[f'(\mu + \sigma\varepsilon)]$. Uses the derivative of $f$ (backpropagation through the decoder, in a VAE).
#
# The package's estimators (per-sample gradients, so we can measure their spread):

# %%
cv.show_source(gradients.reparam_gradient_samples)
cv.show_source(gradients.score_gradient_samples)

# %% [markdown]
# At $\mu = 2$, $\sigma = 0.5$: each estimator averaged over $S$ samples, repeated 400 times
# for each $S$. The per-sample variances are known exactly: $\mathrm{Var}[2(\mu + \sigma\varepsilon)] = 4\sigma^2 = 1$
# for the reparameterised one, and $123.75$ for the score function (Exercise 2 derives it).

# %%
mu_t, sigma_t = cv.exercises.CH03_GRAD_MU, cv.exercises.CH03_GRAD_SIGMA
square = lambda z: z**2
curve = gradients.estimator_variance_curve(square, mu_t, sigma_t, sample_counts=(1, 4, 16, 64, 256), n_repeats=400, generator=0)
fig = plot_gradient_variance(curve, true_grad=2 * mu_t)
plt.show()

# %%
true_grad = 2 * mu_t
print("   S  | reparam. mean (SE)   variance | score fn mean (SE)   variance | ratio")
for k, s in enumerate(curve["sample_counts"]):
    r, f = curve["reparameterisation"], curve["score function"]
    print(f"{s:5d} | {r['mean'][k]:7.4f} ({r['stderr'][k]:.4f}) {r['var'][k]:9.4f} | "
          f"{f['mean'][k]:7.4f} ({f['stderr'][k]:.4f}) {f['var'][k]:9.4f} | {f['var'][k] / r['var'][k]:6.1f}")
    for st in (r, f):  # unbiased: within 4 standard errors of the true gradient
        assert abs(st["mean"][k] - true_grad) < 4 * st["stderr"][k]
    assert f["var"][k] > 50 * r["var"][k]  # the reparameterised variance is far smaller

# per-sample variances against their exact values (1 and 123.75), from 200,000 samples each
g_r = gradients.reparam_gradient_samples(square, mu_t, sigma_t, 200_000, generator=1)
g_s = gradients.score_gradient_samples(square, mu_t, sigma_t, 200_000, generator=2)
print(f"per-sample variance: reparameterised {g_r.var():.4f} (exact 1), score function {g_s.var():.4f} (exact 123.75)")
assert abs(g_r.var().item() - 1.0) < 0.02 and abs(g_s.var().item() - 123.75) < 5.0

# %% [markdown]
# Both estimators are unbiased; both variances fall like $1/S$ (parallel lines of slope $-1$);
# but the score-function variance is over 100 times larger, so it would need over 100 times
# more samples for the same precision. A VAE uses the reparameterised estimator with a
# **single** sample $z = \mu(x) + \sigma(x)\odot\varepsilon$ per example (`cv.models.reparameterize`).
# The KL term needs no sampling at all: it is the closed form of chapter 02.

# %% [markdown]
# ## 4. A VAE on real digits
#
# **Data.** scikit-learn's 8×8 digits are bundled with the library (no download): 1,797 images
# with 17 grey levels, split by class into 1,397 training and 400 test images. The decoder is
# **Bernoulli** ($p(x\mid z) = \prod_i \mathrm{Bern}(x_i;\ \mathrm{sigmoid}(\ell_i(z)))$), which is
# a normalised likelihood only for **binary** pixels: binary cross-entropy against grey levels
# has a non-zero floor and its "ELBO" is no bound on any $\log p(x)$. So we binarise:
#
# - training images are **dynamically binarised**: $x \sim \mathrm{Bernoulli}(\text{grey}/16)$, redrawn every epoch (a data augmentation that also prevents memorising one draw);
# - the test set is **binarised once** with a fixed seed, so every test number refers to the same fixed binary images.
#
# **Conventions.** Per example, $\log p(x\mid z)$ is **summed over the 64 pixels** and
# $\mathrm{KL}(q(z\mid x)\,\|\,p(z))$ is **summed over the latent dimensions**; both are then
# **averaged over the batch** (so the two terms keep their relative weight, whatever the batch
# size). The ELBO is $\text{recon} - \text{KL}$; the **loss** minimised is its negative,
# $-\overline{\text{recon}} + \beta\,\overline{\text{KL}}$ — the KL enters the loss with a **plus** sign.
#
# **Model.** A 64-256-2 MLP encoder and its mirror decoder, trained with Adam; the exact
# configuration is `course_vae.recipes.CH03_VAE` (the same dict a benchmark uses to train
# the model 10× longer):

# %%
digits = cv.load_dataset("digits")
print(digits)
print("CH03_VAE =", CH03_VAE)
model, history = train_recipe(CH03_VAE, digits, device=device)
model = model.cpu()
last = {k: history[k][-1] for k in ("train_recon", "train_kl", "test_recon", "test_kl", "test_elbo")}
print(f"after {history['epoch'][-1]} epochs (nats per example): "
      + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))

# %% [markdown]
# **The code that just ran.** `train_recipe` calls the package's one training loop,
# `cv.train.train`, and every step minimises the `loss` of `cv.elbo.elbo_terms`, printed
# below. Per example, `recon` is summed over the pixels and `kl` over the latent
# dimensions; the loss is minus the **batch mean** of $\text{recon} - \beta\,\text{KL}$, so
# maximising the ELBO means minimising a loss in which the KL enters with a **plus** sign.

# %%
cv.show_source(cv.elbo.elbo_terms)
cv.show_source(cv.train.train, docstring=False)

# %% [markdown]
# Check the conventions on one test batch: the package's per-example `recon` is the
# summed Bernoulli log-likelihood, and the loss is minus the batch mean of recon − KL.

# %%
x_batch = digits.test_binary[:128]
terms = cv.elbo.elbo(model, x_batch, generator=0)
bce_sum = torch.nn.functional.binary_cross_entropy_with_logits(terms.decoded, x_batch, reduction="none").sum(1)
print(f"batch: mean recon {terms.recon.mean():.4f}, mean KL {terms.kl.mean():.4f}, loss {terms.loss:.4f} nats")
assert torch.allclose(terms.recon, -bce_sum, atol=1e-5)                       # summed over pixels
assert torch.allclose(terms.kl, cv.kl_normal_std(terms.mu, terms.logvar))      # summed over latents
assert abs(terms.loss.item() + (terms.recon - terms.kl).mean().item()) < 1e-5  # loss = -mean ELBO
assert (terms.kl > 0).all()

# %%
fig = plot_training_curves(history)
plt.show()

# %%
first, end = history["test_elbo"][0], history["test_elbo"][-1]
print(f"test ELBO: epoch 1 {first:.4f}, epoch {history['epoch'][-1]} {end:.4f} nats; "
      f"train - test ELBO = {history['train_elbo'][-1] - end:.4f}")
assert end > first + 5                                   # training improved the bound
assert abs(history["train_elbo"][-1] - end) < 2.0       # no strong overfitting at this size
assert 0 < history["test_kl"][-1] < 10                  # a 2-D code carries a few nats

# %% [markdown]
# **Reconstructions and samples.** Reconstructions decode the encoder's mean $\mu(x)$;
# samples decode $z \sim \mathcal N(0, I)$. Both show the decoder's mean image
# $\mathbb E[x\mid z] = \mathrm{sigmoid}(\ell(z))$ (grey levels are pixel probabilities).

# %%
x_show = digits.test_binary[:12]
fig = plot_image_rows({"test image\n(binarised)": x_show, "reconstruction": model.reconstruct(x_show),
                       "prior sample": model.sample(12, generator=0)},
                      digits.image_shape, title="2-D VAE: reconstructions and samples from the prior")
plt.show()

# %% [markdown]
# **The latent space.** With two latent dimensions we can look at it directly: the posterior
# means $\mu(x)$ of the 400 test images, coloured by digit (labels were never used in
# training), and the decoder's image at each point of a grid over $[-2.5, 2.5]^2$.

# %%
mu_test, logvar_test = encode_dataset(model, digits.test_binary)
fig = plot_latent_scatter(mu_test, digits.test_labels, title="2-D VAE: posterior means of the test images")
plt.show()
n_grid, extent = 13, 2.5
with torch.no_grad():
    grid_images = model.mean_image(model.decode(latent.latent_grid(extent, n_grid)))
fig = plot_latent_manifold(grid_images, n_grid, extent, digits.image_shape)
plt.show()

# %%
sigma_test = torch.exp(0.5 * logvar_test)
print(f"posterior means: mean {mu_test.mean(0).tolist()[0]:.4f}, {mu_test.mean(0).tolist()[1]:.4f}; "
      f"std {mu_test.std(0).tolist()[0]:.4f}, {mu_test.std(0).tolist()[1]:.4f}; mean posterior sigma {sigma_test.mean():.4f}")
assert mu_test.mean(0).abs().max() < 0.5 and ((mu_test.std(0) - 1).abs() < 0.5).all()  # codes fill the prior
assert sigma_test.mean() < 0.6  # each posterior is much narrower than the prior

# %% [markdown]
# The KL term keeps the codes where the prior is: centred, spread about as wide as
# $\mathcal N(0, I)$, so that decoding a prior sample lands among the codes of real digits.
# Each posterior is narrower than the prior (it carries information about its $x$).

# %% [markdown]
# ## 5. How tight is the bound? The IWAE bound
#
# Averaging the importance weights $w_k = p(x, z_k)/q(z_k\mid x)$ *before* the logarithm gives
# a tighter bound (Burda et al. 2016):
#
# $$\mathrm{IWAE}_K(x) = \mathbb E\left[\log\frac1K\sum_{k=1}^K w_k\right], \qquad \mathrm{ELBO} = \mathrm{IWAE}_1 \le \mathrm{IWAE}_{10} \le \dots \le \log p(x),$$
#
# (the expectation of each increases with $K$; by Jensen, $\mathrm{IWAE}_K \le \log p(x)$, and
# $\mathrm{IWAE}_K \to \log p(x)$ as $K\to\infty$). First on the linear-Gaussian model, where the
# limit is known — with the diagonal $q$ that could not close the gap in Section 2:

# %%
lg_fn = lambda x, z: lg.log_likelihood(x, z)
log_w_lg = importance_log_weights(x_lg[None], mf_mean[None], torch.log(mf_var)[None], lg_fn, 10_000, generator=0)[:, 0]
print(f"log p(x) = {log_px:.4f}; ELBO of the diagonal q = {log_px - diag_gap:.4f}")
lg_bounds = {}
for K in (1, 10, 100, 1000, 10_000):
    # average IWAE_K over the 10,000 // K disjoint groups of K weights
    lg_bounds[K] = iwae_from_log_weights(log_w_lg.reshape(-1, K).T).mean().item()
    print(f"IWAE_{K:<6d} {lg_bounds[K]:.4f}   gap to log p(x) {log_px - lg_bounds[K]:.4f}")
assert abs(log_w_lg.mean().item() - (log_px - diag_gap)) < 0.02   # mean log weight = ELBO
assert lg_bounds[1] < lg_bounds[10] < lg_bounds[100] < lg_bounds[1000] < lg_bounds[10_000] < log_px
assert log_px - lg_bounds[1000] < 0.2 * (log_px - lg_bounds[1])  # most of the gap is gone at K = 1000

# %% [markdown]
# The bounds climb towards the exact $\log p(x)$ and most of the $0.56$-nat gap is gone by
# $K = 1000$ — but the last tenth of a nat is slow: the diagonal $q$ is too narrow along the
# posterior's correlated direction, so the rare draws that land there carry large weights.
# (With the exact posterior as $q$, every weight would equal $p(x)$ and $\mathrm{IWAE}_1$ would already be exact.)

# %% [markdown]
# Now the digits VAE, on all 400 test images. We draw $K = 1000$ weights per image once and
# use the first $K$ of them for each $\mathrm{IWAE}_K$ (so the bounds are nested); the
# ELBO is estimated by the mean of all 1000 log weights.

# %%
vae_fn = lambda x, z: cv.elbo.log_likelihood(model, x, model.decode(z))
log_w = importance_log_weights(digits.test_binary, mu_test, logvar_test, vae_fn, 1000, generator=0)
elbo_avg = log_w.mean().item()
iwae = {K: iwae_from_log_weights(log_w[:K]).mean().item() for K in (1, 10, 100, 1000)}
print(f"ELBO (1000-sample mean of log w): {elbo_avg:.4f} nats")
for K, v in iwae.items():
    print(f"IWAE_{K:<5d} {v:.4f}   IWAE_K - ELBO = {v - elbo_avg:.4f}")
inc = [iwae[10] - iwae[1], iwae[100] - iwae[10], iwae[1000] - iwae[100]]
print("increments:", ", ".join(f"{d:.4f}" for d in inc))
se_one = (log_w[0].std() / math.sqrt(log_w.shape[1])).item()
assert abs(iwae[1] - elbo_avg) < 4 * se_one          # IWAE_1 is a one-sample ELBO estimate
assert elbo_avg < iwae[10] < iwae[100] < iwae[1000]  # the ordering, on the averages
assert inc[0] > inc[1] > inc[2] > 0                   # and the gains shrink

# %% [markdown]
# For this small 2-D model the ELBO is within about half a nat of $\log p(x)$ (estimated by
# $\mathrm{IWAE}_{1000}$): the Gaussian $q$ is a good fit to its posteriors. The gain from
# $K = 100$ to $1000$ is a few hundredths of a nat, so $\mathrm{IWAE}_{1000}$ is close to the limit.

# %% [markdown]
# ## 6. The KL term as a regulariser: β = 0 vs β = 1
#
# Train the same model with the KL term **removed** ($\beta = 0$: loss $= -\overline{\text{recon}}$)
# and with it ($\beta = 1$). We use 8 latent dimensions here (`CH03_BETA_VAE`): in two
# dimensions even unregularised codes fill the plane densely, and the effect on samples is hard to see.
#
# Without the KL nothing stops the encoder from making each $q(z\mid x)$ a near-point mass
# (which helps reconstruction), nor from placing the codes anywhere. We measure:
#
# - the **mean posterior $\sigma$** over test images and dimensions;
# - the **aggregate KL** $\mathrm{KL}(q(z)\,\|\,p(z))$, $q(z) = \frac1N\sum_n q(z\mid x_n)$ (`aggregate_kl`): how far the codes as a whole are from the prior the samples come from;
# - the **reconstruction term** on the test set;
# - **sample quality** by a simple, honest yardstick: for each decoded prior sample, the distance to its nearest *training* image; a sample counts as *far* if that distance exceeds the 95th percentile of the same distance for real *test* images (so about 5% of real digits are "far" by construction). It measures closeness to real digits, not diversity.

# %%
beta_models, beta_hist = {}, {}
for beta in (1.0, 0.0):
    beta_models[beta], beta_hist[beta] = train_recipe(CH03_BETA_VAE, digits, beta=beta, device=device)
    beta_models[beta] = beta_models[beta].cpu()

threshold = sample_quality.nearest_distance(digits.test_grey, digits.train_grey).quantile(0.95).item()
stats, panels = {}, {}
for beta, m in beta_models.items():
    mu_b, logvar_b = encode_dataset(m, digits.test_binary)
    samples = m.sample(400, generator=0)
    d_samples = sample_quality.nearest_distance(samples, digits.train_grey)
    stats[beta] = {
        "mean sigma": torch.exp(0.5 * logvar_b).mean().item(),
        "aggregate KL": aggregate_kl(mu_b, logvar_b, n_samples=10, generator=0).value,
        "test recon": beta_hist[beta]["test_recon"][-1],
        "test KL": beta_hist[beta]["test_kl"][-1],
        "far samples": sample_quality.far_fraction(d_samples, threshold),
    }
    panels[f"beta = {beta:g}"] = {"mu": mu_b, "labels": digits.test_labels, "samples": samples,
                                  "originals": digits.test_binary[:10], "recons": m.reconstruct(digits.test_binary[:10])}
print(f"far threshold (95th percentile for test images): {threshold:.4f}")
print(f"{'':14s}" + "".join(f"{k:>15s}" for k in stats[1.0]))
for beta, s in stats.items():
    print(f"beta = {beta:<7g}" + "".join(f"{v:15.4f}" for v in s.values()))

# %%
fig = plot_beta_comparison(panels, digits.image_shape)
plt.show()

# %%
s0, s1 = stats[0.0], stats[1.0]
assert s0["mean sigma"] < 0.05 * s1["mean sigma"]        # posteriors collapse to points without the KL
assert s0["aggregate KL"] > 10 * s1["aggregate KL"]      # codes drift away from the prior
assert s0["test recon"] > s1["test recon"] - 1.0          # reconstructions: as good or better without it
assert s0["far samples"] > 0.5 and s0["far samples"] > 3 * s1["far samples"]  # prior samples: poor without it
print("all beta = 0 vs beta = 1 claims hold")

# %% [markdown]
# Without the KL the reconstructions stay good (the reconstruction term is even higher: the
# code is free), but each posterior shrinks to a near-point ($\sigma \approx 0$), the codes
# spread out in a shape of their own, and the aggregate posterior ends up tens of nats
# from $\mathcal N(0, I)$. Prior samples then land where no training code lies, and the decoder
# produces images far from any digit. The per-example KL to the prior is what ties the
# encoder's codes to the distribution we sample from: that is its job as a regulariser.
# (Its price is the reconstruction nats given up at $\beta = 1$; chapter 04 looks at what
# happens when the KL wins too much.)

# %% [markdown]
# ## 7. Explorer: walk the latent plane
#
# Move $(z_1, z_2)$ over the 2-D model's latent plane: the right panel decodes $z$, the star
# marks it among the test codes. The readout gives the prior log-density $\log p(z)$ and the KL
# an encoder would pay to put a posterior $\mathcal N(z, \sigma^2 I)$ there,
# $\tfrac12|z|^2 + \tfrac12\sum_j(\sigma^2 - \log\sigma^2 - 1)$ (from `cv.latent.latent_point_state`).
# Things to try:
#
# - walk from one digit's cluster to another and watch the decoding morph;
# - go beyond radius 3, where no code lies: the position alone costs $|z|^2/2 > 4.5$ nats, and the decodings stop changing much;
# - shrink $\sigma$ to 0.05: the width cost $\tfrac12\sum_j(\sigma^2 - \log\sigma^2 - 1)$ grows to about 5 nats (2.5 per dimension) — what a precise code costs.

# %%
LatentPlaneExplorer(model, mu_test, digits.test_labels, digits.image_shape, z=(1.0, -0.5), sigma=0.3)

# %%
st = latent.latent_point_state(model, [1.0, -0.5], sigma=1.0)
print(f"z = (1, -0.5), sigma = 1: log p(z) = {st['log_prior']:.4f}, KL = {st['kl']:.4f} nats")
assert abs(st["log_prior"] - (-0.5 * 1.25 - math.log(2 * math.pi))) < 1e-9
assert abs(st["kl"] - 0.5 * 1.25) < 1e-9 and abs(st["kl_width"]) < 1e-9  # sigma = 1: position only

# %% [markdown]
# ## 8. Exercises
#
# ### Exercise 1 — the gap a diagonal $q$ cannot close
#
# For the chapter's linear-Gaussian model and $x$ (`cv.exercises.ch03_linear_gaussian()`,
# `cv.exercises.CH03_LG_X`), what is the smallest possible gap $\log p(x) - \mathrm{ELBO}(q)$
# over **diagonal** Gaussians $q$, in nats?

# %%
answer = None  # your answer here
cv.exercises.check_ch03_mean_field_gap(answer)

# %% [markdown]
# **Solution.** The best diagonal $q$ has the posterior mean and variances $1/M_{jj}$, with
# $M = I + W^\top W/s^2$ the posterior precision; its gap is
# $\mathrm{KL}(q\,\|\,p(z\mid x)) = \tfrac12\big(\sum_j\log M_{jj} - \log\det M\big)$, zero only for a diagonal $M$:

# %%
M = lg.posterior_precision()
answer = 0.5 * (torch.log(M.diagonal()).sum() - torch.logdet(M)).item()
cv.exercises.check_ch03_mean_field_gap(answer)

# %% [markdown]
# ### Exercise 2 — the variance of the score-function estimator
#
# For $f(z) = z^2$, $z \sim \mathcal N(\mu, \sigma^2)$ with $\mu = 2$, $\sigma = 0.5$, what is the
# variance of **one** score-function sample $f(z)(z - \mu)/\sigma^2$?

# %%
answer = None  # your answer here
cv.exercises.check_ch03_score_variance(answer)

# %% [markdown]
# **Solution.** With $z = \mu + \sigma\varepsilon$ the sample is $g = (\mu + \sigma\varepsilon)^2\varepsilon/\sigma
# = \frac{\mu^2}{\sigma}\varepsilon + 2\mu\varepsilon^2 + \sigma\varepsilon^3$. Its mean is $2\mu$; with
# $\mathbb E\varepsilon^2 = 1$, $\mathbb E\varepsilon^4 = 3$, $\mathbb E\varepsilon^6 = 15$ and odd moments zero,
# $\mathbb E[g^2] = \frac{\mu^4}{\sigma^2} + 12\mu^2 + 15\sigma^2 + 2\cdot 3\mu^2 = \frac{\mu^4}{\sigma^2} + 18\mu^2 + 15\sigma^2$, so

# %%
answer = mu_t**4 / sigma_t**2 + 18 * mu_t**2 + 15 * sigma_t**2 - (2 * mu_t) ** 2
print(f"Var = {answer:.4f}  (the reparameterised sample has variance 4 sigma^2 = {4 * sigma_t**2:.4f})")
cv.exercises.check_ch03_score_variance(answer)

# %% [markdown]
# ### Exercise 3 — the prior as the approximate posterior
#
# Take $q(z\mid x) = p(z) = \mathcal N(0, I)$ for the same linear-Gaussian model and $x$.
# What is the ELBO, in nats? (Hint: one of its two terms vanishes; or use the identity of Section 1.)

# %%
answer = None  # your answer here
cv.exercises.check_ch03_prior_as_q(answer)

# %% [markdown]
# **Solution.** With $q = p(z)$ the KL term is $0$, and the identity gives
# $\mathrm{ELBO} = \log p(x) - \mathrm{KL}(p(z)\,\|\,p(z\mid x))$: a posterior far from the prior makes a poor bound.

# %%
eye = torch.eye(2, dtype=torch.float64)
answer = log_px - kl_gaussian_full(torch.zeros(2, dtype=torch.float64), eye, post_mean, post_cov).item()
print(f"ELBO with q = prior: {answer:.4f} nats (log p(x) = {log_px:.4f})")
cv.exercises.check_ch03_prior_as_q(answer)

# %% [markdown]
# ## Summary
#
# - $\log p(x) = \mathrm{ELBO}(q) + \mathrm{KL}(q(z\mid x)\,\|\,p(z\mid x))$: the ELBO is a lower bound (also by Jensen), and the gap is exactly the KL to the exact posterior. On the linear-Gaussian model the gap matched that KL to $10^{-9}$ for every $q$, closed for the full-covariance $q$, and stayed at $0.56$ nats for the best diagonal $q$ (the posterior is correlated).
# - The reparameterised gradient $\mathbb E[f'(\mu + \sigma\varepsilon)]$ and the score-function gradient $\mathbb E[f(z)(z-\mu)/\sigma^2]$ are both unbiased; on $d/d\mu\,\mathbb E[z^2]$ the score function's variance was over 100 times larger.
# - A 64-256-2 VAE on binarised digits (dynamic binarisation for training, a fixed binarisation for the test set, because a Bernoulli likelihood on grey levels is not normalised). Per example, log-likelihoods are summed over pixels and KLs over latent dimensions, then averaged over the batch; the loss is $-\overline{\text{recon}} + \beta\,\overline{\mathrm{KL}}$. The configuration is `course_vae.recipes.CH03_VAE`.
# - $\mathrm{ELBO} \le \mathrm{IWAE}_{10} \le \mathrm{IWAE}_{100} \le \mathrm{IWAE}_{1000}$ on the 400 test images, with shrinking increments; for this small model the ELBO is within about half a nat of $\log p(x)$.
# - Removing the KL ($\beta = 0$) keeps reconstructions good but collapses the posterior widths, moves the aggregate posterior far from the prior, and ruins samples from the prior: the KL term is what makes the prior a usable generator.
