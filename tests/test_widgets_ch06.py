"""Tests of chapter 06's explorer (LossAuditExplorer) and its state, loss_audit_state:
nbval never moves its controls."""

from __future__ import annotations

import itertools
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.explorer_state import COLLAPSE_ACTIVE, HOLES_NATS, NARROW_VAR, loss_audit_state
from course_vae.loss_bugs import BUILD_CHOICES, built_beta
from course_vae.widgets import LossAuditExplorer


def _run(beta, n_active, aggregate_kl, seed=0, null=None, var=0.4):
    g = torch.Generator().manual_seed(seed)
    return {"beta": beta, "n_active": n_active, "aggregate_kl": aggregate_kl, "kl": 1.0 + seed,
            "null_aggregate_kl": aggregate_kl if null is None else null, "placement_kl": 0.1,
            "mean_posterior_var": var,
            "test_elbo": -25.0 - seed, "mutual_info": 1.0,
            "prior_samples": torch.rand(8, 64, generator=g)}


RUNS = {
    "no KL": [_run(0.0, 8, 50.0, null=28.0, var=3e-4), _run(0.0, 8, 52.0, 1, null=29.0, var=3e-4)],
    "latent mean": [_run(0.125, 8, 8.0, null=8.1, var=0.045),
                    _run(0.125, 8, 8.2, 1, null=8.0, var=0.044)],
    "correct": [_run(1.0, 8, 0.5, null=1.8), _run(1.0, 7, 0.6, 1, null=1.9)],
    "pixel mean": [_run(64.0, 0, 0.0, var=0.99), _run(64.0, 0, 0.0, 1, var=0.99)],
}


def _beta(explorer) -> float:
    m = re.search(r"effective beta \(audit\) = ([-0-9.e+]+)", explorer.readout.value)
    assert m, explorer.readout.value
    return float(m.group(1))


def test_default_is_the_correct_loss():
    ex = LossAuditExplorer(RUNS)
    assert ex.redraws == 1 and ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert _beta(ex) == pytest.approx(1.0)
    st_ = ex.state()
    assert st_["nearest"] == "correct" and st_["regime"] == "healthy" and st_["factor"] == 1.0


def test_pixel_mean_predicts_collapse_and_redraws():
    ex = LossAuditExplorer(RUNS)
    before = ex.redraws
    ex.dropdowns["pixels"].value = "mean"
    assert ex.redraws == before + 1
    assert _beta(ex) == pytest.approx(64.0, rel=1e-3)
    assert "collapse" in ex.readout.value and ex.state()["nearest"] == "pixel mean"


def test_weight_can_cancel_the_pixel_mean():
    ex = LossAuditExplorer(RUNS, pixels="mean", weight=1 / 64)
    assert _beta(ex) == pytest.approx(1.0, rel=1e-3)
    assert ex.state()["regime"] == "healthy"


def test_latent_mean_predicts_narrow_posteriors_and_sign_divergence():
    # was "holes": the referee (finding 1) showed beta = 1/8's KL(q(z)||p(z)) is its null's
    ex = LossAuditExplorer(RUNS, latents="mean")
    assert _beta(ex) == pytest.approx(0.125, rel=1e-3)
    assert ex.state()["regime"].startswith("narrow posteriors")
    ex.dropdowns["kl_sign"].value = -1
    st_ = ex.state()
    assert st_["beta"] == pytest.approx(-0.125, rel=1e-3)
    assert st_["regime"].startswith("diverges") and st_["nearest"] is None


def test_weight_zero_is_beta_zero_and_the_no_kl_run():
    st_ = loss_audit_state(RUNS, weight=0.0)
    assert st_["beta"] == 0 and st_["nearest"] == "no KL" and st_["regime"] == "holes"


def test_log_sigma_form_is_named():
    st_ = loss_audit_state(RUNS, logvar_as="log sigma")
    assert st_["audit"].kl_form == "log-sigma" and "log-sigma" in st_["regime"]
    assert st_["beta"] == pytest.approx(1.0, rel=1e-3)


def test_regimes_follow_the_thresholds():
    runs = {"a": [_run(2.0, 0, 0.0)], "b": [_run(2.0 * 1e3, 8, HOLES_NATS + 1, null=0.0)]}
    assert COLLAPSE_ACTIVE > 0
    assert loss_audit_state(runs, weight=2.0)["regime"] == "collapse"
    st_ = loss_audit_state(runs, weight=1e3)
    assert st_["nearest"] == "b" and st_["regime"] == "holes"
    assert st_["factor"] == pytest.approx(2.0, rel=1e-3)


def test_a_large_aggregate_kl_at_its_null_is_no_hole():
    """KL(q(z)||p(z)) of 30 nats is no hole when codes drawn from the prior with the same
    widths score 29.5: the regime compares with the null, then reads the widths."""
    wide = {"b": [_run(1.0, 8, 30.0, null=29.5, var=0.5)]}
    assert loss_audit_state(wide)["regime"] == "healthy"
    narrow = {"b": [_run(1.0, 8, 30.0, null=29.5, var=NARROW_VAR / 2)]}
    assert loss_audit_state(narrow)["regime"].startswith("narrow posteriors")
    holes = {"b": [_run(1.0, 8, 30.0, null=29.5 - HOLES_NATS - 0.1, var=NARROW_VAR / 2)]}
    assert loss_audit_state(holes)["regime"] == "holes"


def test_repr_is_stable():
    assert repr(LossAuditExplorer(RUNS)) == (
        "<LossAuditExplorer: choose reductions, sign, convention and weight in JupyterLab "
        "to explore>")


@pytest.mark.parametrize("runs, word", [
    ({}, "non-empty"), ({"a": []}, "non-empty list"),
    ({"a": [_run(1.0, 8, 0.5), _run(2.0, 8, 0.5)]}, "one beta"),
    ({"a": [_run(-1.0, 8, 0.5)]}, "one beta"),
])
def test_bad_runs_are_named(runs, word):
    with pytest.raises(ValueError, match=word):
        loss_audit_state(runs)


@pytest.mark.parametrize("kwargs, word", [
    ({"pixels": "median"}, "pixels"), ({"kl_sign": 0}, "kl_sign"), ({"colour": 1}, "unknown"),
])
def test_bad_choices_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        LossAuditExplorer(RUNS, **kwargs)


@settings(max_examples=12, deadline=None)
@given(choice=st.sampled_from(list(itertools.product(*BUILD_CHOICES.values()))),
       log_weight=st.floats(-4, 4))
def test_state_beta_is_the_built_beta(choice, log_weight):
    """Any beta built in is found by the audit (within 1e-3 relative)."""
    kwargs = dict(zip(BUILD_CHOICES, choice, strict=True))
    st_ = loss_audit_state(RUNS, **kwargs, weight=10.0**log_weight)
    assert st_["beta"] == pytest.approx(st_["expected_beta"], rel=1e-3)
    assert st_["expected_beta"] == pytest.approx(
        built_beta(128, 64, 8, **kwargs, weight=10.0**log_weight), rel=1e-12)
