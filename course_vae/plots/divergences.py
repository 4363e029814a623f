"""Figures of chapter 01 (KL basics): two Gaussians and their KL integrand, Gaussian fits to a
mixture (forward vs reverse KL), and the convergence of a Monte Carlo KL estimate."""

from __future__ import annotations

import numpy as np

from course_vae._validate import check_keys, check_real

__all__ = ["plot_factorised_fits", "plot_gaussian_pair", "plot_kl_fits", "plot_mc_convergence"]


def plot_gaussian_pair(state: dict):
    r"""Two 1-D Gaussians q, p (top) and the KL integrand q log(q/p) (bottom, shaded by sign).

    ``state`` is the dict of :func:`course_vae.explorer_state.gaussian_pair_state` (keys x, q, p,
    integrand, kl_qp, kl_pq, mu_q, s_q, mu_p, s_p).  The area under the bottom curve is
    KL(Q || P) >= 0, although the integrand is negative wherever p > q.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    check_keys(state, ("x", "q", "p", "integrand", "kl_qp", "kl_pq"), "state")
    x, q, p, f = (np.asarray(state[k], dtype=float) for k in ("x", "q", "p", "integrand"))
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True)
    ax0.plot(x, q, color="C0", label=rf"$q = N({state['mu_q']:.2f}, {state['s_q']:.2f}^2)$")
    ax0.plot(x, p, color="C1", label=rf"$p = N({state['mu_p']:.2f}, {state['s_p']:.2f}^2)$")
    ax0.set_ylabel("density")
    ax0.set_title(
        rf"KL(Q||P) = {state['kl_qp']:.4f} nats,  KL(P||Q) = {state['kl_pq']:.4f} nats"
    )
    ax0.legend(loc="upper right")
    ax1.plot(x, f, color="black", linewidth=1.5, label=r"$q(x)\log(q(x)/p(x))$")
    ax1.fill_between(x, f, 0, where=f >= 0, color="C2", alpha=0.4, label="positive part")
    ax1.fill_between(x, f, 0, where=f < 0, color="C3", alpha=0.4, label="negative part (p > q)")
    ax1.axhline(0.0, color="grey", linewidth=0.8)
    ax1.set_xlabel("x")
    ax1.set_ylabel("integrand (nats per unit x)")
    ax1.set_title(rf"Integrand of KL(Q||P): its area is {state['kl_qp']:.4f} $\geq 0$")
    ax1.legend(loc="upper right")
    fig.tight_layout()
    return fig


def plot_kl_fits(x, target_density, fits: dict, target_label: str = "target p (mixture)"):
    r"""A target density and Gaussian fits N(m, s^2) to it, one curve per entry of ``fits``.

    ``fits`` maps a legend label (e.g. "forward KL(P||Q)") to ``(m, s)``.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import torch

    x = np.asarray(x, dtype=float)
    y = np.asarray(target_density, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(
            f"x and target_density must be 1-D of one length, got {x.shape}, {y.shape}"
        )
    if not fits:
        raise ValueError("fits must name at least one fit (label -> (m, s))")
    fig, ax = plt.subplots()
    ax.fill_between(x, y, color="grey", alpha=0.3)
    ax.plot(x, y, color="black", label=target_label)
    styles = ["--", "-.", ":", (0, (5, 1))]
    grid = torch.tensor(x)
    for i, (label, (m, s)) in enumerate(fits.items()):
        s = check_real(s, f"the std s of fits[{label!r}]", low=0.0, low_open=True)
        loc, scale = torch.tensor([float(m), s], dtype=torch.float64)
        dens = torch.distributions.Normal(loc, scale).log_prob(grid).exp().numpy()
        ax.plot(x, dens, linestyle=styles[i % len(styles)], label=f"{label}: m={m:.2f}, s={s:.2f}")
    top = max(line.get_ydata().max() for line in ax.get_lines())
    ax.set_ylim(0.0, 1.5 * top)  # head room for the legend
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_title("One Gaussian fitted to a two-mode mixture")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_mc_convergence(n_samples, abs_error, std_error, slope: float | None = None):
    r"""Log-log plot of a Monte Carlo estimate's mean |error| and standard error against N.

    A reference line of slope -1/2 (error ~ 1/sqrt(N)) is drawn through the first error;
    ``slope`` (the fitted slope of log |error| on log N) goes into the legend.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    n, err, se = (np.asarray(v, dtype=float) for v in (n_samples, abs_error, std_error))
    if not (n.ndim == 1 and n.shape == err.shape == se.shape and len(n) >= 2):
        raise ValueError("n_samples, abs_error and std_error must be 1-D of one length >= 2")
    if (n <= 0).any() or (err <= 0).any() or (se <= 0).any():
        raise ValueError("n_samples, abs_error and std_error must be > 0 for a log-log plot")
    fig, ax = plt.subplots()
    label = "mean |estimate - exact|"
    if slope is not None:
        label += f" (fitted slope {slope:.3f})"
    ax.loglog(n, err, "o-", label=label)
    ax.loglog(n, se, "s--", label="reported standard error")
    reference = err[0] * np.sqrt(n[0] / n)
    ax.loglog(n, reference, ":", color="grey", label=r"reference $\propto 1/\sqrt{N}$")
    ax.set_xlabel("number of samples N")
    ax.set_ylabel("error (nats)")
    ax.set_title("Monte Carlo KL: the error shrinks like $1/\\sqrt{N}$")
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


def plot_factorised_fits(mean_p, cov_p, fits: dict):
    r"""2-D Gaussian P = N(mean_p, cov_p) and factorised fits Q = N(m, diag v) as ellipses.

    Each distribution is drawn as its 1- and 2-standard-deviation contours (points
    m + k L u, L L^T the covariance, u on the unit circle). ``fits`` maps a legend label
    (e.g. "reverse KL(Q||P)") to ``(m, v)``. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    mean_p = np.asarray(mean_p, dtype=float)
    cov_p = np.asarray(cov_p, dtype=float)
    if mean_p.shape != (2,) or cov_p.shape != (2, 2):
        raise ValueError(f"need a 2-D Gaussian, got mean {mean_p.shape}, cov {cov_p.shape}")
    if not fits:
        raise ValueError("fits must name at least one fit (label -> (m, v))")
    angle = np.linspace(0.0, 2 * np.pi, 200)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    fig, ax = plt.subplots(figsize=(5.5, 5.0))
    items = [("target P (correlated)", mean_p, cov_p, "black", "-")]
    styles = ["--", ":", "-."]
    colours = ["tab:blue", "tab:orange", "tab:green"]
    for i, (label, (m, v)) in enumerate(fits.items()):
        m, v = np.asarray(m, dtype=float), np.asarray(v, dtype=float)
        items.append((label, m, np.diag(v), colours[i % 3], styles[i % 3]))
    for label, m, cov, colour, style in items:
        chol = np.linalg.cholesky(cov)
        for k in (1, 2):
            pts = m[:, None] + k * chol @ circle
            ax.plot(pts[0], pts[1], color=colour, linestyle=style,
                    label=label if k == 1 else None, linewidth=2.0 if k == 1 else 1.0)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$z_1$")
    ax.set_ylabel(r"$z_2$")
    ax.set_title("Factorised Gaussians fitted to a correlated one\n(1 and 2 std contours)")
    ax.legend(loc="upper left", fontsize=8)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.35 * (hi - lo))  # head room for the legend
    fig.tight_layout()
    return fig
