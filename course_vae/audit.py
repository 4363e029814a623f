r"""Audit a VAE loss function: its effective beta, and the forms and reductions of its terms.

:func:`audit_vae_loss` probes ``loss_fn(recon_x, x, mu, logvar)`` (the signature of
``pytorch/examples``' vae loss) with controlled inputs, without training, and writes it as

    loss = c_rec \sum_n \sum_p r(x_np, recon_np) + c_KL \sum_n KL(mu_n, logvar_n) + const,

with r the binary cross-entropy or the squared error and KL the closed form
1/2 \sum_j (mu_j^2 + e^{l_j} - l_j - 1) (l = logvar), or the "log-sigma" form
1/2 \sum_j (mu_j^2 + e^{2 l_j} - 2 l_j - 1) of a KL that reads its argument as log sigma.
The effective beta is c_KL / c_rec; the reference loss gives 1.

How: the gradient separates the terms.  d loss / d recon_x involves the reconstruction only,
and is c_rec times (p - x) / (p (1 - p)) for BCE on probabilities p, sigmoid(z) - x for BCE on
logits z, 2 (recon - x) for squared error.  d loss / d mu = c_KL mu and
d loss / d l = c_KL (e^l - 1) / 2 (closed form) or c_KL (e^{2l} - 1) (log-sigma form) involve
the KL only.  Each coefficient is a least-squares fit whose relative residual must be below
1e-4 with one and the same coefficient at several random probe points together (at least
three, and at least 64 values), or the form is "unrecognised" -- never a guess.  The probe
points take turns far from the prior (mu in [-3, 3], logvar in [-4, 4]), near it (both in
[-0.2, 0.2]) and in between (both in [-1, 1]), and each point's own coefficient must agree
with the joint one: a loss whose KL weight depends on the KL's size (free bits, a capacity
gamma |KL - C|) has no single beta and is reported unrecognised.  Limitation: a clamp or a
target beyond the probes' KL (above about 4.4 nats per dimension, or a capacity C above the
far points' total KL) cannot be seen.  x is binary, {0, 1}.  Because
autograd keeps the terms apart, a KL weight of 1e-7 is resolved even when the function only
runs in float32.  How a term scales with the batch
(summed: x1, averaged: x1/2) is read from its gradient on the probe batch stacked twice.

Command line (the file's top-level code is not run: :mod:`course_vae.loss_source`)::

    python -m course_vae.audit path/to/file.py:loss_function [--input-dim 784]
        [--latent-dim 20] [--batch-size 128] [--recon probs|logits]
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
from collections.abc import Callable

import torch

from course_vae._validate import check_callable, check_choice, check_positive_int
from course_vae.audit_report import TOLERANCE, LossAudit, findings, recon_hint
from course_vae.loss_source import load_loss_function

__all__ = ["LossAudit", "audit_vae_loss", "main"]

_MU_RANGE = 3.0  # probes: mu ~ U[-3, 3]
_LOGVAR_RANGE = 4.0  # logvar ~ U[-4, 4]
# (mu range, logvar range) of the probe points, in turn: far from the prior (about 4.4 nats
# per dimension), near it (about 0.02 nats per dimension) and in between (about 0.25): a loss
# piecewise in the KL (free bits, a capacity gamma |KL - C|) needs another weight in one of them
_PROBE_SCALES = ((_MU_RANGE, _LOGVAR_RANGE), (0.2, 0.2), (1.0, 1.0))
_FINITE_RANGE = 30.0  # the float32 finiteness check covers logvar in [-30, 30]
_N_POINTS = 3  # random probe points at the given batch size, at least
_MIN_VALUES = 64  # ... and enough of them for 64 values of each term's gradient
_SEED = 0
_USAGE = "loss_fn(recon_x, x, mu, logvar) -> scalar tensor"


class _LossRaised(Exception):
    """Internal: ``loss_fn`` raised; the original exception is ``__cause__``."""


def _check_signature(loss_fn: Callable) -> None:
    """TypeError naming ``loss_fn`` unless it can be called with four positional arguments.

    Private: ``_validate`` has no signature check and is not ours to extend.
    """
    try:
        sig = inspect.signature(loss_fn)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    try:
        sig.bind(None, None, None, None)
    except TypeError as exc:
        raise TypeError(
            f"loss_fn must accept four positional arguments, {_USAGE} (the signature of "
            f"pytorch/examples' vae loss); its signature is {sig}: {exc}"
        ) from None


def _call(loss_fn: Callable, *args: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Loss value and its gradients w.r.t. recon_x, mu, logvar (zeros where unused).

    The leaves are passed as clones, so a function that modifies its inputs in place still works.
    """
    recon_x, x, mu, logvar = args
    leaves = [t.detach().clone().requires_grad_(True) for t in (recon_x, mu, logvar)]
    try:
        out = loss_fn(leaves[0].clone(), x.clone(), leaves[1].clone(), leaves[2].clone())
    except Exception as exc:
        raise _LossRaised(str(exc)) from exc
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"loss_fn must return a scalar torch tensor ({_USAGE}), "
                        f"got {type(out).__name__}")
    if out.numel() != 1:
        raise ValueError(f"loss_fn must return a scalar tensor (one number); it returned shape "
                         f"{tuple(out.shape)}: reduce it with .sum() or .mean()")
    if not out.requires_grad:
        raise ValueError("loss_fn's result does not depend on recon_x, mu or logvar through "
                         "autograd (.item(), .detach() or NumPy inside?): it cannot be trained")
    grads = torch.autograd.grad(out.reshape(()), leaves, allow_unused=True)
    grads = [torch.zeros_like(v) if g is None else g for g, v in zip(grads, leaves, strict=True)]
    return out.detach().reshape(()), [g.detach().to(torch.float64) for g in grads]


def _fit(g: torch.Tensor, basis: torch.Tensor) -> tuple[float, float]:
    """Least squares g ~ a * basis: (a, ||g - a basis|| / ||g||), (0, 0) for g = 0."""
    gn = float(torch.linalg.vector_norm(g))
    if gn == 0.0:
        return 0.0, 0.0
    a = float((g * basis).sum() / (basis * basis).sum())
    return a, float(torch.linalg.vector_norm(g - a * basis)) / gn


def _recon_bases(recon_x: torch.Tensor, x: torch.Tensor, recon: str) -> dict[str, torch.Tensor]:
    """d r / d recon_x per element for each reconstruction form the audit knows."""
    if recon == "probs":
        return {"bernoulli": (recon_x - x) / (recon_x * (1 - recon_x)),
                "squared error": 2 * (recon_x - x)}
    p = torch.sigmoid(recon_x)
    return {"bernoulli": p - x, "squared error": 2 * (recon_x - x),
            "squared error of sigmoid(recon_x)": 2 * (p - x) * p * (1 - p)}


def _kl_bases(mu: torch.Tensor, logvar: torch.Tensor) -> dict[str, torch.Tensor]:
    """d KL / d logvar per element for the closed and the log-sigma forms (d / d mu is mu)."""
    return {"closed form": 0.5 * torch.expm1(logvar), "log-sigma": torch.expm1(2 * logvar)}


def _identify(fits: dict[str, tuple[float, float]]) -> tuple[str, float, float]:
    """(form, coefficient, residual) of the one candidate whose fit is exact (residual below
    TOLERANCE); "unrecognised" when none is -- or, on too few probe values, several are."""
    best = min(fits, key=lambda k: fits[k][1])
    exact = [k for k, (_, r) in fits.items() if r <= TOLERANCE]
    return (best if len(exact) == 1 else "unrecognised"), *fits[best]


def _analyse(points: list[tuple[torch.Tensor, ...]], grads: list[list[torch.Tensor]], recon: str):
    """(recon form, c_rec, residual) and (KL form, c_KL, residual), each fitted with a single
    coefficient to the gradients at all probe points together."""

    def cat(ts):
        return torch.cat([t.to(torch.float64).flatten() for t in ts])

    recon_x, x, mu, logvar = (cat(p[i] for p in points) for i in range(4))
    g_rec, g_mu, g_l = (cat(g[i] for g in grads) for i in range(3))
    if not bool(g_rec.any()):
        rec = ("none", 0.0, 0.0)
    else:
        fits = {}
        for k, b in _recon_bases(recon_x, x, recon).items():
            a, r = _fit(g_rec, b)
            per_point = [_fit(g[0].flatten(), _recon_bases(p[0].flatten().double(),
                                                             p[1].flatten().double(), recon)[k])[0]
                         for p, g in zip(points, grads, strict=True)]
            fits[k] = (a, max(r, _spread(a, per_point)))
        rec = _identify(fits)
    if not (bool(g_mu.any()) or bool(g_l.any())):
        return rec, ("none", 0.0, 0.0)
    a_mu, r_mu = _fit(g_mu, mu)
    # one weight must fit every probe point: near the prior, far from it and in between
    mu_points = [_fit(g[1].flatten(), p[2].flatten().double())[0]
                 for p, g in zip(points, grads, strict=True)]
    fits = {}
    for name, basis in _kl_bases(mu, logvar).items():
        a_l, r_l = _fit(g_l, basis)
        l_points = [_fit(g[2].flatten(), _kl_bases(p[2].double(), p[3].double())[name].flatten())[0]
                    for p, g in zip(points, grads, strict=True)]
        spread = abs(a_mu - a_l) / (max(abs(a_mu), abs(a_l)) or 1.0)
        fits[name] = ((a_mu + a_l) / 2, max(r_mu, r_l, spread, _spread(a_mu, mu_points),
                                            _spread(a_l, l_points)))
    return rec, _identify(fits)


def _spread(a: float, per_point: list[float]) -> float:
    """Largest relative difference between the joint coefficient ``a`` and a point's own."""
    scale = max(abs(a), *(abs(c) for c in per_point)) or 1.0
    return max(abs(c - a) for c in per_point) / scale


def _batch_scaling(parts1: list[torch.Tensor], parts2: list[torch.Tensor]) -> str | None:
    """"sum" / "mean" / "other" from a term's gradients (w.r.t. each of its inputs) on a batch
    and on that batch stacked twice: the gradient of a summed term is unchanged, of an
    averaged one halved.  None for a term with zero gradient or a ratio that is not uniform."""
    g1 = torch.cat([torch.cat([p, p]).flatten() for p in parts1])
    g2 = torch.cat([p.flatten() for p in parts2])
    if not bool(g1.any()):
        return None
    ratio, residual = _fit(g2, g1)
    if residual > TOLERANCE:
        return None
    if abs(ratio - 1) <= TOLERANCE:
        return "sum"
    if abs(ratio - 0.5) <= TOLERANCE / 2:
        return "mean"
    return "other"


def _probe_inputs(gen: torch.Generator, b: int, n: int, d: int, recon: str,
                  mu_range: float = _MU_RANGE, logvar_range: float = _LOGVAR_RANGE):
    """recon_x (probabilities in [0.05, 0.95] or logits in [-4, 4]), binary x in {0, 1}
    (so that a loss written with torch.distributions.Bernoulli, which checks its support,
    runs), mu in [-mu_range, mu_range], logvar in [-logvar_range, logvar_range], float64."""

    def u(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=torch.float64)

    recon_x = u((b, n), 0.05, 0.95) if recon == "probs" else u((b, n), -4.0, 4.0)
    x = (torch.rand((b, n), generator=gen, dtype=torch.float64) < 0.5).double()
    mu = u((b, d), -mu_range, mu_range)
    logvar = u((b, d), -logvar_range, logvar_range)
    return recon_x, x, mu, logvar


def _finite_float32(loss_fn: Callable, recon_x, x, mu) -> list[str]:
    """Where loss or gradients are not finite in float32 for logvar in [-30, 30] ([] if none)."""
    b, d = mu.shape
    grid = torch.linspace(-_FINITE_RANGE, _FINITE_RANGE, b * d, dtype=torch.float64)
    probes = {
        f"logvar = -{_FINITE_RANGE:g} everywhere": torch.full((b, d), -_FINITE_RANGE),
        f"logvar = +{_FINITE_RANGE:g} everywhere": torch.full((b, d), _FINITE_RANGE),
        f"logvar spread over [-{_FINITE_RANGE:g}, {_FINITE_RANGE:g}]": grid.reshape(b, d),
    }
    bad = []
    for label, logvar in probes.items():
        args = [t.to(torch.float32) for t in (recon_x, x, mu, logvar)]
        try:
            value, grads = _call(loss_fn, *args)
        except (_LossRaised, TypeError, ValueError) as exc:
            bad.append(f"{label} (raised {type(exc.__cause__ or exc).__name__})")
            continue
        if not (math.isfinite(float(value)) and all(bool(g.isfinite().all()) for g in grads)):
            bad.append(label)
    return bad


def audit_vae_loss(
    loss_fn: Callable,
    input_dim: int = 784,
    latent_dim: int = 20,
    batch_size: int = 128,
    recon: str = "probs",
) -> LossAudit:
    r"""Measure the effective beta, term forms and reductions of a VAE loss function.

    ``loss_fn(recon_x, x, mu, logvar)`` receives ``recon_x``, ``x`` of shape
    (batch_size, input_dim) -- ``recon_x`` probabilities (``recon="probs"``) or logits
    (``recon="logits"``), ``x`` binary, 0 or 1 -- and ``mu``, ``logvar`` of shape
    (batch_size, latent_dim), and returns a scalar tensor.  See the module docstring for the
    method; the result is a :class:`LossAudit` whose ``str`` is a readable report.

    Raises TypeError (not callable, another signature, a non-tensor result), ValueError
    (a non-scalar result, one not connected to its inputs, NaN at ordinary inputs) or
    RuntimeError chaining the exception ``loss_fn`` raised.
    """
    check_callable(loss_fn, "loss_fn", _USAGE)
    input_dim = check_positive_int(input_dim, "input_dim")
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    batch_size = check_positive_int(batch_size, "batch_size")
    recon = check_choice(recon, "recon", ("probs", "logits"))
    _check_signature(loss_fn)
    b, n, d = batch_size, input_dim, latent_dim

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        gen = torch.Generator().manual_seed(_SEED)
        n_points = max(_N_POINTS, math.ceil(_MIN_VALUES / (b * min(n, d))))
        n_points = len(_PROBE_SCALES) * math.ceil(n_points / len(_PROBE_SCALES))
        points = [_probe_inputs(gen, b, n, d, recon, *_PROBE_SCALES[i % len(_PROBE_SCALES)])
                  for i in range(n_points)]
        dtype, results = _first_working_dtype(loss_fn, points[0], recon)
        points = [tuple(t.to(dtype) for t in p) for p in points]
        results = [results] + [_call_or_raise(loss_fn, p) for p in points[1:]]
        for value, _ in results:
            if not math.isfinite(float(value)):
                raise ValueError(f"loss_fn returned {float(value)} at ordinary inputs "
                                 f"(recon={recon!r}: {recon_hint(recon)})")
        repeat, _ = _call_or_raise(loss_fn, points[0])
        deterministic = bool(repeat == results[0][0])
        doubled = tuple(torch.cat([t, t]) for t in points[0])
        try:
            _, grads2 = _call(loss_fn, *doubled)
            failure = None
        except (_LossRaised, TypeError, ValueError) as exc:
            grads2, failure = None, exc.__cause__ or exc
        bad_finite = _finite_float32(loss_fn, *points[0][:3])

    (recon_form, c_rec, recon_res), (kl_form, c_kl, kl_res) = _analyse(
        points, [g for _, g in results], recon)
    if recon_form == "none" and kl_form == "none":
        raise ValueError("loss_fn's gradients with respect to recon_x, mu and logvar are all 0: "
                         "it has neither a reconstruction term nor a KL term")
    g_rec1, g_mu1, g_l1 = results[0][1]
    if grads2 is None:
        recon_red = kl_red = None
    else:
        recon_red = _batch_scaling([g_rec1], grads2[:1])
        kl_red = _batch_scaling([g_mu1, g_l1], grads2[1:])
        if recon_form == "none":
            recon_red = None
        if kl_form == "none":
            kl_red = None
    present = [r for f, r in ((recon_form, recon_red), (kl_form, kl_red)) if f != "none"]
    if all(r in ("sum", "mean") for r in present):
        reduction = present[0] if len(set(present)) == 1 else "mixed"
    else:
        reduction = "unrecognised"
    recon_known = recon_form not in ("none", "unrecognised")
    recon_detail = recon_form
    if recon_form.startswith("squared error"):
        recon_form = "squared error"
    beta = None
    if recon_known and kl_form in ("closed form", "log-sigma", "none"):
        beta = c_kl / c_rec
    if recon_known:
        minimised = c_rec > 0
    elif recon_form == "none" and kl_form in ("closed form", "log-sigma"):
        minimised = c_kl > 0
    else:
        minimised = None
    facts = dict(
        beta=beta, minimised=minimised, kl_form=kl_form, reduction=reduction,
        recon_form=recon_form, finite=not bad_finite,
        c_rec=c_rec if recon_form != "unrecognised" else None,
        c_kl=c_kl if kl_form != "unrecognised" else None,
        recon_reduction=recon_red, kl_reduction=kl_red, recon_residual=recon_res,
        kl_residual=kl_res, deterministic=deterministic, probe_dtype=str(dtype)[6:],
        input_dim=n, latent_dim=d, batch_size=b, recon=recon,
    )
    messages = findings(facts, recon_detail, bad_finite, failure)
    return LossAudit(messages=tuple(messages), **facts)


def _call_or_raise(loss_fn: Callable, point: tuple[torch.Tensor, ...]):
    """:func:`_call`, with an exception of ``loss_fn`` chained to a RuntimeError."""
    try:
        return _call(loss_fn, *point)
    except _LossRaised as exc:
        error = exc.__cause__
        raise RuntimeError(f"loss_fn raised {type(error).__name__}: {error} -- at a probe that "
                           "differs from the first only by its random values") from error


def _first_working_dtype(loss_fn: Callable, point, recon: str):
    """Try float64, then float32; RuntimeError chaining loss_fn's exception if both fail."""
    for dtype in (torch.float64, torch.float32):
        try:
            return dtype, _call(loss_fn, *(t.to(dtype) for t in point))
        except _LossRaised as exc:
            error = exc.__cause__
    b, n = point[0].shape
    d = point[2].shape[1]
    raise RuntimeError(
        f"loss_fn raised {type(error).__name__}: {error} -- when called as loss_fn(recon_x, x, "
        f"mu, logvar) with recon_x and x of shape ({b}, {n}), mu and logvar of shape ({b}, {d}), "
        f"in float64 and in float32 ({recon_hint(recon)}; input_dim and latent_dim must match "
        "what the function expects)"
    ) from error


def main(argv: list[str] | None = None) -> int:
    """``python -m course_vae.audit FILE.py:FUNCTION [options]``: print the audit report."""
    parser = argparse.ArgumentParser(
        prog="python -m course_vae.audit",
        description="Audit a VAE loss function loss_fn(recon_x, x, mu, logvar): its effective "
        "beta, the forms and reductions of its terms, and the fixes. The file's top-level code "
        "is not run: only the function, the imports it uses, other top-level functions it "
        "calls and literal constants.",
    )
    parser.add_argument("target", metavar="FILE.py:FUNCTION", help="the loss function to audit")
    parser.add_argument("--input-dim", type=int, default=784,
                        help="pixels per example (default: %(default)s)")
    parser.add_argument("--latent-dim", type=int, default=20,
                        help="latent dimensions (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=128,
                        help="batch size at which beta is measured (default: %(default)s)")
    parser.add_argument("--recon", choices=("probs", "logits"), default="probs",
                        help="what recon_x holds (default: %(default)s)")
    args = parser.parse_args(argv)
    path, sep, name = args.target.rpartition(":")
    if not (sep and path and name):
        parser.error(f"the target must be FILE.py:FUNCTION, got {args.target!r}")
    try:
        loss_fn = load_loss_function(path, name)
        report = audit_vae_loss(loss_fn, args.input_dim, args.latent_dim, args.batch_size,
                                args.recon)
    except (TypeError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
