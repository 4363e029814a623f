"""Tests of chapter 06's exercise checkers: the three wild losses' effective betas (checked
against the reductions read off by hand, independently of the audit) and active units;
named mistakes, NaN, types, None."""

from __future__ import annotations

import functools

import pytest
import torch

from course_vae import exercises as ex
from course_vae.loss_bugs import build_loss

B, N, D = (ex.CH06_EX_SIZES[k] for k in ("batch_size", "input_dim", "latent_dim"))
# by hand: 1) MSE mean over batch and pixels (c_rec = 1/(B N) of the summed SE), KL batch
# mean (c_KL = 1/B); 2) BCE summed, KL mean over batch and latents; 3) BCE / B, KL (no 1/2)
# summed over the batch
BY_HAND = {1: N, 2: 1 / (B * D), 3: 2 * B}
ACTIVE = {1: 0, 2: D, 3: 0}


@pytest.mark.parametrize("which", [1, 2, 3])
def test_beta_contract(which, checker_contract):
    right = BY_HAND[which]
    checker_contract(functools.partial(ex.check_ch06_beta, which), right,
                     [right * 1.05, -right, right * 10])


@pytest.mark.parametrize("which", [1, 2, 3])
def test_active_units_contract(which, checker_contract):
    checker_contract(functools.partial(ex.check_ch06_active_units, which), ACTIVE[which],
                     [ACTIVE[which] + 2, D - ACTIVE[which]])


@pytest.mark.parametrize("which, wrong, named", [
    (1, 1.0, "as a sum"), (1, B * N, "summed over the batch"),
    (2, 1 / D, "also averages over the batch"), (2, 1 / B, "also averages over the latents"),
    (3, B, "factor 2"), (3, 2.0, "divided by the batch size"),
])
def test_beta_mistakes_are_named(which, wrong, named):
    with pytest.raises(AssertionError, match=named):
        ex.check_ch06_beta(which, wrong)


def test_opposite_regime_is_named():
    with pytest.raises(AssertionError, match="opposite regime"):
        ex.check_ch06_active_units(1, D)
    with pytest.raises(AssertionError, match="opposite regime"):
        ex.check_ch06_active_units(2, 0)


def test_wild_losses_equal_their_hand_decomposition():
    """Values, not the audit: each wild loss equals c_rec * summed term + c_KL * summed KL."""
    g = torch.Generator().manual_seed(0)
    recon_x = 0.05 + 0.9 * torch.rand(B, N, generator=g, dtype=torch.float64)
    x = torch.rand(B, N, generator=g, dtype=torch.float64)
    mu = torch.randn(B, D, generator=g, dtype=torch.float64)
    logvar = torch.randn(B, D, generator=g, dtype=torch.float64)
    kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum()
    se = ((recon_x - x) ** 2).sum()
    bce = torch.nn.functional.binary_cross_entropy(recon_x, x, reduction="sum")
    expected = {1: se / (B * N) + kl / B, 2: bce + kl / (B * D), 3: bce / B + 2 * kl}
    for which, fn in ex.CH06_WILD_LOSSES.items():
        assert fn(recon_x, x, mu, logvar).item() == pytest.approx(expected[which].item(), rel=1e-12)
    # the bernoulli losses are the loss builder's with the matching choices
    built2 = build_loss(latents="mean", kl_batch="mean")
    assert built2(recon_x, x, mu, logvar).item() == pytest.approx(expected[2].item(), rel=1e-12)


def test_expected_active_units_regimes():
    assert ex.ch06_expected_active_units(ex.CH06_COLLAPSE_BETA) == 0
    assert ex.ch06_expected_active_units(8192) == 0
    assert ex.ch06_expected_active_units(ex.CH06_HOLES_BETA) == D
    assert ex.ch06_expected_active_units(1e-4, latent_dim=20) == 20
    assert ex.ch06_expected_active_units(1.0) is None
    assert ex.ch06_expected_active_units(0.0) is None


@pytest.mark.parametrize("which", [0, 4, "1", True])
def test_bad_loss_number_is_named(which):
    with pytest.raises(ValueError, match="which"):
        ex.check_ch06_beta(which, 1.0)
