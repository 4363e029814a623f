"""Tests of the chapter 05 plot helpers: traversal grid, rate-distortion curve, MIG against beta."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.container import ErrorbarContainer

from course_vae.plots import plot_latent_traversal, plot_mig_vs_beta, plot_rate_distortion

IMAGE_SHAPE = (3, 4)


def _decode(z: torch.Tensor) -> torch.Tensor:
    """A decoder one can read back: pixel i of the image is sigmoid(z_i) (rest 0)."""
    out = torch.zeros(z.shape[0], IMAGE_SHAPE[0] * IMAGE_SHAPE[1])
    out[:, : z.shape[1]] = torch.sigmoid(z)
    return out


def _errorbars(ax):
    """(x, y, xerr, yerr) of each errorbar container, read back from the drawn artists."""
    out = []
    for cont in ax.containers:
        if not isinstance(cont, ErrorbarContainer):
            continue
        line, _, cols = cont.lines
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        xerr = yerr = None
        for col in cols:
            segs = np.asarray(col.get_segments())
            half = (segs[:, 1] - segs[:, 0]) / 2
            if np.allclose(half[:, 1], 0):
                xerr = half[:, 0]
            else:
                yerr = half[:, 1]
        out.append((x, y, xerr, yerr))
    return out


def test_traversal_cells_are_the_decoded_images():
    z_base = np.array([0.5, -1.0, 2.0])
    values = [-3.0, 0.0, 3.0]
    fig = plot_latent_traversal(_decode, z_base, IMAGE_SHAPE, values=values,
                                row_labels=["KL 1.00", "KL 0.50", "KL 0.00"])
    try:
        axes = np.array(fig.axes).reshape(3, 3)
        for r in range(3):
            for c, value in enumerate(values):
                img = axes[r, c].get_images()[0].get_array()
                z = z_base.copy()
                z[r] = value
                expected = np.zeros(IMAGE_SHAPE[0] * IMAGE_SHAPE[1])
                expected[:3] = 1 / (1 + np.exp(-z))
                np.testing.assert_allclose(np.asarray(img).reshape(-1), expected, atol=1e-6)
                assert axes[r, c].get_images()[0].get_clim() == (0.0, 1.0)
            assert f"z_{{{r + 1}}}" in axes[r, 0].get_ylabel()
        assert "KL 0.50" in axes[1, 0].get_ylabel()
        assert [axes[0, c].get_title() for c in range(3)] == ["-3.0", "+0.0", "+3.0"]
        assert fig._suptitle.get_text() and fig._supxlabel.get_text()
        assert fig._supylabel.get_text()
    finally:
        plt.close(fig)


def test_traversal_defaults_and_dims():
    fig = plot_latent_traversal(_decode, 4, IMAGE_SHAPE, dims=[2, 0])
    try:
        assert len(fig.axes) == 2 * 7  # two rows, seven values from -3 to 3
        titles = [ax.get_title() for ax in fig.axes[:7]]
        assert titles == [f"{v:+.1f}" for v in np.linspace(-3, 3, 7)]
        assert "z_{3}" in fig.axes[0].get_ylabel() and "z_{1}" in fig.axes[7].get_ylabel()
        # row of z_3 at value -3: pixel 2 is sigmoid(-3), the others sigmoid(0) = 0.5
        img = np.asarray(fig.axes[0].get_images()[0].get_array()).reshape(-1)
        np.testing.assert_allclose(img[:4], [0.5, 0.5, 1 / (1 + np.exp(3.0)), 0.5], atol=1e-6)
    finally:
        plt.close(fig)


def test_traversal_rejects_bad_input():
    with pytest.raises(TypeError, match="decode"):
        plot_latent_traversal("nope", 2, IMAGE_SHAPE)
    with pytest.raises(ValueError, match="dims"):
        plot_latent_traversal(_decode, 2, IMAGE_SHAPE, dims=[2])
    with pytest.raises(ValueError, match="decode returned"):
        plot_latent_traversal(_decode, 2, (5, 5))
    with pytest.raises(ValueError, match="z_base"):
        plot_latent_traversal(_decode, np.zeros((2, 2)), IMAGE_SHAPE)
    with pytest.raises(ValueError, match="z_base"):
        plot_latent_traversal(_decode, 0, IMAGE_SHAPE)
    with pytest.raises(ValueError, match="row_labels"):
        plot_latent_traversal(_decode, 2, IMAGE_SHAPE, row_labels=["a"])
    with pytest.raises(ValueError, match="values"):
        plot_latent_traversal(_decode, 2, IMAGE_SHAPE, values=[np.nan])
    with pytest.raises(TypeError, match="image_shape"):
        plot_latent_traversal(_decode, 2, 12)


def test_rate_distortion_points_are_seed_means_with_sd_bars():
    betas = [1.0, 4.0, 16.0]
    rates = np.array([[30.0, 32.0, 31.0], [12.0, 14.0, 13.0], [3.0, 5.0, 4.0]])
    dist = np.array([[60.0, 58.0, 59.0], [75.0, 79.0, 77.0], [100.0, 104.0, 102.0]])
    fig = plot_rate_distortion(rates, dist, betas)
    try:
        ax = fig.axes[0]
        assert ax.get_title() and "rate" in ax.get_xlabel() and "distortion" in ax.get_ylabel()
        ((x, y, xerr, yerr),) = _errorbars(ax)
        np.testing.assert_allclose(x, rates.mean(1))
        np.testing.assert_allclose(y, dist.mean(1))
        np.testing.assert_allclose(xerr, rates.std(1, ddof=1))
        np.testing.assert_allclose(yerr, dist.std(1, ddof=1))
        notes = [t.get_text() for t in ax.texts]
        assert notes == [r"$\beta$=1", r"$\beta$=4", r"$\beta$=16"]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("3 per" in s for s in labels) and any("sd" in s for s in labels)
        # the iso-ELBO line passes through the best point (smallest R + D: beta = 1, 90)
        iso = next(ln for ln in ax.get_lines() if "equal ELBO" in ln.get_label())
        xs, ys = np.asarray(iso.get_xdata()), np.asarray(iso.get_ydata())
        np.testing.assert_allclose(xs + ys, (rates.mean(1) + dist.mean(1)).min())
        assert "90.0" in iso.get_label()
    finally:
        plt.close(fig)


def test_rate_distortion_one_seed_has_no_bars():
    fig = plot_rate_distortion([5.0, 2.0], [10.0, 12.0], [1, 2], show_iso_elbo=False)
    try:
        ax = fig.axes[0]
        ((x, y, xerr, yerr),) = _errorbars(ax)
        assert xerr is None and yerr is None
        np.testing.assert_allclose(x, [5.0, 2.0])
        assert not any("ELBO" in ln.get_label() for ln in ax.get_lines())
        assert ax.get_legend() is not None
    finally:
        plt.close(fig)


def test_rate_distortion_rejects_bad_shapes():
    with pytest.raises(ValueError, match="rates"):
        plot_rate_distortion([1.0, 2.0, 3.0], [1.0, 2.0], [1, 2])
    with pytest.raises(ValueError, match="distortions"):
        plot_rate_distortion([1.0, 2.0], [1.0, np.inf], [1, 2])
    with pytest.raises(ValueError, match="one shape"):
        plot_rate_distortion([[1.0, 2.0], [1.0, 2.0]], [1.0, 2.0], [1, 2])
    with pytest.raises(ValueError, match="betas"):
        plot_rate_distortion([1.0], [1.0], [-1.0])


def test_mig_vs_beta_means_bars_and_log_axis():
    betas = [4.0, 1.0, 16.0]  # unsorted on purpose: the curve is drawn in beta order
    mig = np.array([[0.3, 0.5], [0.1, 0.2], [0.4, 0.4]])
    dci = np.array([0.6, 0.5, 0.7])
    fig = plot_mig_vs_beta(betas, mig, others={"DCI": dci})
    try:
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_xscale() == "log"
        (x, y, _, yerr), (x2, y2, _, yerr2) = _errorbars(ax)
        np.testing.assert_allclose(x, [1.0, 4.0, 16.0], rtol=0.05)  # series offset slightly
        assert np.all(x < x2)
        np.testing.assert_allclose(y, [0.15, 0.4, 0.4])
        np.testing.assert_allclose(yerr, mig.std(1, ddof=1)[[1, 0, 2]])
        np.testing.assert_allclose(y2, [0.5, 0.6, 0.7])
        assert yerr2 is None  # one value per beta: no bars
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any(lab.startswith("MIG") and "2 seeds" in lab for lab in labels)
        assert "DCI" in labels and "MIG: single seeds" in labels
        # every seed is drawn as a dot at its beta (MIG dots shifted a little on the log axis)
        dots = [ln for ln in ax.get_lines() if ln.get_label() == "MIG: single seeds"][0]
        np.testing.assert_allclose(np.sort(dots.get_ydata()), np.sort(mig.ravel()))
    finally:
        plt.close(fig)


def test_mig_vs_beta_linear_axis_with_beta_zero_and_errors():
    fig = plot_mig_vs_beta([0.0, 1.0], [0.2, 0.3])
    try:
        assert fig.axes[0].get_xscale() == "linear"
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="mig"):
        plot_mig_vs_beta([1.0, 2.0], [0.1])
    with pytest.raises(ValueError, match="others"):
        plot_mig_vs_beta([1.0, 2.0], [0.1, 0.2], others={"DCI": [0.1]})


def test_mig_vs_beta_draws_references_and_controls():
    fig = plot_mig_vs_beta([1.0, 2.0], [[0.1, 0.2], [0.3, 0.1]],
                           references={"floor": 0.03, "ceiling": 0.97},
                           controls={"control": (1.0, [0.15, 0.25])})
    try:
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "floor: 0.03" in labels and "ceiling: 0.97" in labels and "control" in labels
        flat = [ln for ln in ax.get_lines() if ln.get_label().startswith("ceiling")][0]
        np.testing.assert_allclose(flat.get_ydata(), [0.97, 0.97])
        ctrl = [ln for ln in ax.get_lines() if ln.get_label() == "control"][0]
        np.testing.assert_allclose(ctrl.get_ydata(), [0.15, 0.25])
    finally:
        plt.close(fig)


def test_rd_plane_feasible_region_and_points():
    from course_vae.plots import plot_rd_plane

    h = float(np.log(216))
    r = np.array([[9.0, 10.0], [2.0, 3.0]])
    d = np.array([[20.0, 22.0], [50.0, 48.0]])
    fig = plot_rd_plane(h, [1.0, 8.0], train=(r, d), test=(r + 0.5, d + 5.0))
    try:
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any(lab.startswith("R + D = H") for lab in labels)
        bound = [ln for ln in ax.get_lines() if ln.get_label().startswith("R + D = H")][0]
        x, y = bound.get_data()
        np.testing.assert_allclose(np.asarray(x) + np.asarray(y), h)
        means = [ln for ln in ax.get_lines() if ln.get_label() == "train: mean over seeds"][0]
        np.testing.assert_allclose(means.get_xdata(), r.mean(1))
        np.testing.assert_allclose(means.get_ydata(), d.mean(1))
        held = [ln for ln in ax.get_lines() if ln.get_label() == "held-out: single seeds"][0]
        np.testing.assert_allclose(held.get_ydata(), (d + 5.0).ravel())
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="entropy"):
        plot_rd_plane(0.0, [1.0], train=([1.0], [1.0]))


def test_capacity_kl_lines_follow_the_input():
    from course_vae.plots import plot_capacity_kl

    steps = np.arange(1, 6) * 7
    kl = np.column_stack([np.linspace(0, 2, 5), np.zeros(5)])
    fig = plot_capacity_kl(steps, kl, np.linspace(0, 2, 5), dim_labels=["x", "y"])
    try:
        ax = fig.axes[0]
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        np.testing.assert_allclose(lines["$z_{1}$ (x)"].get_ydata(), kl[:, 0])
        np.testing.assert_allclose(lines["total KL (rate)"].get_ydata(), kl.sum(1))
        assert "target C(t)" in lines and ax.get_xlabel() == "training step"
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="dim_labels"):
        plot_capacity_kl(steps, kl, np.zeros(5), dim_labels=["x"])
    with pytest.raises(ValueError, match="kl_per_dim"):
        plot_capacity_kl(steps, kl[:3], np.zeros(5))


# ---------------------------------------------------------------- issue 22 figures
def test_rotation_gap_figure_draws_curves_ticks_and_traces():
    from course_vae.plots import plot_rotation_gap

    a = np.linspace(0, 45, 10)
    fig = plot_rotation_gap(a, {"distinct": np.sin(np.radians(a)), "equal": np.zeros(10)},
                            trained={"distinct": [0.0, 0.1], "equal": [12.0, 30.0]},
                            traces={"distinct": np.ones((2, 4)), "equal": np.zeros((2, 4))},
                            steps=[1, 2, 3, 4])
    left, right = fig.axes
    np.testing.assert_allclose(left.lines[0].get_ydata(), np.sin(np.radians(a)))
    assert len(right.lines) == 4
    with pytest.raises(ValueError, match="gaps"):
        plot_rotation_gap(a, {"x": np.zeros(3)})
    plt.close("all")


def test_mi_heatmaps_label_each_dimension_with_its_kl():
    from course_vae.plots import plot_mi_heatmaps

    mi = {1.0: np.full((3, 2), 0.5), 4.0: np.eye(3, 2)}
    kl = {1.0: np.array([1.0, 0.5, 0.05]), 4.0: np.array([2.0, 0.01, 0.0])}
    fig = plot_mi_heatmaps(mi, kl, ["x", "y"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[2].endswith("off") and not labels[0].endswith("off")
    with pytest.raises(ValueError, match="mi"):
        plot_mi_heatmaps({1.0: np.zeros((2, 2))}, {1.0: np.zeros(3)}, ["x", "y"])
    plt.close("all")


def test_code_scatter_and_loss_curves():
    from course_vae.plots import plot_code_scatter, plot_loss_curves

    z = np.random.default_rng(0).normal(size=(20, 4))
    lab = np.random.default_rng(1).integers(0, 3, size=(20, 5))
    fig = plot_code_scatter({1.0: z}, lab, {1.0: (0, 2)})
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets()[:, 0], z[:, 0])
    fig = plot_loss_curves({"a": (np.arange(5), np.arange(5.0) + 1),
                            "b": (np.arange(5), np.ones((3, 5)))}, budget=3)
    assert len(fig.axes[0].lines) == 1 + 3 + 1
    with pytest.raises(ValueError, match="steps"):
        plot_loss_curves({"a": (np.arange(4), np.ones(5))})
    plt.close("all")


def test_rd_plane_draws_the_held_out_bound():
    from course_vae.plots import plot_rd_plane

    r = np.array([[5.0, 6.0], [2.0, 3.0]])
    fig = plot_rd_plane(np.log(108), [1.0, 4.0], train=(r, r + 10), test=(r, r + 20),
                        test_entropy=np.log(54))
    assert any("log N_test" in (line.get_label() or "") for line in fig.axes[0].lines)
    with pytest.raises(ValueError, match="test_entropy"):
        plot_rd_plane(np.log(108), [1.0, 4.0], train=(r, r), test_entropy=-1.0)
    plt.close("all")


def test_plot_score_vs_active_and_heatmap_null_marks():
    import matplotlib.pyplot as plt
    import numpy as np

    from course_vae.plots import plot_mi_heatmaps, plot_score_vs_active

    active = np.array([[6, 6], [5, 4], [3, 4]])
    scores = np.array([[0.1, 0.12], [0.11, 0.2], [0.27, 0.23]])
    fig = plot_score_vs_active(active, scores, [1.0, 2.0, 4.0], references={"null": 0.05})
    assert len(fig.axes[0].lines) == 4
    plt.close(fig)
    with pytest.raises(ValueError):
        plot_score_vs_active(active[:, :1], scores, [1.0, 2.0, 4.0])
    m = np.array([[0.5, 0.1], [0.2, 0.3]])
    fig = plot_mi_heatmaps({1.0: m}, {1.0: np.array([1.0, 0.05])}, ["a", "b"],
                           null={1.0: np.full((2, 2), 0.25)})
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0.10", "0.20", "0.30*", "0.50*"]
    plt.close(fig)
    with pytest.raises(ValueError):
        plot_mi_heatmaps({1.0: m}, {1.0: np.array([1.0, 0.05])}, ["a", "b"],
                         null={1.0: np.zeros(2)})
