"""Tests of the chapter 05 explorer (BetaTraversalExplorer) and its state functions."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_vae.diagnostics import kl_per_dimension
from course_vae.explorer_state import traversal_state
from course_vae.models import VAE
from course_vae.plots import plot_traversal_state
from course_vae.runs import code_scores, latent_report
from course_vae.sprites import make_sprites
from course_vae.widgets import BetaTraversalExplorer


@pytest.fixture(scope="module")
def sprites():
    return make_sprites(size=8, shapes=("square",), n_scales=1, n_orientations=1, n_x=4, n_y=4)


@pytest.fixture(scope="module")
def models(sprites):
    return {b: VAE(input_dim=64, hidden=(16,), latent_dim=3, seed=s)
            for s, b in enumerate((1.0, 8.0))}


def _readout_numbers(ex):
    text = ex.readout.value
    value = float(re.search(r"z_\d+ = ([+-][0-9.]+)", text).group(1))
    kl = float(re.search(r"KL of z_\d+ = ([0-9.]+) nats", text).group(1))
    beta = float(re.search(r"β = ([0-9.]+)", text).group(1))
    return beta, value, kl


def test_latent_report_matches_package_functions(sprites, models):
    model = models[1.0]
    rep = latent_report(model, sprites, base_index=3)
    with torch.no_grad():
        mu, logvar = model.encode(sprites.images)
    np.testing.assert_allclose(rep["z_base"], mu[3].double().numpy(), atol=1e-6)
    np.testing.assert_allclose(rep["kl"], kl_per_dimension(mu.double(), logvar.double()).numpy(),
                               atol=1e-6)
    assert rep["factor_names"] == ("x", "y")
    assert rep["scores"].shape == (3, 2)
    assert ((rep["scores"] >= 0) & (rep["scores"] <= 1)).all()
    # scored on 8 samples of q(z|x) per image, cut to each dimension's KL (issue 22)
    expected = code_scores(mu.double(), logvar.double(), sprites.labels, 8, 0)["mig"]
    assert rep["mig"] == pytest.approx(expected.score, abs=1e-9)
    informative = expected.entropy[expected.entropy > 0]
    assert (rep["scores"] * informative <= rep["kl"][:, None] + 1e-12).all()
    assert latent_report(model, sprites)["z_base"] == pytest.approx(
        mu[len(sprites) // 2].double().numpy(), abs=1e-6)


def test_latent_report_recognises_a_perfect_code(sprites):
    # a linear 'encoder' whose mean is (x, y, 0) scores I/H = 1 on the diagonal
    model = VAE(input_dim=64, hidden=(4,), latent_dim=3, seed=0)

    class Exact(torch.nn.Module):
        def forward(self, x):
            idx = torch.arange(len(x))
            lab = sprites.labels[idx].double()
            out = torch.zeros(len(x), 6)
            out[:, 0], out[:, 1] = lab[:, 3], lab[:, 4]
            out[:, 3:] = -20.0  # log-variance: posterior samples = the means (+ tiny noise)
            return out

    model.encoder = Exact()
    rep = latent_report(model, sprites)
    np.testing.assert_allclose(rep["scores"][0], [1.0, 0.0], atol=0.05)
    np.testing.assert_allclose(rep["scores"][1], [0.0, 1.0], atol=0.05)
    assert rep["mig"] >= 0.9
    st = traversal_state(model, rep, 1, 0.5, sprites.image_shape)
    assert st["ranking"][0] == "y"


def test_traversal_state_decodes_the_moved_code(sprites, models):
    model = models[8.0]
    rep = latent_report(model, sprites)
    st = traversal_state(model, rep, 2, -1.25, sprites.image_shape)
    z = rep["z_base"].copy()
    z[2] = -1.25
    np.testing.assert_allclose(st["z"], z)
    with torch.no_grad():
        expected = torch.sigmoid(model.decode(torch.tensor(z, dtype=torch.float32)[None]))[0]
    np.testing.assert_allclose(st["image"], expected.double().numpy().reshape(8, 8), atol=1e-6)
    assert st["kl"] == pytest.approx(float(rep["kl"][2]))
    assert set(st["ranking"]) == {"x", "y"}
    assert st["scores"][list(st["factor_names"]).index(st["ranking"][0])] == st["scores"].max()


def test_traversal_state_rejects_bad_input(sprites, models):
    rep = latent_report(models[1.0], sprites)
    with pytest.raises(ValueError, match="dim"):
        traversal_state(models[1.0], rep, 3, 0.0, sprites.image_shape)
    with pytest.raises(ValueError, match="value"):
        traversal_state(models[1.0], rep, 0, float("nan"), sprites.image_shape)
    with pytest.raises(ValueError, match="image_shape"):
        traversal_state(models[1.0], rep, 0, 0.0, (4, 4))
    with pytest.raises(ValueError, match="base_index"):
        latent_report(models[1.0], sprites, base_index=16)
    with pytest.raises(TypeError, match="sprites"):
        latent_report(models[1.0], sprites.images)
    with pytest.raises(ValueError, match="input_dim"):
        latent_report(VAE(input_dim=10, latent_dim=2, seed=0), sprites)


def test_explorer_sliders_update_readout_and_redraw(sprites, models):
    ex = BetaTraversalExplorer(models, sprites, base_index=5)
    assert ex.redraws == 1
    assert ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    kl0 = latent_report(models[1.0], sprites)["kl"][0]
    assert _readout_numbers(ex) == (1.0, 0.0, pytest.approx(kl0, abs=1e-3))

    before = ex.redraws
    ex.value.value = 1.5
    assert ex.redraws == before + 1
    assert _readout_numbers(ex)[1] == 1.5

    ex.dim.value = 3
    rep8 = latent_report(models[8.0], sprites, base_index=5)
    ex.beta.value = 8.0
    assert ex.redraws == before + 3
    beta, value, kl = _readout_numbers(ex)
    assert beta == 8.0 and value == 1.5
    assert kl == pytest.approx(float(rep8["kl"][2]), abs=1e-3)
    st = ex.state()
    assert st["mig"] == pytest.approx(rep8["mig"])
    assert f"{rep8['mig']:.3f}" in ex.readout.value
    assert st["ranking"][0] in ex.readout.value


def test_explorer_repr_and_errors(sprites, models):
    text = repr(BetaTraversalExplorer(models, sprites))
    assert text == "<BetaTraversalExplorer: move the sliders in JupyterLab to explore>"
    with pytest.raises(ValueError, match="models"):
        BetaTraversalExplorer({}, sprites)
    with pytest.raises(ValueError, match="models"):
        BetaTraversalExplorer({"a": models[1.0]}, sprites)
    with pytest.raises(ValueError, match="latent_dim"):
        BetaTraversalExplorer({1.0: models[1.0], 2.0: VAE(input_dim=64, latent_dim=2, seed=0)},
                              sprites)


def test_collapsed_dimension_is_flagged(sprites):
    model = VAE(input_dim=64, hidden=(4,), latent_dim=2, seed=0)

    class Prior(torch.nn.Module):  # mu = 0, logvar = 0: q(z|x) = p(z), KL = 0
        def forward(self, x):
            return torch.zeros(len(x), 4)

    model.encoder = Prior()
    ex = BetaTraversalExplorer({4.0: model}, sprites)
    assert "is off" in ex.readout.value and "names none" in ex.readout.value
    assert _readout_numbers(ex)[2] == 0.0


def test_plot_traversal_state(sprites, models):
    rep = latent_report(models[1.0], sprites)
    st = traversal_state(models[1.0], rep, 0, 2.0, sprites.image_shape)
    fig = plot_traversal_state({**st, "beta": 1.0})
    try:
        ax0, ax1 = fig.axes
        np.testing.assert_allclose(np.asarray(ax0.get_images()[0].get_array()), st["image"])
        heights = [p.get_height() for p in ax1.patches]
        np.testing.assert_allclose(heights, st["scores"])
        assert "+2.00" in ax0.get_title() and ax1.get_xlabel() and ax1.get_ylabel()
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="state"):
        plot_traversal_state({"image": st["image"]})


def test_explorer_covers_the_convolutional_models():
    from course_vae.conv import ConvVAE

    sprites = make_sprites(size=8, shapes=("square", "ellipse"), n_scales=1, n_orientations=1,
                           n_x=2, n_y=2)
    models = {b: ConvVAE(side=8, latent_dim=3, channels=4, seed=s)
              for s, b in enumerate((1.0, 16.0))}
    rep = latent_report(models[1.0], sprites, base_index=1)
    assert rep["factor_names"] == ("shape", "x", "y") and rep["scores"].shape == (3, 3)
    ex = BetaTraversalExplorer(models, sprites, base_index=1)
    try:
        ex.beta.value = 16.0
        ex.value.value = 1.5
        beta, value, _ = _readout_numbers(ex)
        assert (beta, value) == (16.0, 1.5)
        assert ex.state()["image"].shape == (8, 8)
    finally:
        plt.close("all")
