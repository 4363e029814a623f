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
#   and measure it with a real (Huffman) code;
# - show that $\mathrm{KL} \ge 0$, that it is $0$ only when $Q = P$, and that it is **not symmetric**;
# - predict what minimising the forward $\mathrm{KL}(P\|Q)$ and the reverse $\mathrm{KL}(Q\|P)$
#   does when one Gaussian is fitted to a two-mode target;
# - estimate a KL by Monte Carlo and say how fast its error shrinks ($\propto 1/\sqrt{N}$).

# %%
import math

import matplotlib.pyplot as plt
import torch

import course_vae as cv
from course_vae import coding, exercises, plots, widgets

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
# The expectation is taken under the **first** argument $Q$. Terms with $Q(x) = 0$
# contribute $0$ ($0 \log 0 = 0$); if $P(x) = 0 < Q(x)$ somewhere, the KL is $+\infty$.
#
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
print(f"KL(Q||P) = {kl_nats:.4f} nats = {kl_bits:.4f} bits   (by hand: {by_hand:.4f} nats)")
print(f"ratio nats / bits = {kl_nats / kl_bits:.4f}   (ln 2 = {math.log(2):.4f})")

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
print(f"Kraft sums: {coding.kraft_sum(code_Q):.4f}, {coding.kraft_sum(code_P):.4f}")

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
print(f"bits per symbol: code for Q {rate_Q:.4f}, code for P {rate_P:.4f}")
print(f"measured extra bits per symbol = {extra_measured:.4f} ± {se_extra:.4f}")
print(f"KL(Q||P) in bits               = {kl_dy_bits:.4f}")

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
# ### A non-dyadic pair: Huffman's rounding
#
# When the probabilities are not powers of 2, codeword lengths must be rounded to integers.
# The **ideal** lengths $-\log_2 P(x)$ still give exactly KL extra bits (this is just the
# identity above), but a Huffman code costs up to 1 bit per symbol more than the entropy
# of the distribution it was built for: $H(Q) \le L_Q < H(Q) + 1$. So the extra bits that two
# Huffman codes show can differ from the KL. Coding **blocks** of $k$ symbols at once shrinks
# that overhead to below $1/k$ bit per symbol, and the extra bits approach the KL (not
# monotonically: each block size rounds differently).

# %%
Q_nd = torch.tensor([0.6, 0.3, 0.1], dtype=f64)
P_nd = torch.tensor([0.2, 0.3, 0.5], dtype=f64)
kl_nd_bits = float(cv.kl_discrete(Q_nd, P_nd, base=2))
H_Q = float(-(Q_nd * torch.log2(Q_nd)).sum())
msg_nd = coding.sample_message(Q_nd, n_symbols, seed=2)
ideal_extra = float((coding.ideal_code_lengths(P_nd) - coding.ideal_code_lengths(Q_nd))[msg_nd].mean())
huff_extra = (
    len(coding.encode(msg_nd, coding.huffman_code(P_nd))) - len(coding.encode(msg_nd, coding.huffman_code(Q_nd)))
) / n_symbols
print(f"KL(Q||P) in bits                          = {kl_nd_bits:.4f}")
print(f"measured extra bits, ideal lengths -log2  = {ideal_extra:.4f}")
print(f"measured extra bits, Huffman codes        = {huff_extra:.4f}")
print(f"\nblock size k | Huffman bits/symbol for Q (H(Q) = {H_Q:.4f}) | extra bits/symbol (exact)")
block_rows = []
for k in range(1, 7):
    qk, pk = coding.block_distribution(Q_nd, k), coding.block_distribution(P_nd, k)
    own = coding.expected_length(qk, coding.huffman_code(qk)) / k
    extra_k = coding.expected_length(qk, coding.huffman_code(pk)) / k - own
    block_rows.append((k, own, extra_k))
    print(f"{k:>12} | {own:.4f}{'':>33} | {extra_k:.4f}")

# %%
# Check: ideal code lengths give KL extra bits (a Monte Carlo average, so within 0.02);
# Huffman's own-code overhead is in [0, 1/k) bit per symbol; with blocks of 6 symbols the
# Huffman extra bits are within 0.02 of KL, while single-symbol Huffman is off by > 0.1.
assert abs(ideal_extra - kl_nd_bits) < 0.02
for k, own, _ in block_rows:
    assert H_Q - 1e-12 <= own < H_Q + 1.0 / k
assert abs(block_rows[0][2] - kl_nd_bits) > 0.1
assert abs(block_rows[-1][2] - kl_nd_bits) < 0.02

# %% [markdown]
# ## 3. KL is never negative, and zero only when $Q = P$
#
# Gibbs' inequality: $\mathrm{KL}(Q\|P) \ge 0$, with equality iff $Q = P$. (Proof in one
# line: $-\mathrm{KL} = \mathbb{E}_Q[\log(P/Q)] \le \log \mathbb{E}_Q[P/Q] = \log 1 = 0$ by
# Jensen, with equality only if $P/Q$ is constant.) The coding story says the same: no
# code beats the one built for the true distribution. We test it on 10,000 random pairs of
# distributions over 5 outcomes drawn from a Dirichlet distribution.

# %%
torch.manual_seed(0)
dirichlet = D.Dirichlet(torch.ones(5, dtype=f64))  # uniform over probability vectors
q_batch, p_batch = dirichlet.sample((10_000,)), dirichlet.sample((10_000,))
kls = cv.kl_discrete(q_batch, p_batch)
self_kls = cv.kl_discrete(q_batch, q_batch)
print(f"10,000 random pairs: min KL = {float(kls.min()):.4f}, median = {float(kls.median()):.4f}, max = {float(kls.max()):.4f} nats")
print(f"KL(Q||Q) over the same 10,000: max |value| = {float(self_kls.abs().max()):.1e}")

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
# The reverse direction is larger: under $P$ the outcome "tails" happens half the time,
# yet $Q$ gives it only probability 0.1 — $P$ is penalised for putting mass where $Q$ has little.

# %%
coin_q = torch.tensor([0.9, 0.1], dtype=f64)
coin_p = torch.tensor([0.5, 0.5], dtype=f64)
kl_qp, kl_pq = float(cv.kl_discrete(coin_q, coin_p)), float(cv.kl_discrete(coin_p, coin_q))
print(f"KL(Q||P) = {kl_qp:.4f} nats,  KL(P||Q) = {kl_pq:.4f} nats")

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
print(f"KL(N(0,1) || N(1,2^2)): closed form {closed:.6f}, quadrature {quad:.6f} nats")
pair = cv.kl.gaussian_pair_state(mu_q, s_q, mu_p, s_p)
print(f"most negative value of the integrand: {float(pair['integrand'].min()):.4f}")

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
#
# The VAE's KL term, $\mathrm{KL}(q(z|x)\|p(z))$, and the gap between the ELBO and $\log p(x)$,
# $\mathrm{KL}(q(z|x)\|p(z|x))$, both have the approximation $q$ first: the reverse direction.

# %%
target = D.MixtureSameFamily(
    D.Categorical(torch.tensor([0.5, 0.5], dtype=f64)),
    D.Normal(torch.tensor([-2.0, 2.0], dtype=f64), torch.tensor([0.6, 0.6], dtype=f64)),
)
m_fwd, s_fwd = cv.fit_gaussian_1d(target.log_prob, "forward", init=(0.0, 1.0))
m_rev_r, s_rev_r = cv.fit_gaussian_1d(target.log_prob, "reverse", init=(1.0, 1.0))
m_rev_l, s_rev_l = cv.fit_gaussian_1d(target.log_prob, "reverse", init=(-1.0, 1.0))
print(f"target mean {float(target.mean):.4f}, std {float(target.stddev):.4f}")
print(f"forward fit:              m = {m_fwd:.4f}, s = {s_fwd:.4f}")
print(f"reverse fit (start m=+1): m = {m_rev_r:.4f}, s = {s_rev_r:.4f}")
print(f"reverse fit (start m=-1): m = {m_rev_l:.4f}, s = {s_rev_l:.4f}")

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
# ## 7. Monte Carlo estimation and its $1/\sqrt{N}$ error
#
# When no closed form exists, KL is estimated from samples:
# $\widehat{\mathrm{KL}} = \frac1N\sum_{i=1}^N [\log q(z_i) - \log p(z_i)]$ with $z_i \sim Q$.
# It is unbiased, and its standard error is $\mathrm{sd}(\log q - \log p)/\sqrt{N}$. (A single
# sample can give a **negative** estimate even though KL $\ge 0$.) We compare with the exact
# value for $Q = N(0,1)$, $P = N(1, 2^2)$, averaging $|\text{error}|$ over 20 seeds per $N$.

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
one_sample = [float(cv.kl_monte_carlo(q_dist, p_dist, n_samples=2, seed=s)[0]) for s in range(50)]
print(f"exact KL = {exact:.4f} nats")
for n, e, se in zip(ns, mean_abs_err, mean_se, strict=True):
    print(f"N = {n:>6}: mean |error| = {e:.5f}, mean reported standard error = {se:.5f}")
print(f"fitted log-log slopes: |error| {slope_err:.3f}, standard error {slope_se:.3f}")
print(f"estimates from N = 2 samples below 0: {sum(v < 0 for v in one_sample)} of 50")

# %%
plots.plot_mc_convergence(ns, mean_abs_err, mean_se, slope=slope_err)
plt.show()

# %%
# Check: both slopes are -1/2 within 0.1, and the mean |error| is about
# sqrt(2/pi) ≈ 0.80 times the standard error (|normal| has mean sqrt(2/pi) sd) at large N.
assert abs(slope_err + 0.5) < 0.1
assert abs(slope_se + 0.5) < 0.05
assert 0.5 < mean_abs_err[-1] / mean_se[-1] < 1.2
assert any(v < 0 for v in one_sample)

# %% [markdown]
# ## Exercises
#
# ### Exercise 1 — KL in bits
# For $Q = (0.7, 0.2, 0.1)$ and $P = (0.4, 0.4, 0.2)$ compute $\mathrm{KL}(Q\|P)$ **in bits**.

# %%
answer = None  # your answer here
cv.exercises.check_ch01_kl_bits(answer)

# %% [markdown]
# **Solution.** $\sum_i Q_i \log_2(Q_i/P_i)$ — `kl_discrete` with `base=2`:

# %%
answer = float(cv.kl_discrete(list(exercises.CH01_Q), list(exercises.CH01_P), base=2))
cv.exercises.check_ch01_kl_bits(answer)

# %% [markdown]
# ### Exercise 2 — the cost of a mismatched code
# Symbols come from $Q = (1/2, 1/4, 1/8, 1/8)$, but they are written with the Huffman code
# built for $P = (1/4, 1/8, 1/8, 1/2)$. How many extra bits per symbol, on average, does
# that cost compared with the Huffman code built for $Q$?

# %%
answer = None  # your answer here
cv.exercises.check_ch01_extra_bits(answer)

# %% [markdown]
# **Solution.** Average each code's lengths under $Q$ and subtract. Both distributions are
# dyadic, so the answer is also exactly $\mathrm{KL}(Q\|P)$ in bits.

# %%
q_ex, p_ex = list(exercises.CH01_CODE_Q), list(exercises.CH01_CODE_P)
answer = coding.expected_length(q_ex, coding.huffman_code(p_ex)) - coding.expected_length(q_ex, coding.huffman_code(q_ex))
print(f"extra bits {answer:.4f}, KL(Q||P) in bits {float(cv.kl_discrete(q_ex, p_ex, base=2)):.4f}")
cv.exercises.check_ch01_extra_bits(answer)

# %% [markdown]
# ### Exercise 3 — the forward-KL fit of a mixture
# $P = 0.3\,N(-1, 0.5^2) + 0.7\,N(3, 1^2)$. Which standard deviation $s$ has the Gaussian
# $N(m, s^2)$ that minimises the forward $\mathrm{KL}(P\|N(m, s^2))$?

# %%
answer = None  # your answer here
cv.exercises.check_ch01_forward_fit_std(answer)

# %% [markdown]
# **Solution.** Forward KL matches moments: $m = \sum_k w_k\mu_k$ and
# $s^2 = \sum_k w_k(\sigma_k^2 + \mu_k^2) - m^2$. The numerical fit agrees:

# %%
w, mu, sd = exercises.CH01_MIX_WEIGHTS, exercises.CH01_MIX_MEANS, exercises.CH01_MIX_STDS
m_moment = sum(wk * mk for wk, mk in zip(w, mu, strict=True))
answer = math.sqrt(sum(wk * (sk**2 + mk**2) for wk, mk, sk in zip(w, mu, sd, strict=True)) - m_moment**2)
mixture = D.MixtureSameFamily(D.Categorical(torch.tensor(w, dtype=f64)),
                              D.Normal(torch.tensor(mu, dtype=f64), torch.tensor(sd, dtype=f64)))
m_fit, s_fit = cv.fit_gaussian_1d(mixture.log_prob, "forward")
print(f"moments: m = {m_moment:.4f}, s = {answer:.4f};  fit: m = {m_fit:.4f}, s = {s_fit:.4f}")
cv.exercises.check_ch01_forward_fit_std(answer)

# %% [markdown]
# ## Summary
#
# - $\mathrm{KL}(Q\|P) = \mathbb{E}_Q[\log Q - \log P]$: the expectation is under the first
#   argument. Natural log gives nats, $\log_2$ gives bits; bits = nats / $\ln 2$.
# - It is the average number of **extra bits** a code built for $P$ spends on symbols from $Q$ —
#   we measured it: exactly so for dyadic distributions, and for others once Huffman's
#   integer rounding is amortised over blocks.
# - $\mathrm{KL} \ge 0$, $= 0$ iff $Q = P$ (10,000 random pairs, no exception), yet the integrand
#   can be negative pointwise.
# - $\mathrm{KL}(Q\|P) \ne \mathrm{KL}(P\|Q)$. Minimising the forward KL covers all modes
#   (moment matching); minimising the reverse KL picks one mode. The VAE uses
#   $\mathrm{KL}(q(z|x)\|p(z))$, with $q$ first.
# - Monte Carlo estimates are unbiased with error $\propto 1/\sqrt{N}$ (fitted slope ≈ −0.5).
# - In the VAE the KL term is computed per example and per latent dimension; the course
#   **sums** it over latent dimensions (and the reconstruction term over pixels) and
#   **averages** over the batch. Chapter 02 derives the closed form used there.
