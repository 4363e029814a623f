"""Figures of posterior collapse (chapter 04): KL per latent dimension, the remedies side by
side, and one trained run as the chapter's explorer shows it."""

from __future__ import annotations

import numpy as np

from course_vae._validate import check_choice, check_image_shape, check_keys, check_real
from course_vae.plots.style import as_array, draw_image_row

__all__ = [
    "CH04_METRICS",
    "plot_beta_sweep",
    "plot_collapse_run",
    "plot_dose_response",
    "plot_iwae_by_k",
    "plot_kl_curves",
    "plot_kl_over_training",
    "plot_kl_per_dimension",
    "plot_linear_vae",
    "plot_remedy_comparison",
]

CH04_METRICS = {
    "test_elbo": "test ELBO (nats, higher is better)",
    "kl": "KL term (nats)",
    "n_active": "active units",
    "mutual_info": "I(x; z) (nats)",
}


def _series(values: dict, name: str) -> dict:
    """label -> finite 1-D float arrays of one common length."""
    if not isinstance(values, dict) or not values:
        raise ValueError(f"{name} must be a non-empty dict label -> values")
    out = {str(k): as_array(v, name).reshape(-1) for k, v in values.items()}
    lengths = {len(v) for v in out.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"{name} must hold non-empty arrays of one common length")
    return out


def plot_kl_per_dimension(
    kl_per_dim: dict,
    floor: float | None = None,
    title: str = "KL per latent dimension (test set, nats)",
    sort: bool = False,
    threshold: float | None = None,
):
    r"""Grouped bars of KL_d = mean_n KL(q(z_d|x_n) || N(0, 1)) per dimension d, one per model.

    ``kl_per_dim`` maps a model's label to its (d,) values (e.g.
    :func:`course_vae.diagnostics.kl_per_dimension`); ``floor`` draws a free-bits floor
    lambda as a dashed line.  A collapsed dimension has a bar at 0.  ``sort``: each model's
    values largest first (latent indices of different models do not correspond; the x-axis
    is then the rank).  ``threshold``: a dotted line at the KL above which a dimension counts
    as in use.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    series = _series(kl_per_dim, "kl_per_dim")
    if threshold is not None:
        threshold = check_real(threshold, "threshold", low=0.0)
    if sort:
        series = {k: np.sort(v)[::-1] for k, v in series.items()}
    if floor is not None:
        floor = check_real(floor, "floor", low=0.0)
    n_dims = len(next(iter(series.values())))
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    x = np.arange(n_dims)
    width = 0.8 / len(series)
    for i, (label, v) in enumerate(series.items()):
        total = v.sum()
        ax.bar(x + (i - (len(series) - 1) / 2) * width, v, width=width,
               label=f"{label} (sum {total:.2f})")
    if floor is not None:
        ax.axhline(floor, color="black", linestyle="--", linewidth=1,
                   label=rf"free-bits floor $\lambda$ = {floor:g}")
    if threshold is not None:
        ax.axhline(threshold, color="grey", linestyle=":", linewidth=1,
                   label=f"in use above {threshold:g} nats")
    if sort:
        ax.set_xticks(x, [str(j + 1) for j in range(n_dims)])
        ax.set_xlabel("latent dimensions, each model's ranked by KL (largest first)")
    else:
        ax.set_xticks(x, [f"$z_{{{j + 1}}}$" for j in range(n_dims)])
        ax.set_xlabel("latent dimension")
    ax.set_ylabel("KL (nats)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def _seed_values(v) -> np.ndarray:
    """A number or per-seed values as a 1-D float array."""
    return np.atleast_1d(np.asarray(v, dtype=float)).reshape(-1)


def plot_remedy_comparison(
    results: dict,
    baseline: str | None = None,
    metrics: dict | None = None,
    title: str = "Remedies against posterior collapse (same model, data and budget)",
):
    """One bar panel per metric, one bar per run; ``results`` maps label -> {metric: value}.

    A value may be a number or a list of per-seed values: the bar is then their mean, with
    the standard deviation as an error bar and every seed as a black dot.  ``metrics`` maps
    the keys to panel titles (default :data:`CH04_METRICS`); a panel whose values are all
    negative (log-likelihoods, ELBOs) draws squares instead of bars, so no bar starts at an
    arbitrary floor; the ``baseline`` run (a key of
    ``results``) is drawn in grey and its mean as a dashed line in every panel.
    Returns the Figure.
    """
    import matplotlib.pyplot as plt

    metrics = CH04_METRICS if metrics is None else metrics
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict label -> {metric: value}")
    if baseline is not None:
        check_choice(baseline, "baseline", results)
    labels = list(results)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 4.2), squeeze=False)
    for ax, (key, name) in zip(axes[0], metrics.items(), strict=True):
        try:
            per_seed = [_seed_values(results[lab][key]) for lab in labels]
        except KeyError:
            raise ValueError(f"every entry of results needs the metric {key!r}") from None
        values = np.array([v.mean() for v in per_seed])
        errors = np.array([v.std(ddof=1) if len(v) > 1 else 0.0 for v in per_seed])
        colors = ["grey" if lab == baseline else f"C{i}" for i, lab in enumerate(labels)]
        lo = min(v.min() for v in per_seed)
        hi = max(v.max() for v in per_seed)
        x = np.arange(len(labels))
        bottom = 0.0
        if hi < 0:  # log-likelihoods: a bar from an arbitrary floor would mislead; points
            bottom = lo - max(0.5, 0.2 * (hi - lo))
            for i in range(len(labels)):
                ax.errorbar(x[i], values[i], yerr=errors[i], fmt="s", color=colors[i],
                            markersize=8, capsize=3)
        else:
            ax.bar(x, values, color=colors, yerr=errors, capsize=3)
        for i, v in enumerate(per_seed):
            if len(v) > 1:
                ax.plot(np.full(len(v), x[i]), v, "k.", markersize=4,
                        label="one seed" if i == 0 else None)
        if baseline is not None:
            ax.axhline(values[labels.index(baseline)], color="black", linestyle="--",
                       linewidth=1, label="baseline level")
        if bottom < 0:
            ax.set_ylim(bottom, hi + (hi - bottom) * 0.3)
        ax.set_xticks(x, labels, rotation=45, ha="right")
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(name.split(" (")[0])
    handles, names = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="upper right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    return fig


def _grid(values, name: str) -> np.ndarray:
    """(n_points, n_seeds) finite floats."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2 or arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a finite (n_points, n_seeds) array")
    return arr


def _mean_err_dots(ax, x, arr, color, label):
    """Mean +- std over seeds (columns) as error bars, every seed as a small dot."""
    err = arr.std(1, ddof=1) if arr.shape[1] > 1 else np.zeros(len(x))
    ax.errorbar(x, arr.mean(1), yerr=err, color=color, marker="o", capsize=3, label=label)
    for j in range(arr.shape[1]):
        ax.plot(x, arr[:, j], ".", color=color, alpha=0.5, markersize=4)


def plot_beta_sweep(betas, sorted_kl, active, used, threshold: float = 0.1):
    r"""Partial collapse against beta: sorted KL_d (left) and how many dimensions live (right).

    ``sorted_kl`` has shape (n_betas, n_seeds, latent_dim), each row KL_d sorted from the
    largest; one line per rank (mean over seeds, dots per seed).  ``active`` and ``used``
    are (n_betas, n_seeds): active units (Var mu_d > 0.01) and dimensions with
    KL_d > ``threshold`` nats.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    x = np.asarray(betas, dtype=float)
    kl = np.asarray(sorted_kl, dtype=float)
    if kl.ndim != 3 or kl.shape[0] != len(x):
        raise ValueError("sorted_kl must have shape (n_betas, n_seeds, latent_dim)")
    active, used = _grid(active, "active"), _grid(used, "used")
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    cmap = plt.get_cmap("viridis")
    for r in range(kl.shape[2]):
        _mean_err_dots(a, x, kl[:, :, r], cmap(r / max(1, kl.shape[2] - 1)),
                       f"rank {r + 1}" if r in (0, kl.shape[2] - 1) else None)
    a.axhline(threshold, color="black", linestyle=":", linewidth=1,
              label=f"{threshold:g} nats")
    a.set_xlabel(r"$\beta$")
    a.set_ylabel(r"KL$_d$ (nats), sorted per model")
    a.set_title("KL per dimension, largest (rank 1) to smallest")
    a.legend(loc="upper right", fontsize=8)
    _mean_err_dots(b, x, active, "C0", "active units (Var $\\mu_d$ > 0.01)")
    _mean_err_dots(b, x, used, "C3", f"dimensions with KL$_d$ > {threshold:g} nats")
    b.set_xlabel(r"$\beta$")
    b.set_ylabel("number of latent dimensions")
    b.set_ylim(-0.5, kl.shape[2] + 1.5)
    b.set_title("Dimensions still in use")
    b.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_dose_response(x, panels: dict, xlabel: str, ceiling: float | None = None,
                       title: str = "Decoder strength against the use of z"):
    """One panel per metric against the decoder's strength ``x``, mean +- std over seeds.

    ``panels`` maps a panel title to an (n_points, n_seeds) array, or to a dict
    {line label: array} for several lines in one panel; ``ceiling`` (e.g. the data's exact
    log p(x)) is drawn as a dashed line in every panel whose title starts with "log p(x)".
    Returns the Figure.
    """
    import matplotlib.pyplot as plt

    x = np.asarray(x, dtype=float)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8), squeeze=False)
    for ax, (name, lines) in zip(axes[0], panels.items(), strict=True):
        lines = lines if isinstance(lines, dict) else {None: lines}
        for i, (label, arr) in enumerate(lines.items()):
            _mean_err_dots(ax, x, _grid(arr, name), f"C{i}", label)
        if ceiling is not None and name.startswith("log p(x)"):
            ax.axhline(ceiling, color="black", linestyle="--", linewidth=1,
                       label="exact, the grammar")
        ax.set_ylabel(name.split(" (")[0])
        ax.set_title(name, fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
    fig.supxlabel(xlabel)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_kl_over_training(tracks: dict, title: str = "KL per dimension during training"):
    r"""One panel per run: KL_d on the test set against the optimiser step (one line per
    dimension) with beta(t) drawn dashed on the same axis, as Fu et al. (2019) do.

    ``tracks`` maps a run's label to {``step``, ``beta``, ``kl_per_dim``} (lists; the last
    a list of per-dimension values per record), optionally ``beta_per_step`` (beta at every
    step, drawn instead of ``beta``).  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tracks), figsize=(3.8 * len(tracks), 3.6), squeeze=False,
                             sharey=True)
    for ax, (label, t) in zip(axes[0], tracks.items(), strict=True):
        check_keys(t, ("step", "beta", "kl_per_dim"), "track")
        steps, kl = np.asarray(t["step"], dtype=float), np.asarray(t["kl_per_dim"], dtype=float)
        for d in range(kl.shape[1]):
            ax.plot(steps, kl[:, d], linewidth=1, label="KL$_d$, one line per d" if d == 0
                    else None)
        if "beta_per_step" in t:  # beta at every step, not only where the KL was recorded
            ax.plot(np.arange(len(t["beta_per_step"])), t["beta_per_step"], "k--",
                    linewidth=1.2, label=r"$\beta(t)$")
        else:
            ax.plot(steps, t["beta"], "k--", linewidth=1.2, label=r"$\beta(t)$")
        ax.set_xlabel("optimiser step")
        ax.set_title(label, fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
    axes[0, 0].set_ylabel(r"KL$_d$ (nats) and $\beta$")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_collapse_run(state: dict, image_shape: tuple[int, int] = (8, 8)):
    r"""One trained run: its KL per latent dimension (bars, top) above test images and their
    reconstructions (when the run has ``originals`` and ``reconstructions``; a text run has
    none).  ``state`` is a :func:`course_vae.runs.summarize_collapse_run` (or
    ``summarize_text_run``) dict with a ``label``, as
    :func:`course_vae.explorer_state.collapse_explorer_state` gives.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    check_keys(state, ("label", "kl_per_dim"), "state")
    h, w = check_image_shape(image_shape)
    kl = np.asarray(state["kl_per_dim"], dtype=float)
    images = "originals" in state and "reconstructions" in state
    n = len(state["originals"]) if images else 1
    fig = plt.figure(figsize=(max(6.4, 0.8 * n), 4.6 if images else 2.8))
    grid = fig.add_gridspec(3 if images else 1, n, height_ratios=[2.2, 1, 1] if images else [1])
    ax = fig.add_subplot(grid[0, :])
    ax.bar(np.arange(len(kl)), kl, color="C0")
    ax.set_xticks(np.arange(len(kl)), [f"$z_{{{j + 1}}}$" for j in range(len(kl))])
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("KL (nats)")
    ax.set_title(f"{state['label']}: KL per dimension (sum {kl.sum():.2f} nats)")
    if images:
        orig = np.asarray(state["originals"], dtype=float)
        rec = np.asarray(state["reconstructions"], dtype=float)
        for r, (imgs, name) in enumerate(((orig, "test x"), (rec, "reconstruction"))):
            draw_image_row([fig.add_subplot(grid[r + 1, c]) for c in range(n)], imgs, (h, w),
                           name)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------ chapter 04: new figures


def plot_linear_vae(eigenvalues, betas, closed_kl, trained_kl, noise_var: float):
    r"""The linear VAE: per-direction KL in closed form (bars) and trained (dots), per beta.

    ``eigenvalues`` (d,) the data's variances; ``closed_kl`` and ``trained_kl`` map each beta
    of ``betas`` to (d,) KLs (the trained ones sorted largest first, like the eigenvalues).
    Left: the spectrum against the thresholds beta * noise_var. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    lam = as_array(eigenvalues, "eigenvalues").reshape(-1)
    noise_var = check_real(noise_var, "noise_var", low=0.0)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6), width_ratios=(1, 2))
    x = np.arange(len(lam))
    ax0.bar(x, lam, color="grey")
    for i, b in enumerate(betas):
        ax0.axhline(b * noise_var, color=f"C{i}", linestyle="--", linewidth=1,
                    label=rf"$\beta\sigma^2$ = {b * noise_var:.2g} ($\beta$ = {b:g})")
    ax0.set_yscale("log")
    ax0.set_xticks(x, [str(j + 1) for j in x])
    ax0.set_xlabel("principal direction i")
    ax0.set_ylabel(r"data variance $\lambda_i$")
    ax0.set_title("spectrum and thresholds", fontsize=10)
    ax0.legend(fontsize=7)
    width = 0.8 / len(betas)
    for i, b in enumerate(betas):
        off = (i - (len(betas) - 1) / 2) * width
        ax1.bar(x + off, as_array(closed_kl[b], "closed_kl"), width=width, color=f"C{i}",
                alpha=0.5, label=rf"closed form, $\beta$ = {b:g}")
        ax1.plot(x + off, as_array(trained_kl[b], "trained_kl"), "k.", markersize=6,
                 label="trained linear VAE" if i == 0 else None)
    ax1.set_xticks(x, [str(j + 1) for j in x])
    ax1.set_xlabel("principal direction i (trained latents ranked by KL)")
    ax1.set_ylabel(r"KL$_i$ (nats)")
    ax1.set_title(r"KL$_i$ = ½ max(0, log $\lambda_i$ / ($\beta\sigma^2$)): "
                  r"0 when $\lambda_i \leq \beta\sigma^2$", fontsize=10)
    ax1.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_iwae_by_k(curves: dict, ceiling: float | None = None,
                   title: str = r"IWAE$_K$ against K"):
    r"""IWAE_K against K (log axis), one line per model: ``curves`` maps a label to
    {K: value}; ``ceiling`` (e.g. the data's -H) as a dashed line.  Returns the Figure."""
    import matplotlib.pyplot as plt

    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict label -> {K: value}")
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (label, c) in enumerate(curves.items()):
        ks = sorted(c)
        ax.plot(ks, [c[k] for k in ks], "o-", color=f"C{i}", label=label)
    if ceiling is not None:
        ax.axhline(check_real(ceiling, "ceiling"), color="black", linestyle="--", linewidth=1,
                   label="-H (exact E log p(x))")
    ax.set_xscale("log")
    ax.set_xlabel("K (importance samples)")
    ax.set_ylabel(r"mean IWAE$_K$ (nats per sentence)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_kl_curves(curves: dict, xlabel: str = "epoch",
                   title: str = "KL term on the test set during training",
                   first_epoch: dict | None = None):
    r"""One colour per condition; ``curves`` maps a label to a list of per-seed curves
    (each a list of KL values, one per epoch), drawn as thin lines; ``first_epoch`` maps a
    label to the epoch of its first value (default 1).  Returns the Figure."""
    import matplotlib.pyplot as plt

    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict label -> [per-seed curves]")
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (label, seeds) in enumerate(curves.items()):
        for j, c in enumerate(seeds):
            c = as_array(c, "curve").reshape(-1)
            x0 = (first_epoch or {}).get(label, 1)
            ax.plot(np.arange(x0, x0 + len(c)), c, "o-", color=f"C{i}", markersize=3,
                    linewidth=1, label=f"{label} ({len(seeds)} seeds)" if j == 0 else None)
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("KL term (nats, symlog axis)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
