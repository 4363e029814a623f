"""Tests of the chapter 02 plot helpers: labelled, and drawing the package's numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_vae.kl import kl_normal_std, kl_normal_std_terms
from course_vae.plots import KL_TERM_LABELS, plot_kl_term_bars, plot_kl_terms_curves


def test_curves_are_labelled_and_total_is_the_closed_form():
    fig = plot_kl_terms_curves(n_points=101)
    try:
        assert len(fig.axes) == 2
        for ax, param in zip(fig.axes, ("mu", "logvar"), strict=True):
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() == "nats"
            labels = [t.get_text() for t in ax.get_legend().get_texts()]
            assert set(KL_TERM_LABELS.values()) <= set(labels)
            total = next(line for line in ax.get_lines() if line.get_label() == "KL (sum)")
            x = torch.as_tensor(np.asarray(total.get_xdata()), dtype=torch.float64)
            zeros = torch.zeros_like(x)
            mu, lv = (x, zeros) if param == "mu" else (zeros, x)
            expected = kl_normal_std(mu[:, None], lv[:, None]).numpy()
            np.testing.assert_allclose(total.get_ydata(), expected, atol=1e-12)
            # the curve's minimum is 0, at x = 0
            y = np.asarray(total.get_ydata())
            assert abs(x[y.argmin()].item()) < 0.07 and y.min() == pytest.approx(0.0, abs=1e-3)
    finally:
        plt.close(fig)


def test_curves_reject_bad_ranges():
    with pytest.raises(ValueError, match="mu_range"):
        plot_kl_terms_curves(mu_range=(1.0, -1.0))
    with pytest.raises(ValueError, match="n_points"):
        plot_kl_terms_curves(n_points=0)


def test_bars_heights_are_the_terms():
    mu, logvar = [0.5, -1.0, 2.0], [0.0, -2.0, 1.0]
    terms = kl_normal_std_terms(mu, logvar)
    totals = sum(terms.values())
    fig = plot_kl_term_bars(terms, totals)
    try:
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        heights = np.array([p.get_height() for p in ax.patches]).reshape(4, 3)
        expected = np.stack([terms[k].numpy() for k in KL_TERM_LABELS])
        np.testing.assert_allclose(heights, expected, atol=1e-12)
        markers = next(line for line in ax.get_lines() if line.get_label() == "KL of the dimension")
        np.testing.assert_allclose(markers.get_ydata(), totals.numpy(), atol=1e-12)
        total = kl_normal_std(mu, logvar).item()
        np.testing.assert_allclose(totals.sum().item(), total, atol=1e-12)
    finally:
        plt.close(fig)


def test_bars_reject_bad_input():
    with pytest.raises(ValueError, match="missing"):
        plot_kl_term_bars({"mu^2": [1.0]})
    terms = kl_normal_std_terms([0.0, 1.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="totals"):
        plot_kl_term_bars(terms, [1.0])
