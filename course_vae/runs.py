"""Trained runs, summarised: the numbers a chapter's tables and explorer read.

Chapter 04 trains several models (a baseline and its remedies):
:func:`summarize_collapse_run` turns one trained model into a plain dict of its numbers
(ELBO, KL, per-dimension KL, active units, I(x; z), KL(q(z) || p(z)), reconstructions);
:func:`remedy_choices` and :func:`collapse_explorer_state` select a run and compare it with
a baseline, as the chapter's explorer shows them.
"""

from __future__ import annotations

from typing import Any

import torch

from course_vae._validate import check_choice, check_positive_int
from course_vae.diagnostics import model_diagnostics

__all__ = ["collapse_explorer_state", "remedy_choices", "summarize_collapse_run"]


def summarize_collapse_run(model: Any, history: dict, test_x: Any, n_images: int = 8) -> dict:
    r"""The numbers chapter 04 shows for one trained model, as a plain dict.

    ``test_elbo``, ``test_recon``, ``kl`` (last epoch of ``history``, nats per example),
    ``kl_per_dim`` (:func:`~course_vae.diagnostics.kl_per_dimension` on ``test_x``; it sums
    to the average KL),
    ``n_active`` (variance threshold 0.01), ``mutual_info`` (I(x; z), He et al.; may be
    slightly negative) and ``mutual_info_stderr`` (its Monte Carlo standard error),
    ``aggregate_kl`` (KL(q(z) || p(z))), and the first ``n_images`` test images
    (``originals``) with their reconstructions ``model.reconstruct`` (``reconstructions``).
    """
    n_images = check_positive_int(n_images, "n_images")
    for key in ("test_elbo", "test_recon", "test_kl"):
        if not history.get(key):
            raise ValueError(f"history must hold a non-empty {key!r} list (train with test_data)")
    diag = model_diagnostics(model, test_x)
    originals = test_x[:n_images]
    with torch.no_grad():
        recons = model.reconstruct(originals)
    return {
        "test_elbo": float(history["test_elbo"][-1]),
        "test_recon": float(history["test_recon"][-1]),
        "kl": float(history["test_kl"][-1]),
        "kl_per_dim": diag.kl_per_dim.detach().cpu().double(),
        "n_active": diag.n_active,
        "mutual_info": diag.mutual_info.value,
        "mutual_info_stderr": diag.mutual_info.stderr,
        "aggregate_kl": diag.aggregate_kl.value,
        "originals": originals.detach().cpu().float(),
        "reconstructions": recons.detach().cpu().float(),
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
    if baseline is not None:
        b = runs[check_choice(baseline, "baseline", runs)]
        run["baseline"] = f"{baseline[0]}, {baseline[1]}"
        run["d_elbo"] = run["test_elbo"] - b["test_elbo"]
        run["d_kl"] = run["kl"] - b["kl"]
        run["d_active"] = run["n_active"] - b["n_active"]
        run["d_mi"] = run["mutual_info"] - b["mutual_info"]
    return run
