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
    plt.close(fig)
    with pytest.raises(ValueError, match="baseline"):
        plot_remedy_comparison(results, baseline="nope")
    with pytest.raises(ValueError, match="metric"):
        plot_remedy_comparison({"a": {"kl": 1.0}})
