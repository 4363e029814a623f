"""Tests of chapter 01's new figure: factorised fits to a correlated Gaussian."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_vae.plots import plot_factorised_fits


def test_factorised_fits_are_labelled_and_drawn_as_ellipses():
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    fig = plot_factorised_fits([0.0, 0.0], cov, {"reverse KL(Q||P)": ([0, 0], [0.19, 0.19])})
    try:
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["target P (correlated)", "reverse KL(Q||P)"]
        rev = next(line for line in ax.get_lines() if line.get_label() == "reverse KL(Q||P)")
        radius = np.hypot(rev.get_xdata(), rev.get_ydata())  # 1-std contour of N(0, 0.19 I)
        np.testing.assert_allclose(radius, np.sqrt(0.19), rtol=1e-9)
    finally:
        plt.close(fig)


def test_factorised_fits_reject_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        plot_factorised_fits([0.0], [[1.0]], {"q": ([0.0], [1.0])})
    with pytest.raises(ValueError, match="at least one"):
        plot_factorised_fits([0.0, 0.0], np.eye(2), {})
