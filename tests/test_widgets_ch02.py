"""Tests of the chapter 02 explorer (ClosedFormExplorer): nbval never moves its sliders."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.kl import kl_normal_std, kl_normal_std_terms
from course_vae.widgets import ClosedFormExplorer


def _total(explorer: ClosedFormExplorer) -> float:
    match = re.search(r"= (-?[0-9.]+) nats", explorer.readout.value)
    assert match, explorer.readout.value
    return float(match.group(1))


def _expected_total(explorer: ClosedFormExplorer) -> float:
    mu = [s.value for s in explorer.mu_sliders]
    logvar = [2.0 * math.log(s.value) for s in explorer.sigma_sliders]
    return float(kl_normal_std(mu, logvar))


def test_default_is_prior_and_kl_zero():
    ex = ClosedFormExplorer(n_dims=3)
    assert len(ex.mu_sliders) == len(ex.sigma_sliders) == 3
    assert ex.redraws == 1
    assert _total(ex) == pytest.approx(0.0, abs=1e-4)
    assert ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_moving_mu_slider_updates_total_and_redraws():
    ex = ClosedFormExplorer(n_dims=3)
    before = ex.redraws
    ex.mu_sliders[1].value = 1.5
    assert ex.redraws == before + 1
    assert _total(ex) == pytest.approx(_expected_total(ex), abs=1e-4)
    assert _total(ex) == pytest.approx(0.5 * 1.5**2, abs=1e-4)


def test_moving_sigma_slider_updates_total_and_terms():
    ex = ClosedFormExplorer(n_dims=2, mu=[0.5, -1.0], sigma=[1.0, 1.0])
    before_total, before = _total(ex), ex.redraws
    ex.sigma_sliders[0].value = 0.25
    assert ex.redraws == before + 1
    total = _total(ex)
    assert total > before_total
    assert total == pytest.approx(_expected_total(ex), abs=1e-4)
    st = ex.state()
    terms = kl_normal_std_terms([0.5, -1.0], [2 * math.log(0.25), 0.0])
    for key, value in terms.items():
        assert st["terms"][key].tolist() == pytest.approx(value.tolist(), abs=1e-12)
    assert float(st["per_dim"].sum()) == pytest.approx(st["total"], abs=1e-12)


def test_repr_is_stable():
    assert repr(ClosedFormExplorer(n_dims=1)) == repr(ClosedFormExplorer(n_dims=1))
    assert "0x" not in repr(ClosedFormExplorer(n_dims=1))


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"n_dims": 0}, "n_dims"),
        ({"n_dims": 9}, "n_dims"),
        ({"n_dims": 2, "mu": [0.0]}, "mu"),
        ({"n_dims": 1, "sigma": [0.0]}, "sigma"),
        ({"n_dims": 1, "mu": [7.0]}, "mu"),
    ],
)
def test_bad_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        ClosedFormExplorer(**kwargs)


@settings(max_examples=15, deadline=None)
@given(
    mu=st.floats(-3.0, 3.0),
    sigma=st.floats(0.05, 3.0),
    dim=st.integers(0, 1),
)
def test_readout_matches_closed_form_for_any_slider_values(mu, sigma, dim):
    ex = ClosedFormExplorer(n_dims=2, mu=[0.3, -0.4], sigma=[0.8, 1.2])
    ex.mu_sliders[dim].value = mu
    ex.sigma_sliders[dim].value = sigma
    # the sliders snap to their step; the readout must follow the snapped values
    assert _total(ex) == pytest.approx(_expected_total(ex), abs=1e-4)
    assert _total(ex) >= 0.0
