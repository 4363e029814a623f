"""Figures of posterior collapse (chapter 04): KL per latent dimension, the remedies side by
side, and one trained run as the chapter's explorer shows it."""

from __future__ import annotations

import numpy as np

from course_vae._validate import check_choice, check_image_shape, check_keys, check_real
from course_vae.plots.style import as_array, draw_image_row

__all__ = ["CH04_METRICS", "plot_collapse_run", "plot_kl_per_dimension", "plot_remedy_comparison"]

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
):
    r"""Grouped bars of KL_d = mean_n KL(q(z_d|x_n) || N(0, 1)) per dimension d, one per model.

    ``kl_per_dim`` maps a model's label to its (d,) values (e.g.
    :func:`course_vae.diagnostics.kl_per_dimension`); ``floor`` draws a free-bits floor
    lambda as a dashed line.  A collapsed dimension has a bar at 0.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    series = _series(kl_per_dim, "kl_per_dim")
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
    ax.set_xticks(x, [f"$z_{{{j + 1}}}$" for j in range(n_dims)])
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("KL (nats)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def plot_remedy_comparison(
    results: dict,
    baseline: str | None = None,
    metrics: dict | None = None,
    title: str = "Remedies against posterior collapse (same model, data and budget)",
):
    """One bar panel per metric, one bar per run; ``results`` maps label -> {metric: value}.

    ``metrics`` maps the keys to panel titles (default :data:`CH04_METRICS`); the
    ``baseline`` run (a key of ``results``) is drawn in grey and as a dashed line in every
    panel.  Returns the Figure.
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
            values = np.array([float(results[lab][key]) for lab in labels])
        except KeyError:
            raise ValueError(f"every entry of results needs the metric {key!r}") from None
        colors = ["grey" if lab == baseline else f"C{i}" for i, lab in enumerate(labels)]
        bottom = 0.0
        if key == "test_elbo":  # negative values close together: bars start below the lowest
            bottom = values.min() - max(0.5, 0.2 * (values.max() - values.min()))
        ax.bar(np.arange(len(labels)), values - bottom, bottom=bottom, color=colors)
        if baseline is not None:
            ax.axhline(float(results[baseline][key]), color="black", linestyle="--",
                       linewidth=1, label=f"baseline: {baseline}")
        if key == "test_elbo":
            ax.set_ylim(bottom, values.max() + (values.max() - bottom) * 0.3)
        ax.set_xticks(np.arange(len(labels)), labels, rotation=45, ha="right")
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(name.split(" (")[0])
    axes[0, 0].legend(loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_collapse_run(state: dict, image_shape: tuple[int, int] = (8, 8)):
    r"""One trained run: its KL per latent dimension (bars, top) above test images and their
    reconstructions.  ``state`` is a :func:`course_vae.runs.summarize_collapse_run`
    dict with a ``label`` (as :func:`course_vae.runs.collapse_explorer_state` gives).
    Returns the Figure.
    """
    import matplotlib.pyplot as plt

    check_keys(state, ("label", "kl_per_dim", "originals", "reconstructions"), "state")
    h, w = check_image_shape(image_shape)
    kl = np.asarray(state["kl_per_dim"], dtype=float)
    orig = np.asarray(state["originals"], dtype=float)
    rec = np.asarray(state["reconstructions"], dtype=float)
    n = len(orig)
    fig = plt.figure(figsize=(max(6.4, 0.8 * n), 4.6))
    grid = fig.add_gridspec(3, n, height_ratios=[2.2, 1, 1])
    ax = fig.add_subplot(grid[0, :])
    ax.bar(np.arange(len(kl)), kl, color="C0")
    ax.set_xticks(np.arange(len(kl)), [f"$z_{{{j + 1}}}$" for j in range(len(kl))])
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("KL (nats)")
    ax.set_title(f"{state['label']}: KL per dimension (sum {kl.sum():.2f} nats)")
    for r, (imgs, name) in enumerate(((orig, "test x"), (rec, "reconstruction"))):
        draw_image_row([fig.add_subplot(grid[r + 1, c]) for c in range(n)], imgs, (h, w), name)
    fig.tight_layout()
    return fig
