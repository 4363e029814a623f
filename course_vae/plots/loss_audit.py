"""Figures of chapter 06 (the KL term in real code): what a loss's effective beta predicts,
against the runs the chapter trained."""

from __future__ import annotations

import numpy as np

from course_vae._validate import check_image_shape, check_keys
from course_vae.plots.style import draw_image_row

__all__ = ["plot_loss_audit"]

_ZERO = 1e-3  # where beta = 0 is drawn on the log axis
_FLOOR = 1e-2  # KL values below it (collapsed runs: 0) are drawn at it on the log axis


def _x(beta: float) -> float:
    return _ZERO if beta == 0 else beta


def plot_loss_audit(state: dict, image_shape: tuple[int, int] = (8, 8)):
    r"""Active units (left) and KL(q(z) || p(z)) (middle; beside it, as dashes, its null:
    codes from the prior with the run's own widths; values below 0.01, e.g. collapsed runs'
    0, drawn at 0.01) of each trained run against its
    effective beta (log axis; beta = 0 drawn at 1e-3), every seed a dot (the nearest run's
    ringed in black, each run one colour), with the chosen
    loss's beta as a vertical line; right: prior samples of the run nearest to it.

    ``state`` is :func:`course_vae.explorer_state.loss_audit_state`.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    check_keys(state, ("runs", "beta", "nearest", "regime"), "state")
    h, w = check_image_shape(image_shape)
    runs = state["runs"]
    fig = plt.figure(figsize=(12, 4.6))
    left = fig.add_gridspec(1, 2, left=0.06, right=0.58, bottom=0.3, top=0.84, wspace=0.35)
    right = fig.add_gridspec(2, 4, left=0.64, right=0.98, bottom=0.3, top=0.84, wspace=0.08,
                             hspace=0.08)
    ax_a, ax_k = fig.add_subplot(left[0, 0]), fig.add_subplot(left[0, 1])
    for i, (label, run) in enumerate(sorted(runs.items(), key=lambda kv: kv[1]["beta"])):
        x = _x(run["beta"])
        color = f"C{i % 10}"  # a run keeps its colour; the nearest gets a black ring
        ring = dict(markeredgecolor="black", markeredgewidth=1.5, markersize=9) \
            if label == state["nearest"] else {}
        act, agg = run["per_seed_active"], run["per_seed_aggregate_kl"]
        null = run.get("per_seed_null_kl", [])
        ax_a.plot(np.full(len(act), x), act, "o", color=color, alpha=0.7,
                  label=f"{label} (beta {run['beta']:.3g})", **ring)
        ax_k.plot(np.full(len(agg), x), np.maximum(agg, _FLOOR), "o", color=color, alpha=0.7,
                  **ring)
        if null:
            ax_k.plot(np.full(len(null), x), np.maximum(null, _FLOOR), "_", color=color,
                      markersize=14, markeredgewidth=2)
    beta = state["beta"]
    for ax in (ax_a, ax_k):
        ax.set_xscale("log")
        ax.set_xlabel(r"effective $\beta$ (log; $\beta$ = 0 drawn at $10^{-3}$)")
        if beta is not None and beta >= 0:
            ax.axvline(_x(beta), color="red", linestyle="--", linewidth=1.5,
                       label=rf"your loss: $\beta$ = {beta:.4g}")
    ax_a.set_ylabel("active units (each seed)")
    ax_a.set_title("trained runs: active units")
    ax_k.set_yscale("log")
    ax_k.set_ylabel(r"KL$(q(z)\,\|\,p(z))$ (nats; < 0.01 drawn at 0.01)")
    ax_k.set_title("dots: each seed; dashes: its null", fontsize=10)
    handles, labels = ax_a.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower left", ncol=4, frameon=False)
    nearest = state["nearest"]
    img_axes = [fig.add_subplot(right[r, c]) for r in range(2) for c in range(4)]
    if nearest is not None:
        samples = np.asarray(runs[nearest]["first"]["prior_samples"], dtype=float)
        draw_image_row(img_axes, samples, (h, w), "")
        img_axes[0].set_title(f"prior samples: {nearest}", loc="left", fontsize=9)
    else:
        for ax in img_axes:
            ax.axis("off")
        img_axes[0].set_title("no trained run to compare", loc="left", fontsize=9)
    shown = "unknown" if beta is None else f"{beta:.4g}"
    fig.suptitle(rf"effective $\beta$ = {shown}: {state['regime']}", fontsize=11)
    return fig
