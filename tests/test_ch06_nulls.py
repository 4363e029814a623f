"""Chapter 06 after its referee: the null beside KL(q(z)||p(z)) in summarize_loss_run, and the
exercise thresholds restricted to the reconstruction they were measured with."""

from __future__ import annotations

import torch

from course_vae import loss_bugs
from course_vae.audit import audit_vae_loss
from course_vae.exercises import ch06 as ex
from course_vae.latent import placement_kl
from course_vae.models import VAE, VAEConfig
from course_vae.runs import summarize_loss_run


def _model(seed=0):
    torch.manual_seed(seed)
    return VAE(VAEConfig(input_dim=16, hidden=(8,), latent_dim=2))


def test_summarize_loss_run_puts_the_null_and_placement_beside_the_aggregate_kl():
    x = (torch.rand(60, 16, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    history = {"test_elbo": [-10.0], "test_recon": [-9.0], "test_kl": [1.0]}
    run = summarize_loss_run(_model(), history, x, beta=1.0, real=x, n_quality=30)
    for key in ("null_aggregate_kl", "placement_kl", "mean_posterior_var",
                "prior_precision", "prior_recall"):
        assert key in run and torch.isfinite(torch.tensor(run[key]))
    mu, logvar = _model().encode(x)
    assert run["placement_kl"] == placement_kl(mu.detach(), logvar.detach())
    assert 0 <= run["prior_precision"] <= 1 and 0 <= run["prior_recall"] <= 1
    assert run["null_aggregate_kl"] > -0.5          # a KL estimate of codes from the prior
    assert "prior_precision" not in summarize_loss_run(_model(), history, x, beta=1.0)


def test_collapse_thresholds_are_per_reconstruction():
    # measured in chapter 06: BCE at beta 3 keeps 5-7 units, from 4 none; 1/2 SE (beta 2) none
    assert ex.CH06_COLLAPSE_BETA == 4.0 and ex.CH06_SE_COLLAPSE_BETA == 2.0
    assert ex.ch06_expected_active_units(3.0) is None
    assert ex.ch06_expected_active_units(4.0) == 0
    assert ex.ch06_expected_active_units(2.0, recon_form="squared error") == 0
    assert ex.ch06_expected_active_units(2.0) is None
    assert ex.ch06_expected_active_units(0.125, recon_form="squared error") is None
    se = audit_vae_loss(loss_bugs.half_squared_error, 64, 8, 128)
    assert se.recon_form == "squared error" and abs(se.beta - 2.0) < 1e-9
