"""Tests of the chapter 03 plot helpers: labelled, and drawing the numbers they are given."""

from __future__ import annotations

import matplotlib
import matplotlib.collections

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_vae.explorer_state import latent_point_state
from course_vae.gradients import estimator_variance_curve
from course_vae.latent import latent_grid
from course_vae.models import VAE
from course_vae.plots import (
    plot_beta_comparison,
    plot_elbo_vs_q,
    plot_gradient_variance,
    plot_image_rows,
    plot_latent_manifold,
    plot_latent_point,
    plot_latent_scatter,
    plot_training_curves,
)


def _labelled(ax) -> None:
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_elbo_vs_q_draws_the_curves_and_the_flat_log_px():
    c = np.linspace(0.1, 3, 20)
    elbos = {"a": -1 - (c - 1) ** 2, "b": -1.5 - (c - 1) ** 2}
    kls = {k: -1 - v for k, v in elbos.items()}
    fig = plot_elbo_vs_q(c, elbos, -1.0, gaps_kl=kls, param_label="c")
    try:
        ax0, ax1 = fig.axes
        _labelled(ax0)
        _labelled(ax1)
        lines = {ln.get_label(): ln for ln in ax0.get_lines()}
        np.testing.assert_allclose(lines["ELBO, a"].get_ydata(), elbos["a"])
        flat = lines[r"$\log p(x)$ (exact)"]
        assert set(np.asarray(flat.get_ydata(), dtype=float)) == {-1.0}
        gap = next(ln for ln in ax1.get_lines() if ln.get_label().endswith("ELBO, b"))
        np.testing.assert_allclose(gap.get_ydata(), -1.0 - elbos["b"])
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="elbos"):
        plot_elbo_vs_q(c, {"a": c[:3]}, 0.0)


def test_gradient_variance_plot_shows_the_curve():
    curve = estimator_variance_curve(lambda z: z**2, 1.0, 1.0, (1, 4), n_repeats=10)
    fig = plot_gradient_variance(curve, true_grad=2.0)
    try:
        ax0, ax1 = fig.axes
        _labelled(ax0)
        _labelled(ax1)
        line = next(ln for ln in ax0.get_lines() if ln.get_label() == "score function (measured)")
        np.testing.assert_allclose(line.get_ydata(), curve["score function"]["var"])
        assert any(ln.get_label() == "true gradient" for ln in ax1.get_lines())
    finally:
        plt.close(fig)
    # the 1/L line anchored at the exact per-sample variance, not the noisy L = 1 point
    fig = plot_gradient_variance(curve, exact_var={"score function": 123.75})
    try:
        ref = next(ln for ln in fig.axes[0].get_lines() if "exact" in ln.get_label())
        np.testing.assert_allclose(ref.get_ydata(), 123.75 / np.array(curve["sample_counts"]))
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="curve"):
        plot_gradient_variance({"sample_counts": [1]})


def test_training_curves_plot_the_history():
    hist = {"epoch": [1, 2, 3], "train_recon": [-30, -25, -24], "train_kl": [1, 2, 3],
            "test_recon": [-29, -26, -25], "test_kl": [1.5, 2, 2.5]}
    fig = plot_training_curves(hist)
    try:
        for ax, key in zip(fig.axes, ("recon", "kl"), strict=True):
            _labelled(ax)
            ys = [list(ln.get_ydata()) for ln in ax.get_lines()]
            assert hist[f"train_{key}"] in ys and hist[f"test_{key}"] in ys
    finally:
        plt.close(fig)
    hist3 = {**hist, "train_elbo": [-31, -27, -27], "test_elbo": [-30.5, -28, -27.5]}
    fig = plot_training_curves(hist3)
    try:
        assert len(fig.axes) == 3 and "ELBO" in fig.axes[2].get_title()
        ys = [list(ln.get_ydata()) for ln in fig.axes[2].get_lines()]
        assert hist3["train_elbo"] in ys and hist3["test_elbo"] in ys
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="history"):
        plot_training_curves({"epoch": [1]})


def test_image_rows_and_manifold_show_the_pixels():
    imgs = torch.rand(4, 64, generator=torch.Generator().manual_seed(0))
    fig = plot_image_rows({"a": imgs, "b": imgs[:2]}, (8, 8), title="t")
    try:
        shown = fig.axes[0].get_images()[0].get_array()
        np.testing.assert_allclose(np.asarray(shown), imgs[0].reshape(8, 8).numpy(), rtol=1e-6)
        assert fig.axes[0].get_ylabel() == "a"
    finally:
        plt.close(fig)
    fig = plot_latent_manifold(imgs, 2, 1.0, (8, 8))
    try:
        ax = fig.axes[0]
        _labelled(ax)
        mosaic = np.ma.filled(ax.get_images()[0].get_array(), np.nan)
        assert mosaic.shape == (17, 17)  # 2 tiles of 8 plus a 1-pixel frame
        np.testing.assert_allclose(mosaic[:8, 9:17], imgs[1].reshape(8, 8).numpy(), rtol=1e-6)
        np.testing.assert_allclose(mosaic[9:17, :8], imgs[2].reshape(8, 8).numpy(), rtol=1e-6)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="images"):
        plot_latent_manifold(imgs, 3, 1.0, (8, 8))


def test_latent_scatter_point_and_beta_comparison():
    mu = torch.randn(20, 2, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(20) % 10
    fig = plot_latent_scatter(mu, labels, point=(0.5, -0.5))
    try:
        ax = fig.axes[0]
        _labelled(ax)
        np.testing.assert_allclose(ax.collections[0].get_offsets(), mu.numpy(), rtol=1e-6)
        star = next(ln for ln in ax.get_lines() if ln.get_label() == "chosen z")
        assert list(star.get_xdata()) == [0.5] and list(star.get_ydata()) == [-0.5]
    finally:
        plt.close(fig)
    model = VAE(input_dim=64, hidden=(8,), latent_dim=2, seed=0)
    fig = plot_latent_point(latent_point_state(model, [0.5, -0.5], 0.3), mu, labels, (8, 8))
    try:
        assert any("decoded at z = (0.50, -0.50)" in a.get_title() for a in fig.axes)
    finally:
        plt.close(fig)
    imgs = torch.rand(10, 64)
    res = {"m": {"mu": mu, "labels": labels, "samples": imgs, "originals": imgs, "recons": imgs}}
    fig = plot_beta_comparison(res, (8, 8))
    try:
        titles = [a.get_title() for a in fig.axes]
        assert any(t.startswith("m: codes") for t in titles)
    finally:
        plt.close(fig)
    res8 = {"m": {**res["m"], "mu": torch.randn(20, 8)}}
    fig = plot_beta_comparison(res8, (8, 8))
    try:
        assert any("slice" in a.get_title() for a in fig.axes)
        assert len(fig.axes) == 1 + 1 + 30  # scatter, its colour bar, 3 x 10 images
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="missing"):
        plot_beta_comparison({"m": {"mu": mu}}, (8, 8))
    with pytest.raises(ValueError, match="dims"):
        plot_latent_scatter(mu, labels, dims=(0, 2))
    assert latent_grid(1.0, 2).shape == (4, 2)


def test_elbo_surgery_and_hole_map_are_labelled():
    from course_vae.latent import elbo_surgery
    from course_vae.plots import plot_elbo_surgery, plot_hole_map

    mu = torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    s = elbo_surgery(mu, torch.full((20, 2), -2.0), n_samples=2)
    fig = plot_elbo_surgery({"a": s, "b": s})
    try:
        for ax in fig.axes:
            _labelled(ax) if ax.get_xlabel() else (ax.get_title() and ax.get_ylabel())
            assert ax.get_legend() is not None
            assert any(abs(line.get_ydata()[0] - s.log_n) < 1e-9 for line in ax.get_lines())
    finally:
        plt.close(fig)
    big = elbo_surgery(3 * mu, torch.full((20, 2), -8.0), n_samples=2)
    fig = plot_elbo_surgery({"a": s, "null a": big, "b": s, "null b": s}, share_pairs=True)
    try:
        lims = [ax.get_ylim() for ax in fig.axes]
        # shared within pairs only
        assert lims[0] == lims[1] and lims[2] == lims[3] and lims[0][1] > lims[2][1]
        # one stacked bar, no second bar equal to it by construction
        assert all(len(ax.patches) == 3 for ax in fig.axes)
    finally:
        plt.close(fig)
    axis = np.linspace(-2, 2, 5)
    lr = np.subtract.outer(axis, axis)
    hole = np.array([True, False, True, False])
    fig = plot_hole_map(axis, axis, lr, np.zeros((4, 2)), hole, np.zeros((2, 4)), np.ones((2, 4)),
                        (2, 2))
    try:
        ax = fig.axes[0]
        _labelled(ax)
        assert ax.get_legend() is not None and "hole" in ax.get_title().lower()
    finally:
        plt.close(fig)
    far = np.array([[-40.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.5, 0.5]])
    fig = plot_hole_map(axis, axis, lr, far, hole, None, None, (2, 2))
    try:
        assert len(fig.axes) == 2  # the map and its colour bar, no image rows
        assert fig.axes[0].get_xlim() == (-2.0, 2.0)  # a far sample does not stretch the axes
    finally:
        plt.close(fig)


def test_sample_quality_plot_has_a_dot_per_seed_and_the_real_ceiling():
    from course_vae.plots import plot_sample_quality
    from course_vae.sample_quality import PrecisionRecall

    per_seed = {"a": [PrecisionRecall(0.5, 0.6), PrecisionRecall(0.4, 0.7)],
                "b": [PrecisionRecall(0.1, 0.2), PrecisionRecall(0.2, 0.1)]}
    fig = plot_sample_quality(per_seed, real=PrecisionRecall(0.9, 0.95))
    try:
        for m, ax in enumerate(fig.axes):
            assert ax.get_title() and ax.get_ylabel() and ax.get_legend() is not None
            dots = np.concatenate([line.get_ydata() for line in ax.get_lines()
                                   if line.get_marker() == "o"])
            expected = [pr[m] for prs in per_seed.values() for pr in prs]
            assert sorted(dots.tolist()) == pytest.approx(sorted(expected))
            assert any(abs(line.get_ydata()[0] - (0.9, 0.95)[m]) < 1e-12 for line in ax.get_lines())
    finally:
        plt.close(fig)
