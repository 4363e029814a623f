"""Tests of chapter 01's explorer (GaussianPairExplorer), its state function and its plots."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_vae import plots
from course_vae.explorer_state import gaussian_pair_state
from course_vae.kl import kl_normal, kl_quadrature
from course_vae.widgets import GaussianPairExplorer


def _kl_closed(mu_q, s_q, mu_p, s_p):
    return float(kl_normal([mu_q], [2 * math.log(s_q)], [mu_p], [2 * math.log(s_p)]))


def test_state_kls_match_closed_form_and_quadrature():
    st = gaussian_pair_state(0.5, 0.7, -1.0, 1.5)
    assert st["kl_qp"] == pytest.approx(_kl_closed(0.5, 0.7, -1.0, 1.5), rel=1e-12)
    assert st["kl_pq"] == pytest.approx(_kl_closed(-1.0, 1.5, 0.5, 0.7), rel=1e-12)
    # the plotted integrand integrates to KL(Q||P)
    area = float(torch.trapezoid(st["integrand"], st["x"]))
    assert area == pytest.approx(st["kl_qp"], abs=2e-3)
    quad = kl_quadrature(
        torch.distributions.Normal(0.5, 0.7).log_prob,
        torch.distributions.Normal(-1.0, 1.5).log_prob,
    )
    assert float(quad) == pytest.approx(st["kl_qp"], abs=1e-6)


def test_state_integrand_is_negative_somewhere_but_kl_positive():
    st = gaussian_pair_state(0.0, 1.0, 1.0, 2.0)
    assert float(st["integrand"].min()) < 0
    assert st["kl_qp"] > 0


def test_state_equal_gaussians_have_zero_kl():
    st = gaussian_pair_state(1.3, 0.8, 1.3, 0.8)
    assert st["kl_qp"] == pytest.approx(0.0, abs=1e-12)
    assert st["kl_pq"] == pytest.approx(0.0, abs=1e-12)
    assert float(st["integrand"].abs().max()) < 1e-12


@pytest.mark.parametrize("bad", [{"s_q": 0.0}, {"s_p": -1.0}, {"mu_q": float("nan")}])
def test_state_rejects_bad_arguments_naming_them(bad):
    args = {"mu_q": 0.0, "s_q": 1.0, "mu_p": 0.0, "s_p": 1.0, **bad}
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        gaussian_pair_state(**args)


def test_explorer_initial_readout_shows_both_kls():
    ex = GaussianPairExplorer()
    assert ex.redraws == 1
    assert f"KL(Q||P) = {_kl_closed(0.0, 1.0, 1.0, 2.0):.4f} nats" in ex.readout.value
    assert f"KL(P||Q) = {_kl_closed(1.0, 2.0, 0.0, 1.0):.4f} nats" in ex.readout.value
    assert ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert repr(ex) == "<GaussianPairExplorer: move the sliders in JupyterLab to explore>"
    plt.close("all")


def test_explorer_slider_updates_readout_and_redraws():
    ex = GaussianPairExplorer()
    before = ex.readout.value
    ex.mu_q.value = 2.0
    ex.s_p.value = 0.5
    assert ex.redraws == 3
    assert ex.readout.value != before
    assert f"KL(Q||P) = {_kl_closed(2.0, 1.0, 1.0, 0.5):.4f} nats" in ex.readout.value
    assert f"KL(P||Q) = {_kl_closed(1.0, 0.5, 2.0, 1.0):.4f} nats" in ex.readout.value


def test_explorer_equal_sliders_give_zero():
    ex = GaussianPairExplorer(mu_q=0.5, s_q=1.2, mu_p=0.5, s_p=1.2)
    assert "KL(Q||P) = 0.0000 nats" in ex.readout.value
    assert "KL(P||Q) = 0.0000 nats" in ex.readout.value


def test_explorer_rejects_out_of_range_initial_values():
    with pytest.raises(ValueError, match="s_q"):
        GaussianPairExplorer(s_q=10.0)
    with pytest.raises(ValueError, match="mu_p"):
        GaussianPairExplorer(mu_p=-9.0)


# ---------------------------------------------------------------- plot helpers


def _texts(fig):
    ax_texts = []
    for ax in fig.axes:
        ax_texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        leg = ax.get_legend()
        if leg is not None:
            ax_texts += [t.get_text() for t in leg.get_texts()]
    return ax_texts


def test_plot_gaussian_pair_labels_and_values():
    st = gaussian_pair_state(0.0, 1.0, 1.0, 2.0)
    fig = plots.plot_gaussian_pair(st)
    texts = _texts(fig)
    assert len(fig.axes) == 2
    assert any(f"{st['kl_qp']:.4f}" in t for t in texts)
    assert any(f"{st['kl_pq']:.4f}" in t for t in texts)
    assert all(ax.get_legend() is not None and ax.get_ylabel() for ax in fig.axes)
    plt.close(fig)
    with pytest.raises(ValueError, match="state"):
        plots.plot_gaussian_pair({"x": [0.0]})


def test_plot_kl_fits_draws_target_and_each_fit():
    x = np.linspace(-5, 5, 201)
    dens = np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    fig = plots.plot_kl_fits(x, dens, {"forward": (0.0, 1.0), "reverse": (1.0, 0.5)})
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("forward: m=0.00, s=1.00") for lab in labels)
    # the first fit equals the target, so its curve matches the target curve
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), dens, atol=1e-12)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="fits"):
        plots.plot_kl_fits(x, dens, {})
    with pytest.raises(ValueError, match="std"):
        plots.plot_kl_fits(x, dens, {"bad": (0.0, 0.0)})


def test_plot_mc_convergence_is_log_log_with_slope_in_legend():
    n = np.array([10, 100, 1000])
    fig = plots.plot_mc_convergence(n, 1 / np.sqrt(n), 1.1 / np.sqrt(n), slope=-0.5)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert any("-0.500" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)
    with pytest.raises(ValueError, match="> 0"):
        plots.plot_mc_convergence(n, np.zeros(3), np.ones(3))
