r"""What each chapter's explorer shows, computed here from the concept modules.

The widgets (:mod:`course_vae.widgets`) compute nothing of their own: each reads its state
from one function of this module, which the tests check without a browser.

* chapter 01: :func:`gaussian_pair_state` (two Gaussians, both KLs);
* chapter 02: :func:`closed_form_state` (the four terms of the closed form);
* chapter 03: :func:`latent_point_state` (one latent point of a model, decoded, and its cost);
* chapter 04: :func:`remedy_choices`, :func:`collapse_explorer_state` (a trained run against
  the collapsed baseline);
* chapter 05: :func:`traversal_state` (one moved latent, decoded, the factors it moves);
* chapter 06: :func:`loss_audit_state` (a loss built from choices, audited, against the runs
  the chapter trained).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from course_vae._validate import (
    as_float64,
    check_choice,
    check_image_shape,
    check_model,
    check_nonnegative_int,
    check_positive_int,
    check_real,
)
from course_vae.kl import kl_normal, kl_normal_std, kl_normal_std_terms
from course_vae.latent import encoding_kl, prior_log_density

__all__ = [
    "closed_form_state",
    "collapse_explorer_state",
    "gaussian_pair_state",
    "latent_point_state",
    "loss_audit_state",
    "remedy_choices",
    "traversal_state",
]


def gaussian_pair_state(
    mu_q: float, s_q: float, mu_p: float, s_p: float, n_points: int = 801
) -> dict:
    r"""Densities of Q = N(mu_q, s_q^2) and P = N(mu_p, s_p^2), the integrand and both KLs.

    Returns a dict with the grid ``x`` (float64, covering both densities), ``q``, ``p``,
    ``integrand`` = q log(q/p), and ``kl_qp`` = KL(Q||P), ``kl_pq`` = KL(P||Q) in nats from
    the closed form :func:`kl_normal`:
    KL(Q||P) = log(s_p/s_q) + (s_q^2 + (mu_q - mu_p)^2) / (2 s_p^2) - 1/2.
    (Chapter 01's explorer shows it.)
    """
    mu_q, mu_p = check_real(mu_q, "mu_q"), check_real(mu_p, "mu_p")
    s_q = check_real(s_q, "s_q", low=0.0, low_open=True)
    s_p = check_real(s_p, "s_p", low=0.0, low_open=True)
    n_points = check_positive_int(n_points, "n_points")
    lo = min(mu_q - 4 * s_q, mu_p - 4 * s_p)
    hi = max(mu_q + 4 * s_q, mu_p + 4 * s_p)
    x = torch.linspace(lo, hi, n_points, dtype=torch.float64)
    log_q = torch.distributions.Normal(mu_q, s_q).log_prob(x)
    log_p = torch.distributions.Normal(mu_p, s_p).log_prob(x)
    q = torch.exp(log_q)
    lv_q, lv_p = [2 * math.log(s_q)], [2 * math.log(s_p)]
    return {
        "mu_q": mu_q, "s_q": s_q, "mu_p": mu_p, "s_p": s_p,
        "x": x,
        "q": q,
        "p": torch.exp(log_p),
        "integrand": q * (log_q - log_p),
        "kl_qp": float(kl_normal([mu_q], lv_q, [mu_p], lv_p)),
        "kl_pq": float(kl_normal([mu_p], lv_p, [mu_q], lv_q)),
    }


def closed_form_state(mu: Any, sigma: Any) -> dict:
    r"""Chapter 02's explorer: the four KL terms of N(mu, diag sigma^2) against N(0, I).

    Returns ``mu``, ``sigma`` (float64), ``terms`` (:func:`~course_vae.kl.kl_normal_std_terms`
    with logvar = log sigma^2), ``per_dim`` (their sum per dimension) and ``total`` =
    :func:`~course_vae.kl.kl_normal_std`, in nats.
    """
    mu, sigma = as_float64(mu, "mu"), as_float64(sigma, "sigma")
    if (sigma <= 0).any():
        raise ValueError("sigma must be > 0")
    logvar = 2.0 * torch.log(sigma)
    terms = kl_normal_std_terms(mu, logvar)
    return {
        "mu": mu,
        "sigma": sigma,
        "terms": terms,
        "per_dim": sum(terms.values()),
        "total": float(kl_normal_std(mu, logvar)),
    }


@torch.no_grad()
def latent_point_state(model: Any, z: Any, sigma: Any = 1.0) -> dict[str, Any]:
    r"""What a model does at one latent point z: the decoded image and what z costs.

    Returns ``z`` (float64, (d,)), ``image`` = E[x|z] (the decoder's mean image, (input_dim,)),
    ``log_prior`` = log N(z; 0, I), ``kl`` = KL(N(z, diag sigma^2) || N(0, I)) and its
    parts ``kl_mean`` = |z|^2 / 2 (paid for the position) and ``kl_width`` = kl - kl_mean
    (paid for widths sigma != 1), all in nats.
    """
    check_model(model)
    z = as_float64(z, "z")
    if z.dim() != 1 or z.shape[0] != model.latent_dim:
        raise ValueError(f"z must have shape ({model.latent_dim},), got {tuple(z.shape)}")
    kl = float(encoding_kl(z, sigma))
    kl_mean = float(0.5 * (z**2).sum())
    p = next(model.parameters())
    image = model.mean_image(model.decode(z.to(device=p.device, dtype=p.dtype)[None]))[0]
    return {
        "z": z,
        "image": image.detach().cpu(),
        "log_prior": float(prior_log_density(z)),
        "kl": kl,
        "kl_mean": kl_mean,
        "kl_width": kl - kl_mean,
    }


@torch.no_grad()
def traversal_state(model: Any, report: dict, dim: Any, value: Any, image_shape: Any) -> dict:
    r"""Decode the code ``report["z_base"]`` with z_dim set to ``value``; rank the factors it moves.

    ``report`` is a :func:`course_vae.runs.latent_report` of ``model``.  Returns a
    dict with ``z`` (d,), ``image`` (H, W) the mean image E[x|z] (sigmoid of the logits for
    a Bernoulli decoder), ``dim``, ``value``, ``kl`` the dimension's KL in nats, ``scores``
    (K',) its normalised mutual information with each factor, ``ranking`` the factor names
    by decreasing score, and ``factor_names``.
    """
    z = np.array(report["z_base"], dtype=np.float64)
    dim = check_nonnegative_int(dim, "dim")
    if dim >= z.shape[0]:
        raise ValueError(f"dim must be an integer in [0, {z.shape[0]}), got {dim!r}")
    value = check_real(value, "value")
    h, w = check_image_shape(image_shape)
    z[dim] = value
    p = next(model.parameters())
    decoded = model.decode(torch.as_tensor(z, dtype=p.dtype, device=p.device)[None, :])
    image = model.mean_image(decoded)[0].cpu().double().numpy()
    if image.size != h * w:
        raise ValueError(f"image_shape {(h, w)} does not match the decoder's {image.size} pixels")
    scores = np.asarray(report["scores"], dtype=np.float64)[dim]
    order = np.argsort(-scores, kind="stable")
    return {
        "z": z,
        "image": image.reshape(h, w),
        "dim": dim,
        "value": value,
        "kl": float(report["kl"][dim]),
        "scores": scores,
        "ranking": tuple(report["factor_names"][i] for i in order),
        "factor_names": tuple(report["factor_names"]),
    }


def remedy_choices(runs: dict) -> dict:
    """remedy -> its parameters, in the order the runs were added; ``runs`` maps
    (remedy, parameter) -> a :func:`summarize_collapse_run` dict."""
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict (remedy, parameter) -> summary")
    choices: dict = {}
    for key in runs:
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"runs keys must be (remedy, parameter) pairs, got {key!r}")
        choices.setdefault(key[0], []).append(key[1])
    return choices


def collapse_explorer_state(runs: dict, remedy: Any, parameter: Any, baseline: Any = None) -> dict:
    """The selected run's summary plus ``label`` and its differences to ``baseline``.

    ``baseline`` is a (remedy, parameter) key of ``runs`` (or None); the differences
    ``d_elbo``, ``d_kl``, ``d_active``, ``d_mi`` are selected minus baseline.
    """
    choices = remedy_choices(runs)
    check_choice(remedy, "remedy", choices)
    check_choice(parameter, "parameter", choices[remedy])
    run = dict(runs[(remedy, parameter)])
    run["label"] = f"{remedy}, {parameter}"
    b = None if baseline is None else runs[check_choice(baseline, "baseline", runs)]
    if b is not None and b.get("family") == run.get("family"):  # compare like with like
        run["baseline"] = f"{baseline[0]}, {baseline[1]}"
        run["d_elbo"] = run["test_elbo"] - b["test_elbo"]
        run["d_kl"] = run["kl"] - b["kl"]
        run["d_active"] = run["n_active"] - b["n_active"]
        run["d_mi"] = run["mutual_info"] - b["mutual_info"]
    return run


# --------------------------------------------------------------------------- chapter 06

COLLAPSE_ACTIVE = 1.0
"""A trained loss "collapses" when its runs keep fewer active units than this, on average."""
HOLES_NATS = 2.0
"""... "leaves holes" when their KL(q(z) || p(z)) exceeds its null (``null_aggregate_kl``:
codes whose population is the prior, with the run's own posterior widths, at the same N) by
more than this many nats on average (chapter 06 measured: no KL 22-26 nats above its null;
beta = 1/8 within 0.3 nats of it; the correct loss below it)."""
NARROW_VAR = 0.1
"""... and has "narrow posteriors" when their mean posterior variance is below this (chapter 06
measured 0.04-0.05 at beta = 1/8, 0.41-0.43 for the correct loss)."""


def _run_means(summaries: list) -> dict:
    keys = ("n_active", "aggregate_kl", "null_aggregate_kl", "placement_kl",
            "mean_posterior_var", "kl", "test_elbo", "mutual_info")
    return {k: float(np.mean([s[k] for s in summaries])) for k in keys}


def loss_audit_state(runs: dict, pixels: str = "sum", recon_batch: str = "sum",
                     latents: str = "sum", kl_batch: str = "sum", kl_sign: int = 1,
                     logvar_as: str = "log sigma^2", weight: float = 1.0,
                     batch_size: int = 128, input_dim: int = 64, latent_dim: int = 8) -> dict:
    r"""Chapter 06's explorer: the loss these choices build, its audit, and what it predicts.

    The loss is :func:`course_vae.loss_bugs.build_loss` of the choices; ``audit`` is
    :func:`course_vae.audit.audit_vae_loss` of it at (batch_size, input_dim, latent_dim) and
    ``beta`` its effective beta.  ``runs`` maps a label to the chapter's trained runs of one
    loss (a list of :func:`course_vae.runs.summarize_loss_run` dicts, one per seed, all with
    the same ``beta`` >= 0 of the closed-form KL).  The prediction: a negative beta, or a
    loss that is maximised, diverges; otherwise the run whose beta is nearest in log scale
    (beta 0 only by a beta-0 run) is ``nearest``, ``factor`` = how far off its beta is
    (>= 1), and ``regime`` is what it measured: "collapse" (fewer than
    :data:`COLLAPSE_ACTIVE` active units on average), "holes" (KL(q(z) || p(z)) above its
    null by more than :data:`HOLES_NATS`), "narrow posteriors" (mean posterior variance below
    :data:`NARROW_VAR`, no holes beyond the null) or "healthy".  Each summary needs
    ``n_active``, ``aggregate_kl``, ``null_aggregate_kl``, ``placement_kl``,
    ``mean_posterior_var``, ``kl``, ``test_elbo``, ``mutual_info``, ``prior_samples``.
    For the log-sigma form the runs (closed form) are
    still the nearest evidence, and ``regime`` says so.
    """
    from course_vae.audit import audit_vae_loss
    from course_vae.loss_bugs import build_loss, built_beta

    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict label -> list of run summaries")
    table = {}
    for label, summaries in runs.items():
        if not isinstance(summaries, (list, tuple)) or not summaries:
            raise ValueError(f"runs[{label!r}] must be a non-empty list of run summaries")
        betas = {s.get("beta") for s in summaries}
        if len(betas) != 1 or None in betas or min(betas) < 0:
            raise ValueError(f"runs[{label!r}] must share one beta >= 0, got {sorted(betas)}")
        table[label] = {"beta": betas.pop(), **_run_means(summaries),
                        "per_seed_active": [int(s["n_active"]) for s in summaries],
                        "per_seed_aggregate_kl": [float(s["aggregate_kl"]) for s in summaries],
                        "per_seed_null_kl": [float(s["null_aggregate_kl"]) for s in summaries],
                        "first": summaries[0]}
    choices = {"pixels": pixels, "recon_batch": recon_batch, "latents": latents,
               "kl_batch": kl_batch, "kl_sign": kl_sign, "logvar_as": logvar_as,
               "weight": weight}
    loss_fn = build_loss(**choices)
    audit = audit_vae_loss(loss_fn, input_dim, latent_dim, batch_size)
    expected = built_beta(batch_size, input_dim, latent_dim, **choices)
    beta = audit.beta
    state = {"choices": choices, "audit": audit, "beta": beta, "expected_beta": expected,
             "loss_doc": loss_fn.__doc__, "runs": table, "nearest": None, "factor": None}
    if audit.minimised is False:
        state["regime"] = "diverges: the loss is maximised"
    elif beta is None:
        state["regime"] = "unrecognised: the audit cannot read beta"
    elif beta < 0:
        state["regime"] = "diverges: the KL is rewarded and grows without bound"
    else:
        if beta == 0:
            candidates = {k: v for k, v in table.items() if v["beta"] == 0}
        else:
            candidates = {k: v for k, v in table.items() if v["beta"] > 0}
        candidates = candidates or table
        if beta == 0:
            nearest = min(candidates, key=lambda k: candidates[k]["beta"])
            factor = 1.0 if candidates[nearest]["beta"] == 0 else math.inf
        else:
            nearest = min(candidates, key=lambda k: abs(math.log(max(candidates[k]["beta"],
                                                                     1e-300) / beta)))
            b = candidates[nearest]["beta"]
            factor = math.inf if b == 0 else math.exp(abs(math.log(b / beta)))
        run = table[nearest]
        if run["n_active"] < COLLAPSE_ACTIVE:
            regime = "collapse"
        elif run["aggregate_kl"] - run["null_aggregate_kl"] > HOLES_NATS:
            regime = "holes"
        elif run["mean_posterior_var"] < NARROW_VAR:
            regime = "narrow posteriors (no holes beyond the null)"
        else:
            regime = "healthy"
        if audit.kl_form == "log-sigma":
            regime += " (nearest closed-form run; the log-sigma form pulls sigma^2 harder)"
        state.update(nearest=nearest, factor=factor, regime=regime)
    return state
