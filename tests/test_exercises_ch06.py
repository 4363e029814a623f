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
    assert ex.ch06_expected_active_units(ex.CH06_ALL_ACTIVE_BETA) == D
    assert ex.ch06_expected_active_units(1e-4, latent_dim=20) == 20
    assert ex.ch06_expected_active_units(1.0) is None
    assert ex.ch06_expected_active_units(0.0) is None


@pytest.mark.parametrize("which", [0, 4, "1", True])
def test_bad_loss_number_is_named(which):
    with pytest.raises(ValueError, match="which"):
        ex.check_ch06_beta(which, 1.0)


# ---------------------------------------------------------------- referee C


@pytest.fixture
def _fresh():
    from course_vae.exercises.verdict import reset_attempts

    reset_attempts()


@pytest.mark.parametrize("which", [1, 2, 3])
def test_referee_c_active_units_first_hint_gives_no_beta_or_regime(which, _fresh):
    """Finding 1: the hint printed the regime and the beta of the loss."""
    with pytest.raises(AssertionError) as err:
        ex.check_ch06_active_units(which, 4)
    msg = str(err.value)
    for leak in ("collapse:", "holes:", "weighs too", "64", "256", "0.0009766", "1/1024"):
        assert leak not in msg, (leak, msg)
    with pytest.raises(AssertionError) as err:
        ex.check_ch06_active_units(which, 4)
    # the method: the measured thresholds (collapse from CH06_COLLAPSE_BETA, all active to 1/8)
    assert f"beta >= {ex.CH06_COLLAPSE_BETA:g}" in str(err.value) and "1/8" in str(err.value)
    for leak in ("64", "256", "0.0009766"):
        assert leak not in str(err.value)


@pytest.mark.parametrize("which, answer", [(1, 0.4), (1, -0.4), (2, 7.6), (2, 8.4)])
def test_referee_c_active_units_refuses_fractions_and_negatives(which, answer, _fresh):
    """Finding 2: fractions within 0.5 of the count were accepted."""
    with pytest.raises(AssertionError, match="not a whole number|not right"):
        ex.check_ch06_active_units(which, answer)


def test_referee_c_active_units_wrong_count_is_not_close(_fresh):
    """Finding 2: (1, 1) was told it was close."""
    with pytest.raises(AssertionError, match="not right") as err:
        ex.check_ch06_active_units(1, 1)
    assert "close" not in str(err.value)
    with pytest.raises(AssertionError, match="not right"):
        ex.check_ch06_active_units(1, -1)


@pytest.mark.parametrize("answer", [0.001, 0.00098])
def test_referee_c_loss_2_beta_to_two_figures_is_close(answer, _fresh):
    """Finding 3: two significant figures were 'not right'; now 'close', asking for the
    exact value."""
    with pytest.raises(AssertionError, match="close.*exactly, e.g. as a fraction"):
        ex.check_ch06_beta(2, answer)


@pytest.mark.parametrize("answer", [1 / 1024, 0.0009766, 9.766e-4])
def test_referee_c_loss_2_beta_exact_or_four_figures_passes(answer, capsys, _fresh):
    ex.check_ch06_beta(2, answer)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, named", [
    (128.0, "the wrong way round"),
    (32.0, "unit-variance Gaussian"),
    (0.5, "also averages over the batch"),
])
def test_referee_c_loss_1_convention_slips_are_named(answer, named, _fresh):
    """Finding 4: 128 (relative to SE/2, wrongly doubled) and 0.5 (forgetting the batch
    mean of F.mse_loss) got a plain 'not right'."""
    with pytest.raises(AssertionError, match=named):
        ex.check_ch06_beta(1, answer)


def test_referee_c_loss_1_convention_is_stated_in_the_prompt():
    """Finding 4: the squared-error convention appeared only in the hint."""
    from pathlib import Path

    text = (Path(__file__).parents[1] / "python_scripts" / "06_kl_in_real_code.py").read_text()
    prompt = text[text.index("## 2. Exercises first"):text.index("## 3.")]
    assert "squared error" in prompt and "no $\\tfrac12$" in prompt
    assert "4\n# significant figures" in prompt or "4 significant figures" in prompt


def test_referee_c_beta_hints_escalate(_fresh):
    """Finding 8: one hint listing every reduction on the first wrong try."""
    messages = []
    for _ in range(2):
        with pytest.raises(AssertionError) as err:
            ex.check_ch06_beta(1, 3.0)
        messages.append(str(err.value))
    assert "Hint 1 of 2" in messages[0] and "Hint 2 of 2" in messages[1]
    assert "mse_loss" not in messages[0] and "mse_loss" in messages[1]


def test_referee_c_list_as_loss_number_is_a_clear_error():
    """Finding 10: check_ch06_beta([1], 64) raised 'unhashable type: list'."""
    with pytest.raises(ValueError, match="which must be one of"):
        ex.check_ch06_beta([1], 64)


def test_referee_c_messages_state_a_relative_tolerance(capsys, _fresh):
    """Finding 10: 'accepted within +-0.064' gave beta = 64 away."""
    ex.check_ch06_beta(1, 64.0)
    out = capsys.readouterr().out
    assert "0.1 %" in out and "0.064" not in out
    with pytest.raises(AssertionError) as err:
        ex.check_ch06_beta(1, 65.0)
    assert "0.1 %" in str(err.value) and "0.064" not in str(err.value)
