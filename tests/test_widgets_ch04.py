"""Tests of the chapter 04 explorer and its selection logic (nbval never moves a dropdown)."""

from __future__ import annotations

import re

import pytest
import torch

from course_vae.explorer_state import collapse_explorer_state, remedy_choices
from course_vae.made import AutoregressiveVAE
from course_vae.runs import summarize_collapse_run
from course_vae.train import train
from course_vae.widgets import CollapseExplorer


def _summary(elbo: float, kl_per_dim, n_active: int, mi: float) -> dict:
    kl = torch.tensor(kl_per_dim, dtype=torch.float64)
    return {
        "test_elbo": elbo, "test_recon": elbo + float(kl.sum()), "kl": float(kl.sum()),
        "kl_per_dim": kl, "n_active": n_active, "mutual_info": mi, "mutual_info_stderr": 0.05,
        "aggregate_kl": 0.1, "originals": torch.zeros(3, 64), "reconstructions": torch.ones(3, 64),
    }


@pytest.fixture
def runs():
    return {
        ("baseline", "beta=1"): _summary(-23.5, [0.5, 0.25], 2, 0.6),
        ("free bits", "lambda=0.1"): _summary(-23.4, [0.5, 0.5], 2, 0.9),
        ("free bits", "lambda=0.25"): _summary(-23.0, [1.0, 0.75], 1, 1.2),
    }


def test_remedy_choices_groups_parameters_in_order(runs):
    assert remedy_choices(runs) == {
        "baseline": ["beta=1"], "free bits": ["lambda=0.1", "lambda=0.25"]
    }
    with pytest.raises(ValueError, match="runs"):
        remedy_choices({})
    with pytest.raises(ValueError, match="runs keys"):
        remedy_choices({"x": {}})


def test_state_computes_differences_to_baseline(runs):
    st = collapse_explorer_state(runs, "free bits", "lambda=0.25", ("baseline", "beta=1"))
    assert st["d_elbo"] == pytest.approx(0.5)
    assert st["d_kl"] == pytest.approx(1.75 - 0.75)
    assert st["d_active"] == -1
    assert st["d_mi"] == pytest.approx(0.6)
    assert "d_elbo" not in collapse_explorer_state(runs, "free bits", "lambda=0.1")
    with pytest.raises(ValueError, match="remedy"):
        collapse_explorer_state(runs, "annealing", "x")
    with pytest.raises(ValueError, match="parameter"):
        collapse_explorer_state(runs, "free bits", "lambda=9")
    with pytest.raises(ValueError, match="baseline"):
        collapse_explorer_state(runs, "free bits", "lambda=0.1", ("nope", 1))


def _readout_kl(ex: CollapseExplorer) -> float:
    m = re.search(r"KL (-?[0-9.]+) nats", ex.readout.value)
    assert m, ex.readout.value
    return float(m.group(1))


def test_explorer_updates_readout_and_redraws(runs):
    ex = CollapseExplorer(runs, baseline=("baseline", "beta=1"))
    assert ex.redraws == 1 and ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert _readout_kl(ex) == pytest.approx(0.75, abs=1e-2)
    before = ex.redraws
    ex.remedy.value = "free bits"  # one redraw, parameter reset to the first option
    assert ex.redraws == before + 1
    assert ex.parameter.options == ("lambda=0.1", "lambda=0.25")
    assert _readout_kl(ex) == pytest.approx(1.0, abs=1e-2)
    ex.parameter.value = "lambda=0.25"
    assert ex.redraws == before + 2
    assert _readout_kl(ex) == pytest.approx(1.75, abs=1e-2)
    assert "ELBO +0.50" in ex.readout.value and "active units -1" in ex.readout.value
    assert repr(ex) == "<CollapseExplorer: choose a run in JupyterLab to explore>"
    with pytest.raises(ValueError, match="baseline"):
        CollapseExplorer(runs, baseline=("x", "y"))


def test_summarize_collapse_run_on_a_tiny_model():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(64, 12, generator=g) < 0.5).float()
    model = AutoregressiveVAE(input_dim=12, hidden=(8,), latent_dim=3, seed=0, ar_hidden=(8,))
    hist = train(model, x, x, epochs=2, batch_size=32, progress=False)
    s = summarize_collapse_run(model, hist, x, n_images=4)
    assert s["test_elbo"] == hist["test_elbo"][-1]
    assert s["kl_per_dim"].shape == (3,)
    assert s["kl_per_dim"].sum().item() == pytest.approx(s["kl"], abs=0.05)
    assert s["originals"].shape == s["reconstructions"].shape == (4, 12)
    assert 0 <= s["n_active"] <= 3
    with pytest.raises(ValueError, match="test_elbo"):
        summarize_collapse_run(model, {"test_elbo": []}, x)


def _text_summary(kl_per_dim, log_px: float) -> dict:
    kl = torch.tensor(kl_per_dim, dtype=torch.float64)
    return {"family": "text", "test_elbo": log_px - 0.1, "kl": float(kl.sum()), "kl_per_dim": kl,
            "n_active": int((kl > 0.01).sum()), "mutual_info": 0.0, "aggregate_kl": 0.0,
            "log_px": log_px, "track": {"step": [0], "beta": [1.0], "kl_per_dim": [kl.tolist()]}}


def test_text_runs_compare_only_with_a_text_baseline(runs):
    runs = {**runs, ("text VAE", "seed 0"): _text_summary([0.0, 0.0], -8.6),
            ("text: free bits", "seed 0"): _text_summary([0.3, 0.4], -8.8)}
    base = ("text VAE", "seed 0")
    st = collapse_explorer_state(runs, "text: free bits", "seed 0", base)
    assert st["d_kl"] == pytest.approx(0.7) and st["d_active"] == 2
    assert "d_elbo" not in collapse_explorer_state(runs, "free bits", "lambda=0.1", base)
    ex = CollapseExplorer(runs, baseline=base)
    ex.remedy.value = "text: free bits"
    html = ex.readout.value if hasattr(ex, "readout") else ex.readout_html(ex.state())
    assert "log p(x) (IWAE) -8.80" in ex.readout_html(ex.state()) or "-8.80" in html
    fig = ex.draw(ex.state())  # no images for a text run: the bars only
    assert len(fig.axes) == 1
