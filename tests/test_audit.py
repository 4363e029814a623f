"""Tests of course_vae.audit: every loss of the chapter, built-in betas, errors, command line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.audit import LossAudit, audit_vae_loss, main
from course_vae.loss_bugs import CATALOGUE, correct_loss, kl_sign_flipped, recon_mean_kl_sum
from course_vae.loss_source import LossSourceError, load_loss_function

ROOT = Path(__file__).resolve().parents[1]


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b))


def _assert_matches(report: LossAudit, bug, b: int, n: int, d: int) -> None:
    expected = bug.beta(b, n, d)
    if expected is None:
        assert report.beta is None
    else:
        assert report.beta is not None and (report.beta == expected or
                                            _rel(report.beta, expected) < 1e-3)
    assert (report.kl_form, report.recon_form) == (bug.kl_form, bug.recon_form)
    assert (report.recon_reduction, report.kl_reduction) == (bug.recon_reduction,
                                                             bug.kl_reduction)
    assert report.reduction == bug.reduction
    assert report.minimised == bug.minimised
    assert report.finite == bug.finite_at(d)


@pytest.mark.parametrize("bug", CATALOGUE, ids=lambda b: b.name)
@pytest.mark.parametrize("b, n, d", [(128, 784, 20), (32, 64, 2), (7, 10, 3)])
def test_the_audit_reports_every_loss_of_the_chapter_as_its_entry_says(bug, b, n, d):
    report = audit_vae_loss(bug.fn, input_dim=n, latent_dim=d, batch_size=b, recon=bug.recon)
    _assert_matches(report, bug, b, n, d)
    assert all("fix" in m.lower() for m in report.messages), report.messages
    clean = (bug.beta(b, n, d) == 1.0 and bug.minimised and bug.finite_at(d)
             and (bug.kl_form, bug.recon_form) == ("closed form", "bernoulli"))
    assert clean == (bug.name.startswith("correct") or (bug.overflow_latent_dim or 0) > d)
    if clean:
        assert report.messages == (report.messages[0],) and "No problem" in report.messages[0]
    else:
        assert not any("No problem" in m for m in report.messages)


def test_the_monte_carlo_kl_is_reported_as_random():
    bug = next(b for b in CATALOGUE if b.name.startswith("one-sample"))
    report = audit_vae_loss(bug.fn, input_dim=16, latent_dim=3, batch_size=8)
    assert not report.deterministic and report.c_kl is None
    assert any("Monte Carlo" in m for m in report.messages)


def test_the_report_shows_the_decomposition_and_the_findings():
    text = str(audit_vae_loss(recon_mean_kl_sum, input_dim=64, latent_dim=2, batch_size=32))
    assert "effective beta = c_KL / c_rec = 2048" in text  # 32 * 64
    assert "reduction: mixed" in text and "averaged over the 64 pixels" in text
    with pytest.raises(AttributeError):
        audit_vae_loss(correct_loss, 8, 2, 4).beta = 2.0  # a report is frozen


# --- built-in betas -------------------------------------------------------------------------


def _built_loss(recon, recon_form, pix_mean, rec_batch_mean, kl_form, lat_mean, kl_batch_mean,
                weight, scale):
    """scale * (R + weight * K), each term summed or averaged over its dimensions and batch."""

    def loss(recon_x, x, mu, logvar):
        if recon_form == "bernoulli":
            per = (F.binary_cross_entropy(recon_x, x, reduction="none") if recon == "probs"
                   else F.binary_cross_entropy_with_logits(recon_x, x, reduction="none"))
        else:
            per = (recon_x - x) ** 2
        r = per.mean(1) if pix_mean else per.sum(1)
        r = r.mean() if rec_batch_mean else r.sum()
        lv = logvar if kl_form == "closed form" else 2 * logvar
        kl = 0.5 * (mu**2 + lv.exp() - lv - 1)
        k = kl.mean(1) if lat_mean else kl.sum(1)
        k = k.mean() if kl_batch_mean else k.sum()
        return scale * (r + weight * k)

    return loss


built = st.fixed_dictionaries({
    "recon": st.sampled_from(["probs", "logits"]),
    "recon_form": st.sampled_from(["bernoulli", "squared error"]),
    "pix_mean": st.booleans(), "rec_batch_mean": st.booleans(),
    "kl_form": st.sampled_from(["closed form", "log-sigma"]),
    "lat_mean": st.booleans(), "kl_batch_mean": st.booleans(),
    "weight": st.tuples(st.sampled_from([-1.0, 1.0]), st.floats(-7, 4)).map(
        lambda t: t[0] * 10 ** t[1]),
    "scale": st.tuples(st.sampled_from([-1.0, 1.0]), st.floats(-3, 3)).map(
        lambda t: t[0] * 10 ** t[1]),
})
shapes = st.tuples(st.integers(1, 40), st.sampled_from([1, 10, 64, 784]), st.integers(1, 12))


def _expected_beta(p, b, n, d):
    """weight * (per-example recon divisor) / (per-example KL divisor)."""
    rec_div = (n if p["pix_mean"] else 1) * (b if p["rec_batch_mean"] else 1)
    kl_div = (d if p["lat_mean"] else 1) * (b if p["kl_batch_mean"] else 1)
    return p["weight"] * rec_div / kl_div


@settings(max_examples=60, deadline=None)
@given(p=built, shape=shapes)
def test_any_built_in_beta_form_and_reduction_is_found(p, shape):
    b, n, d = shape
    report = audit_vae_loss(_built_loss(**p), n, d, b, recon=p["recon"])
    assert _rel(report.beta, _expected_beta(p, b, n, d)) < 1e-3
    assert (report.recon_form, report.kl_form) == (p["recon_form"], p["kl_form"])
    reds = ["mean" if p["rec_batch_mean"] else "sum", "mean" if p["kl_batch_mean"] else "sum"]
    assert [report.recon_reduction, report.kl_reduction] == reds
    assert report.reduction == (reds[0] if reds[0] == reds[1] else "mixed")
    assert report.minimised == (p["scale"] > 0)


@settings(max_examples=25, deadline=None)
@given(p=built, factor=st.tuples(st.sampled_from([-1.0, 1.0]), st.floats(-3, 3)).map(
    lambda t: t[0] * 10 ** t[1]))
def test_scaling_the_loss_leaves_beta_unchanged(p, factor):
    base = _built_loss(**p)
    scaled = _built_loss(**{**p, "scale": p["scale"] * factor})
    r1 = audit_vae_loss(base, 10, 3, 6, recon=p["recon"])
    r2 = audit_vae_loss(scaled, 10, 3, 6, recon=p["recon"])
    assert _rel(r1.beta, r2.beta) < 1e-9
    assert r2.minimised == (r1.minimised == (factor > 0))
    assert _rel(r2.c_rec, r1.c_rec * factor) < 1e-9


@settings(max_examples=25, deadline=None)
@given(p=built, b1=st.integers(1, 50), b2=st.integers(1, 50))
def test_the_batch_size_changes_beta_only_when_the_terms_are_reduced_differently(p, b1, b2):
    r1 = audit_vae_loss(_built_loss(**p), 10, 3, b1, recon=p["recon"])
    r2 = audit_vae_loss(_built_loss(**p), 10, 3, b2, recon=p["recon"])
    fields = ("kl_form", "recon_form", "reduction", "recon_reduction", "kl_reduction",
              "minimised", "finite")
    assert [getattr(r1, f) for f in fields] == [getattr(r2, f) for f in fields]
    # beta scales as b^(rec_batch_mean - kl_batch_mean): by b2/b1, b1/b2, or not at all
    power = int(p["rec_batch_mean"]) - int(p["kl_batch_mean"])
    assert _rel(r2.beta, r1.beta * (b2 / b1) ** power) < 1e-9


def test_a_weight_of_1e_minus_7_is_resolved_by_a_float32_only_loss():
    def float32_loss(recon_x, x, mu, logvar):
        if recon_x.dtype != torch.float32:
            raise TypeError("this loss only runs in float32")
        bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
        return bce + 1e-7 * -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    report = audit_vae_loss(float32_loss)
    assert report.probe_dtype == "float32"
    assert _rel(report.beta, 1e-7) < 1e-3


# --- what is unrecognised -------------------------------------------------------------------


def _bce(recon_x, x):
    return F.binary_cross_entropy(recon_x, x, reduction="sum")


UNRECOGNISED_KL = {
    "variance terms only": lambda r, x, mu, lv: _bce(r, x) + 0.5 * torch.sum(lv.exp() - lv - 1),
    "mean terms only": lambda r, x, mu, lv: _bce(r, x) + 0.5 * torch.sum(mu**2),
    "free bits": lambda r, x, mu, lv: _bce(r, x) + torch.clamp(
        -0.5 * (1 + lv - mu**2 - lv.exp()), min=0.5).sum(),
    "relu on logvar": lambda r, x, mu, lv: _bce(r, x) - 0.5 * torch.sum(
        1 + F.relu(lv) - mu**2 - F.relu(lv).exp()),
    "weight depends on the reconstruction": lambda r, x, mu, lv: _bce(r, x) * (
        1 - 0.5 * torch.sum(1 + lv - mu**2 - lv.exp())),
}


@pytest.mark.parametrize("name", UNRECOGNISED_KL)
def test_a_kl_of_another_form_is_unrecognised_and_gets_no_beta(name):
    report = audit_vae_loss(UNRECOGNISED_KL[name], input_dim=20, latent_dim=4, batch_size=16)
    assert report.kl_form == "unrecognised" and report.beta is None and report.c_kl is None
    assert any("matches neither" in m for m in report.messages)


def test_an_l1_reconstruction_is_unrecognised_and_gets_no_beta():
    def l1_loss(recon_x, x, mu, logvar):
        return (recon_x - x).abs().sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    report = audit_vae_loss(l1_loss, input_dim=20, latent_dim=4, batch_size=16)
    assert report.recon_form == "unrecognised" and report.beta is None
    assert report.kl_form == "closed form" and report.minimised is None


def test_a_loss_without_reconstruction_has_no_beta_and_says_so():
    def kl_only(recon_x, x, mu, logvar):
        return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    report = audit_vae_loss(kl_only, input_dim=20, latent_dim=4, batch_size=16)
    assert (report.recon_form, report.kl_form, report.beta) == ("none", "closed form", None)
    assert report.minimised is True and report.c_kl == pytest.approx(1.0, rel=1e-9)
    assert any("does not depend on recon_x" in m for m in report.messages)


def test_a_loss_with_a_hard_coded_batch_size_reports_the_failure_at_twice_the_batch():
    def fixed_batch(recon_x, x, mu, logvar):
        return correct_loss(recon_x.view(16, 20), x.view(16, 20), mu, logvar)

    report = audit_vae_loss(fixed_batch, input_dim=20, latent_dim=4, batch_size=16)
    assert report.beta == pytest.approx(1.0, rel=1e-9)
    assert report.reduction == "unrecognised" and report.recon_reduction is None
    assert any("failed on a batch of 32" in m for m in report.messages)


def test_the_audit_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    audit_vae_loss(CATALOGUE[-1].fn, input_dim=8, latent_dim=2, batch_size=4)
    assert torch.equal(torch.rand(3), expected)


# --- errors ---------------------------------------------------------------------------------


class Boom(Exception):
    pass


def _raises(recon_x, x, mu, logvar):
    raise Boom("inside the loss")


@pytest.mark.parametrize(
    "fn, kwargs, error, match",
    [
        ("not a function", {}, TypeError, "loss_fn must be a callable"),
        (lambda recon_x, x: _bce(recon_x, x), {}, TypeError, "loss_fn must accept four"),
        (lambda a, b, c, d, e: a.sum(), {}, TypeError, "loss_fn must accept four"),
        (lambda r, x, mu, lv: (r - x) ** 2, {}, ValueError, "scalar tensor"),
        (lambda r, x, mu, lv: 1.0, {}, TypeError, "scalar torch tensor"),
        (lambda r, x, mu, lv: _bce(r, x).detach(), {}, ValueError, "through autograd"),
        (lambda r, x, mu, lv: 0 * r.sum(), {}, ValueError, "neither a reconstruction"),
        (lambda r, x, mu, lv: torch.log(r - 2).sum(), {}, ValueError, "recon='logits'"),
        (correct_loss, {"input_dim": 0}, ValueError, "input_dim"),
        (correct_loss, {"latent_dim": 2.5}, ValueError, "latent_dim"),
        (correct_loss, {"batch_size": True}, ValueError, "batch_size"),
        (correct_loss, {"recon": "sigmoid"}, ValueError, "recon must be one of"),
    ],
)
def test_bad_functions_and_arguments_raise_errors_naming_them(fn, kwargs, error, match):
    with pytest.raises(error, match=match):
        audit_vae_loss(fn, **kwargs)


def test_a_loss_that_raises_is_reported_with_the_original_exception_chained():
    with pytest.raises(RuntimeError, match="loss_fn raised Boom: inside the loss") as info:
        audit_vae_loss(_raises, input_dim=8, latent_dim=2, batch_size=4)
    assert isinstance(info.value.__cause__, Boom)


def test_a_loss_that_raises_only_at_some_inputs_is_reported_with_its_exception():
    calls = []

    def second_call_raises(recon_x, x, mu, logvar):
        calls.append(1)
        if len(calls) == 2:
            raise Boom("second call")
        return correct_loss(recon_x, x, mu, logvar)

    with pytest.raises(RuntimeError, match="loss_fn raised Boom: second call") as info:
        audit_vae_loss(second_call_raises, input_dim=8, latent_dim=2, batch_size=4)
    assert isinstance(info.value.__cause__, Boom)


def test_a_probability_loss_given_logits_says_which_recon_to_use():
    with pytest.raises(RuntimeError, match="pass recon='probs'"):
        audit_vae_loss(correct_loss, input_dim=8, latent_dim=2, batch_size=4, recon="logits")


# --- command line ---------------------------------------------------------------------------

SCRIPT = '''
import sys
import argparse
import torch
import torch.nn.functional as F
from torch import nn, optim

N_PIXELS = 64
open({marker!r}, "w").write("top-level code ran")
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, required=True)
args = parser.parse_args()


def kl_term(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def loss_function(recon_x: torch.Tensor, x, mu, logvar) -> torch.Tensor:
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, N_PIXELS))
    return BCE + kl_term(mu, logvar)


if __name__ == "__main__":
    sys.exit(3)
'''


@pytest.fixture
def script(tmp_path):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "train_vae.py"
    path.write_text(SCRIPT.format(marker=str(marker)))
    return path, marker


def test_the_cli_audits_a_function_without_running_the_file(script, capsys):
    path, marker = script
    code = main([f"{path}:loss_function", "--input-dim", "64", "--latent-dim", "2",
                 "--batch-size", "32"])
    out = capsys.readouterr().out
    assert code == 0 and not marker.exists()
    assert "effective beta = c_KL / c_rec = 2048" in out  # mean BCE, summed KL: 32 * 64


def test_python_m_course_vae_audit_runs_and_exits_cleanly(script):
    path, marker = script
    done = subprocess.run(
        [sys.executable, "-m", "course_vae.audit", f"{path}:loss_function",
         "--input-dim", "64", "--latent-dim", "2", "--batch-size", "8", "--recon", "probs"],
        capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "effective beta = c_KL / c_rec = 512" in done.stdout and not marker.exists()


def test_cli_help_states_the_defaults(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert info.value.code == 0
    for default in ("(default: 784)", "(default: 20)", "(default: 128)", "(default: probs)"):
        assert default in out


@pytest.mark.parametrize(
    "source, match",
    [
        ("def other(recon_x, x, mu, logvar):\n    return 0\n", "no top-level function named"),
        ("if True:\n    EPS = 1e-8\n\ndef loss_function(r, x, mu, lv):\n    return EPS * r.sum()\n",
         "inside a block"),
        ("import math\nEPS = math.exp(-8)\n\ndef loss_function(r, x, mu, lv):\n"
         "    return EPS * r.sum()\n", "not a plain literal"),
        ("from .model import kl\n\ndef loss_function(r, x, mu, lv):\n    return kl(mu, lv)\n",
         "relative import"),
        ("class Loss:\n    pass\n\ndef loss_function(r, x, mu, lv):\n    return Loss()(r)\n",
         "ClassDef"),
        ("def loss_function(r, x, mu, lv):\n    return undefined_name(r)\n",
         "does not define"),
        ("import no_such_module_for_the_audit as m\n\ndef loss_function(r, x, mu, lv):\n"
         "    return m.f(r)\n", "line 1 .* failed .*ModuleNotFoundError"),
        ("def loss_function(r, x, mu, lv)\n    return 0\n", "not valid Python"),
    ],
)
def test_load_loss_function_says_what_it_cannot_provide(tmp_path, source, match):
    path = tmp_path / "model.py"
    path.write_text(source)
    with pytest.raises(LossSourceError, match=match):
        load_loss_function(path, "loss_function")


def test_load_loss_function_takes_helpers_imports_and_literal_constants(script):
    path, marker = script
    fn = load_loss_function(path, "loss_function")
    g = torch.Generator().manual_seed(0)
    recon_x, x = torch.rand(4, 64, generator=g) * 0.9 + 0.05, torch.rand(4, 64, generator=g)
    mu, logvar = torch.randn(4, 2, generator=g), torch.randn(4, 2, generator=g)
    expected = recon_mean_kl_sum(recon_x, x, mu, logvar)
    assert torch.allclose(fn(recon_x, x, mu, logvar), expected) and not marker.exists()


def test_cli_errors_go_to_stderr_with_exit_code_2(tmp_path, capsys):
    path = tmp_path / "m.py"
    path.write_text(textwrap.dedent("""
        def loss_function(recon_x, x, mu, logvar):
            return (recon_x - x) ** 2
    """))
    assert main([f"{path}:loss_function"]) == 2
    assert "scalar tensor" in capsys.readouterr().err
    assert main([f"{path}:missing"]) == 2
    assert "no top-level function named 'missing'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(path)])
    assert "FILE.py:FUNCTION" in capsys.readouterr().err


def test_kl_sign_flip_message_names_the_fix():
    report = audit_vae_loss(kl_sign_flipped, input_dim=8, latent_dim=2, batch_size=4)
    assert any("opposite signs" in m and "Fix" in m for m in report.messages)


# --- losses piecewise in the KL (referee 06, finding 2) and Bernoulli log_prob (finding 6) ----

def _kl_dims(mu, lv):
    return -0.5 * (1 + lv - mu.pow(2) - lv.exp())


def _free_bits_batch(lam):
    """IAF-style free bits: the batch-mean KL of each dimension clamped below at lam nats."""
    def loss(r, x, mu, lv):
        return _bce(r, x) / x.size(0) + torch.clamp(_kl_dims(mu, lv).mean(0), min=lam).sum()
    return loss


def _free_bits_example(lam):
    def loss(r, x, mu, lv):
        return _bce(r, x) + torch.clamp(_kl_dims(mu, lv).sum(1), min=lam).sum()
    return loss


def _capacity(gamma, c):
    """Burgess et al. 2018: gamma |KL - C| on the batch-mean KL."""
    def loss(r, x, mu, lv):
        return _bce(r, x) / x.size(0) + gamma * (_kl_dims(mu, lv).sum(1).mean() - c).abs()
    return loss


PIECEWISE = {"free bits 0.25 per dim": _free_bits_batch(0.25),
             "free bits 3 per dim": _free_bits_batch(3.0),
             "free bits 2 per example": _free_bits_example(2.0),
             "capacity 1000 |KL - 25|": _capacity(1000.0, 25.0)}


@pytest.mark.parametrize("name", PIECEWISE)
@pytest.mark.parametrize("d", [8, 20])
def test_a_loss_piecewise_in_the_kl_is_unrecognised_not_guessed(name, d):
    report = audit_vae_loss(PIECEWISE[name], input_dim=64, latent_dim=d, batch_size=128)
    assert report.kl_form == "unrecognised" and report.beta is None and report.c_kl is None
    assert any("piecewise in the KL" in m for m in report.messages)
    assert not any("No problem found" in m for m in report.messages)


def test_a_free_bits_clamp_that_never_binds_is_still_beta_one():
    """The near-prior probes do not make every clamp unrecognised: at lam = 1e-6 nats the
    clamp never binds at the probes (their smallest batch-mean KL per dimension is larger)."""
    report = audit_vae_loss(_free_bits_batch(1e-6), input_dim=64, latent_dim=8, batch_size=128)
    assert report.kl_form == "closed form" and report.beta == pytest.approx(1.0, rel=1e-6)


def test_distribution_log_prob_losses_are_audited_with_binary_x():
    def bernoulli_probs(recon_x, x, mu, logvar):
        return (-torch.distributions.Bernoulli(probs=recon_x).log_prob(x).sum()
                + _kl_dims(mu, logvar).sum())

    def independent_logits(recon_x, x, mu, logvar):
        px = torch.distributions.Independent(torch.distributions.Bernoulli(logits=recon_x), 1)
        return -px.log_prob(x).sum() + _kl_dims(mu, logvar).sum()

    for fn, recon in ((bernoulli_probs, "probs"), (independent_logits, "logits")):
        report = audit_vae_loss(fn, input_dim=64, latent_dim=8, batch_size=128, recon=recon)
        assert report.recon_form == "bernoulli" and report.kl_form == "closed form"
        assert report.beta == pytest.approx(1.0, rel=1e-6)
        assert report.messages[-1].startswith("No problem found")


def test_squared_error_is_still_told_from_bce_with_binary_x():
    def se(recon_x, x, mu, logvar):
        return F.mse_loss(recon_x, x, reduction="sum") + _kl_dims(mu, logvar).sum()

    report = audit_vae_loss(se, input_dim=64, latent_dim=8, batch_size=128)
    assert report.recon_form == "squared error" and report.beta == pytest.approx(1.0, rel=1e-6)


def test_python_m_course_vae_audit_prints_no_runpy_warning(script):
    path, _ = script
    done = subprocess.run(
        [sys.executable, "-W", "default", "-m", "course_vae.audit", f"{path}:loss_function",
         "--input-dim", "64", "--latent-dim", "2", "--batch-size", "8"],
        capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=120,
    )
    assert done.returncode == 0 and "RuntimeWarning" not in done.stderr, done.stderr
