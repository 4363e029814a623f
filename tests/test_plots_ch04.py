"""Tests of the chapter 04 figures: labelled axes, one bar per value, input checks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_vae.plots import plot_image_rows, plot_kl_per_dimension, plot_remedy_comparison


def test_kl_per_dimension_bars_and_floor():
    fig = plot_kl_per_dimension({"a": [0.1, 0.5, 0.0], "b": [0.2, 0.2, 0.2]}, floor=0.25)
    ax = fig.axes[0]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == sorted([0.1, 0.5, 0.0, 0.2, 0.2, 0.2])
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("sum 0.60" in t for t in labels) and any("0.25" in t for t in labels)
    plt.close(fig)
    with pytest.raises(ValueError, match="kl_per_dim"):
        plot_kl_per_dimension({"a": [0.1], "b": [0.1, 0.2]})
    with pytest.raises(ValueError, match="floor"):
        plot_kl_per_dimension({"a": [0.1]}, floor=-1)
    fig = plot_kl_per_dimension({"a": [0.3, 0.05]}, threshold=0.1)
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == ":"]
    assert len(lines) == 1 and lines[0].get_ydata()[0] == 0.1
    assert any("in use above 0.1" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    plt.close(fig)
    with pytest.raises(ValueError, match="threshold"):
        plot_kl_per_dimension({"a": [0.1]}, threshold=-1)


def test_image_rows_grid():
    fig = plot_image_rows({"x": np.zeros((3, 4)), "avg": np.ones((1, 4))}, (2, 2), title="t")
    assert len(fig.axes) == 6
    assert fig.axes[0].get_ylabel() == "x"
    assert len(fig.axes[0].images) == 1 and len(fig.axes[4].images) == 0
    plt.close(fig)
    with pytest.raises(ValueError, match="rows"):
        plot_image_rows({}, (2, 2))


def test_remedy_comparison_panels_and_baseline():
    results = {
        "base": {"test_elbo": -23.5, "kl": 3.0, "n_active": 8, "mutual_info": 2.7},
        "anneal": {"test_elbo": -23.6, "kl": 3.8, "n_active": 8, "mutual_info": 3.4},
    }
    fig = plot_remedy_comparison(results, baseline="base")
    assert len(fig.axes) == 4
    kl_ax = fig.axes[1]
    assert [p.get_height() for p in kl_ax.patches] == [3.0, 3.8]
    assert kl_ax.get_title() and kl_ax.get_ylabel()
    assert not fig.axes[0].patches  # negative ELBOs: squares, no bars from a floor
    assert fig.axes[0].get_ylim()[0] < -23.6 < -23.5 < fig.axes[0].get_ylim()[1]
    plt.close(fig)
    with pytest.raises(ValueError, match="baseline"):
        plot_remedy_comparison(results, baseline="nope")
    with pytest.raises(ValueError, match="metric"):
        plot_remedy_comparison({"a": {"kl": 1.0}})


def test_plot_beta_sweep_draws_ranks_and_counts():
    from course_vae.plots import plot_beta_sweep

    kl = [[[0.8, 0.5, 0.2], [0.7, 0.4, 0.1]], [[0.3, 0.05, 0.0], [0.2, 0.02, 0.0]]]
    fig = plot_beta_sweep([1.0, 4.0], kl, [[3, 3], [2, 1]], [[3, 3], [1, 1]])
    left, right = fig.axes
    assert left.get_xlabel() == r"$\beta$" and right.get_ylabel() == "number of latent dimensions"
    assert right.get_legend() is not None
    with pytest.raises(ValueError):
        plot_beta_sweep([1.0], [[0.1]], [[1]], [[1]])
    plt.close(fig)


def test_plot_dose_response_and_kl_over_training():
    from course_vae.plots import plot_dose_response, plot_kl_over_training

    fig = plot_dose_response([0.0, 1.0], {"KL term (nats)": [[1.0, 0.8], [0.0, 0.01]],
                                          "log p(x) (nats)": {"VAE": [[-20, -21], [-9, -9]],
                                                              "alone": [[-22, -22], [-9, -9]]}},
                             xlabel="strength", ceiling=-8.4)
    assert [ax.get_title() for ax in fig.axes] == ["KL term (nats)", "log p(x) (nats)"]
    assert fig.get_supxlabel() == "strength"
    assert any(line.get_linestyle() == "--" for line in fig.axes[1].lines)  # the ceiling
    with pytest.raises(ValueError):
        plot_dose_response([0.0], {"x": [1.0]}, xlabel="s")
    plt.close(fig)
    track = {"step": [0, 10, 20], "beta": [0.0, 0.5, 1.0],
             "kl_per_dim": [[0, 0], [1, 0.5], [0.2, 0]]}
    fig = plot_kl_over_training({"a": track, "b": track})
    assert len(fig.axes) == 2
    assert fig.axes[0].lines[-1].get_ydata().tolist() == [0.0, 0.5, 1.0]  # beta(t), same axis
    plt.close(fig)
    fig = plot_kl_over_training({"a": {**track, "beta_per_step": [0.0, 0.25, 0.5, 1.0]}})
    assert fig.axes[0].lines[-1].get_ydata().tolist() == [0.0, 0.25, 0.5, 1.0]  # every step
    plt.close(fig)


def test_remedy_comparison_with_seeds_has_error_bars_and_a_plain_legend():
    results = {"base": {"kl": [0.0, 0.01, 0.0]}, "free bits": {"kl": [0.7, 0.8, 0.6]}}
    fig = plot_remedy_comparison(results, baseline="base", metrics={"kl": "KL (nats)"})
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "baseline level" in labels and not any("baseline: " in t for t in labels)
    assert fig.axes[0].patches[1].get_height() == pytest.approx(0.7)
    plt.close(fig)


def test_chapter04_new_figures():
    from course_vae.plots.collapse import plot_iwae_by_k, plot_kl_curves, plot_linear_vae

    fig = plot_kl_per_dimension({"a": [0.1, 0.5, 0.0], "b": [0.0, 0.2, 0.3]}, sort=True)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights[:3] == [0.5, 0.1, 0.0] and "ranked" in fig.axes[0].get_xlabel()
    plt.close(fig)
    lam = np.array([4.0, 1.0, 0.2])
    fig = plot_linear_vae(lam, (1.0, 2.0), {1.0: [1, 0.5, 0], 2.0: [0.8, 0, 0]},
                          {1.0: [1, 0.5, 0], 2.0: [0.8, 0, 0]}, 0.4)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    plt.close(fig)
    fig = plot_iwae_by_k({"m": {1: -9.0, 10: -8.8, 100: -8.7}}, ceiling=-8.35)
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].lines) == 2
    plt.close(fig)
    fig = plot_kl_curves({"w": [[3.0, 0.3, 0.1], [2.0, 0.2, 0.1]]}, first_epoch={"w": 0})
    assert fig.axes[0].lines[0].get_xdata()[0] == 0 and len(fig.axes[0].lines) == 2
    plt.close(fig)
    with pytest.raises(ValueError):
        plot_iwae_by_k({})
