"""The course's look: one matplotlib style, and the drawing helpers every chapter shares.

Every plot function of :mod:`course_vae.plots` returns the matplotlib ``Figure`` it drew,
so notebooks and tests can inspect it; notebooks display it with ``plt.show()``.
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import numpy as np

from course_vae._validate import as_float_tensor, check_finite, check_image_shape

__all__ = [
    "COURSE_STYLE",
    "as_array",
    "betas_array",
    "draw_image_row",
    "per_beta_array",
    "plot_image_rows",
    "show_image",
    "use_course_style",
]

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


def as_array(x: Any, name: str) -> np.ndarray:
    """``x`` (tensor or array-like) as a finite float64 numpy array, else raise naming ``name``."""
    t = as_float_tensor(x, name)
    check_finite(t, name)
    return t.detach().cpu().double().numpy()


def show_image(ax, image, **kwargs) -> None:
    """Draw ``image`` into ``ax`` as a picture: grey scale [0, 1] by default, no ticks, no grid."""
    ax.imshow(image, **{"cmap": "gray_r", "vmin": 0.0, "vmax": 1.0, **kwargs})
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def draw_image_row(axes, images, image_shape: tuple[int, int], label: str) -> None:
    """One image per axis of ``axes`` (rows of ``images`` reshaped to ``image_shape``), the row
    labelled ``label`` on the left; axes beyond the last image are switched off."""
    for c, ax in enumerate(axes):
        if c < len(images):
            show_image(ax, images[c].reshape(image_shape))
        else:
            ax.axis("off")
    axes[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)


def plot_image_rows(rows: dict, image_shape: tuple[int, int], title: str = "", n: int = 12):
    r"""One row of images per entry of ``rows`` (label -> (k, H*W) pixel intensities in
    [0, 1]); the first ``n`` images of each, labelled on the left.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("rows must hold at least one row of images")
    h, w = check_image_shape(image_shape)
    imgs = {k: as_array(v, f"rows[{k!r}]").reshape(-1, h * w)[:n] for k, v in rows.items()}
    ncol = max(len(v) for v in imgs.values())
    fig, axes = plt.subplots(len(imgs), ncol, figsize=(0.75 * ncol + 1.6, 0.85 * len(imgs) + 0.5),
                             squeeze=False)
    for r, (label, row) in enumerate(imgs.items()):
        draw_image_row(axes[r], row, (h, w), label)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def per_beta_array(values, n_beta: int, name: str):
    """(n_beta,) or (n_beta, n_seeds) -> (values 2-D, mean, sd with ddof=1 or zeros)."""
    arr = as_array(values, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n_beta or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (n_beta,) or (n_beta, n_seeds) with n_beta = {n_beta}, "
            f"got {np.shape(values)}"
        )
    sd = arr.std(axis=1, ddof=1) if arr.shape[1] > 1 else np.zeros(n_beta)
    return arr, arr.mean(axis=1), sd


def betas_array(betas) -> np.ndarray:
    b = as_array(betas, "betas")
    if b.ndim > 1 or b.size < 1 or (b < 0).any():
        raise ValueError(f"betas must be a 1-D sequence of finite numbers >= 0, got {betas!r}")
    return b.reshape(-1)
