"""Tests of course_vae.train: history, determinism, beta schedules, hooks, errors, speed."""

from __future__ import annotations

import math

import pytest
import torch

from course_vae.data import DynamicBinarization, load_digits
from course_vae.elbo import beta_elbo_loss
from course_vae.models import VAE, VAEConfig
from course_vae.train import HISTORY_KEYS, NonFiniteLossError, evaluate, train


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture
def deterministic():
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


def _model(hidden=(64,), latent=2, likelihood="bernoulli", seed=0):
    return VAE(
        VAEConfig(input_dim=64, hidden=hidden, latent_dim=latent, likelihood=likelihood), seed=seed
    )


def test_history_has_every_key_and_the_elbo_improves(digits):
    tr, te = digits.for_likelihood("bernoulli")
    model = _model()
    h = train(model, tr, te, epochs=8, lr=3e-3, batch_size=128, seed=0, progress=False)
    assert set(h) == set(HISTORY_KEYS)
    assert all(len(h[k]) == 8 for k in HISTORY_KEYS) and h["epoch"] == list(range(1, 9))
    for split in ("train", "test"):
        for r, k, e in zip(h[f"{split}_recon"], h[f"{split}_kl"], h[f"{split}_elbo"], strict=True):
            assert math.isfinite(e) and abs(e - (r - k)) < 1e-9 and k >= 0 and r <= 0
    assert h["test_elbo"][-1] > h["test_elbo"][0] + 3.0
    assert all(
        abs(loss + e) < 1e-4 for loss, e in zip(h["train_loss"], h["train_elbo"], strict=True)
    )
    assert h["beta"] == [1.0] * 8
    assert not model.training


def test_test_values_equal_evaluate_after_training(digits):
    tr, te = digits.for_likelihood("bernoulli")
    model = _model()
    h = train(model, tr, te, epochs=2, seed=5, progress=False)
    ev = evaluate(model, te, generator=5 + 2)  # train evaluates with seed + 2
    assert ev["recon"] == pytest.approx(h["test_recon"][-1], abs=1e-6)
    assert ev["kl"] == pytest.approx(h["test_kl"][-1], abs=1e-6)
    assert ev["elbo"] == pytest.approx(ev["recon"] - ev["kl"])


def test_same_seed_gives_a_bit_identical_history(digits, deterministic):
    runs = []
    for seed in (0, 0, 1):
        tr, te = digits.for_likelihood("bernoulli")
        runs.append(train(_model(), tr, te, epochs=3, seed=seed, progress=False))
    assert runs[0] == runs[1]
    assert runs[0]["train_elbo"] != runs[2]["train_elbo"]


def test_dynamic_binarisation_is_redrawn_every_epoch(digits):
    tr = digits.train_binary()
    draws = []
    train(
        _model(),
        tr,
        None,
        epochs=3,
        seed=0,
        progress=False,
        on_epoch_end=lambda epoch, hist: draws.append(tr.current.clone()),
    )
    assert len(draws) == 3
    assert not torch.equal(draws[0], draws[1]) and not torch.equal(draws[1], draws[2])
    assert all(set(d.unique().tolist()) <= {0.0, 1.0} for d in draws)


def test_beta_schedule_sees_every_step(digits):
    steps = []

    def schedule(step):
        steps.append(step)
        return min(1.0, step / 20)

    h = train(
        _model(),
        digits.test_binary,
        None,
        epochs=3,
        batch_size=100,
        beta=schedule,
        seed=0,
        progress=False,
    )
    assert steps == list(range(12))  # 400 examples / 100 = 4 steps per epoch
    assert h["beta"] == [0.15, 0.35, 0.55]
    assert h["test_elbo"] == [] and len(h["train_elbo"]) == 3


def test_beta_changes_the_optimum(digits):
    kls = {}
    for beta in (0.2, 4.0):
        h = train(
            _model(),
            digits.train_binary(),
            digits.test_binary,
            epochs=6,
            lr=3e-3,
            beta=beta,
            seed=0,
            progress=False,
        )
        kls[beta] = h["test_kl"][-1]
    assert kls[0.2] > kls[4.0] + 1.0


def test_objective_hook(digits, deterministic):
    calls = []

    def same_as_default(terms, beta):
        calls.append(beta)
        return beta_elbo_loss(terms.recon, terms.kl, beta)

    plain = train(_model(), digits.test_binary, None, epochs=2, seed=0, progress=False)
    hooked = train(
        _model(),
        digits.test_binary,
        None,
        epochs=2,
        seed=0,
        progress=False,
        objective=same_as_default,
    )
    assert hooked == plain and len(calls) == 8
    free_bits = train(
        _model(),
        digits.test_binary,
        None,
        epochs=2,
        seed=0,
        progress=False,
        objective=lambda t, b: -(t.recon - torch.clamp(t.kl.mean(), min=3.0)).mean(),
    )
    assert free_bits["train_elbo"] != plain["train_elbo"]
    with pytest.raises(TypeError, match="objective"):
        train(_model(), digits.test_binary, objective=3, progress=False)


def test_non_finite_loss_names_epoch_and_step(digits):
    count = {"n": 0}

    def breaks_at_step_14(terms, beta):
        loss = terms.loss
        count["n"] += 1
        return loss * math.nan if count["n"] == 15 else loss

    model = _model()
    with pytest.raises(NonFiniteLossError) as err:
        train(
            model,
            digits.test_binary,
            None,
            epochs=5,
            batch_size=100,
            seed=0,
            progress=False,
            objective=breaks_at_step_14,
        )
    # 4 steps per epoch: call 15 is global step 14 = epoch 4, step 3
    assert err.value.epoch == 4 and err.value.step == 14
    assert "epoch 4, step 3 of 4" in str(err.value) and "nan" in str(err.value)
    # raised before the update: the weights are still finite
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_non_finite_encoder_output_is_reported_with_the_step(digits):
    model = _model()
    with torch.no_grad():
        model.encoder[0].weight[0, 0] = math.inf
    with pytest.raises(NonFiniteLossError, match="epoch 1, step 1 of 4"):
        train(model, digits.test_binary, None, epochs=1, batch_size=100, progress=False)


def test_progress_bar_only_when_asked(digits, capsys):
    train(_model(), digits.test_binary, None, epochs=2, seed=0, progress=False)
    assert capsys.readouterr().err == ""
    train(_model(), digits.test_binary, None, epochs=2, seed=0)  # not a terminal under pytest
    assert capsys.readouterr().err == ""
    train(_model(), digits.test_binary, None, epochs=2, seed=0, progress=True)
    assert "2/2" in capsys.readouterr().err


def test_gaussian_decoder_trains_on_grey_levels(digits):
    model = _model(likelihood="gaussian")
    tr, te = digits.for_likelihood("gaussian")
    h = train(model, tr, te, epochs=5, lr=3e-3, seed=0, progress=False)
    assert h["test_elbo"][-1] > h["test_elbo"][0]
    with pytest.raises(TypeError, match="train_data"):
        train(model, DynamicBinarization, te, progress=False)


def test_input_validation(digits):
    model = _model()
    x = digits.test_binary
    for kwargs, match in (
        ({"epochs": 0}, "epochs"),
        ({"batch_size": -1}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"lr": math.inf}, "lr"),
        ({"beta": -1.0}, "beta"),
        ({"eval_batch_size": 0}, "eval_batch_size"),
    ):
        with pytest.raises(ValueError, match=match):
            train(model, x, progress=False, **kwargs)
    with pytest.raises(TypeError, match="seed"):
        train(model, x, seed=1.5, progress=False)
    with pytest.raises(ValueError, match="train_data"):
        train(model, x[:, :10], progress=False)
    with pytest.raises(ValueError, match="test_data"):
        train(model, x, x * 3, progress=False)
    with pytest.raises(ValueError, match="train_data"):
        train(model, x.masked_fill(x > 0, math.nan), progress=False)
    with pytest.raises(TypeError, match="model"):
        train(torch.nn.Linear(2, 2), x, progress=False)


def test_a_pytorch_examples_loss_fn_trains_the_same_model(digits, deterministic):
    """loss_fn(recon_x, x, mu, logvar) = BCE summed + KL summed is batch_size x the course's
    loss: Adam is invariant to that scale (up to its eps), so the histories agree closely."""
    import torch.nn.functional as F

    def loss_fn(recon_x, x, mu, logvar):
        bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    tr, te = digits.for_likelihood("bernoulli")
    ours = train(_model(), tr, te, epochs=3, seed=0, progress=False)
    theirs = train(_model(), tr, te, epochs=3, seed=0, progress=False, loss_fn=loss_fn)
    assert theirs["test_elbo"] == pytest.approx(ours["test_elbo"], abs=0.05)
    assert theirs["train_loss"][0] > 50 * ours["train_loss"][0]  # summed, not averaged
    calls = []
    train(_model(), tr, epochs=1, seed=0, progress=False,
          on_step=lambda step, x, beta: calls.append((step, len(x), beta)))
    n_steps = -(-len(tr.grey) // 128)
    assert [c[0] for c in calls] == list(range(1, n_steps + 1))
    assert calls[0][1] == 128 and all(c[2] == 1.0 for c in calls)
    with pytest.raises(ValueError, match="scalar"):
        train(_model(), tr, epochs=1, progress=False, loss_fn=lambda r, x, m, lv: r)
    with pytest.raises(ValueError, match="at most one"):
        train(_model(), tr, epochs=1, progress=False, loss_fn=loss_fn,
              objective=lambda terms, beta: terms.loss)
    with pytest.raises(TypeError, match="on_step"):
        train(_model(), tr, epochs=1, progress=False, on_step=3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trains_on_cuda(digits):
    model = _model()
    h = train(
        model,
        digits.train_binary(),
        digits.test_binary,
        epochs=2,
        seed=0,
        device="cuda",
        progress=False,
    )
    assert next(model.parameters()).is_cuda and math.isfinite(h["test_elbo"][-1])
