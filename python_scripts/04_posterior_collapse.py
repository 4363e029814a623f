# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Chapter 04 — Posterior collapse: causes, diagnostics, remedies
#
# The KL term of the ELBO pulls every posterior $q(z\mid x)$ towards the prior $p(z)$. Pull
# too hard, or give the decoder a way to do without $z$, and the posteriors stop depending on
# $x$: the model *collapses*. We make both happen, measure it, ask why, and try remedies.
#
# ## Learning objectives
#
# After this chapter you can
#
# - define posterior collapse and say why then the KL term and $I(x; z)$ are both 0;
# - produce it with $\beta > 1$, watch dimensions switch off a few at a time, and predict which directions a linear VAE switches off (closed form);
# - produce collapse at $\beta = 1$ with a decoder that models the data alone, bound what $z$ could win (Chen et al. 2017), and test the lagging-encoder explanation (He et al. 2019) with a positive control;
# - diagnose collapse with KL per dimension, active units, $I(x; z)$ and an importance-sampled $\log p(x)$;
# - apply KL annealing (linear, cyclical) and free bits, and explain why a remedy can raise $I(x; z)$ without improving $\log p(x)$;
# - measure what $z$ carries with a probe, against chance and an untrained control.

# %%
import math

import matplotlib.pyplot as plt
import torch

import course_vae as cv
from course_vae import diagnostics, linear_vae, schedules, text
from course_vae.explorer_state import remedy_choices
from course_vae.plots import (
    plot_beta_sweep,
    plot_dose_response,
    plot_image_rows,
    plot_kl_over_training,
    plot_kl_per_dimension,
    plot_remedy_comparison,
)
from course_vae.plots.collapse import plot_iwae_by_k, plot_kl_curves, plot_linear_vae
from course_vae.recipes import (
    CH04_BETA_SWEEP,
    CH04_LINEAR,
    CH04_REMEDIES,
    CH04_TEXT,
    CH04_VAE,
    text_data,
    train_recipe,
    train_text_recipe,
)
from course_vae.runs import (
    format_mean_std,
    mean_std,
    per_seed,
    summarize_collapse_run,
    summarize_text_run,
    text_probes,
)
from course_vae.widgets import CollapseExplorer

device = cv.setup_notebook(seed=0)

# %% [markdown]
# ## 1. What collapse is
#
# The encoder gives each input a Gaussian posterior $q(z\mid x) = \mathcal N(\mu(x), \operatorname{diag}\sigma^2(x))$;
# the prior is $p(z) = \mathcal N(0, I)$. The model has **collapsed** when
#
# $$q(z\mid x) \approx p(z) \quad\text{for every } x.$$
#
# Then three things hold at once:
#
# - the KL term $\mathrm{KL}(q(z\mid x)\,\|\,p(z))$ is $\approx 0$ for every $x$ (chapter 02: it is 0 only at $\mu = 0$, $\sigma = 1$);
# - $z$ carries no information about $x$: the mutual information under the encoder,
#   $I(x; z) = \mathbb E_x\big[\mathrm{KL}(q(z\mid x)\,\|\,q(z))\big]$ with the aggregate posterior $q(z) = \frac1N\sum_n q(z\mid x_n)$, is 0 (chapter 03's $I(n; z)$, the same quantity);
# - the decoder must model $x$ on its own (or predict the average).
#
# The average KL splits exactly into these two parts (Hoffman & Johnson 2016):
#
# $$\mathbb E_x\,\mathrm{KL}(q(z\mid x)\,\|\,p(z)) = I(x; z) + \mathrm{KL}(q(z)\,\|\,p(z)),$$
#
# information about $x$ plus a prior mismatch; collapse drives both to 0. Collapse can be
# **partial** (some dimensions only), so we look per dimension too:
#
# - $\mathrm{KL}_d = \frac1N\sum_n \mathrm{KL}(q(z_d\mid x_n)\,\|\,\mathcal N(0, 1))$ (these sum to the average KL);
# - dimension $d$ is **active** when the posterior mean moves with $x$: $A_d = \operatorname{Var}_n\,\mu_d(x_n) > 0.01$ (Burda et al. 2016).
#
# **Set-up for the images.** sklearn's 8×8 digits, *dynamically binarised* for a Bernoulli
# decoder ($x \sim \mathrm{Bernoulli}(\text{grey}/16)$, redrawn every epoch; the 400 test images
# binarised once). Nats **per example**: $\log p(x\mid z)$ summed over pixels, the KL over
# latents, both averaged over examples. Every image model: 8 latents, 256 hidden units, 60
# epochs of Adam (lr $10^{-3}$, batch 128).

# %%
data = cv.load_dataset("digits")
test_x = data.test_binary
LATENT, EPOCHS, BATCH = CH04_VAE["latent_dim"], CH04_VAE["epochs"], CH04_VAE["batch_size"]
TOTAL_STEPS = EPOCHS * math.ceil(data.n_train / BATCH)
print(f"{data.n_train} training and {data.n_test} test images of {data.input_dim} pixels; "
      f"{EPOCHS} epochs = {TOTAL_STEPS} optimiser steps per model")

runs = {}  # (family, run) -> summary, for the tables and the explorer


# %% [markdown]
# ## 2. Collapse, way (a): a KL weight $\beta > 1$, one dimension at a time
#
# The $\beta$-weighted objective (chapter 03) is $\mathbb E_q[\log p(x\mid z)] - \beta\,\mathrm{KL}$.
# Every nat of information that $z$ carries costs $\beta$ nats of objective. With a plain
# MLP decoder, $x$ depends on $z$ only through the decoder, so information in $z$ is worth
# what it saves in reconstruction. Each latent dimension is kept only while the
# reconstruction nats it buys exceed $\beta$ times its KL; the dimensions carrying the
# least useful information are the first to go. We train the same VAE at
# $\beta \in \{1, 1.5, 2, 3, 8\}$, for two seeds each (initial weights and training
# order), and sort each model's $\mathrm{KL}_d$ from largest to smallest.

# %%
mlp = {}
for seed in CH04_BETA_SWEEP["seeds"]:
    for beta in CH04_BETA_SWEEP["betas"]:
        key = ("beta-VAE (MLP decoder)", f"beta={beta:g}" + (f", seed {seed}" if seed else ""))
        model, history = train_recipe(CH04_VAE, data, seed=seed, beta=beta)
        runs[key] = summarize_collapse_run(model, history, test_x, n_images=8, mi_seed=len(runs))
        if seed == 0:
            mlp[beta] = model
sweep = {(beta, seed): runs[("beta-VAE (MLP decoder)", f"beta={beta:g}" + (f", seed {seed}" if seed else ""))]
         for seed in CH04_BETA_SWEEP["seeds"] for beta in CH04_BETA_SWEEP["betas"]}
USED = 0.1  # a dimension "in use" carries more than 0.1 nats on average
used = {k: int((r["kl_per_dim"] > USED).sum()) for k, r in sweep.items()}
betas, seeds = CH04_BETA_SWEEP["betas"], CH04_BETA_SWEEP["seeds"]

# %% tags=["nbval-ignore-output"]
print("beta | KL (nats) per seed | dims in use (KL_d > 0.1) per seed | active units per seed")
for beta in betas:
    print(f"{beta:4g} | {[round(sweep[(beta, s)]['kl'], 2) for s in seeds]} | {[used[(beta, s)] for s in seeds]}"
          f" | {[sweep[(beta, s)]['n_active'] for s in seeds]}")
# measured over seeds 0-1 and both CPU kernel sets (AVX-512 and generic): in use at
# beta = 1, 1.5, 2, 3, 8: 8, 5-6, 3, 0, 0; active units 8, 8, 7-8, 7, 0
for s in seeds:
    assert [used[(b, s)] for b in betas] == sorted((used[(b, s)] for b in betas), reverse=True), s  # never back
    assert used[(1.0, s)] == LATENT and sweep[(1.0, s)]["n_active"] == LATENT
    assert 1 <= used[(2.0, s)] <= 5  # partial collapse at beta = 2 ...
    assert (sweep[(2.0, s)]["kl_per_dim"] < 0.1).sum() >= 3  # ... several dimensions off
    assert used[(3.0, s)] <= 1 and sweep[(3.0, s)]["n_active"] >= 4  # active units lag
    assert sweep[(8.0, s)]["kl"] < 0.05 and sweep[(8.0, s)]["n_active"] == 0
assert all(used[(1.5, s)] < LATENT for s in seeds)  # beta = 1.5: some already off

# %%
fig = plot_beta_sweep(
    betas,
    [[sweep[(b, s)]["kl_per_dim"].sort(descending=True).values.tolist() for s in seeds] for b in betas],
    [[sweep[(b, s)]["n_active"] for s in seeds] for b in betas],
    [[used[(b, s)] for s in seeds] for b in betas],
    threshold=USED,
)
plt.show()

# %% [markdown]
# What the sweep shows (both seeds; the check cell asserts each statement): all 8 dimensions
# in use at $\beta = 1$; as $\beta$ grows they **switch off a few at a time** — some by
# $\beta = 1.5$, most by $\beta = 2$ (a *partial collapse*: the others still code the digit) — none
# carrying 0.1 nats at $\beta = 3$, and at $\beta = 8$ complete collapse (KL $\approx 0$, no active
# unit). The **active-unit count lags** the per-dimension KL (section 4 says why).

# %% [markdown]
# **What the decoder does at complete collapse.** If $z$ says nothing about $x$, the best a decoder of
# independent pixels can do is predict, for every input, each pixel's average: the
# reconstructions are all the same image, the **average digit**. Compare the reconstructions
# at $\beta = 8$ with the mean of the training images:

# %%
b1, b8 = runs[("beta-VAE (MLP decoder)", "beta=1")], runs[("beta-VAE (MLP decoder)", "beta=8")]
avg_digit = data.train_grey.mean(0)
rows = {
    "test x": b1["originals"],
    "beta = 1": b1["reconstructions"],
    "beta = 2": runs[("beta-VAE (MLP decoder)", "beta=2")]["reconstructions"],
    "beta = 8": b8["reconstructions"],
    "average digit": avg_digit[None, :],
}
fig = plot_image_rows(rows, data.image_shape, title="Reconstructions at z = mu(x): beta = 8 gives the average digit")
plt.show()

# %% tags=["nbval-ignore-output"]
rec8 = mlp[8.0].reconstruct(test_x)
spread = rec8.std(0).max().item()
to_average = (rec8 - avg_digit).abs().max().item()
rec1_spread = mlp[1.0].reconstruct(test_x).std(0).max().item()
print(f"beta = 8: largest per-pixel std of the reconstructions over the test set {spread:.3f}; "
      f"largest distance to the average digit {to_average:.3f}")
print(f"beta = 1: largest per-pixel std of the reconstructions {rec1_spread:.2f}")
print(f"ELBO at beta = 1 higher than at beta = 8 by {b1['test_elbo'] - b8['test_elbo']:.1f} nats")
# measured (seed 0, AVX-512 and generic CPU kernels alike): spread 0.001, distance to the
# average digit 0.075, beta = 1 spread 0.35, ELBO gap 3.6 nats
assert spread < 0.02 and to_average < 0.1 and rec1_spread > 0.3
assert b1["test_elbo"] > b8["test_elbo"] + 2.0  # collapse costs ELBO here

# %% [markdown]
# **Cause (a) made exact: the linear VAE.** Why do the dimensions go in that order? A *linear*
# VAE answers it in closed form (Lucas et al. 2019). Take data $x \in \mathbb R^6$ with
# covariance eigenvalues ("variances along the principal directions") $\lambda_1 > \dots > \lambda_6$,
# a linear Gaussian decoder $x \mid z \sim \mathcal N(Wz + b, \sigma^2 I)$ with $\sigma^2$ fixed, and a linear
# encoder. This is probabilistic PCA, and its $\beta$-weighted ELBO is maximised direction by
# direction: the decoder column for direction $i$ has squared length $w_i^2 = \max(0, \lambda_i - \beta\sigma^2)$ and
#
# $$\mathrm{KL}_i = \tfrac12 \max\!\Big(0,\; \log \frac{\lambda_i}{\beta\sigma^2}\Big).$$
#
# A direction **collapses** ($w_i = 0$, $q = $ prior) exactly when its data variance is at most
# $\beta\sigma^2$: $\beta$ acts like extra decoder noise, and a direction whose signal does not
# rise above that noise is not worth a nat of KL. We train a linear VAE (6 latents) at four
# values of $\beta$ by Adam on its exact expected loss (`linear_vae.fit_linear_vae`, no
# sampling noise, 1,500 steps) and compare with the closed form, computed from the same
# sample's eigenvalues.

# %%
LIN = CH04_LINEAR
x_lin = linear_vae.gaussian_data(LIN["eigenvalues"], LIN["n"], seed=0).double()
x_lin = x_lin - x_lin.mean(0)
cov_lin = x_lin.T @ x_lin / len(x_lin)
lam_hat = torch.linalg.eigvalsh(cov_lin).flip(0)
lin_closed, lin_trained, lin_offdiag = {}, {}, {}
for beta in LIN["betas"]:
    lin_closed[beta] = linear_vae.linear_vae_optimum(lam_hat, LIN["noise_var"], beta)["kl"]
    fit = linear_vae.fit_linear_vae(cov_lin, 6, math.sqrt(LIN["noise_var"]), beta=beta, steps=LIN["steps"])
    mu_lin = x_lin @ fit.V.T  # the posterior means; the variances do not depend on x
    lin_trained[beta] = diagnostics.kl_per_dimension(mu_lin, fit.logvar.expand_as(mu_lin)).sort(descending=True).values
    wtw = fit.W.T @ fit.W  # off-diagonal entries: latents that mix principal directions
    lin_offdiag[beta] = (wtw - torch.diag(torch.diag(wtw))).abs().max().item()
fig = plot_linear_vae(lam_hat, LIN["betas"], lin_closed, lin_trained, LIN["noise_var"])
plt.show()

# %% tags=["nbval-ignore-output"]
for beta in LIN["betas"]:
    on_closed = int((lin_closed[beta] > 0).sum())
    on_trained = int((lin_trained[beta] > 0.05).sum())
    worst = (lin_trained[beta] - lin_closed[beta]).abs().max().item()
    print(f"beta = {beta:g}: directions kept, closed form {on_closed}, trained {on_trained}; "
          f"largest |KL_i trained - closed form| {worst:.3f} nats; largest off-diagonal of W^T W "
          f"{lin_offdiag[beta]:.3f}")
    assert on_trained == on_closed  # the same directions collapse
    assert lin_trained[beta][on_closed:].max() < 0.02  # collapsed ones carry nothing
    assert worst < 0.05  # each direction's KL as the closed form predicts
    assert lin_offdiag[beta] < 0.05  # one latent per principal direction: no mixing
assert [int((lin_closed[b] > 0).sum()) for b in LIN["betas"]] == [4, 3, 2, 1]  # one per doubling

# %% [markdown]
# Each doubling of $\beta$ moves the threshold $\beta\sigma^2$ past one more eigenvalue and one
# more direction switches off; the trained model matches the closed form direction by direction,
# one latent per principal direction. The MLP sweep's staircase is an analogue of this.
#
# ## 3. Collapse, way (b): a decoder that does not need $z$
#
# The second cause is a decoder that can model $x$ well on its own. An **autoregressive**
# decoder factorises the likelihood token by token,
#
# $$\log p(x\mid z) = \sum_{t=1}^{T} \log p(x_t \mid x_{<t}, z),$$
#
# so it can predict each word from the words before it. A language model that has read "the
# furry cat chases a" already knows the topic is animals; $z$ has nothing left to tell it.
#
# **What $z$ can win at most.** Every model's expected log-likelihood is bounded by the data's
# entropy, $\mathbb E_x \log p_\theta(x) \le -H(x)$ (Gibbs' inequality), and the ELBO is below
# $\log p_\theta(x)$. So if the decoder *alone* (no $z$) reaches $\mathbb E_x \log p(x) = -H - g$,
# then $z$ can raise the ELBO by at most $g$ nats. Chen et al. (2017)'s point is the
# *information preference*: a decoder that can reach $-H$ on its own makes any information in
# $z$ a pure KL cost, so the optimum puts nothing in $z$: collapse is **optimal**. He et al.
# (2019) blame **training** instead: the encoder lags behind the decoder early on, and training
# gets stuck collapsed even where $z$ would pay. Section 5 tests both.
#
# **The experiment** (after Bowman et al. 2016, with no download): sentences of 7–11 words
# from a small grammar with four topics; a sentence picks a topic, and the topic fixes its
# content words:
#
# `the [very] ADJ NOUN VERB a [ADJ] NOUN [and VERB] .`
#
# Its 5,184 sentences have known probabilities, so we know the entropy $H$ exactly.

# %%
train_tokens, test_tokens = text_data(CH04_TEXT)
exact_log_px = text.sentence_log_prob(test_tokens).mean().item()
bounds = text.grammar_bounds()
lengths = (test_tokens != 0).sum(1) - 1  # words, without <eos>
print(f"{len(train_tokens)} training and {len(test_tokens)} test sentences, vocabulary of "
      f"{len(text.VOCAB)} tokens, {int(lengths.min())} to {int(lengths.max())} words")
for sentence in text.decode_tokens(test_tokens[:4]):
    print("  ", sentence)
print(f"entropy of the grammar H = {bounds['entropy']:.3f} nats; mean exact log p(x) of the test "
      f"sentences {exact_log_px:.3f}")
print(f"topic log 4 = {bounds['topic_entropy']:.3f} nats, optional words 3 log 2 = "
      f"{bounds['pattern_entropy']:.3f} nats")

# %% [markdown]
# **The model** (`course_vae.text.TextVAE`). A GRU (gated recurrent unit, a recurrent network
# that reads a sequence one token at a time and keeps a state vector) encodes the sentence into
# $q(z\mid x)$ with 8 latents. A second GRU decodes: it reads `<bos>` (a "begin of sentence"
# token) and then the true previous words $x_1 \dots x_{T-1}$ — **teacher forcing** — and
# predicts each next word, with $z$ fed to its initial state and to every step. $\log p(x\mid z)$
# is summed over the words and the end token.
#
# **Decoder strength, as a dose.** *Word dropout* (Bowman et al. 2016) replaces each word the
# decoder reads by `<unk>` ("unknown") with probability $r$, here in training *and* evaluation
# (Bowman et al.: training only). At $r = 1$
# the decoder sees only the position; at $r = 0$ every previous word. For each strength we train
# the VAE at $\beta = 1$ and **the decoder alone** ($z$ fixed at 0, $q(z\mid x) = p(z)$: a language
# model with an exact $\log p(x)$). The VAE's $\log p(x)$ is estimated by IWAE ($K = 10$,
# chapter 03). Three seeds each; ± is the standard deviation over seeds.

# %%
cv.show_source(text.TextVAE.log_likelihood)

# %%
text_models = {}
TEXT_BASELINE = ("text VAE", "word dropout 0, seed 0")  # the collapsed baseline of sections 4-5
SEEDS, DOSES = CH04_TEXT["seeds"], CH04_TEXT["word_dropouts"]
for r in DOSES:
    for seed in SEEDS:
        for family, use_latent in (("text VAE", True), ("text decoder alone", False)):
            key = (family, f"word dropout {r:g}, seed {seed}")
            model, history, tracker = train_text_recipe(
                train_tokens, test_tokens, seed, word_dropout=r, use_latent=use_latent,
                track=use_latent and r == 0 and seed == 0)
            runs[key] = summarize_text_run(model, history, test_tokens, CH04_TEXT["iwae_samples"],
                                           seed, tracker, mi_seed=len(runs),
                                           train_tokens=train_tokens if use_latent else None)
            text_models[key] = model
stat, fmt = mean_std, format_mean_std  # mean and std over seeds; "mean ± std"

dose = {r: {m: per_seed(runs, "text VAE", f"word dropout {r:g}", m, SEEDS)
            for m in ("kl", "mutual_info", "n_active", "log_px", "test_elbo", "topic_acc_z",
                      "topic_acc_mu", "pattern_acc_z")} for r in DOSES}
for r in DOSES:
    dose[r]["alone"] = per_seed(runs, "text decoder alone", f"word dropout {r:g}", "log_px", SEEDS)
strength = [1 - r for r in DOSES]
fig = plot_dose_response(
    strength,
    {"KL term (nats)": [dose[r]["kl"] for r in DOSES],
     "I(x; z) (nats)": [dose[r]["mutual_info"] for r in DOSES],
     "topic accuracy from z (chance 0.25)": [dose[r]["topic_acc_z"] for r in DOSES],
     "log p(x) (nats per sentence)": {
         "VAE (IWAE, K = 10)": [dose[r]["log_px"] for r in DOSES],
         "decoder alone (exact)": [dose[r]["alone"] for r in DOSES]}},
    xlabel="share of previous words the decoder sees (1 - word dropout)",
    ceiling=-bounds["entropy"],
    title="Text VAE at beta = 1: KL and I(x; z) fall as the decoder gets stronger (3 seeds)",
)
plt.show()

# %% tags=["nbval-ignore-output"]
strong, weak = dose[0.0], dose[1.0]
exact_alone = [exact_log_px - a for a in strong["alone"]]  # paired: the same test sentences
gap = stat(exact_alone)[0]  # what z could win at most, against this (120-step) decoder
untrained = [text_probes(text.TextVAE(embed_dim=CH04_TEXT["embed_dim"], hidden=CH04_TEXT["hidden"],
                                      latent_dim=LATENT, seed=s), train_tokens, test_tokens, s)
             for s in SEEDS]  # the control: the same probe on an encoder never trained
untrained_mu = [u["topic_acc_mu"] for u in untrained]
T975 = 4.303  # Student's t quantile, 0.975, 2 degrees of freedom (3 seeds)


def t_interval(values):
    m, sd = stat(values)
    return m - T975 * sd / math.sqrt(len(values)), m + T975 * sd / math.sqrt(len(values))


for r, m in dose.items():
    print(f"word dropout {r:g}: KL {fmt(m['kl'], 2)}, I(x;z) {fmt(m['mutual_info'], 2)}, "
          f"topic from mu {fmt(m['topic_acc_mu'], 2)}, from z {fmt(m['topic_acc_z'], 2)}, pattern from z "
          f"{fmt(m['pattern_acc_z'], 2)}, log p(x) VAE {fmt(m['log_px'], 2)}, "
          f"alone {fmt(m['alone'], 2)}")
print(f"strongest decoder alone: {fmt(exact_alone, 2)} nats below the test sentences' exact log p(x) "
      f"(paired): the most z could win against it")
print(f"untrained encoder (control): topic from mu {[round(a, 2) for a in untrained_mu]}")
lo_t, hi_t = t_interval(weak["topic_acc_z"])
lo_p, hi_p = t_interval(weak["pattern_acc_z"])
print(f"weakest decoder, 95 % t-intervals over 3 seeds: topic from z [{lo_t:.2f}, {hi_t:.2f}] "
      f"(chance 0.25), pattern from z [{lo_p:.2f}, {hi_p:.2f}] (chance 0.125)")
print(f"weakest decoder: best possible alone {bounds['position_only']:.2f}; -H = {-bounds['entropy']:.2f}")
train_set = {tuple(t) for t in train_tokens.tolist()}
in_train = sum(tuple(t) in train_set for t in test_tokens.tolist())
print(f"{in_train} of {len(test_tokens)} test sentences also occur in the training set")
assert 0.1 < in_train / len(test_tokens) < 0.3  # "about a fifth": short sentences recur
# measured (seeds 0-2): strongest KL <= 0.011, I 0.00-0.01, log p(x) -8.62 (VAE and alone),
# 0.27 +- 0.02 below the exact; topic from mu 0.98-1.00 (untrained 0.85-0.95), from z 0.22-0.26;
# weakest KL 1.25 +- 0.16, I 0.77 +- 0.19, topic from z 0.26-0.44, pattern from z 0.24-0.29
# (chance 1/8); log p(x) -18.7 (VAE) vs -21.0 (alone)
sd = max(stat(strong["alone"])[1], stat(strong["log_px"])[1])
assert max(strong["kl"]) <= 0.05 and strong["n_active"] == [0, 0, 0]  # complete collapse, every seed
assert all(abs(i) < 5 * runs[TEXT_BASELINE]["mutual_info_stderr"] + 0.01 for i in strong["mutual_info"])
assert abs(stat(strong["log_px"])[0] - stat(strong["alone"])[0]) < 3 * sd + 0.02  # z adds nothing
assert all(0.1 < g_ < 0.45 for g_ in exact_alone)  # every seed: the most z could add, a few tenths
assert max(t_interval(strong["topic_acc_z"])) < 0.25 + 0.05  # z: the topic at chance
assert min(untrained_mu) > 0.6  # an untrained encoder's mu is read well above chance too ...
assert stat(strong["topic_acc_mu"])[0] > stat(untrained_mu)[0]  # ... the trained one's a little better
assert min(weak["kl"]) > 0.5 and min(weak["n_active"]) >= 2
assert stat(weak["kl"])[0] > stat(dose[0.5]["kl"])[0] > stat(strong["kl"])[0]  # a dose-response
assert max(weak["mutual_info"]) < bounds["topic_entropy"]  # less than the topic alone
assert lo_t < 0.25 < hi_t  # the topic from z: not told apart from chance over 3 seeds
assert lo_p > 1 / 8 and hi_p < 0.5 and stat(strong["pattern_acc_z"])[0] < 1 / 8 + 0.05  # the pattern: yes
assert stat(weak["log_px"])[0] > stat(weak["alone"])[0] + 1.0  # z helps the weakest decoder
assert stat(weak["test_elbo"])[0] < -bounds["entropy"] - 8  # far below -H

# %% [markdown]
# What the dose–response shows (three seeds at each strength):
#
# - **Strongest decoder (sees every previous word): complete collapse at $\beta = 1$, every
#   seed.** KL about a hundredth of a nat, no active unit, $I(x; z) \approx 0$; the VAE's
#   $\log p(x)$ equals the decoder alone's, 0.27 nats below the sentences' exact $\log p(x)$
#   (paired): all $z$ could add against *this* 120-step decoder; a better-trained one leaves less.
#   A linear probe (logistic regression on standardised features) reads the topic from a draw of
#   $z$, what the decoder receives, at chance (0.25). From $\mu$ it reads it at 0.98–1.00, but
#   also from an **untrained** encoder's $\mu$ (0.85–0.95): standardising amplifies any
#   dependence on the words. The probe on $\mu$ says little about what training put in $z$.
# - **Weaker decoders use $z$**: with no previous word seen, KL about 1.2 nats, $I(x; z)$ about
#   0.8, and the VAE beats the decoder alone by about 2 nats.
# - **But far less than they could.** From $z$ the probe reads the optional-word pattern (0.27,
#   chance 1/8; 95 % t-interval over seeds above chance); the topic (0.26–0.44) is not told
#   apart from chance by 3 seeds, and its panel is not monotone: the figure's trend is the KL's
#   and $I(x; z)$'s. The ELBO is bounded by $-H \approx -8.4$, which Gaussian posteriors cannot
#   reach (a continuous code for a discrete variable costs more KL than its entropy); these
#   models reach about −19: **not converged**.
#
# ($I(x; z)$ here is $I(n; z)$ over the 500 test sentences, at most $\log 500 = 6.2$ nats; about
# a fifth of them also occur in the training set.)
#
# ## 4. Diagnostics
#
# **Which estimate of $I(x; z)$?** $I(x; z) = \mathbb E_n \mathbb E_{q(z\mid x_n)}[\log q(z\mid x_n) - \log q(z)]$ is
# estimated by drawing $z$ from each posterior. He et al.'s estimator takes the first term's
# exact entropy and samples only the second; near collapse its standard error is about
# $\sqrt{d/(2N)} \approx 0.09$ nats. The **paired** estimator evaluates both logs at the same
# draw, where they nearly cancel; the run summaries use it, a different generator per run.
# Both, on the collapsed baseline, over 20 generators:

# %% tags=["nbval-ignore-output"]
mu_b, logvar_b = diagnostics.encode_dataset(text_models[TEXT_BASELINE], test_tokens)
plain = [diagnostics.mutual_information(mu_b, logvar_b, 1, generator=g) for g in range(20)]
paired = [diagnostics.paired_mutual_information(mu_b, logvar_b, 1, generator=g) for g in range(20)]
v_plain, v_paired = torch.tensor([e.value for e in plain]), torch.tensor([e.value for e in paired])
for name, vals, est in (("closed-form entropy", v_plain, plain), ("paired", v_paired, paired)):
    print(f"{name:>20s}: mean {vals.mean():+.4f} (standard error of the mean of 20 "
          f"{est[0].stderr / math.sqrt(20):.4f}), std over 20 generators {vals.std():.4f}, "
          f"reported standard error of one run {est[0].stderr:.4f} nats")
kl_b = diagnostics.kl_per_dimension(mu_b, logvar_b).sum().item()
se20 = paired[0].stderr / math.sqrt(20)
print(f"closed-form average KL of the baseline {kl_b:.4f} nats (an upper bound on I(x; z))")
assert v_paired.std() < v_plain.std() / 5  # far less noise ...
assert v_paired.mean() > 3 * se20 and v_paired.mean() < kl_b + 3 * se20  # ... and I ~ KL: tiny, not 0
assert 0.5 < v_plain.std() / plain[0].stderr < 2  # each standard error is honest
assert 0.5 < v_paired.std() / paired[0].stderr < 2
alone = runs[("text decoder alone", "word dropout 0, seed 0")]
assert abs(alone["mutual_info"]) < 1e-12 and alone["kl_per_dim"].abs().max() == 0  # q = p exactly
print(f"decoder alone (q = p by construction): I(x;z) {round(alone['mutual_info'], 6) + 0.0:.1f}, "
      f"KL {alone['kl_per_dim'].sum():.1f}")

# %% [markdown]
# The paired mean over 20 generators sits several standard errors above 0, at most the KL: the
# collapsed $z$ carries a tiny amount (under 0.01 nats), not exactly nothing.
#
# **Active units and KL per dimension use two thresholds**: $\operatorname{Var}_n \mu_d > 0.01$ vs
# $\mathrm{KL}_d > 0.1$ nats. With $\sigma_d \approx 1$, $\mathrm{KL}_d \approx \tfrac12 \operatorname{Var}_n\mu_d$, so
# $\operatorname{Var}\mu_d = 0.05$ is "active" at 0.025 nats: at $\beta = 2$ the switched-off
# dimensions are *near* the prior, not at it. The plot ranks each model's dimensions by KL.
#
# **Checking the split $\mathbb E_x\,\mathrm{KL} = I(x; z) + \mathrm{KL}(q(z)\,\|\,p(z))$**: the
# closed-form average KL against the two terms, estimated from **independent** draws (from the
# same draws their errors would be correlated), within 3 combined standard errors.

# %% tags=["nbval-ignore-output"]
posteriors = {
    "MLP, beta = 1": diagnostics.encode_dataset(mlp[1.0], test_x),
    "MLP, beta = 2": diagnostics.encode_dataset(mlp[2.0], test_x),
    "MLP, beta = 8": diagnostics.encode_dataset(mlp[8.0], test_x),
    "text, strongest decoder": (mu_b, logvar_b),
}
kl_dims, split = {}, {}
for name, (mu_q, logvar_q) in posteriors.items():
    kl_dims[name] = diagnostics.kl_per_dimension(mu_q, logvar_q)
    mi = diagnostics.paired_mutual_information(mu_q, logvar_q, n_samples=10, generator=1)
    agg = diagnostics.aggregate_kl(mu_q, logvar_q, n_samples=10, generator=2)
    split[name] = (kl_dims[name].sum().item(), mi.value, agg.value, math.hypot(mi.stderr, agg.stderr))
for label, (closed, i_xz, kl_agg, se) in split.items():
    print(f"{label:>24s}: closed-form KL {closed:.3f} vs I {i_xz:.3f} + KL(q(z)||p(z)) "
          f"{kl_agg:.3f} = {i_xz + kl_agg:.3f} (3 standard errors: {3 * se:.3f})")
assert all(abs(c - (i + a)) < 3 * e for c, i, a, e in split.values())  # independent draws agree
assert (kl_dims["MLP, beta = 1"] > USED).all() and (kl_dims["MLP, beta = 8"] < USED).all()
assert kl_dims["text, strongest decoder"].sum() < 0.05

# %%
fig = plot_kl_per_dimension(kl_dims, sort=True, threshold=USED)
plt.show()

# %% [markdown]
# ## 5. Remedies, and the lagging question tested
#
# On the collapsed baseline (strongest decoder, $\beta = 1$), with the same data, weights, seeds
# and budget ($S$ steps):
#
# - **KL annealing, linear**: $\beta(t) = \min(1, t / (S/2))$. `schedules.LinearAnnealing(S // 2)`.
# - **Cyclical annealing** (Fu et al. 2019): the ramp repeated $M = 4$ times; $\beta$ rises during
#   the first $R = 0.5$ of each cycle, then stays at 1. `schedules.CyclicalAnnealing(S, 4, 0.5)`.
# - **Free bits** (Kingma et al. 2016): each latent dimension's KL, *averaged over the batch*,
#   is charged at least $\lambda$ nats:
#   $\;\text{loss} = -\overline{\log p(x\mid z)} + \sum_d \max\big(\lambda, \overline{\mathrm{KL}_d}\big)$;
#   below the floor the KL is free. $\lambda \in \{0.1, 0.25, 0.5\}$. `schedules.FreeBits(floor)`.

# %%
cv.show_source(schedules.FreeBits.__call__)

# %%
S = CH04_TEXT["epochs"] * math.ceil(CH04_TEXT["n_train"] / CH04_TEXT["batch_size"])
remedies = {
    "linear annealing": dict(beta=schedules.LinearAnnealing(int(S * CH04_REMEDIES["warmup_fraction"]))),
    "cyclical annealing": dict(beta=schedules.CyclicalAnnealing(S, CH04_REMEDIES["n_cycles"],
                                                                CH04_REMEDIES["ratio"])),
    **{f"free bits {lam:g}": dict(objective=schedules.FreeBits(lam)) for lam in CH04_REMEDIES["free_bits"]},
}
for name, kwargs in remedies.items():
    for seed in SEEDS:
        model, history, tracker = train_text_recipe(train_tokens, test_tokens, seed,
                                                    track=seed == 0 or "annealing" in name, **kwargs)
        runs[(f"text: {name}", f"seed {seed}")] = summarize_text_run(
            model, history, test_tokens, CH04_TEXT["iwae_samples"], seed, tracker, mi_seed=len(runs))
        text_models[(f"text: {name}", f"seed {seed}")] = model

METRICS = ("test_elbo", "log_px", "kl", "mutual_info", "n_active")
remedy_runs = {"collapsed baseline": {m: per_seed(runs, "text VAE", "word dropout 0", m, SEEDS) for m in METRICS}}
for name in remedies:
    remedy_runs[name] = {m: [runs[(f"text: {name}", f"seed {s}")][m] for s in SEEDS] for m in METRICS}
print(f"{S} optimiser steps per run; {len(remedies) * len(SEEDS)} remedy runs")

# %%
fig = plot_remedy_comparison(
    remedy_runs, baseline="collapsed baseline",
    metrics={"log_px": "log p(x), IWAE (nats)", "test_elbo": "test ELBO (nats)",
             "kl": "KL term (nats)", "mutual_info": "I(x; z) (nats)", "n_active": "active units"},
    title="Remedies on the collapsed text VAE (mean ± std over 3 seeds, dots: seeds)",
)
plt.show()

# %% tags=["nbval-ignore-output"]
base = remedy_runs["collapsed baseline"]
for label, row in remedy_runs.items():
    print(f"{label:20s} log p(x) {fmt(row['log_px'], 2)}, KL {fmt(row['kl'], 2)}, I(x;z) {fmt(row['mutual_info'], 2)}, "
          f"active units {row['n_active']}")
# measured (seeds 0-2): log p(x) baseline -8.62, annealing the same, free bits -8.66, -8.84,
# -9.36; free-bits KL 0.7-0.9, 1.5-2.0, 2.3-3.4 (floors 0.8, 2, 4)
for name in ("linear annealing", "cyclical annealing"):
    assert max(remedy_runs[name]["kl"]) < 0.05 and max(remedy_runs[name]["n_active"]) == 0, name
    sd = max(stat(remedy_runs[name]["log_px"])[1], stat(base["log_px"])[1])
    assert abs(stat(remedy_runs[name]["log_px"])[0] - stat(base["log_px"])[0]) < 3 * sd + 0.02, name
free_bits = [remedy_runs[f"free bits {lam:g}"] for lam in CH04_REMEDIES["free_bits"]]
for lam, m in zip(CH04_REMEDIES["free_bits"], free_bits, strict=True):
    assert min(m["kl"]) > 0.5 * LATENT * lam, lam  # the KL sits near (below) its floor 8 lambda
    assert stat(m["mutual_info"])[0] > stat(base["mutual_info"])[0] + 0.1, lam  # z informs
    assert stat(m["log_px"])[0] < stat(base["log_px"])[0] + 0.02, lam  # ... log p(x) no better
log_px_means = [stat(m["log_px"])[0] for m in free_bits]
assert log_px_means == sorted(log_px_means, reverse=True)  # the larger lambda, the worse

# %% [markdown]
# Annealing changed nothing that lasts; free bits made every unit active and raised
# $I(x; z)$ — and *lowered* the IWAE$_{10}$ estimate of $\log p(x)$, more for larger $\lambda$
# (at $\lambda = 0.1$ by less than the seed spread). Its KL sits *below* $8\lambda$: the floor
# acts on batch means, which wobble around $\lambda$.
#
# **Is the lower $\log p(x)$ real, or the bound's looseness?** IWAE$_K$ rises towards
# $\log p(x)$ as $K$ grows, slowly for a poorly matched $q$. So we push $K$
# to 1,000 (first 100 test sentences, seed 0). At $\lambda = 0.5$ it is still rising, so we
# add a **defensive proposal** $r = \tfrac12 q(z\mid x) + \tfrac12 p(z)$: its weights
# $p(x, z)/r(z) \le 2\,p(x\mid z)$ have a finite variance, and the estimate settles far sooner.

# %% tags=["nbval-ignore-output"]
sub = test_tokens[: CH04_TEXT["iwae_subset"]]
KS = CH04_TEXT["iwae_ks"]
iwae_k, log_ws = {}, {}
for name, key in (("collapsed baseline", TEXT_BASELINE), ("free bits 0.25", ("text: free bits 0.25", "seed 0")),
                  ("free bits 0.5", ("text: free bits 0.5", "seed 0"))):
    log_ws[name] = text.text_log_weights(text_models[key], sub, max(KS), seed=0)
    iwae_k[name] = cv.elbo.iwae_by_k(log_ws[name], KS)
log_w_def = text.text_log_weights(text_models[("text: free bits 0.5", "seed 0")], sub, max(KS), seed=1,
                                   prior_mix=CH04_TEXT["defensive_mix"])
iwae_k["free bits 0.5, defensive proposal"] = cv.elbo.iwae_by_k(log_w_def, KS)
exact_sub = text.sentence_log_prob(sub).mean().item()
fig = plot_iwae_by_k(iwae_k, ceiling=exact_sub,
                     title="log p(x) estimates against K on 100 test sentences (seed 0)")
plt.show()
for label, c in iwae_k.items():
    print(f"{label:34s} " + "  ".join(f"K={k}: {v:.2f}" for k, v in c.items()))
k1, kmax = min(KS), max(KS)
DEF = "free bits 0.5, defensive proposal"
# per-sentence estimates at K = 1000, paired against the baseline's on the same sentences
per_sent = {name: torch.logsumexp(lw, 0) - math.log(lw.shape[0]) for name, lw in (
    ("base", log_ws["collapsed baseline"]), ("def", log_w_def))}
diff = per_sent["def"] - per_sent["base"]
diff_se = (diff.std() / math.sqrt(len(diff))).item()
print(f"free bits 0.5 (defensive, K = {kmax}) minus baseline (IWAE, K = {kmax}): {diff.mean():+.3f} "
      f"nats per sentence, standard error over the {len(diff)} sentences {diff_se:.3f}")
gain = {name: c[kmax] - c[k1] for name, c in iwae_k.items() if name != DEF}
assert all(list(c.values()) == sorted(c.values()) for n, c in iwae_k.items() if n != DEF)  # rises with K
assert gain["free bits 0.5"] > gain["free bits 0.25"] > 0.2  # the informative q is loose
assert abs(iwae_k[DEF][kmax] - iwae_k[DEF][kmax // 10]) < 0.03  # the defensive estimate has settled
assert iwae_k[DEF][kmax] > iwae_k["free bits 0.5"][kmax]  # above where plain IWAE_1000 stopped
assert diff.mean() < 0 and diff.mean() + 3 * diff_se < 0.5 * gap  # not better: any gain << gap ...
gap_k = {k: iwae_k["collapsed baseline"][k] - iwae_k["free bits 0.5"][k] for k in (k1, kmax)}
assert -diff.mean() < 0.25 * gap_k[k1]  # ... by far less than the K = 1 gap: the bound's looseness

# %% [markdown]
# At $K = 1$ (the ELBO) free bits looks much worse; at $K = 1{,}000$ most of that gap is the
# bound's looseness. The defensive estimate has settled (same at $K = 100$ and $1{,}000$): free
# bits $\lambda = 0.5$ is about 0.07 nats *below* the baseline (standard error 0.04, paired over
# the sentences): its informative $z$ bought no likelihood, if anything a little less.
#
# **Does the encoder lag here? A positive control.** He et al. predict a trap only where $z$
# would pay, so we fix $\beta = 0.5$ and train plainly and with **aggressive encoder updates**:
# after each step of the first epoch, 8 extra steps on the encoder alone
# (`schedules.AggressiveEncoderUpdates`; He et al. update it to convergence). Seeds 0–1:

# %%
CB = CH04_TEXT["control_beta"]
control = {"plain": [], "aggressive encoder updates": []}
for seed in CH04_TEXT["control_seeds"]:
    for name, extra in (("plain", 0), ("aggressive encoder updates", CH04_TEXT["aggressive_updates"])):
        _, history, _ = train_text_recipe(train_tokens, test_tokens, seed, beta=CB, encoder_updates=extra)
        control[name].append(history["test_kl"])
fig = plot_kl_curves({f"{name}, beta = {CB:g}": c for name, c in control.items()},
                     title=f"Positive control at a fixed beta = {CB:g}: KL term (test set) per epoch")
plt.show()

# %% tags=["nbval-ignore-output"]
for name, curves in control.items():  # seeds 0 and 1
    for c in curves:
        print(f"{name:28s} KL per epoch " + " ".join(f"{k:.2f}" for k in c))
plain_end = [c[-1] for c in control["plain"]]
aggr_end = [c[-1] for c in control["aggressive encoder updates"]]
# measured (seeds 0-1): plain 0.18-0.19 -> 0.02-0.04 (epoch 4) -> 0.07-0.27; aggressive ends 0.91-1.07
assert all(a > 2 * p + 0.2 for p, a in zip(plain_end, aggr_end, strict=True))  # the hook raises the KL
assert all(min(c) < 0.5 * max(c[0], c[-1]) for c in control["plain"])  # plain training dips (the lag)

# %% [markdown]
# **Lagging exists in this model.** Plain training dips and only starts to recover by the end;
# with the aggressive epoch the KL ends several times higher. Does lagging explain the collapse
# at $\beta = 1$? Three seeds each:
#
# - **Warm start**: continue each free-bits ($\lambda = 0.5$) model above — informative, every
#   unit active — on the plain ELBO for another $S$ steps. If collapse were a trap met early in
#   training, a model already past it should stay informative.
# - **Aggressive encoder updates** at $\beta = 1$, as in the positive control. And, since a warm
#   start trains twice as long, the **baseline trained as long** ($2S$ steps) to compare with.

# %%
lag = {"warm start from free bits 0.5": [], "aggressive encoder updates": []}
for seed in SEEDS:
    start = text_models[("text: free bits 0.5", f"seed {seed}")].state_dict()
    for name, kwargs in (("warm start from free bits 0.5", dict(init_state=start)),
                         ("aggressive encoder updates", dict(encoder_updates=CH04_TEXT["aggressive_updates"]))):
        model, history, _ = train_text_recipe(train_tokens, test_tokens, seed, **kwargs)
        runs[(f"text: {name}", f"seed {seed}")] = summarize_text_run(
            model, history, test_tokens, CH04_TEXT["iwae_samples"], seed, mi_seed=len(runs))
        lag[name].append(history["test_kl"])
    model, history, _ = train_text_recipe(train_tokens, test_tokens, seed,
                                          recipe={**CH04_TEXT, "epochs": 2 * CH04_TEXT["epochs"]})
    runs[("text: baseline trained 2S steps", f"seed {seed}")] = summarize_text_run(
        model, history, test_tokens, CH04_TEXT["iwae_samples"], seed, mi_seed=len(runs))
start_kl = [runs[("text: free bits 0.5", f"seed {s}")]["kl"] for s in SEEDS]
fig = plot_kl_curves({"warm start from free bits 0.5": [[k0, *c] for k0, c in zip(
                          start_kl, lag["warm start from free bits 0.5"], strict=True)],
                      "aggressive encoder updates": lag["aggressive encoder updates"]},
                     first_epoch={"warm start from free bits 0.5": 0, "aggressive encoder updates": 1},
                     title="KL term (test set) per epoch: warm start (epoch 0 = the free-bits model) "
                           "and aggressive updates")
plt.show()

# %% tags=["nbval-ignore-output"]
WARM, AGGR, LONG = "warm start from free bits 0.5", "aggressive encoder updates", "baseline trained 2S steps"
lag_stats = {name: {k: [runs[(f"text: {name}", f"seed {s}")][k] for s in SEEDS]
                    for k in ("kl", "mutual_info", "log_px", "test_elbo")} for name in (WARM, AGGR, LONG)}
for name in lag:
    lag_stats[name]["first"] = [c[0] for c in lag[name]]
for label, st in lag_stats.items():
    print(f"{label:32s} KL {fmt(st['kl'], 3)}; I(x;z) {fmt(st['mutual_info'], 3)}; "
          f"test ELBO {fmt(st['test_elbo'], 3)}; log p(x) {fmt(st['log_px'], 3)}"
          + (f"; KL after 1 epoch {fmt(st['first'], 2)}" if "first" in st else ""))
print(f"{'collapsed baseline (S steps)':32s} test ELBO {fmt(base['test_elbo'], 3)}; log p(x) {fmt(base['log_px'], 3)}")
# measured (seeds 0-2): free bits 0.5 KL 2.3-3.3 -> 0.04-0.10 after the warm start (0.10-0.34
# after its first epoch); aggressive: KL 0.004-0.011, I 0.00-0.02; test ELBO warm start
# -8.573 +- 0.033, baseline trained 2S steps -8.594 +- 0.036, S steps -8.632 +- 0.016
assert all(w < 0.1 * k for w, k in zip(lag_stats[WARM]["kl"], start_kl, strict=True))  # drained 90 %+
assert all(f < 0.5 * k for f, k in zip(lag_stats[WARM]["first"], start_kl, strict=True))  # mostly in epoch 1
assert all(c[-1] < c[0] for c in lag[WARM])  # and still falling
assert max(lag_stats[AGGR]["kl"]) < 0.05  # collapsed at beta = 1, despite the aggressive epoch
assert max(lag_stats[AGGR]["first"]) < 0.5  # already low after the aggressive epoch
assert max(abs(i) for i in lag_stats[AGGR]["mutual_info"] + lag_stats[WARM]["mutual_info"]) < 0.2
for m in ("test_elbo", "log_px"):  # warm start against the baseline trained as long: the same
    sd = max(stat(lag_stats[WARM][m])[1], stat(lag_stats[LONG][m])[1])
    assert abs(stat(lag_stats[WARM][m])[0] - stat(lag_stats[LONG][m])[0]) < 3 * sd + 0.01, m
    sd = max(stat(base[m])[1], stat(lag_stats[AGGR][m])[1])
    assert abs(stat(base[m])[0] - stat(lag_stats[AGGR][m])[0]) < 3 * sd + 0.01, m  # aggressive = baseline
assert stat(lag_stats[LONG]["log_px"])[0] > stat(base["log_px"])[0]  # twice the steps, a better decoder

# %% [markdown]
# **At $\beta = 1$ both point the same way.** The warm starts lose over 90 % of their KL (most
# in the first epoch, at this learning rate), and keep losing it; the aggressive runs collapse
# like the baseline. The warm starts' ELBO and $\log p(x)$ equal the baseline's trained as long:
# the extra steps, not $z$, make them better than the $S$-step baseline. The ELBO is nearly flat
# in what $z$ carries, so the objective's preference for an empty $z$ is weak. **Lagging exists
# in this model but does not explain the collapse at $\beta = 1$ with teacher forcing**:
# consistent with collapse being (nearly) optimal, at this budget.
#
# **KL per dimension during training, with $\beta(t)$** (seed 0 drawn, every 4 steps; the check
# covers all 3 seeds). While $\beta < 1$ a
# nat in $z$ costs only $\beta$, so the optimum at that $\beta$ is not collapsed; yet the KL falls to
# about 0 well before $\beta$ reaches 1 — training dynamics, not the optimum: the same dip as
# in the positive control, met by the ramp around $\beta = 0.5$. (A KL is what is charged, not
# proof of information.)

# %%
tracks = {"collapsed baseline": runs[TEXT_BASELINE]["track"]}
for name in ("linear annealing", "cyclical annealing", "free bits 0.25"):
    tracks[name] = runs[(f"text: {name}", "seed 0")]["track"]
fig = plot_kl_over_training(tracks, title="Text VAE: KL per dimension (test set) and beta(t) over training, seed 0")
plt.show()

# %% tags=["nbval-ignore-output"]
during = {}  # every seed: the total KL while beta < 0.75, and at the end
for name in ("linear annealing", "cyclical annealing"):
    for seed in SEEDS:
        t = runs[(f"text: {name}", f"seed {seed}")]["track"]
        kl_t = [sum(k) for k in t["kl_per_dim"]]
        half = [i for i, b in enumerate(t["beta"]) if b < 0.75]
        during[(name, seed)] = (max(kl_t[: half[-1] + 1]), kl_t[half[-1]], kl_t[-1])
for (label, run_seed), (peak, at_075, end) in during.items():
    print(f"{label:20s} seed {run_seed}: KL while beta < 0.75: largest {peak:.2f}, last {at_075:.3f}; "
          f"at the end {end:.3f} nats")
assert all(peak > 0.5 for peak, _, _ in during.values())  # the KL rose at first ...
# measured (seeds 0-2): largest 6.9-9.6 (linear), 2.0-3.9 (cyclical); at the last record with
# beta < 0.75: 0.035-0.066 (linear, beta 0.72), 0.004-0.011 (cyclical); at the end 0.003-0.006
assert all(b_ < 0.1 and b_ < 0.02 * peak for peak, b_, _ in during.values())  # ... fell before 0.75
assert all(end < 0.05 for _, _, end in during.values())  # ... and stayed down

# %% [markdown]
# ## 6. Explorer
#
# Choose a family and a run of this chapter and see its KL per latent dimension, test ELBO,
# KL, active units, $I(x; z)$ (text runs: also IWAE $\log p(x)$ and the change against the
# collapsed baseline), and reconstructions (digits). Try:
#
# - `beta-VAE (MLP decoder)`, from `beta=1` to `beta=8`: the bars go out a few at a time;
# - `text VAE`, `word dropout 1, seed 0` against `word dropout 0, seed 0`: a weaker decoder;
# - `text: warm start from free bits 0.5`: what is left of free bits' bars.

# %%
families = remedy_choices(runs)
print(f"{len(runs)} runs in {len(families)} families: " + ", ".join(f"{f} ({len(p)})" for f, p in families.items()))
assert all(math.isfinite(r["test_elbo"]) and r["kl"] >= 0 for r in runs.values())
assert runs[TEXT_BASELINE]["kl"] < 0.05 and runs[TEXT_BASELINE]["n_active"] == 0  # the collapsed baseline

# %%
CollapseExplorer(runs, baseline=TEXT_BASELINE, image_shape=data.image_shape)

# %% [markdown]
# ## 7. Exercises
#
# ### Exercise 1 — the free-bits penalty of a batch (per example, or per batch?)
#
# A batch of 4 examples has these per-example KLs $\mathrm{KL}_{n,d}$ (nats; rows: examples,
# columns: latent dimensions; `cv.exercises.CH04_FREE_BITS_KL`):
#
# | | $z_1$ | $z_2$ | $z_3$ |
# |---|---|---|---|
# | $x_1$ | 0.05 | 0.60 | 0.10 |
# | $x_2$ | 0.45 | 0.02 | 0.08 |
# | $x_3$ | 0.03 | 0.50 | 0.12 |
# | $x_4$ | 0.35 | 0.04 | 0.10 |
#
# What KL term does free bits with $\lambda = 0.25$ nats add to the loss (with $\beta = 1$), to
# 2 decimals? The floor acts on the **batch mean** of each dimension, as in the IAF code and
# the package's `FreeBits`. Before computing, predict: is the answer larger or smaller than
# if the floor were applied to each example's KL before averaging?

# %%
answer = None  # your answer here
cv.exercises.check_ch04_free_bits(answer)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** Column means $(0.22, 0.29, 0.10)$; floored: $0.25 + 0.29 + 0.25 = 0.79$ nats.
# Flooring each example first would give $\tfrac14(1.10 + 0.95 + 1.00 + 0.85) = 0.975$: larger,
# because a per-example floor lifts every small entry, even in a dimension the batch as a whole
# uses. With the package: posteriors with $\sigma = 1$ and $\mu_{n,d} = \sqrt{2\,\mathrm{KL}_{n,d}}$
# have exactly these KLs, and `FreeBits.group_kl` gives the batch means before the floor.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
kl_table = torch.tensor(cv.exercises.CH04_FREE_BITS_KL, dtype=torch.float64)
mu_fb = torch.sqrt(2 * kl_table)
free_bits = cv.schedules.FreeBits(cv.exercises.CH04_FREE_BITS_FLOOR)
answer = free_bits.group_kl(mu_fb, torch.zeros_like(mu_fb)).clamp(min=free_bits.floor).sum().item()
per_example = kl_table.clamp(min=free_bits.floor).sum(1).mean().item()
print(f"free-bits term: {answer:.4f} nats (per-example floor: {per_example:.4f}; plain KL: {kl_table.sum(1).mean():.4f})")
assert per_example > answer
cv.exercises.check_ch04_free_bits(answer)

# %% [markdown]
# ### Exercise 2 — a cyclical schedule
#
# Training runs for 1000 steps with $M = 4$ cycles and $R = 0.5$. What is $\beta$ at step 340,
# to 2 decimals? Steps are counted from 0, as in `cv.schedules.CyclicalAnnealing` (Fu et al.'s
# formula counts them from 1).

# %%
answer = None  # your answer here
cv.exercises.check_ch04_cyclical_beta(answer)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** The period is $1000/4 = 250$ steps; step 340 is $340 - 250 = 90$ steps into
# the second cycle, $\tau = 90/250 = 0.36$, and $\beta = \min(1, \tau/R) = 0.72$.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
c = cv.exercises.CH04_CYCLICAL
answer = cv.schedules.CyclicalAnnealing(c["total_steps"], c["n_cycles"], c["ratio"])(c["step"])
cv.exercises.check_ch04_cyclical_beta(answer)

# %% [markdown]
# ### Exercise 3 — active units by hand
#
# Four inputs have posterior means (rows: inputs, columns: latent dimensions;
# `cv.exercises.CH04_ACTIVE_MU`)
#
# | | $z_1$ | $z_2$ | $z_3$ | $z_4$ | $z_5$ |
# |---|---|---|---|---|---|
# | $x_1$ | 0.9 | 0.01 | 0.13 | 0.1 | −0.6 |
# | $x_2$ | −0.8 | −0.005 | −0.04 | −0.1 | 0.5 |
# | $x_3$ | 0.1 | 0.005 | 0.04 | 0.0 | 0.3 |
# | $x_4$ | −0.3 | −0.01 | −0.13 | 0.0 | −0.4 |
#
# How many units are active (variance of the column over the inputs, dividing by $N$, above
# 0.01)? Careful with $z_3$ and $z_4$.

# %%
answer = None  # your answer here
cv.exercises.check_ch04_active_units(answer)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** The variances of the columns, dividing by $N$ and (for comparison) by $N - 1$:
# $z_3$ is below the threshold by the first and above it by the second, and $z_4$'s standard
# deviation (0.07) is above 0.01 while its variance (0.005) is not.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
mu_ex = torch.tensor(cv.exercises.CH04_ACTIVE_MU, dtype=torch.float64)
print("Var_n mu_d (divide by N):    ", [f"{v:.5f}" for v in cv.diagnostics.posterior_mean_variance(mu_ex).tolist()])
print("Var_n mu_d (divide by N - 1):", [f"{v:.5f}" for v in mu_ex.var(0, correction=1).tolist()])
answer = int(cv.diagnostics.active_units(mu_ex, threshold=0.01).sum())
cv.exercises.check_ch04_active_units(answer)

# %% [markdown]
# %% [markdown]
# ## Summary
#
# - Posterior collapse: $q(z\mid x) \approx p(z)$ for every $x$; the KL and $I(x; z)$ go to 0. It
#   can be complete or per dimension.
# - **Too large a KL weight** switches dimensions off a few at a time, down to the average
#   digit at $\beta = 8$. In a linear VAE, exactly: direction $i$ collapses iff
#   $\lambda_i \le \beta\sigma^2$, and a trained one matches the closed form.
# - **A decoder that models the data alone** collapses at $\beta = 1$, within about 0.27 nats
#   of the data's exact $\log p(x)$. The encoder does lag in this model (at $\beta = 0.5$
#   aggressive updates raise the KL several-fold), but that does not explain the collapse at
#   $\beta = 1$: warm starts drained to the ELBO of a baseline trained as long; aggressive
#   updates collapsed.
# - Weaker decoders use $z$ (mostly for the optional-word pattern), far from what they could
#   reach. A probe on $\mu$ reads the topic even from an untrained encoder.
# - Diagnostics: KL per dimension, active units, paired $I(x; z)$ with its standard error,
#   IWAE with $K$ large enough (or a defensive proposal).
# - Annealing changed nothing that lasts; free bits made $z$ informative and $\log p(x)$
#   slightly worse, most of its apparent loss at $K = 1$ being the bound's looseness.
