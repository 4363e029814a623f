# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 01 — KL divergence: the basics
#
# The VAE objective is
# $\mathrm{ELBO}(x) = \mathbb{E}_{q(z|x)}[\log p(x|z)] - \mathrm{KL}(q(z|x)\,\|\,p(z))$.
# Before we look at the KL term inside a VAE we need to know what a KL divergence *is*,
# what its units mean, which properties it has, and which ones it does not have.
# Every claim in this chapter is computed and checked in a cell that `assert`s it.
#
# ## Learning objectives
#
# After this chapter you can
#
# - write down $\mathrm{KL}(Q\|P)$ for discrete and continuous distributions and compute it
#   in nats and in bits;
# - explain KL as the **extra bits** a code built for $P$ costs on messages from $Q$ —
#   and measure it with real codes (Huffman; Shannon's code and the wrong-code theorem);
# - connect the coding story to densities: the KL of binned Gaussians tends to the
#   closed form as the bins shrink;
# - show that $\mathrm{KL} \ge 0$, that it is $0$ only when $Q = P$, and that it is **not symmetric**;
# - predict what minimising the forward $\mathrm{KL}(P\|Q)$ and the reverse $\mathrm{KL}(Q\|P)$
#   does when one Gaussian is fitted to a two-mode target, and when a factorised Gaussian is
#   fitted to a correlated one (the reverse fit underestimates the variance);
# - estimate a KL by Monte Carlo and say how fast its error shrinks ($\propto 1/\sqrt{N}$).

# %%
import math

import matplotlib.pyplot as plt
import torch

import course_vae as cv
from course_vae import coding, exercises, plots, widgets
from course_vae.notebook import format_stable as fmt  # prints a number the same on every CPU

device = cv.setup_notebook(seed=0)
D = torch.distributions
f64 = torch.float64

# %% [markdown]
# ## 1. Definitions
#
# For two distributions $Q$ and $P$ over the same discrete outcomes,
#
# $$\mathrm{KL}(Q\,\|\,P) = \sum_x Q(x) \log \frac{Q(x)}{P(x)} = \mathbb{E}_{x\sim Q}\big[\log Q(x) - \log P(x)\big],$$
#
# and for densities $q$, $p$ on $\mathbb{R}^d$
#
# $$\mathrm{KL}(Q\,\|\,P) = \int q(x) \log \frac{q(x)}{p(x)}\,dx .$$
#
# The expectation is taken under the **first** argument $Q$.

# %% [markdown]
# **Naming, used throughout the course.** When we *fit* a distribution, $P$ is the target
# and $Q$ the approximation; $\mathrm{KL}(Q\|P)$ (approximation first) is the **reverse** KL
# and $\mathrm{KL}(P\|Q)$ (target first) the **forward** KL. The names follow the positions of
# the arguments, and authors differ: Bishop (PRML §10.1.2, Fig. 10.2) starts from
# variational inference's $\mathrm{KL}(q\|p)$ and calls $\mathrm{KL}(p\|q)$ the "reverse" one —
# the opposite of this course's words for the same two formulas.

# %% [markdown]
# **Zeros.** Terms with $Q(x) = 0$ contribute $0$ (the convention $0 \log 0 = 0$, the limit
# of $t\log t$ as $t \to 0$). If $P(x) = 0 < Q(x)$ somewhere, the KL is $+\infty$: $Q$ puts
# mass where $P$ says nothing can happen.

# %% [markdown]
# **Units.** With the natural log the unit is the **nat**; with $\log_2$ it is the **bit**.
# Since $\log_2 y = \ln y / \ln 2$, a KL in bits is the KL in nats divided by $\ln 2 \approx 0.693$
# (1 nat $\approx 1.443$ bits). This course works in nats unless it says otherwise;
# `cv.kl_discrete(q, p, base=2)` returns bits. Here is the package's implementation:

# %%
cv.show_source(cv.kl_discrete)

# %%
Q = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=f64)
P = torch.tensor([0.25, 0.25, 0.25, 0.25], dtype=f64)
kl_nats = float(cv.kl_discrete(Q, P))
kl_bits = float(cv.kl_discrete(Q, P, base=2))
by_hand = sum(float(qx) * math.log(float(qx) / float(px)) for qx, px in zip(Q, P, strict=True))
print(f"KL(Q||P) = {fmt(kl_nats)} nats = {fmt(kl_bits)} bits   (by hand: {fmt(by_hand)} nats)")
print(f"ratio nats / bits = {fmt(kl_nats / kl_bits)}   (ln 2 = {fmt(math.log(2))})")

# %%
# Check: the package agrees with the definition, and bits = nats / ln 2.
assert abs(kl_nats - by_hand) < 1e-12
assert abs(kl_bits - kl_nats / math.log(2)) < 1e-12
assert abs(kl_bits - 0.25) < 1e-12  # log2(4) - H(Q) = 2 - 1.75 bits for this pair

# %% [markdown]
# ## 2. KL as extra bits: a measurement with a real code
#
# A prefix code gives each symbol $x$ a bit string (codeword) so that no codeword is the
# start of another; a message can then be written as the concatenation of codewords and
# read back without separators. Shannon showed that the best average length for symbols
# from $P$ is the entropy $H(P) = -\sum_x P(x)\log_2 P(x)$, reached by codeword lengths
# $\ell(x) = -\log_2 P(x)$. Now suppose the symbols really come from $Q$ but we use the
# code built for $P$. The average length becomes the **cross-entropy**
# $\mathbb{E}_Q[-\log_2 P(x)]$, and the excess over the best code for $Q$ is
#
# $$\mathbb{E}_Q[-\log_2 P(x)] - \mathbb{E}_Q[-\log_2 Q(x)] = \sum_x Q(x)\log_2\frac{Q(x)}{P(x)} = \mathrm{KL}(Q\|P)\ \text{bits per symbol}.$$

# %% [markdown]
# Here $Q$ is the true source and $P$ the model the code was built for — the roles of the
# fitting story swapped, the formula the same: $\mathrm{KL}(Q\|P)$ averages under its first
# argument, whichever of the two we call the truth.
#
# Let us not take that on trust. `course_vae.coding` builds **Huffman codes** (the optimal
# prefix code with integer lengths; ties broken deterministically):

# %%
cv.show_source(coding.huffman_code)

# %% [markdown]
# First a **dyadic** pair (every probability a power of 2), where Huffman's lengths are
# exactly $-\log_2 P(x)$:

# %%
Q_dy = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=f64)
P_dy = torch.tensor([0.125, 0.125, 0.25, 0.5], dtype=f64)
code_Q = coding.huffman_code(Q_dy)
code_P = coding.huffman_code(P_dy)
print("symbol  Q      P      code for Q  code for P  -log2 P")
for x in range(4):
    print(f"{x:>6}  {Q_dy[x]:.3f}  {P_dy[x]:.3f}  {code_Q[x]:>10}  {code_P[x]:>10}  {-math.log2(P_dy[x]):7.1f}")
print(f"Kraft sums: {fmt(coding.kraft_sum(code_Q))}, {fmt(coding.kraft_sum(code_P))}")

# %%
# Check: both codes are prefix-free, satisfy Kraft's inequality, and have lengths -log2 p.
for code, probs in ((code_Q, Q_dy), (code_P, P_dy)):
    assert coding.is_prefix_free(code)
    assert coding.kraft_sum(code) <= 1.0
    assert torch.equal(torch.tensor(coding.code_lengths(code), dtype=f64), coding.ideal_code_lengths(probs))

# %% [markdown]
# Now draw a long message from $Q$ (seeded), write it with both codes and count the bits.

# %%
n_symbols = 100_000
message = coding.sample_message(Q_dy, n_symbols, seed=1)
bits_with_Q = coding.encode(message, code_Q)
bits_with_P = coding.encode(message, code_P)
print("first 12 symbols:", message[:12].tolist())
print("  with Q's code: ", bits_with_Q[:24], "...")
print("  with P's code: ", bits_with_P[:24], "...")
rate_Q = len(bits_with_Q) / n_symbols
rate_P = len(bits_with_P) / n_symbols
extra_measured = rate_P - rate_Q
kl_dy_bits = float(cv.kl_discrete(Q_dy, P_dy, base=2))
# standard error of the measured extra bits: per-symbol length differences are i.i.d.
diff = (torch.tensor(coding.code_lengths(code_P)) - torch.tensor(coding.code_lengths(code_Q)))[message].to(f64)
se_extra = float(diff.std() / math.sqrt(n_symbols))
# bit counts over 100,000 symbols are exact in 5 decimals: printed with all 5 (at 4 they
# could sit on a rounding boundary, e.g. 2.62335)
print(f"bits per symbol: code for Q {fmt(rate_Q, 5)}, code for P {fmt(rate_P, 5)}")
print(f"measured extra bits per symbol = {fmt(extra_measured, 5)} ± {fmt(se_extra)}")
print(f"KL(Q||P) in bits               = {fmt(kl_dy_bits)}")

# %%
# Check: the message decodes back exactly; the measured extra bits match KL(Q||P) within
# 4 standard errors; and in expectation (exact average lengths) they equal it to 1e-12.
assert coding.decode(bits_with_P, code_P) == message.tolist()
assert coding.decode(bits_with_Q, code_Q) == message.tolist()
assert abs(extra_measured - kl_dy_bits) < 4 * se_extra
expected_extra = coding.expected_length(Q_dy, code_P) - coding.expected_length(Q_dy, code_Q)
assert abs(expected_extra - kl_dy_bits) < 1e-12
assert abs(rate_Q - coding.expected_length(Q_dy, code_Q)) < 4 * se_extra  # Q's code: ≈ H(Q) = 1.75

# %% [markdown]
# ### A non-dyadic pair: the wrong-code theorem
#
# When the probabilities are not powers of 2, codeword lengths must be rounded to integers.
# **Shannon's code** rounds the ideal lengths up, $\ell_P(x) = \lceil -\log_2 P(x)\rceil$; Kraft's
# inequality still holds ($\sum_x 2^{-\ell_P(x)} \le \sum_x P(x) = 1$), so such a prefix code
# exists (`coding.shannon_code`). Used on symbols from $Q$ it costs $\mathbb E_Q[\ell_P]$ bits per
# symbol, and since $-\log_2 P(x) \le \ell_P(x) < -\log_2 P(x) + 1$, the **wrong-code theorem**
# (Cover & Thomas, Theorem 5.4.3) follows by averaging under $Q$:
#
# $$H(Q) + \mathrm{KL}(Q\|P) \;\le\; \mathbb E_Q[\ell_P] \;<\; H(Q) + \mathrm{KL}(Q\|P) + 1 .$$

# %% [markdown]
# The excess over the entropy of the true source is the KL plus less than one bit of rounding.
# Coding **blocks** of $k$ symbols (the code for $P^k$ used on blocks from $Q^k$) spreads that
# one bit over $k$ symbols: the excess per symbol lies in $[\mathrm{KL}, \mathrm{KL} + 1/k)$ and tends
# to the KL. We measure it on a sampled message ($k = 1$) and exactly for $k = 1, \dots, 6$.

# %%
Q_nd = torch.tensor([0.6, 0.3, 0.1], dtype=f64)
P_nd = torch.tensor([0.2, 0.3, 0.5], dtype=f64)
kl_nd_bits = float(cv.kl_discrete(Q_nd, P_nd, base=2))
H_Q = float(-(Q_nd * torch.log2(Q_nd)).sum())
shannon_P = coding.shannon_code(P_nd)
lengths_P = torch.tensor(coding.code_lengths(shannon_P), dtype=f64)
msg_nd = coding.sample_message(Q_nd, n_symbols, seed=2)
bits_nd = coding.encode(msg_nd, shannon_P)
measured_excess = len(bits_nd) / n_symbols - H_Q
se_nd = float(lengths_P[msg_nd].std() / math.sqrt(n_symbols))
print(f"Shannon code for P: {shannon_P}, lengths {lengths_P.int().tolist()} = ceil of "
      f"{fmt(coding.ideal_code_lengths(P_nd), 2)}")
print(f"H(Q) = {fmt(H_Q)} bits;  KL(Q||P) = {fmt(kl_nd_bits)} bits")
print(f"measured on {n_symbols:,} symbols: {fmt(len(bits_nd) / n_symbols, 5)} bits/symbol, "
      f"excess over H(Q) = {fmt(measured_excess)} ± {fmt(se_nd)}")
print("\nblock size k | excess bits/symbol over H(Q) (exact) | theorem: [KL, KL + 1/k)")
block_rows = []
for k in range(1, 7):
    qk, pk = coding.block_distribution(Q_nd, k), coding.block_distribution(P_nd, k)
    lengths_k = torch.tensor(coding.code_lengths(coding.shannon_code(pk)), dtype=f64)
    excess_k = float((qk * lengths_k).sum()) / k - H_Q
    block_rows.append((k, excess_k))
    print(f"{k:>12} | {fmt(excess_k)}{'':>31} | [{fmt(kl_nd_bits)}, {fmt(kl_nd_bits + 1 / k)})")

# %%
# Check: the message decodes; the sampled excess matches the exact one within 4 standard
# errors; every block size obeys the theorem, KL <= excess < KL + 1/k; single-symbol rounding
# costs more than 0.1 bit, blocks of 6 less than 1/6.
assert coding.decode(bits_nd, shannon_P) == msg_nd.tolist()
assert abs(measured_excess - block_rows[0][1]) < 4 * se_nd
for k, excess_k in block_rows:
    assert kl_nd_bits - 1e-12 <= excess_k < kl_nd_bits + 1.0 / k
assert block_rows[0][1] - kl_nd_bits > 0.1 and block_rows[-1][1] - kl_nd_bits < 1 / 6

# %% [markdown]
# ## 3. KL is never negative, and zero only when $Q = P$
#
# Gibbs' inequality: $\mathrm{KL}(Q\|P) \ge 0$, with equality iff $Q = P$. The proof is one
# line of Jensen's inequality for the concave $\log$:
#
# $$-\mathrm{KL}(Q\|P) = \mathbb{E}_Q\Big[\log\frac{P}{Q}\Big] \;\le\; \log \mathbb{E}_Q\Big[\frac{P}{Q}\Big] = \log \sum_{x:\,Q(x)>0} P(x) \;\le\; \log 1 = 0 .$$
#
# - The first $\le$ is Jensen: the log of an average is at least the average of the logs.
# - The sum runs only where $Q > 0$, so it is at most 1 (exactly 1 when $P$ puts no mass
#   outside $Q$'s support): the second $\le$.
# - Equality in both needs $P/Q$ constant on $Q$'s support and that sum equal to 1: $Q = P$.
#
# The coding story says the same: no code beats the one built for the true distribution.
# We test it on 10,000 random pairs of distributions over 5 outcomes drawn from a Dirichlet
# distribution.

# %%
torch.manual_seed(0)
dirichlet = D.Dirichlet(torch.ones(5, dtype=f64))  # uniform over probability vectors
q_batch, p_batch = dirichlet.sample((10_000,)), dirichlet.sample((10_000,))
kls = cv.kl_discrete(q_batch, p_batch)
self_kls = cv.kl_discrete(q_batch, q_batch)
print(f"10,000 random pairs: min KL = {fmt(kls.min())}, median = {fmt(kls.median())}, max = {fmt(kls.max())} nats")
print(f"KL(Q||Q) over the same 10,000: max |value| = {fmt(self_kls.abs().max(), 1, style='e')}")

# %%
# Check: every KL is >= 0, strictly > 0 for these distinct pairs, and exactly 0 for Q = P.
assert float(kls.min()) >= 0.0
assert bool((kls > 0).all())
assert float(self_kls.abs().max()) < 1e-12

# %% [markdown]
# ## 4. KL is not symmetric
#
# In general $\mathrm{KL}(Q\|P) \ne \mathrm{KL}(P\|Q)$, so KL is not a distance. A worked
# example with a biased coin $Q = (0.9, 0.1)$ and a fair coin $P = (0.5, 0.5)$:
#
# $$\mathrm{KL}(Q\|P) = 0.9\ln\tfrac{0.9}{0.5} + 0.1\ln\tfrac{0.1}{0.5} = 0.5290 - 0.1609 = 0.3681 \text{ nats},$$
# $$\mathrm{KL}(P\|Q) = 0.5\ln\tfrac{0.5}{0.9} + 0.5\ln\tfrac{0.5}{0.1} = -0.2939 + 0.8047 = 0.5108 \text{ nats}.$$
#
# $\mathrm{KL}(P\|Q)$ — the forward direction in the naming of Section 1 — is the larger one here:
# its expectation is under $P$, where "tails" happens half the time, and $Q$ gives tails only
# probability 0.1, so the large log-ratio $\log(0.5/0.1) = \log 5$ gets weight 0.5. In the reverse
# $\mathrm{KL}(Q\|P)$ the same outcome has weight only 0.1. Each direction penalises the
# approximation where the distribution it averages over has mass and the other has little.

# %%
coin_q = torch.tensor([0.9, 0.1], dtype=f64)
coin_p = torch.tensor([0.5, 0.5], dtype=f64)
kl_qp, kl_pq = float(cv.kl_discrete(coin_q, coin_p)), float(cv.kl_discrete(coin_p, coin_q))
print(f"KL(Q||P) = {fmt(kl_qp)} nats,  KL(P||Q) = {fmt(kl_pq)} nats")

# %%
# Check: the hand computation above, and the asymmetry.
assert abs(kl_qp - (0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5))) < 1e-12
assert abs(kl_qp - 0.3681) < 1e-4 and abs(kl_pq - 0.5108) < 1e-4
assert abs(kl_qp - kl_pq) > 0.1

# %% [markdown]
# ## 5. Two Gaussians: explore the integrand
#
# For two 1-D Gaussians $Q = N(\mu_q, \sigma_q^2)$ and $P = N(\mu_p, \sigma_p^2)$ the integral
# has a closed form (derived in chapter 02):
#
# $$\mathrm{KL}(Q\|P) = \log\frac{\sigma_p}{\sigma_q} + \frac{\sigma_q^2 + (\mu_q-\mu_p)^2}{2\sigma_p^2} - \frac12 .$$
#
# The explorer draws both densities and the **integrand** $q(x)\log(q(x)/p(x))$. The
# integrand is **negative** wherever $p(x) > q(x)$; only its integral is guaranteed to be
# $\ge 0$. Things to try: make the two Gaussians equal (both KLs become 0); shift $\mu_q$
# and watch both KLs grow (equally, if $\sigma_q = \sigma_p$); make $\sigma_q$ small and
# $\sigma_p$ large, then the other way round — the two directions differ a lot.
# First, the closed form against numerical integration of the definition:

# %%
mu_q, s_q, mu_p, s_p = 0.0, 1.0, 1.0, 2.0
closed = float(cv.kl_normal([mu_q], [2 * math.log(s_q)], [mu_p], [2 * math.log(s_p)]))
quad = float(cv.kl_quadrature(D.Normal(mu_q, s_q).log_prob, D.Normal(mu_p, s_p).log_prob))
print(f"KL(N(0,1) || N(1,2^2)): closed form {fmt(closed, 6)}, quadrature {fmt(quad, 6)} nats")
pair = cv.explorer_state.gaussian_pair_state(mu_q, s_q, mu_p, s_p)
print(f"most negative value of the integrand: {fmt(pair['integrand'].min())}")

# %%
# Check: closed form = quadrature; the integrand dips below 0 while its integral is > 0.
assert abs(closed - quad) < 1e-6
assert float(pair["integrand"].min()) < 0 < pair["kl_qp"]
assert abs(pair["kl_qp"] - closed) < 1e-12

# %%
plots.plot_gaussian_pair(pair)
plt.show()

# %%
explorer = widgets.GaussianPairExplorer(mu_q=0.0, s_q=1.0, mu_p=1.0, s_p=2.0)
explorer

# %% [markdown]
# ### From codes to densities: binned Gaussians
#
# The coding story is about discrete symbols; a density is not. Cut the real line into bins
# of width $h$ and give each bin its probability under $Q$ and under $P$ (plus two tail bins):
# that is a discrete pair again, and its KL is the extra bits of a code for $P$'s bins used on
# $Q$'s. Each entropy grows without bound as $h \to 0$ (more and more bits to name a finer bin,
# about $-\log h$ more), but the *difference* — the KL — converges to the integral of Section 1.
# Binning can only lose information, so the binned KL never exceeds the continuous one.

# %%
widths = [2.0, 1.0, 0.5, 0.25, 0.1, 0.01, 0.001]
binned = [cv.kl.kl_binned_gaussians(mu_q, s_q, mu_p, s_p, h) for h in widths]
print(f"closed form KL(N(0,1) || N(1,2^2)) = {fmt(closed, 6)} nats")
for h, k in zip(widths, binned, strict=True):
    print(f"bin width {h:6.3f}: binned KL = {fmt(k, 6)} nats = {fmt(k / math.log(2), 6)} bits, "
          f"closed form - binned = {fmt(closed - k, 1, style='e', spread=1e-6)}")

# %%
# Check: the binned KL stays below the closed form, rises as the bins shrink (halving
# bins refines the partition), and is within 1e-5 nats at h = 0.01 (the gap shrinks like h^2).
assert all(k <= closed + 1e-12 for k in binned)
assert all(b > a for a, b in zip(binned, binned[1:], strict=False))
assert closed - binned[5] < 1e-5 and closed - binned[0] > 0.05

# %% [markdown]
# ## 6. Forward vs reverse KL: fitting one Gaussian to two modes
#
# Which direction we minimise matters when the model family cannot match the target.
# Take a target $P$ = equal mixture of $N(-2, 0.6^2)$ and $N(2, 0.6^2)$ and fit a single
# Gaussian $Q = N(m, s^2)$ (by quadrature and gradient descent, `cv.fit_gaussian_1d`):
#
# - **forward** $\min_Q \mathrm{KL}(P\|Q)$: the expectation is under $P$, so $Q$ is punished
#   wherever $P$ has mass and $Q$ has little. $Q$ **covers all the mass**; for a Gaussian $Q$
#   the optimum is **moment matching**: $m = \mathbb{E}_P[x]$, $s^2 = \mathrm{Var}_P[x]$.
# - **reverse** $\min_Q \mathrm{KL}(Q\|P)$: the expectation is under $Q$, so $Q$ is punished
#   for putting mass where $P$ has little, e.g. between the modes. $Q$ is **mode-seeking**:
#   it settles on one mode (which one depends on where it starts).

# %% [markdown]
# The VAE's KL term, $\mathrm{KL}(q(z|x)\|p(z))$, and the gap between the ELBO and $\log p(x)$,
# $\mathrm{KL}(q(z|x)\|p(z|x))$, both have the approximation $q$ first: the reverse direction.
# For the KL term that choice has little to show: the prior $\mathcal N(0, I)$ has one mode and
# $q$ is Gaussian, so there is nothing to cover or to seek — it is a closed-form penalty
# (chapter 02). The direction matters for the **gap**: the true posterior $p(z|x)$ can be
# correlated or multi-modal, and $q$ is fitted to it by the reverse KL. The example after
# this one shows what that does to a factorised $q$.

# %%
target = D.MixtureSameFamily(
    D.Categorical(torch.tensor([0.5, 0.5], dtype=f64)),
    D.Normal(torch.tensor([-2.0, 2.0], dtype=f64), torch.tensor([0.6, 0.6], dtype=f64)),
)
m_fwd, s_fwd = cv.fit_gaussian_1d(target.log_prob, "forward", init=(0.0, 1.0))
m_rev_r, s_rev_r = cv.fit_gaussian_1d(target.log_prob, "reverse", init=(1.0, 1.0))
m_rev_l, s_rev_l = cv.fit_gaussian_1d(target.log_prob, "reverse", init=(-1.0, 1.0))
# The forward fit's m is 0 up to rounding (-2.5e-11 with AVX-512 kernels, +2.9e-11 with the
# generic ones): fmt prints such a value as 0.0000 on every CPU, never -0.0000.
print(f"target mean {fmt(target.mean)}, std {fmt(target.stddev)}")
print(f"forward fit:              m = {fmt(m_fwd)}, s = {fmt(s_fwd)}")
print(f"reverse fit (start m=+1): m = {fmt(m_rev_r)}, s = {fmt(s_rev_r)}")
print(f"reverse fit (start m=-1): m = {fmt(m_rev_l)}, s = {fmt(s_rev_l)}")

# %%
x_grid = torch.linspace(-6, 6, 601, dtype=f64)
plots.plot_kl_fits(
    x_grid,
    target.log_prob(x_grid).exp(),
    {
        "forward KL(P||Q)": (m_fwd, s_fwd),
        "reverse KL(Q||P), start +1": (m_rev_r, s_rev_r),
        "reverse KL(Q||P), start -1": (m_rev_l, s_rev_l),
    },
)
plt.show()

# %%
# Check: forward = moment matching (mean 0, std sqrt(0.6^2 + 2^2)); reverse sits on one
# mode with about that mode's width, the mode picked by the starting point.
assert abs(m_fwd - float(target.mean)) < 1e-3 and abs(s_fwd - float(target.stddev)) < 1e-3
assert abs(s_fwd - math.sqrt(0.6**2 + 2.0**2)) < 1e-3
assert abs(m_rev_r - 2.0) < 0.05 and abs(s_rev_r - 0.6) < 0.05
assert abs(m_rev_l + 2.0) < 0.05 and abs(s_rev_l - 0.6) < 0.05

# %% [markdown]
# ### A factorised $Q$ and a correlated $P$ (Bishop, PRML §10.1.2)
#
# Now the target is a correlated 2-D Gaussian, $P = \mathcal N\big(0, \Sigma\big)$ with
# $\Sigma = \begin{pmatrix}1 & \rho\\ \rho & 1\end{pmatrix}$, $\rho = 0.9$, and $Q = \mathcal N(m, \operatorname{diag} v)$
# is **factorised** (a diagonal covariance, like a VAE's encoder). Both KLs between Gaussians
# have a closed form for full covariances (chapter 02), minimised here by gradient descent
# (`cv.kl.fit_factorised_gaussian`). The answers are known: the forward fit takes $P$'s
# marginal variances, $v_j = \Sigma_{jj} = 1$; the reverse fit takes $v_j = 1/\Lambda_{jj}$ with
# $\Lambda = \Sigma^{-1}$ the precision, here $1 - \rho^2 = 0.19$ — it **underestimates the
# variance**, staying inside $P$ where the two overlap. Chapter 03 meets this again: a VAE's
# diagonal $q(z|x)$ fitted to a correlated true posterior.

# %%
rho = 0.9
mean_corr = torch.zeros(2, dtype=f64)
cov_corr = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=f64)
fac_fits = {
    "reverse KL(Q||P)": cv.kl.fit_factorised_gaussian(mean_corr, cov_corr, "reverse", steps=300, lr=0.1),
    "forward KL(P||Q)": cv.kl.fit_factorised_gaussian(mean_corr, cov_corr, "forward", steps=300, lr=0.1),
}
precision_diag = torch.linalg.inv(cov_corr).diagonal()
for label, (m_fit, v_fit) in fac_fits.items():
    print(f"{label}: m = {fmt(m_fit)}, variances = {fmt(v_fit)}")
print(f"1 / Lambda_jj = {fmt(1 / precision_diag)},  Sigma_jj = {fmt(cov_corr.diagonal())}")
plots.plot_factorised_fits(mean_corr, cov_corr, fac_fits)
plt.show()

# %%
# Check: reverse fit = 1 / Lambda_jj = 1 - rho^2, forward fit = Sigma_jj, both centred on P.
v_rev, v_fwd = fac_fits["reverse KL(Q||P)"][1], fac_fits["forward KL(P||Q)"][1]
assert torch.allclose(v_rev, 1 / precision_diag, atol=1e-3) and abs(float(v_rev[0]) - (1 - rho**2)) < 1e-3
assert torch.allclose(v_fwd, cov_corr.diagonal(), atol=1e-3)
assert all(float(m.abs().max()) < 1e-3 for m, _ in fac_fits.values())

# %% [markdown]
# ## 7. Monte Carlo estimation and its $1/\sqrt{N}$ error
#
# When no closed form exists, KL is estimated from samples:
# $\widehat{\mathrm{KL}} = \frac1N\sum_{i=1}^N [\log q(z_i) - \log p(z_i)]$ with $z_i \sim Q$.
# It is unbiased, and its standard error is $\mathrm{sd}(\log q - \log p)/\sqrt{N}$. (An
# estimate from a few samples can be **negative** even though KL $\ge 0$: below, 50 estimates
# from $N = 2$ samples each — $N = 2$ being the fewest that also give a standard error.) We
# compare with the exact value for $Q = N(0,1)$, $P = N(1, 2^2)$, averaging $|\text{error}|$
# over 20 seeds per $N$.

# %%
cv.show_source(cv.kl_monte_carlo)

# %%
q_dist, p_dist = D.Normal(torch.tensor(0.0, dtype=f64), 1.0), D.Normal(torch.tensor(1.0, dtype=f64), 2.0)
exact = closed
ns = [10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000]
seeds = range(20)
mean_abs_err, mean_se = [], []
for n in ns:
    runs = [cv.kl_monte_carlo(q_dist, p_dist, n_samples=n, seed=s) for s in seeds]
    mean_abs_err.append(sum(abs(float(est) - exact) for est, _ in runs) / len(runs))
    mean_se.append(sum(float(se) for _, se in runs) / len(runs))
log_n = torch.log(torch.tensor(ns, dtype=f64))
slope_err = float(torch.linalg.lstsq(torch.stack([log_n, torch.ones_like(log_n)], 1),
                                     torch.log(torch.tensor(mean_abs_err, dtype=f64))[:, None]).solution[0, 0])
slope_se = float(torch.linalg.lstsq(torch.stack([log_n, torch.ones_like(log_n)], 1),
                                    torch.log(torch.tensor(mean_se, dtype=f64))[:, None]).solution[0, 0])
two_sample = [float(cv.kl_monte_carlo(q_dist, p_dist, n_samples=2, seed=s)[0]) for s in range(50)]
print(f"exact KL = {fmt(exact)} nats")
ratios = [e / se for e, se in zip(mean_abs_err, mean_se, strict=True)]
for n, e, se, r in zip(ns, mean_abs_err, mean_se, ratios, strict=True):
    print(f"N = {n:>6}: mean |error| = {fmt(e, 5)}, mean reported standard error = {fmt(se, 5)}, ratio {fmt(r, 2)}")
print(f"ratio mean |error| / standard error, averaged over the {len(ns)} sizes: {fmt(sum(ratios) / len(ratios), 2)}"
      f"  (sqrt(2/pi) = {fmt(math.sqrt(2 / math.pi), 2)})")
print(f"fitted log-log slopes: |error| {fmt(slope_err, 3)}, standard error {fmt(slope_se, 3)}")
print(f"estimates from N = 2 samples below 0: {sum(v < 0 for v in two_sample)} of 50")

# %%
plots.plot_mc_convergence(ns, mean_abs_err, mean_se, slope=slope_err)
plt.show()

# %%
# Check: both slopes are -1/2 within 0.1. For a normal error, E|error| = sqrt(2/pi) SE ≈ 0.80 SE;
# each printed ratio averages only 20 seeds (its sd is about 0.6/sqrt(20) ≈ 0.13), so single
# ratios scatter (here 0.49 to 1.24) while their average over the 9 sizes is within 0.1 of 0.80.
assert abs(slope_err + 0.5) < 0.1
assert abs(slope_se + 0.5) < 0.05
assert all(0.4 < r < 1.3 for r in ratios)
assert abs(sum(ratios) / len(ratios) - math.sqrt(2 / math.pi)) < 0.1
assert any(v < 0 for v in two_sample)

# %% [markdown]
# ## Exercises
#
# Each checker answers **correct**, **close** (with what to refine) or **not right** (naming
# the common slip your answer matches, if it matches one). A wrong try gets a nudge; the next
# one gets the method. Each solution sits collapsed under its exercise: expand it (click the
# bar at its left in JupyterLab, or "Solution" on the website) after you have tried.
#
# ### Exercise 1 — KL in bits
# For $Q = (0.6, 0.3, 0.1)$ and $P = (0.2, 0.2, 0.6)$ (`exercises.CH01_Q`, `CH01_P`) compute
# $\mathrm{KL}(Q\|P)$ **in bits**, to 2 decimals. Pencil and a table of logs (two decimals are
# enough) will do.

# %%
answer = None  # your answer here
cv.exercises.check_ch01_kl_bits(answer)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** $\sum_i Q_i \log_2(Q_i/P_i) = 0.6\log_2 3 + 0.3\log_2 1.5 + 0.1\log_2\tfrac16 \approx 0.951 + 0.175 - 0.258 = 0.868$
# bits — `kl_discrete` with `base=2`. In nats it would be $0.602$. The other direction,
# $\mathrm{KL}(P\|Q) \approx 1.117$ bits, is larger: $P$ puts 0.6 on the third symbol, where $Q$
# has only 0.1.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = float(cv.kl_discrete(list(exercises.CH01_Q), list(exercises.CH01_P), base=2))
cv.exercises.check_ch01_kl_bits(answer)

# %% [markdown]
# ### Exercise 2 — predict, then measure: a mismatched Shannon code
# Symbols come from the same $Q = (0.6, 0.3, 0.1)$, but they are written with the **Shannon code
# built for** $P = (0.2, 0.2, 0.6)$, lengths $\lceil -\log_2 P(x)\rceil$ (`coding.shannon_code`).
# How many bits per symbol **more than the entropy $H(Q)$** does that cost, to 2 decimals?
#
# First **predict** a range from the wrong-code theorem and your answer to Exercise 1, then
# **measure**: either the exact average of the lengths under $Q$, or encode a sampled message of
# at least 100,000 symbols (`coding.sample_message`, `coding.encode`) and count its bits — at that
# length the count is precise to about 0.002 bit per symbol.

# %%
answer = None  # your answer here
cv.exercises.check_ch01_extra_bits(answer)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** The theorem predicts an excess in $[\mathrm{KL}, \mathrm{KL} + 1) \approx [0.87, 1.87)$.
# The lengths are $\lceil 2.32\rceil = 3$, $3$, $\lceil 0.74\rceil = 1$, so $\mathbb E_Q[\ell_P] = 0.6\cdot3 + 0.3\cdot3 + 0.1\cdot1 = 2.8$
# bits and $H(Q) \approx 1.295$ bits (Section 2): the excess is about $1.50$ bits — the KL plus
# $0.64$ bit of rounding, inside the predicted range. (The lower end holds for Shannon's
# lengths, which are never shorter than $-\log_2 P$. A Huffman code for $P$, lengths $(2, 2, 1)$,
# would cost only $0.60$ bit here, less than the KL: its rounded lengths happen to suit $Q$
# better than $P$ does.) Measured on a message:

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
q_ex, p_ex = exercises.CH01_CODE_Q, exercises.CH01_CODE_P
code_ex = coding.shannon_code(p_ex)
n_ex = exercises.CH01_CODE_MESSAGE_LENGTH
msg_ex = coding.sample_message(q_ex, n_ex, seed=3)
H_ex = -sum(qx * math.log2(qx) for qx in q_ex)
answer = len(coding.encode(msg_ex, code_ex)) / n_ex - H_ex
exact_ex = sum(qx * len(w) for qx, w in zip(q_ex, code_ex, strict=True)) - H_ex
se_ex = math.sqrt(sum(qx * (len(w) - exact_ex - H_ex) ** 2 for qx, w in zip(q_ex, code_ex, strict=True)) / n_ex)
kl_ex = float(cv.kl_discrete(list(q_ex), list(p_ex), base=2))
print(f"measured excess {fmt(answer, 3)} bits (exact {fmt(exact_ex)}, standard error {fmt(se_ex)}); "
      f"theorem range [{fmt(kl_ex)}, {fmt(kl_ex + 1)})")
assert kl_ex <= exact_ex < kl_ex + 1 and abs(answer - exact_ex) < 4 * se_ex
cv.exercises.check_ch01_extra_bits(answer)

# %% [markdown]
# ### Exercise 3 — derive: the forward-KL fit of a mixture
# $P = 0.3\,N(-1, 0.5^2) + 0.7\,N(3, 1^2)$. Which standard deviation $s$ has the Gaussian
# $N(m, s^2)$ that minimises the forward $\mathrm{KL}(P\|N(m, s^2))$? To 2 decimals. Section 6
# says *what* the forward fit matches; work out the mixture's numbers yourself (or sample $10^6$
# points from $P$ and take their standard deviation).

# %%
answer = None  # your answer here
cv.exercises.check_ch01_forward_fit_std(answer)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** Forward KL matches moments. With $\mathbb E[x^2] = \sigma^2 + \mu^2$ for each
# component, $m = \sum_k w_k\mu_k = 1.8$ and
# $s^2 = \sum_k w_k(\sigma_k^2 + \mu_k^2) - m^2 = 7.375 - 3.24 = 4.135$, so $s \approx 2.03$ — wider
# than either component, because the spread between the modes counts. (The reverse fit would sit
# on one component instead: $s \approx 1.08$ on the heavier one.) The numerical fit agrees:

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
w, mu, sd = exercises.CH01_MIX_WEIGHTS, exercises.CH01_MIX_MEANS, exercises.CH01_MIX_STDS
m_moment = sum(wk * mk for wk, mk in zip(w, mu, strict=True))
answer = math.sqrt(sum(wk * (sk**2 + mk**2) for wk, mk, sk in zip(w, mu, sd, strict=True)) - m_moment**2)
mixture = D.MixtureSameFamily(D.Categorical(torch.tensor(w, dtype=f64)),
                              D.Normal(torch.tensor(mu, dtype=f64), torch.tensor(sd, dtype=f64)))
m_fit, s_fit = cv.fit_gaussian_1d(mixture.log_prob, "forward")
print(f"moments: m = {fmt(m_moment)}, s = {fmt(answer)};  fit: m = {fmt(m_fit)}, s = {fmt(s_fit)}")
assert abs(s_fit - answer) < 1e-2
cv.exercises.check_ch01_forward_fit_std(answer)

# %% [markdown]
# ## Summary
#
# - $\mathrm{KL}(Q\|P) = \mathbb{E}_Q[\log Q - \log P]$: the expectation is under the first
#   argument. Natural log gives nats, $\log_2$ gives bits; bits = nats / $\ln 2$.
# - It is the average number of **extra bits** a code built for $P$ spends on symbols from $Q$ —
#   we measured it: exactly so for dyadic distributions; for others Shannon's integer lengths
#   cost between KL and KL + 1 bits more than $H(Q)$ (the wrong-code theorem), KL + 1/k with
#   blocks of $k$ symbols. Binned Gaussians carry the story to densities: their KL tends to
#   the closed form as the bins shrink.
# - $\mathrm{KL} \ge 0$, $= 0$ iff $Q = P$ (10,000 random pairs, no exception), yet the integrand
#   can be negative pointwise.
# - $\mathrm{KL}(Q\|P) \ne \mathrm{KL}(P\|Q)$. Minimising the forward KL covers all modes
#   (moment matching); minimising the reverse KL picks one mode, and a factorised $Q$ fitted by
#   the reverse KL to a correlated Gaussian underestimates its variance. The VAE uses
#   $\mathrm{KL}(q(z|x)\|p(z))$, with $q$ first; the direction matters most for the gap
#   $\mathrm{KL}(q(z|x)\|p(z|x))$ to the true posterior.
# - Monte Carlo estimates are unbiased with error $\propto 1/\sqrt{N}$ (fitted slope ≈ −0.5);
#   the mean |error| is about 0.8 standard errors on average, but single 20-seed averages scatter.
# - In the VAE the KL term is computed per example and per latent dimension; the course
#   **sums** it over latent dimensions (and the reconstruction term over pixels) and
#   **averages** over the batch. Chapter 02 derives the closed form used there.
