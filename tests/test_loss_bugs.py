"""Tests of course_vae.loss_bugs: each loss really has what its catalogue entry claims.

Checked by evaluating the losses on hand-made inputs against hand-written terms (values, not
gradients), independently of course_vae.audit.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from course_vae.kl import kl_normal_std
from course_vae.loss_bugs import (
    CATALOGUE,
    DATASET_SIZE,
    bug_by_name,
    correct_loss,
    log_det_overflow,
    monte_carlo_kl,
)

F64 = torch.float64


def _recon_sum(form: str, recon: str, recon_x: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The reconstruction term summed over pixels and batch, written out by hand."""
    p = recon_x if recon == "probs" else torch.sigmoid(recon_x)
    if form == "bernoulli":
        return -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum()
    return ((recon_x - x) ** 2).sum()


def _kl_sum(form: str, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The KL summed over latents and batch: closed form, or read as log sigma."""
    lv = logvar if form == "closed form" else 2 * logvar
    return 0.5 * (mu**2 + torch.exp(lv) - lv - 1).sum()


def _inputs(seed: int, b: int, n: int, d: int, recon: str):
    g = torch.Generator().manual_seed(seed)
    r = torch.rand(b, n, generator=g, dtype=F64)
    recon_x = 0.05 + 0.9 * r if recon == "probs" else 8 * r - 4
    x = torch.rand(b, n, generator=g, dtype=F64)
    mu = 6 * torch.rand(b, d, generator=g, dtype=F64) - 3
    logvar = 8 * torch.rand(b, d, generator=g, dtype=F64) - 4
    return recon_x, x, mu, logvar


def _coefficients(bug, b: int, n: int, d: int) -> tuple[float, float]:
    """c_rec and c_KL of loss = c_rec R + c_KL K from values: at mu = logvar = 0 the KL (either
    form) is 0, so loss = c_rec R; moving (mu, logvar) then changes the loss by c_KL dK.
    Each coefficient is checked to be the same at a second input, i.e. the form is right."""
    c_rec, c_kl = [], []
    for seed in (1, 2):
        recon_x, x, mu, logvar = _inputs(seed, b, n, d, bug.recon)
        zero = torch.zeros_like(mu)
        at_prior = bug.fn(recon_x, x, zero, zero)
        c_rec.append(float(at_prior / _recon_sum(bug.recon_form, bug.recon, recon_x, x)))
        moved = bug.fn(recon_x, x, mu, logvar) - at_prior
        if bug.kl_form == "none":
            assert float(moved) == 0.0
            c_kl.append(0.0)
        else:
            c_kl.append(float(moved / _kl_sum(bug.kl_form, mu, logvar)))
    assert c_rec[0] == pytest.approx(c_rec[1], rel=1e-9)
    assert c_kl[0] == pytest.approx(c_kl[1], rel=1e-9, abs=1e-300)
    return c_rec[0], c_kl[0]


DETERMINISTIC = [b for b in CATALOGUE if b.beta(2, 3, 4) is not None]


@pytest.mark.parametrize("bug", DETERMINISTIC, ids=lambda b: b.name)
@pytest.mark.parametrize("b, n, d", [(8, 12, 3), (5, 64, 2)])
def test_each_loss_has_the_beta_sign_and_forms_its_entry_claims(bug, b, n, d):
    c_rec, c_kl = _coefficients(bug, b, n, d)
    assert (c_rec > 0) == bug.minimised
    assert c_kl / c_rec == pytest.approx(bug.beta(b, n, d), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("bug", DETERMINISTIC, ids=lambda b: b.name)
def test_each_term_scales_with_the_batch_as_its_entry_claims(bug):
    """Summed: the coefficient does not change with the batch; averaged: it is divided by it."""
    (r1, k1), (r2, k2) = _coefficients(bug, 4, 6, 3), _coefficients(bug, 12, 6, 3)
    expected = {"sum": 1.0, "mean": 4 / 12}
    assert r2 / r1 == pytest.approx(expected[bug.recon_reduction], rel=1e-9)
    if bug.kl_reduction is None:
        assert k1 == k2 == 0.0
    else:
        assert k2 / k1 == pytest.approx(expected[bug.kl_reduction], rel=1e-9)
    terms = {bug.recon_reduction, bug.kl_reduction} - {None}
    assert bug.reduction == (terms.pop() if len(terms) == 1 else "mixed")


def test_the_reference_is_bce_plus_the_course_kl():
    recon_x, x, mu, logvar = _inputs(3, 6, 10, 4, "probs")
    expected = F.binary_cross_entropy(recon_x, x, reduction="sum") + kl_normal_std(mu, logvar).sum()
    assert float(correct_loss(recon_x, x, mu, logvar)) == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize("bug", CATALOGUE, ids=lambda b: b.name)
@pytest.mark.parametrize("d", [2, 3, 20])
def test_finiteness_in_float32_over_logvar_minus_30_to_30(bug, d):
    """Loss and gradients at logvar = -30 and +30 in every dimension (float32)."""
    recon_x, x, mu, _ = (t.float() for t in _inputs(4, 6, 10, d, bug.recon))
    finite = True
    for value in (-30.0, 30.0):
        leaves = [recon_x.clone(), mu.clone(), torch.full_like(mu, value)]
        for t in leaves:
            t.requires_grad_(True)
        loss = bug.fn(leaves[0], x, leaves[1], leaves[2])
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        finite &= bool(torch.isfinite(loss)) and all(
            g is None or bool(torch.isfinite(g).all()) for g in grads
        )
    assert finite == bug.finite_at(d)


def test_log_det_overflow_is_the_closed_form_in_float64_and_fails_just_past_4_4():
    recon_x, x, mu, logvar = _inputs(5, 6, 10, 20, "probs")
    expected = float(correct_loss(recon_x, x, mu, logvar))
    assert float(log_det_overflow(recon_x, x, mu, logvar)) == pytest.approx(expected, rel=1e-12)
    # float32: prod of 20 variances e^l overflows once 20 l > log(float32 max) = 88.72...
    edge = math.log(torch.finfo(torch.float32).max) / 20
    args = [t.float() for t in (recon_x, x, mu)]
    below = log_det_overflow(*args, torch.full((6, 20), edge - 0.05))
    above = log_det_overflow(*args, torch.full((6, 20), edge + 0.05))
    assert bool(torch.isfinite(below)) and not bool(torch.isfinite(above))


def test_one_sample_monte_carlo_kl_is_unbiased_noisy_and_can_be_negative():
    recon_x, x, _, _ = _inputs(6, 1, 10, 20, "probs")
    mu = torch.full((1, 20), 0.1, dtype=F64)
    logvar = torch.zeros(1, 20, dtype=F64)
    bce = float(F.binary_cross_entropy(recon_x, x, reduction="sum"))
    torch.manual_seed(0)
    draws = torch.tensor([float(monte_carlo_kl(recon_x, x, mu, logvar)) - bce
                          for _ in range(4000)], dtype=F64)
    exact = float(kl_normal_std(mu, logvar).sum())  # 20 * 0.1^2 / 2 = 0.1
    # mean within 5 standard errors; one draw is 1/2 sum(mu^2 + 2 mu eps): sd = |mu| = 0.447
    assert abs(float(draws.mean()) - exact) < 5 * float(draws.std()) / math.sqrt(len(draws))
    assert float(draws.std()) == pytest.approx(math.sqrt(20) * 0.1, rel=0.1)
    assert float((draws < 0).float().mean()) > 0.3  # P(N(0.1, 0.447^2) < 0) = 0.41


def test_dataset_size_is_the_digits_training_split():
    from course_vae.data import load_digits

    assert load_digits().n_train == DATASET_SIZE


def test_catalogue_names_are_unique_and_each_loss_documents_its_fix():
    names = [b.name for b in CATALOGUE]
    assert len(set(names)) == len(names)
    for bug in CATALOGUE:
        assert bug_by_name(bug.name) is bug
        if bug.name.startswith("correct"):
            continue
        assert "Fix" in bug.fn.__doc__, bug.name


def test_bug_by_name_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="name must be one of"):
        bug_by_name("no such bug")


# --------------------------------------------------------------------------- the loss builder

import itertools  # noqa: E402

from course_vae.audit import audit_vae_loss  # noqa: E402
from course_vae.loss_bugs import (  # noqa: E402
    BUILD_CHOICES,
    build_loss,
    built_beta,
    kl_mean_over_latents,
    logvar_as_log_sigma,
    recon_mean_kl_batch_mean,
    recon_mean_kl_sum,
)


def test_build_loss_defaults_and_bugs_equal_the_catalogue():
    args = _inputs(3, 5, 7, 3, "probs")
    for built, ref in ((build_loss(), correct_loss),
                       (build_loss(pixels="mean", recon_batch="mean"), recon_mean_kl_sum),
                       (build_loss(pixels="mean", recon_batch="mean", kl_batch="mean"),
                        recon_mean_kl_batch_mean),
                       (build_loss(latents="mean"), kl_mean_over_latents),
                       (build_loss(logvar_as="log sigma"), logvar_as_log_sigma)):
        assert built(*args).item() == pytest.approx(ref(*args).item(), rel=1e-12)


@pytest.mark.parametrize("choice", list(itertools.product(*BUILD_CHOICES.values())))
def test_any_built_beta_is_found_by_the_audit(choice):
    """Every combination of reductions, sign and convention, at two weights and two sizes."""
    kwargs = dict(zip(BUILD_CHOICES, choice, strict=True))
    for weight, (b, n, d) in ((1.0, (128, 64, 8)), (3e-5, (16, 10, 3))):
        want = built_beta(b, n, d, **kwargs, weight=weight)
        a = audit_vae_loss(build_loss(**kwargs, weight=weight), n, d, b)
        assert a.beta == pytest.approx(want, rel=1e-3)
        assert a.kl_form == ("log-sigma" if kwargs["logvar_as"] == "log sigma" else "closed form")
        mixed = kwargs["recon_batch"] != kwargs["kl_batch"]
        assert a.reduction == ("mixed" if mixed else kwargs["recon_batch"])


def test_built_beta_formula_by_hand():
    assert built_beta(128, 64, 8) == 1.0
    assert built_beta(128, 64, 8, pixels="mean", recon_batch="mean") == 128 * 64
    assert built_beta(128, 64, 8, latents="mean", kl_batch="mean") == pytest.approx(1 / 1024)
    assert built_beta(128, 64, 8, kl_sign=-1, weight=2.5) == -2.5


@pytest.mark.parametrize("kwargs, word", [
    ({"pixels": "avg"}, "pixels"), ({"latents": None}, "latents"), ({"kl_sign": 2}, "kl_sign"),
    ({"kl_sign": True}, "kl_sign"), ({"logvar_as": "sigma"}, "logvar_as"),
    ({"weight": float("nan")}, "weight"),
])
def test_build_loss_rejects_bad_choices(kwargs, word):
    with pytest.raises((ValueError, TypeError), match=word):
        build_loss(**kwargs)
