r"""Figures of chapter 05's rate-distortion plane and of controlled capacity.

:func:`plot_rd_plane` draws the exact plane of Alemi et al. (2018) for a data set of N
distinct images (entropy H = log N): the infeasible region R + D < H, iso-ELBO lines and
trained models (train and held-out).  :func:`plot_capacity_kl` draws each latent
dimension's KL against the training step under a rising capacity C(t).
"""

from __future__ import annotations

import numpy as np

from course_vae.plots.style import as_array, betas_array, per_beta_array

__all__ = ["plot_capacity_kl", "plot_loss_curves", "plot_rd_plane"]


def plot_rd_plane(
    entropy: float,
    betas,
    train: tuple,
    test: tuple | None = None,
    title: str = r"The rate–distortion plane: feasible region and the $\beta$ sweep",
    test_entropy: float | None = None,
):
    r"""Rate R (x) against distortion D (y), in nats, with the bound R + D >= H.

    ``entropy`` is H = log N; ``train`` (and ``test``) are pairs (rates, distortions) of
    shape (n_beta, n_seeds) (or (n_beta,)).  Shaded: R + D < H, which no model reaches;
    the thick line R + D = H; dotted: other iso-ELBO lines R + D = const; the vertical
    line R = H marks where rate can no longer be information about which image it is.
    Every seed is a dot (filled: train, open: held-out); means are joined and labelled
    by beta.  ``test_entropy`` (log of the number of held-out images) draws the held-out
    points' own bound R + D = log N_test.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    h = float(entropy)
    if not np.isfinite(h) or h <= 0:
        raise ValueError(f"entropy must be a positive number, got {entropy!r}")
    b = betas_array(betas)
    sets = [("train", train, "o", "C0")]
    if test is not None:
        sets.append(("held-out", test, "s", "C3"))
    fig, ax = plt.subplots(figsize=(9.4, 5.2))
    r_max = d_max = h
    for name, (rates, dists), marker, color in sets:
        r_all, r_mean, _ = per_beta_array(rates, len(b), f"{name} rates")
        d_all, d_mean, _ = per_beta_array(dists, len(b), f"{name} distortions")
        if r_all.shape != d_all.shape:
            raise ValueError(f"{name} rates and distortions must have one shape")
        filled = name == "train"
        ax.plot(r_all.ravel(), d_all.ravel(), marker, color=color, alpha=0.35, markersize=4,
                mfc=color if filled else "none", label=f"{name}: single seeds")
        order = np.argsort(b, kind="stable")
        ax.plot(r_mean[order], d_mean[order], marker + "-", color=color, markersize=7,
                mfc=color if filled else "white", label=f"{name}: mean over seeds")
        if filled:
            for beta, x, y in zip(b, r_mean, d_mean, strict=True):
                ax.annotate(rf"$\beta$={beta:g}", (x, y), textcoords="offset points",
                            xytext=(6, 4), fontsize=8)
        r_max, d_max = max(r_max, r_all.max()), max(d_max, d_all.max())
    x_hi, y_hi = 1.1 * r_max + 0.5, 1.08 * d_max + 1.0
    ax.fill([0, h, 0], [0, 0, h], color="lightgrey", alpha=0.8,
            label=r"infeasible: R + D < H")
    xs = np.array([0.0, x_hi])
    ax.plot(xs, h - xs, "-", color="black", linewidth=1.6, label=f"R + D = H = log N = {h:.2f}")
    for k, level in enumerate(np.arange(2, 12) * h):
        if level > x_hi + y_hi:
            break
        ax.plot(xs, level - xs, ":", color="grey", linewidth=0.8,
                label="iso-ELBO lines R + D = const" if k == 0 else None)
    if test_entropy is not None:
        ht = float(test_entropy)
        if not np.isfinite(ht) or ht <= 0:
            raise ValueError(f"test_entropy must be a positive number, got {test_entropy!r}")
        ax.plot(xs, ht - xs, "-.", color="C3", linewidth=1.2,
                label=f"held-out bound R + D = log N_test = {ht:.2f}")
        ax.axvline(ht, color="C3", linestyle=":", linewidth=1.0,
                   label=f"R = log N_test = {ht:.2f}")
    ax.axvline(h, color="purple", linestyle="--", linewidth=1.0,
               label="R = log N (more rate cannot be information)")
    ax.set_xlim(0.0, x_hi)
    ax.set_ylim(0.0, y_hi)
    ax.set_xlabel(r"rate R = $E_x$ KL(q(z|x) || p(z))  (nats per image)")
    ax.set_ylabel(r"distortion D = $-E_x E_q$[log p(x|z)]  (nats per image)")
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def plot_capacity_kl(steps, kl_per_dim, capacity, dim_labels=None,
                     title: str = "Controlled capacity: each latent's KL as C(t) rises"):
    r"""Per-dimension KL (nats) of the training images against the step, and the target C(t).

    ``steps`` (T,), ``kl_per_dim`` (T, d), ``capacity`` (T,) the target at those steps;
    ``dim_labels`` (d,) optional names for the legend (e.g. the factor each dimension ends
    up encoding).  The total KL is drawn too.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    t = as_array(steps, "steps").reshape(-1)
    k = as_array(kl_per_dim, "kl_per_dim")
    c = as_array(capacity, "capacity").reshape(-1)
    if k.ndim != 2 or k.shape[0] != t.size or c.size != t.size:
        raise ValueError(
            f"need steps (T,), kl_per_dim (T, d), capacity (T,); got {t.shape}, {k.shape}, "
            f"{c.shape}"
        )
    if dim_labels is not None and len(dim_labels) != k.shape[1]:
        raise ValueError(f"dim_labels needs {k.shape[1]} labels, got {len(dim_labels)}")
    fig, ax = plt.subplots(figsize=(9.0, 4.4))
    for j in range(k.shape[1]):
        name = f"$z_{{{j + 1}}}$" + (f" ({dim_labels[j]})" if dim_labels is not None else "")
        ax.plot(t, k[:, j], "-", color=f"C{j % 10}", label=name)
    ax.plot(t, k.sum(axis=1), "-", color="black", linewidth=1.8, label="total KL (rate)")
    ax.plot(t, c, "--", color="crimson", linewidth=1.4, label="target C(t)")
    ax.set_xlabel("training step")
    ax.set_ylabel("KL (nats per image)")
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def plot_loss_curves(curves: dict, budget: float | None = None,
                     title: str = r"Training to a plateau ($\beta$ = 1)",
                     ylabel: str = r"$-$ELBO (nats per image)"):
    r"""Loss curves: ``curves`` maps a label to (steps (T,), values (T,)) (or (steps,
    (seeds, T)) for several seeds, drawn thin); ``budget`` draws a vertical line at the
    sweep's number of steps.  Logarithmic loss axis.  Returns the Figure."""
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError("curves must hold at least one curve")
    fig, ax = plt.subplots(figsize=(8.6, 4.2))
    for i, (name, (steps, values)) in enumerate(curves.items()):
        t = as_array(steps, f"steps of {name!r}").reshape(-1)
        v = np.atleast_2d(as_array(values, f"values of {name!r}"))
        if v.shape[1] != t.size:
            raise ValueError(f"{name!r}: {t.size} steps but {v.shape[1]} values")
        for k, row in enumerate(v):
            ax.plot(t, row, "-", color=f"C{i}", linewidth=1.6 if v.shape[0] == 1 else 0.9,
                    alpha=1.0 if v.shape[0] == 1 else 0.6, label=name if k == 0 else None)
    if budget is not None:
        ax.axvline(float(budget), color="black", linestyle="--", linewidth=1.0,
                   label=f"the sweep's budget: {float(budget):g} steps")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
