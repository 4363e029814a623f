"""Tests of course_vae.schedules: beta schedules, free bits and the KL capacity objective."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.elbo import ELBOTerms, beta_elbo_loss
from course_vae.kl import kl_normal_std
from course_vae.schedules import (
    CyclicalAnnealing,
    FreeBits,
    KLCapacity,
    LinearAnnealing,
    from_dict,
    kl_per_dimension_batch,
)

F64 = torch.float64


def _terms(mu: torch.Tensor, logvar: torch.Tensor, recon: torch.Tensor, beta: float = 1.0):
    """ELBOTerms as the training loop builds them (z and decoded are not used here)."""
    return ELBOTerms.from_parts(recon, mu, logvar, z=mu, decoded=recon, beta=beta)


def _fu_reference(n_iter: int, n_cycle: int, ratio: float, start=0.0, stop=1.0) -> np.ndarray:
    """Fu et al.'s frange_cycle_linear, rewritten: the array of betas for n_iter steps."""
    out = np.ones(n_iter) * stop
    period = n_iter / n_cycle
    step = (stop - start) / (period * ratio)
    for c in range(n_cycle):
        v, i = start, 0
        while v <= stop and int(i + c * period) < n_iter:
            out[int(i + c * period)] = v
            v += step
            i += 1
    return out


# --------------------------------------------------------------------------- schedules


def test_linear_annealing_key_steps():
    s = LinearAnnealing(100)
    assert s(0) == 0.0
    assert s(25) == pytest.approx(0.25)
    assert s(50) == pytest.approx(0.5)
    assert s(100) == 1.0
    assert s(10_000) == 1.0
    s = LinearAnnealing(10, start=0.2)
    assert s(0) == pytest.approx(0.2)
    assert s(5) == pytest.approx(0.6)
    assert s(10) == pytest.approx(1.0)
    s = LinearAnnealing(4, start=0.0, end=4.0)
    assert [s(t) for t in range(6)] == pytest.approx([0, 1, 2, 3, 4, 4])


@settings(max_examples=60, deadline=None)
@given(
    warmup=st.integers(1, 500),
    start=st.floats(0, 1),
    extra=st.floats(0, 5),
)
def test_linear_annealing_is_monotone_and_reaches_end(warmup, start, extra):
    end = start + extra
    s = LinearAnnealing(warmup, start=start, end=end)
    values = np.array([s(t) for t in range(0, 2 * warmup + 2)])
    assert np.all(np.diff(values) >= -1e-12)
    assert values[0] == pytest.approx(start)
    assert np.all(values[warmup:] == pytest.approx(end))
    assert np.all((values >= start - 1e-12) & (values <= end + 1e-12))


def test_cyclical_key_steps():
    s = CyclicalAnnealing(1000, n_cycles=4, ratio=0.5)
    assert s.period == 250
    assert s(0) == 0.0
    assert s(62) == pytest.approx(62 / 125)
    assert s(125) == 1.0
    assert s(249) == 1.0
    assert s(250) == 0.0  # the next cycle starts again from 0
    assert s(250 + 100) == pytest.approx(100 / 125)
    assert s(999) == 1.0
    assert s(1000) == 1.0 and s(5000) == 1.0  # after the last cycle beta stays at 1


def test_cyclical_is_periodic_and_rises_within_each_cycle():
    s = CyclicalAnnealing(1200, n_cycles=3, ratio=0.5)
    period = 400
    values = np.array([s(t) for t in range(1200)])
    np.testing.assert_allclose(values[:-period], values[period:], atol=1e-12)
    for c in range(3):
        cycle = values[c * period : (c + 1) * period]
        assert cycle[0] == 0.0
        rising = cycle[:200]
        assert np.all(np.diff(rising) > 0)
        assert np.all(cycle[200:] == 1.0)
        assert cycle.max() == 1.0 and cycle.min() == 0.0


@pytest.mark.parametrize(
    "total, cycles, ratio", [(1000, 4, 0.5), (100, 4, 0.25), (60, 3, 1.0), (90, 2, 0.5)]
)
def test_cyclical_matches_fu_et_al_reference(total, cycles, ratio):
    s = CyclicalAnnealing(total, n_cycles=cycles, ratio=ratio)
    ours = np.array([s(t) for t in range(total)])
    np.testing.assert_allclose(ours, _fu_reference(total, cycles, ratio), atol=1e-9)


def test_cyclical_with_start_end_and_uneven_period():
    s = CyclicalAnnealing(10, n_cycles=3, ratio=0.5, start=0.5, end=2.0)
    # period 10/3; tau(t) = (t mod 10/3) / (10/3); beta = 0.5 + 1.5 min(1, 2 tau)
    for t in range(10):
        tau = math.fmod(t, 10 / 3) / (10 / 3)
        assert s(t) == pytest.approx(0.5 + 1.5 * min(1.0, 2 * tau))
    assert s(10) == 2.0


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LinearAnnealing(0), "warmup_steps"),
        (lambda: LinearAnnealing(10.0), "warmup_steps"),
        (lambda: LinearAnnealing(10, start=-0.1), "start"),
        (lambda: LinearAnnealing(10, end=math.nan), "end"),
        (lambda: CyclicalAnnealing(0), "total_steps"),
        (lambda: CyclicalAnnealing(100, n_cycles=0), "n_cycles"),
        (lambda: CyclicalAnnealing(3, n_cycles=4), "n_cycles"),
        (lambda: CyclicalAnnealing(100, ratio=0.0), "ratio"),
        (lambda: CyclicalAnnealing(100, ratio=1.5), "ratio"),
        (lambda: FreeBits(-0.1), "floor"),
        (lambda: FreeBits(0.1, group_size=0), "group_size"),
        (lambda: KLCapacity(-1.0, 100), "c_max"),
        (lambda: KLCapacity(25.0, 0), "n_steps"),
        (lambda: KLCapacity(25.0, 100, gamma=0.0), "gamma"),
        (lambda: KLCapacity(25.0, 100, c_start=math.inf), "c_start"),
    ],
)
def test_invalid_arguments_are_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3", None])
def test_invalid_step_is_named(bad):
    for s in (LinearAnnealing(10), CyclicalAnnealing(100)):
        with pytest.raises(ValueError, match="step"):
            s(bad)
    with pytest.raises(ValueError, match="step"):
        KLCapacity(1.0, 10).capacity(bad)


ALL = [
    LinearAnnealing(1000, start=0.1),
    CyclicalAnnealing(4000, n_cycles=4, ratio=0.5),
    FreeBits(0.25, group_size=2),
    KLCapacity(25.0, 10_000, gamma=1000.0),
]


@pytest.mark.parametrize("obj", ALL, ids=lambda o: type(o).__name__)
def test_repr_is_readable_and_rebuilds_the_object(obj):
    text = repr(obj)
    assert text.startswith(type(obj).__name__ + "(")
    assert "0x" not in text  # no memory address
    namespace = {type(obj).__name__: type(obj)}
    assert eval(text, namespace) == obj  # noqa: S307 - our own repr


@pytest.mark.parametrize("obj", ALL, ids=lambda o: type(o).__name__)
def test_to_dict_is_plain_and_round_trips_without_pickle(obj):
    d = obj.to_dict()
    assert d["type"] == type(obj).__name__
    assert all(isinstance(v, (str, int, float)) for v in d.values())
    buf = io.BytesIO()
    torch.save(d, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    assert from_dict(loaded) == obj
    changed = {k: (v * 2 if isinstance(v, float) and v else v) for k, v in d.items()}
    if changed != d:
        assert from_dict(changed) != obj


def test_from_dict_errors():
    with pytest.raises(ValueError, match="type"):
        from_dict({"value": 1.0})
    with pytest.raises(ValueError, match="type"):
        from_dict({"type": "Pickle"})
    with pytest.raises(ValueError, match="LinearAnnealing"):
        from_dict({"type": "LinearAnnealing", "colour": 1})


# --------------------------------------------------------------------------- free bits


def test_kl_per_dimension_batch_sums_to_kl_normal_std():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(7, 5, generator=g, dtype=F64)
    logvar = torch.randn(7, 5, generator=g, dtype=F64)
    per_dim = kl_per_dimension_batch(mu, logvar)
    assert per_dim.shape == (7, 5)
    by_hand = 0.5 * (mu**2 + logvar.exp() - logvar - 1)
    torch.testing.assert_close(per_dim, by_hand)
    torch.testing.assert_close(per_dim.sum(-1), kl_normal_std(mu, logvar))


def test_free_bits_value():
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(6, 4, generator=g, dtype=F64) * torch.tensor([0.05, 0.1, 1.0, 2.0], dtype=F64)
    logvar = torch.randn(6, 4, generator=g, dtype=F64) * 0.1
    recon = torch.randn(6, generator=g, dtype=F64) - 30
    terms = _terms(mu, logvar, recon)
    kl_d = (0.5 * (mu**2 + logvar.exp() - logvar - 1)).mean(0).numpy()
    for floor, beta in [(0.25, 1.0), (0.1, 0.5), (2.0, 3.0)]:
        expected = -recon.mean().item() + beta * np.maximum(floor, kl_d).sum()
        assert FreeBits(floor)(terms, beta).item() == pytest.approx(expected, rel=1e-12)
    # a floor of 0 is the beta-weighted ELBO loss the training loop uses by default
    for beta in (0.0, 0.7, 1.0):
        plain = beta_elbo_loss(recon, terms.kl, beta)
        torch.testing.assert_close(FreeBits(0.0)(terms, beta), plain)


def test_free_bits_groups_floor_the_group_sum():
    g = torch.Generator().manual_seed(2)
    mu = torch.randn(5, 6, generator=g, dtype=F64)
    logvar = torch.zeros(5, 6, dtype=F64)
    terms = _terms(mu, logvar, torch.zeros(5, dtype=F64))
    kl_d = (0.5 * mu**2).mean(0)
    groups = kl_d.reshape(3, 2).sum(-1)
    fb = FreeBits(0.6, group_size=2)
    torch.testing.assert_close(fb.group_kl(mu, logvar), groups)
    torch.testing.assert_close(fb(terms, 1.0), torch.clamp(groups, min=0.6).sum())
    with pytest.raises(ValueError, match="group_size"):
        FreeBits(0.1, group_size=4)(terms, 1.0)


def test_free_bits_gradient_is_zero_below_the_floor_and_the_kl_gradient_above():
    g = torch.Generator().manual_seed(3)
    scale = torch.tensor([0.01, 0.05, 1.5, 3.0], dtype=F64)  # two dims below 0.25 nats, two above
    mu0 = torch.randn(8, 4, generator=g, dtype=F64) * scale
    lv0 = torch.randn(8, 4, generator=g, dtype=F64) * 0.05
    floor, beta = 0.25, 0.8
    kl_d = (0.5 * (mu0**2 + lv0.exp() - lv0 - 1)).mean(0)
    below = kl_d < floor
    assert below.tolist() == [True, True, False, False]

    mu, lv = mu0.clone().requires_grad_(), lv0.clone().requires_grad_()
    FreeBits(floor)(_terms(mu, lv, torch.zeros(8, dtype=F64)), beta).backward()

    mu_r, lv_r = mu0.clone().requires_grad_(), lv0.clone().requires_grad_()
    (beta * kl_normal_std(mu_r, lv_r).mean()).backward()

    for got, ref in ((mu.grad, mu_r.grad), (lv.grad, lv_r.grad)):
        assert torch.all(got[:, below] == 0)
        assert torch.all(ref[:, below] != 0)  # the plain KL would have pushed them
        torch.testing.assert_close(got[:, ~below], ref[:, ~below])


def test_free_bits_gradient_reaches_the_reconstruction():
    recon = torch.tensor([-3.0, -5.0], dtype=F64, requires_grad=True)
    mu = torch.zeros(2, 3, dtype=F64)
    FreeBits(0.1)(_terms(mu, torch.zeros_like(mu), recon), 1.0).backward()
    torch.testing.assert_close(recon.grad, torch.full((2,), -0.5, dtype=F64))


# --------------------------------------------------------------------------- capacity


def test_capacity_schedule_values():
    obj = KLCapacity(25.0, 10_000, gamma=100.0)
    assert obj.capacity(0) == 0.0
    assert obj.capacity(2_500) == pytest.approx(6.25)
    assert obj.capacity(10_000) == 25.0
    assert obj.capacity(50_000) == 25.0
    obj = KLCapacity(5.0, 10, c_start=1.0)
    assert [obj.capacity(t) for t in (0, 5, 10, 11)] == pytest.approx([1.0, 3.0, 5.0, 5.0])
    values = [KLCapacity(3.0, 50).capacity(t) for t in range(80)]
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))


def test_capacity_objective_value_and_step_counting():
    g = torch.Generator().manual_seed(4)
    mu = torch.randn(10, 3, generator=g, dtype=F64)
    lv = torch.randn(10, 3, generator=g, dtype=F64) * 0.3
    recon = torch.randn(10, generator=g, dtype=F64) - 20
    terms = _terms(mu, lv, recon)
    mean_kl = kl_normal_std(mu, lv).mean().item()
    obj = KLCapacity(c_max=2.0, n_steps=4, gamma=50.0)
    expected = [
        -recon.mean().item() + 50.0 * abs(mean_kl - 2.0 * min(1, t / 4)) for t in range(6)
    ]
    got = [obj(terms, 1.0).item() for _ in range(6)]  # counts its own calls: steps 0..5
    assert got == pytest.approx(expected, rel=1e-12)
    assert obj.step == 6
    # an explicit step is used as given and leaves the counter alone; beta is ignored
    assert obj(terms, 4.0, step=2).item() == pytest.approx(expected[2], rel=1e-12)
    assert obj.step == 6
    obj.reset()
    assert obj.step == 0
    assert obj(terms, 1.0).item() == pytest.approx(expected[0], rel=1e-12)


def test_capacity_gradient_pulls_the_kl_towards_c():
    for c, sign in ((10.0, -1.0), (0.0, 1.0)):  # KL below C: loss falls as KL rises; above: rises
        mu = torch.full((4, 2), 0.5, dtype=F64, requires_grad=True)
        obj = KLCapacity(c_max=c, n_steps=1, gamma=7.0, c_start=c)
        obj(_terms(mu, torch.zeros_like(mu), torch.zeros(4, dtype=F64)), 1.0).backward()
        # d loss / d mu = gamma * sign * d mean(KL) / d mu = gamma * sign * mu / batch
        torch.testing.assert_close(mu.grad, torch.full((4, 2), sign * 7.0 * 0.5 / 4, dtype=F64))


# --------------------------------------------------------------------------- with train()


def _tiny_run(**kwargs):
    from course_vae.models import VAE
    from course_vae.train import train

    g = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.full((48, 8), 0.4), generator=g)
    model = VAE(input_dim=8, hidden=(16,), latent_dim=3, seed=0)
    return train(model, x, epochs=3, batch_size=16, seed=0, progress=False, **kwargs)


def test_schedule_plugs_into_train():
    sched = LinearAnnealing(10, start=0.1)
    hist = _tiny_run(beta=sched)
    # 3 steps per epoch; the history records beta at the epoch's last step (2, 5, 8)
    assert hist["beta"] == pytest.approx([sched(2), sched(5), sched(8)])
    hist = _tiny_run(beta=CyclicalAnnealing(6, n_cycles=2))
    assert hist["beta"] == pytest.approx([1.0, 1.0, 1.0])


def test_objectives_plug_into_train():
    obj = KLCapacity(c_max=3.0, n_steps=9, gamma=10.0)
    hist = _tiny_run(objective=obj)
    assert obj.step == 9  # one call per optimiser step
    assert all(math.isfinite(v) for v in hist["train_loss"])
    hist_fb = _tiny_run(objective=FreeBits(0.0))
    hist_plain = _tiny_run()
    # a floor of 0 is the ELBO: the same run, step for step
    np.testing.assert_allclose(hist_fb["train_loss"], hist_plain["train_loss"], rtol=1e-5)
    hist_fb = _tiny_run(objective=FreeBits(0.5))
    assert hist_fb["train_loss"] != hist_plain["train_loss"]


def test_chapter_04_schedules_at_known_steps():
    # the chapter's text runs: 120 steps, linear warm-up over the first half, M = 4, R = 0.5
    lin = LinearAnnealing(60)
    assert [lin(t) for t in (0, 15, 30, 60, 119)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    cyc = CyclicalAnnealing(160, n_cycles=4, ratio=0.5)  # period 40, rising over 20 steps
    assert [cyc(t) for t in (0, 10, 20, 39, 40, 50, 160)] == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0]


def test_aggressive_encoder_updates_touch_only_the_encoder_and_stop():
    from course_vae.schedules import AggressiveEncoderUpdates
    from course_vae.text import TextVAE, make_sentences

    tokens = make_sentences(40, seed=0)
    model = TextVAE(embed_dim=4, hidden=8, latent_dim=2, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hook = AggressiveEncoderUpdates(model, tokens, model.encoder_parameters(), n_updates=3,
                                    until_step=2, lr=1e-2, batch_size=8, seed=0)
    hook(1, tokens[:8], 1.0)
    assert hook.updates == 3
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("encoder.", "to_q.")) for k in changed)
    assert all(p.grad is None for p in model.parameters())  # the loop's optimiser sees no grads
    hook(3, tokens[:8], 1.0)  # past until_step: nothing
    assert hook.updates == 3
    with pytest.raises(ValueError):
        AggressiveEncoderUpdates(model, tokens, [], 1, 1, 1e-3, 8)
