"""The course's figures: one style, and plot helpers that label every axis and legend.

Every helper returns the matplotlib ``Figure`` it drew, so notebooks and tests can
inspect it; notebooks display it with ``plt.show()``.
"""

from __future__ import annotations

import matplotlib as mpl

COURSE_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "image.cmap": "gray_r",
    "svg.hashsalt": "course_vae",
}


def use_course_style() -> None:
    """Apply the course's matplotlib style (same look for every chapter)."""
    mpl.rcParams.update(COURSE_STYLE)


# --- Chapter 02: the Gaussian closed form -------------------------------------------------

KL_TERM_LABELS = {
    "mu^2": r"$\mu^2/2$",
    "sigma^2": r"$\sigma^2/2$",
    "-log sigma^2": r"$-\log\sigma^2/2$",
    "-1": r"$-1/2$",
}


def plot_kl_terms_curves(
    mu_range: tuple[float, float] = (-3.0, 3.0),
    logvar_range: tuple[float, float] = (-6.0, 3.0),
    n_points: int = 401,
):
    r"""The four halved terms of KL(N(mu, sigma^2) || N(0, 1)) and their sum, in one dimension.

    Left: against mu with sigma = 1 (log sigma^2 = 0).  Right: against log sigma^2 with
    mu = 0.  Terms from :func:`course_vae.kl.kl_normal_std_terms`, the total from
    :func:`course_vae.kl.kl_normal_std`; both panels mark the minimum (mu = 0, sigma = 1,
    KL = 0).  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import torch

    from course_vae._validate import check_positive_int
    from course_vae.kl import kl_normal_std, kl_normal_std_terms

    n_points = check_positive_int(n_points, "n_points")
    for name, (lo, hi) in (("mu_range", mu_range), ("logvar_range", logvar_range)):
        if not (lo < hi):
            raise ValueError(f"{name} must be (lo, hi) with lo < hi, got {(lo, hi)!r}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0))
    grids = {
        "mu": torch.linspace(mu_range[0], mu_range[1], n_points, dtype=torch.float64),
        "logvar": torch.linspace(logvar_range[0], logvar_range[1], n_points, dtype=torch.float64),
    }
    for ax, which in zip(axes, ("mu", "logvar"), strict=True):
        x = grids[which]
        if which == "mu":
            mu, logvar = x[:, None], torch.zeros_like(x)[:, None]
        else:
            mu, logvar = torch.zeros_like(x)[:, None], x[:, None]
        terms = kl_normal_std_terms(mu, logvar)
        for key, label in KL_TERM_LABELS.items():
            ax.plot(x, terms[key][:, 0], label=label, linewidth=1.5)
        ax.plot(x, kl_normal_std(mu, logvar), color="black", label="KL (sum)", linewidth=2.5)
        ax.plot([0.0], [0.0], "o", color="crimson", label=r"minimum: $\mu=0$, $\sigma=1$")
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_ylabel("nats")
        ax.legend(loc="upper center")
    axes[0].set_xlabel(r"$\mu$")
    axes[0].set_title(r"Terms against $\mu$ (with $\sigma = 1$)")
    axes[1].set_xlabel(r"$\log\sigma^2$")
    axes[1].set_title(r"Terms against $\log\sigma^2$ (with $\mu = 0$)")
    fig.tight_layout()
    return fig


def plot_kl_term_bars(terms: dict, totals=None):
    r"""Grouped bars: the four halved KL terms (keys of kl_normal_std_terms) per latent dimension.

    ``terms`` maps "mu^2", "sigma^2", "-log sigma^2", "-1" to 1-D arrays over dimensions;
    ``totals`` (optional) are the per-dimension KLs, drawn as black markers.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    missing = [k for k in KL_TERM_LABELS if k not in terms]
    if missing:
        raise ValueError(f"terms is missing the keys {missing}")
    values = {k: np.asarray(terms[k], dtype=float).reshape(-1) for k in KL_TERM_LABELS}
    n_dims = len(values["mu^2"])
    if any(len(v) != n_dims for v in values.values()):
        raise ValueError("terms must hold arrays of one common length (one value per dimension)")
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    x = np.arange(n_dims)
    width = 0.8 / len(KL_TERM_LABELS)
    for i, (key, label) in enumerate(KL_TERM_LABELS.items()):
        ax.bar(x + (i - 1.5) * width, values[key], width=width, label=label)
    if totals is not None:
        totals = np.asarray(totals, dtype=float).reshape(-1)
        if len(totals) != n_dims:
            raise ValueError(
                f"totals must have one value per dimension ({n_dims}), got {len(totals)}"
            )
        ax.plot(x, totals, "D", color="black", markersize=8, label="KL of the dimension")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xticks(x, [f"$z_{j + 1}$" for j in range(n_dims)])
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("nats")
    ax.set_title("The four terms of the closed-form KL, per dimension")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


# --- Chapter 01: KL basics -------------------------------------------------------------------


def plot_gaussian_pair(state: dict):
    r"""Two 1-D Gaussians q, p (top) and the KL integrand q log(q/p) (bottom, shaded by sign).

    ``state`` is the dict of :func:`course_vae.widgets.gaussian_pair_state` (keys x, q, p,
    integrand, kl_qp, kl_pq, mu_q, s_q, mu_p, s_p).  The area under the bottom curve is
    KL(Q || P) >= 0, although the integrand is negative wherever p > q.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    missing = [k for k in ("x", "q", "p", "integrand", "kl_qp", "kl_pq") if k not in state]
    if missing:
        raise ValueError(f"state is missing the keys {missing}")
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
    import math

    import matplotlib.pyplot as plt
    import numpy as np

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
    for i, (label, (m, s)) in enumerate(fits.items()):
        if not s > 0:
            raise ValueError(f"fits[{label!r}] needs a std s > 0, got {s}")
        dens = np.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
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
    import numpy as np

    n = np.asarray(n_samples, dtype=float)
    err = np.asarray(abs_error, dtype=float)
    se = np.asarray(std_error, dtype=float)
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
