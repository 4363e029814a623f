"""Figures of chapter 02 (the Gaussian closed form): the four terms of
KL(N(mu, sigma^2) || N(0, 1)) as curves, and as bars per latent dimension."""

from __future__ import annotations

import numpy as np

from course_vae._validate import check_keys, check_positive_int

__all__ = ["KL_TERM_LABELS", "plot_kl_term_bars", "plot_kl_terms_curves"]

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
            # Left panel: at sigma = 1 the sigma-terms cancel and the total IS mu^2/2, so the
            # term the panel is about is drawn wide underneath the dashed total.
            wide = which == "mu" and key == "mu^2"
            ax.plot(x, terms[key][:, 0], label=label, linewidth=6.0 if wide else 1.5,
                    alpha=0.55 if wide else 1.0)
        total = kl_normal_std(mu, logvar)
        ax.plot(x, total, color="black", label="KL (sum)", linewidth=2.0,
                linestyle="--" if which == "mu" else "-", zorder=3)
        if which == "logvar":
            ax.annotate(r"$-\log\sigma^2/2 < 0$ for $\sigma > 1$: alone, a bonus",
                        xy=(0.8 * float(x[-1]), -0.4 * float(x[-1])),
                        xytext=(float(x[0]) + 0.2, -0.4 * float(x[-1])),
                        arrowprops={"arrowstyle": "->", "color": "grey"}, fontsize=9)
        ax.plot([0.0], [0.0], "o", color="crimson", label=r"minimum: $\mu=0$, $\sigma=1$")
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_ylabel("nats")
        ax.legend(loc="upper center")
    axes[0].set_xlabel(r"$\mu$")
    axes[0].set_title(r"Terms against $\mu$ (with $\sigma = 1$: the sum is $\mu^2/2$, wide)")
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

    check_keys(terms, KL_TERM_LABELS, "terms")
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
