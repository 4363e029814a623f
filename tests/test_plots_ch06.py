"""Tests of chapter 06's figure (plot_loss_audit)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_vae.explorer_state import loss_audit_state  # noqa: E402
from course_vae.plots import plot_loss_audit  # noqa: E402


def _run(beta, n_active, agg):
    return {"beta": beta, "n_active": n_active, "aggregate_kl": agg, "kl": 1.0,
            "null_aggregate_kl": max(agg, 0.0), "placement_kl": 0.1, "mean_posterior_var": 0.4,
            "test_elbo": -25.0, "mutual_info": 1.0, "prior_samples": torch.rand(8, 64)}


RUNS = {"no KL": [_run(0.0, 8, 50.0)], "correct": [_run(1.0, 8, 0.5), _run(1.0, 6, 0.7)],
        "pixel mean": [_run(64.0, 0, -0.001)]}


def test_points_line_and_samples():
    fig = plot_loss_audit(loss_audit_state(RUNS, pixels="mean"))
    ax_a, ax_k = fig.axes[:2]
    assert ax_a.get_xscale() == "log" and ax_k.get_yscale() == "log"
    points = [ln for ln in ax_a.lines if ln.get_linestyle() == "None"]
    assert sum(len(ln.get_xdata()) for ln in points) == 4            # one dot per seed
    xs = sorted(float(x) for ln in points for x in ln.get_xdata())
    assert xs[0] == pytest.approx(1e-3)                              # beta 0 drawn at 1e-3
    ys = [float(y) for ln in ax_k.lines if ln.get_linestyle() == "None" for y in ln.get_ydata()]
    assert min(ys) == pytest.approx(1e-2)                            # floored for the log axis
    red = [ln for ln in ax_a.lines if ln.get_linestyle() == "--"]
    assert len(red) == 1 and float(red[0].get_xdata()[0]) == pytest.approx(64.0, rel=1e-3)
    images = [ax for ax in fig.axes[2:] if ax.images]
    assert len(images) == 8
    np.testing.assert_allclose(images[0].images[0].get_array(),
                               RUNS["pixel mean"][0]["prior_samples"][0].reshape(8, 8).numpy(),
                               rtol=1e-6)
    assert "collapse" in fig._suptitle.get_text()
    plt.close(fig)


def test_divergence_has_no_line_and_no_samples():
    fig = plot_loss_audit(loss_audit_state(RUNS, kl_sign=-1))
    assert not [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "--"]
    assert not any(ax.images for ax in fig.axes[2:])
    assert "diverges" in fig._suptitle.get_text()
    plt.close(fig)


def test_missing_keys_are_named():
    with pytest.raises(ValueError, match="runs|beta|nearest|regime"):
        plot_loss_audit({"beta": 1.0})
