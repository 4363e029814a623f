"""Figures of the latent space (chapter 03): posterior means against the prior, decodings over
the latent plane, one chosen point, models trained with and without the KL term, the ELBO
surgery of their average KL, and a map of the holes of the aggregate posterior."""

from __future__ import annotations

import numpy as np

from course_vae._validate import check_image_shape, check_keys, check_positive_int
from course_vae.plots.style import as_array, draw_image_row, show_image

__all__ = [
    "plot_beta_comparison",
    "plot_elbo_surgery",
    "plot_hole_map",
    "plot_sample_quality",
    "plot_latent_manifold",
    "plot_latent_point",
    "plot_latent_scatter",
]


def _prior_circles(ax, radii=(1.0, 2.0, 3.0)) -> None:
    t = np.linspace(0, 2 * np.pi, 200)
    for i, r in enumerate(radii):
        ax.plot(r * np.cos(t), r * np.sin(t), color="black", linewidth=0.8, linestyle=":",
                label=r"prior $N(0, I)$: radius 1, 2, 3" if i == 0 else None)


def plot_latent_scatter(mu, labels, title: str = "Posterior means of the test images",
                        ax=None, point=None, dims: tuple[int, int] = (0, 1)):
    r"""Scatter of posterior means (two latent coordinates ``dims``) coloured by digit, with
    circles of radius 1, 2, 3 of the prior; ``point`` (z1, z2) is marked with a star.
    Draws into ``ax`` if given; returns the Figure.
    """
    import matplotlib.pyplot as plt

    m = as_array(mu, "mu")
    lab = np.asarray(labels).reshape(-1)
    if m.ndim != 2 or len(m) != len(lab):
        raise ValueError("mu must be (n, latent_dim) with one label per row")
    i, j = dims
    if max(i, j) >= m.shape[1]:
        raise ValueError(f"dims {dims} out of range for latent_dim {m.shape[1]}")
    fig = plt.figure(figsize=(5.6, 4.8)) if ax is None else ax.figure
    ax = fig.add_subplot(1, 1, 1) if ax is None else ax
    sc = ax.scatter(m[:, i], m[:, j], c=lab, cmap="tab10", vmin=-0.5, vmax=9.5, s=10)
    _prior_circles(ax)
    if point is not None:
        ax.plot([point[0]], [point[1]], "*", color="red", markersize=16, markeredgecolor="black",
                label="chosen z")
    cb = fig.colorbar(sc, ax=ax, ticks=range(10))
    cb.set_label("digit")
    ax.set_xlabel(f"$z_{i + 1}$   (dotted: prior $N(0, I)$, radius 1, 2, 3)", fontsize=9)
    ax.set_ylabel(f"$z_{j + 1}$")
    ax.set_title(title)
    ax.set_aspect("equal", adjustable="datalim")
    if point is not None:  # the circles are named in the x label; a legend only for the star
        ax.legend(handles=[h for h in ax.get_lines() if h.get_label() == "chosen z"],
                  loc="upper right", fontsize=8)
    return fig


def plot_latent_manifold(images, n: int, extent: float, image_shape: tuple[int, int],
                         title: str = "Decodings over the latent plane"):
    r"""An n x n mosaic of decoded mean images for the grid of
    :func:`course_vae.latent.latent_grid` (``images`` of shape (n*n, H*W), in its order:
    top row = largest z2).  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    n = check_positive_int(n, "n")
    h, w = check_image_shape(image_shape)
    imgs = as_array(images, "images")
    if imgs.shape != (n * n, h * w):
        raise ValueError(f"images must have shape ({n * n}, {h * w}), got {imgs.shape}")
    tiles = np.full((n, n, h + 1, w + 1), np.nan)  # a one-pixel frame (drawn light blue)
    tiles[:, :, :h, :w] = imgs.reshape(n, n, h, w)
    mosaic = tiles.transpose(0, 2, 1, 3).reshape(n * (h + 1), n * (w + 1))[:-1, :-1]
    cmap = plt.get_cmap("gray_r").with_extremes(bad="#b9d3ea")
    fig, ax = plt.subplots(figsize=(5.6, 5.6))
    edge = extent * (1.0 + 1.0 / (n - 1)) if n > 1 else extent  # image centres at the grid
    ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, extent=(-edge, edge, -edge, edge))
    ax.grid(False)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    ticks = np.linspace(-extent, extent, 5)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    return fig


def plot_beta_comparison(results: dict, image_shape: tuple[int, int], n: int = 10):
    r"""One row per model (``results``: label -> dict with ``mu``, ``labels``, ``samples``,
    ``originals``, ``recons``): the posterior means (first two latent coordinates), samples
    from the prior, and test images with their reconstructions.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results must hold at least one model")
    h, w = check_image_shape(image_shape)
    fig = plt.figure(figsize=(12, 3.8 * len(results)))
    sub = fig.subfigures(len(results), 1, squeeze=False)
    for r, (label, res) in enumerate(results.items()):
        check_keys(res, ("mu", "labels", "samples", "originals", "recons"), f"results[{label!r}]")
        left, right = sub[r, 0].subfigures(1, 2, width_ratios=[1.0, 1.6])
        d = as_array(res["mu"], "mu").shape[1]
        title = (f"{label}: codes ($z_1$, $z_2$)" if d == 2 else
                 f"{label}: codes, a 2-D slice\n($z_1$, $z_2$ of {d} coordinates)")
        plot_latent_scatter(res["mu"], res["labels"], title=title, ax=left.add_subplot(1, 1, 1))
        axes = right.subplots(3, n)
        rows = (("samples", "prior samples"), ("originals", "test images"),
                ("recons", "reconstructions"))
        for i, (key, name) in enumerate(rows):
            draw_image_row(axes[i], as_array(res[key], key).reshape(-1, h * w), (h, w), name)
        right.suptitle(f"{label}: samples from the prior and reconstructions")
    return fig


def plot_latent_point(state: dict, mu, labels, image_shape: tuple[int, int]):
    r"""The explorer's figure: the latent scatter with the chosen point (left) and the image
    decoded there (right); ``state`` from :func:`course_vae.explorer_state.latent_point_state`.
    """
    import matplotlib.pyplot as plt

    check_keys(state, ("z", "image", "log_prior", "kl"), "state")
    h, w = check_image_shape(image_shape)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.6, 4.2), width_ratios=[1.5, 1.0])
    z = np.asarray(state["z"], dtype=float)
    plot_latent_scatter(mu, labels, title="Test codes and the chosen z", ax=ax0, point=z[:2])
    show_image(ax1, np.asarray(state["image"], dtype=float).reshape(h, w))
    ax1.set_title(f"decoded at z = ({z[0]:.2f}, {z[1]:.2f})")
    ax1.set_xlabel(f"log p(z) = {state['log_prior']:.2f} nats")
    fig.tight_layout()
    return fig


def plot_elbo_surgery(surgeries: dict, share_pairs: bool = False):
    r"""One stacked bar per model (``surgeries``: label -> :class:`course_vae.latent.Surgery`):
    the average KL split into I(n; z), KL(q_G || p) (place and scale) and KL(q || q_G)
    (shape), with the ceiling log N of I(n; z) as a dashed line.  ``share_pairs``: panels
    1-2, 3-4, ... (a model and its null) share one y-range.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if not surgeries:
        raise ValueError("surgeries must hold at least one model")
    fig, axes = plt.subplots(1, len(surgeries), figsize=(3.6 * len(surgeries), 4.2), squeeze=False)
    parts = (("mutual_info", r"$I(n; z)$: which data point", "tab:blue"),
             ("placement_kl", r"KL$(q_G\,\|\,p)$: place and scale", "tab:orange"),
             ("shape_kl", r"KL$(q\,\|\,q_G)$: shape (the rest)", "tab:red"))
    tops = []
    for ax, (label, s) in zip(axes[0], surgeries.items(), strict=True):
        bottom = 0.0
        for key, name, colour in parts:
            v = max(getattr(s, key), 0.0)
            ax.bar([0], [v], bottom=bottom, color=colour, width=0.5,
                   label=f"{name} = {v:.1f}" if v >= 1 else f"{name} = {v:.2f}")
            bottom += v
        ax.axhline(s.log_n, color="black", linestyle="--", linewidth=1,
                   label=f"ceiling of $I$: log N = {s.log_n:.2f}")
        ax.set_xticks([0], [f"average KL = {s.mean_kl:.1f}"])
        ax.set_xlim(-0.6, 0.6)
        ax.set_ylabel("nats")
        tops.append(1.7 * max(s.mean_kl, bottom, s.log_n))
        ax.set_title(label, fontsize=10)
        ax.legend(loc="upper left", fontsize=7)
    for i, ax in enumerate(axes[0]):
        pair = tops[i - i % 2:i - i % 2 + 2] if share_pairs else [tops[i]]
        ax.set_ylim(0, max(pair))
    fig.suptitle("ELBO surgery: average KL = I(n; z) + KL(q(z) || p(z))")
    fig.tight_layout()
    return fig


def plot_hole_map(z1, z2, log_ratio, prior_z, in_hole, hole_images, dense_images,
                  image_shape: tuple[int, int], threshold: float = 0.0, n: int = 10):
    r"""Left: log q(z) - log p(z) over a grid (``z1``, ``z2`` axes, ``log_ratio`` of shape
    (len(z2), len(z1)), rows in increasing z2) with prior samples ``prior_z`` overlaid, those
    in holes (``in_hole``: log q - log p < ``threshold``, drawn as a black line) marked apart.
    Right (unless both image sets are None): decodings of prior samples in holes and in
    dense regions.  The axes span the grid; samples beyond it are not drawn.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    h, w = check_image_shape(image_shape)
    z1, z2, lr = as_array(z1, "z1"), as_array(z2, "z2"), as_array(log_ratio, "log_ratio")
    pz, hole = as_array(prior_z, "prior_z"), np.asarray(in_hole, dtype=bool)
    images = hole_images is not None or dense_images is not None
    fig = plt.figure(figsize=(13, 5.2) if images else (6.4, 6.0))
    left, right = fig.subfigures(1, 2, width_ratios=[1.0, 1.1]) if images else (fig, None)
    ax = left.add_subplot(1, 1, 1)
    lim = float(np.nanmax(np.abs(np.clip(lr, -3, 3))))
    mesh = ax.pcolormesh(z1, z2, np.clip(lr, -lim, lim), cmap="RdBu", vmin=-lim, vmax=lim,
                         shading="auto")
    left.colorbar(mesh, ax=ax, label=r"$\log q(z) - \log p(z)$ (nats)")
    ax.contour(z1, z2, lr, levels=[threshold], colors="black", linewidths=1)
    ax.plot([], [], color="black", linewidth=1,
            label=f"log q - log p = {threshold:g}: holes lie outside the dense (blue) islands")
    ax.scatter(pz[~hole, 0], pz[~hole, 1], s=6, color="white", edgecolor="black", linewidth=0.3,
               label="prior sample where q(z) is denser")
    ax.scatter(pz[hole, 0], pz[hole, 1], s=10, color="yellow", marker="x",
               label=f"prior sample in a hole: log q - log p < {threshold:g}")
    ax.set(xlabel="$z_1$", ylabel="$z_2$", aspect="equal",
           title="Holes (red): the prior puts more mass than the codes\n"
                 "blue: codes denser than the prior")
    ax.set_xlim(float(z1.min()), float(z1.max()))
    ax.set_ylim(float(z2.min()), float(z2.max()))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, ncol=1)
    if not images:
        return fig
    axes = right.subplots(2, n)
    draw_image_row(axes[0], as_array(hole_images, "hole_images").reshape(-1, h * w), (h, w),
                   "in a hole")
    draw_image_row(axes[1], as_array(dense_images, "dense_images").reshape(-1, h * w), (h, w),
                   "in a dense\nregion")
    right.suptitle("Decodings of prior samples")
    return fig


def plot_sample_quality(per_seed: dict, real=None):
    r"""Precision and recall (two panels) of each sample source, one dot per training seed
    (``per_seed``: label -> list of (precision, recall)), a bar at their mean, and the scores of
    held-out real images ``real`` (precision, recall) as a dashed ceiling.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if not per_seed:
        raise ValueError("per_seed must hold at least one source")
    labels = list(per_seed)
    fig, axes = plt.subplots(1, 2, figsize=(max(12.0, 2.6 * len(labels)), 4.2))
    for m, (ax, metric) in enumerate(zip(axes, ("precision", "recall"), strict=True)):
        for i, label in enumerate(labels):
            vals = np.array([float(pr[m]) for pr in per_seed[label]])
            x = i + np.linspace(-0.12, 0.12, len(vals)) if len(vals) > 1 else np.array([i])
            ax.plot(x, vals, "o", color="tab:blue", zorder=3,
                    label="one training seed" if i == 0 else None)
            ax.hlines(vals.mean(), i - 0.25, i + 0.25, color="black",
                      label=f"mean of {len(vals)} seeds" if i == 0 else None)
        if real is not None:
            ax.axhline(float(real[m]), color="tab:green", linestyle="--",
                       label=f"held-out real digits ({float(real[m]):.2f})")
        ticks = [lbl.replace(", ", ",\n", 1) for lbl in labels]  # "beta = 0,\nz ~ N(m, I)"
        ax.set_xticks(range(len(labels)), ticks, fontsize=8)
        ax.set(ylim=(0, 1.25), ylabel=metric, title=f"{metric} of decoded samples")
        ax.legend(loc="upper center", ncol=3, fontsize=8, framealpha=1.0)
    fig.tight_layout()
    return fig
