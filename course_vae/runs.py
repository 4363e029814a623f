"""Trained runs, summarised: the numbers a chapter's tables and explorer read.

Chapter 05's explorer reads :func:`latent_report`: what each latent dimension of a trained
VAE encodes about the factors of a :class:`~course_vae.sprites.Sprites` data set.

Chapter 04 trains several models (a baseline and its remedies):
:func:`summarize_collapse_run` turns one trained model into a plain dict of its numbers
(ELBO, KL, per-dimension KL, active units, I(x; z), KL(q(z) || p(z)), reconstructions);
:func:`remedy_choices` and :func:`collapse_explorer_state` select a run and compare it with
a baseline, as the chapter's explorer shows them.
"""

from __future__ import annotations

from typing import Any

import torch

from course_vae._validate import check_choice, check_nonnegative_int, check_positive_int
from course_vae.diagnostics import kl_per_dimension, model_diagnostics
from course_vae.disentanglement import mig_details
from course_vae.models import VAE
from course_vae.sprites import Sprites

__all__ = [
    "collapse_explorer_state",
    "latent_report",
    "remedy_choices",
    "seed_mean_std",
    "summarize_collapse_run",
    "summarize_text_run",
]


def _latent_fields(diag: Any) -> dict:
    """The latent-space numbers of a :class:`~course_vae.diagnostics.LatentDiagnostics`."""
    return {
        "kl_per_dim": diag.kl_per_dim.detach().cpu().double(),
        "n_active": diag.n_active,
        "mutual_info": diag.mutual_info.value,
        "mutual_info_stderr": diag.mutual_info.stderr,
        "aggregate_kl": diag.aggregate_kl.value,
    }


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
        **_latent_fields(diag),
        "originals": originals.detach().cpu().float(),
        "reconstructions": recons.detach().cpu().float(),
    }


def summarize_text_run(model: Any, history: dict, test_tokens: Any, word_dropout: float = 0.0,
                       iwae_samples: int = 20, seed: int = 0) -> dict:
    r"""The numbers chapter 04 shows for one trained :class:`~course_vae.text.TextVAE`.

    As :func:`summarize_collapse_run` (``test_elbo``, ``kl``, ``kl_per_dim``, ``n_active``,
    ``mutual_info``, ``aggregate_kl``), plus ``log_px``: the test set's mean IWAE estimate of
    log p(x) with ``iwae_samples`` samples (exact for the decoder alone), ``track``: the
    history's ``step``, ``beta`` and ``kl_per_dim`` over training, and ``sentences``: the
    first three test sentences (text runs have no images).
    """
    from course_vae.text import decode_tokens, text_diagnostics, text_iwae

    if not history.get("test_elbo"):
        raise ValueError("history must hold a non-empty 'test_elbo' list")
    diag = text_diagnostics(model, test_tokens)
    log_px = text_iwae(model, test_tokens, iwae_samples, word_dropout, seed)
    return {
        "family": "text",
        "test_elbo": float(history["test_elbo"][-1]),
        "kl": float(history["test_kl"][-1]),
        **_latent_fields(diag),
        "log_px": float(log_px.mean()),
        "track": {k: history[k] for k in ("step", "beta", "kl_per_dim", "beta_per_step")
                  if k in history},
        "sentences": decode_tokens(test_tokens[:3]),
    }


def seed_mean_std(runs: dict, keys: list, metric: str) -> tuple[float, float]:
    """Mean and standard deviation (over seeds, ddof 1; 0 for one run) of ``metric`` over the
    runs ``keys`` of ``runs`` (one key per seed)."""
    values = torch.tensor([float(runs[k][metric]) for k in keys], dtype=torch.float64)
    std = float(values.std()) if len(values) > 1 else 0.0
    return float(values.mean()), std


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


def latent_report(model: VAE, sprites: Sprites, base_index: int | None = None,
                  n_bins: int | None = None) -> dict:
    r"""What each latent dimension of ``model`` encodes, measured on every image of ``sprites``.

    Encodes the images to posterior means mu (n, d) and log-variances, and returns a dict:
    ``z_base`` (d,) the code mu of the image ``base_index`` (default: the middle row);
    ``kl`` (d,) the per-dimension KL_j = mean_n KL(q(z_j|x_n) || N(0, 1)) in nats;
    ``scores`` (d, K') the normalised mutual information I(z_j; v_k) / H(v_k) (the
    calibrated estimator of MIG) for the K' factors that vary; ``factor_names`` those
    factors' names; ``mig`` the MIG of mu.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_vae VAE, got {type(model).__name__}")
    if not isinstance(sprites, Sprites):
        raise TypeError(f"sprites must be a Sprites data set, got {type(sprites).__name__}")
    if model.config.input_dim != sprites.images.shape[1]:
        raise ValueError(
            f"model input_dim {model.config.input_dim} does not match the sprites' "
            f"{sprites.images.shape[1]} pixels"
        )
    n = len(sprites)
    base_index = n // 2 if base_index is None else check_nonnegative_int(base_index, "base_index")
    if base_index >= n:
        raise ValueError(f"base_index must be an integer in [0, {n}), got {base_index!r}")
    p = next(model.parameters())
    with torch.no_grad():
        mu, logvar = model.encode(sprites.images.to(device=p.device, dtype=p.dtype))
    mu, logvar = mu.cpu().double(), logvar.cpu().double()
    details = mig_details(mu, sprites.labels, n_bins=n_bins)
    varying = details.entropy > 0
    scores = details.mutual_info[:, varying] / details.entropy[varying][None, :]
    return {
        "z_base": mu[base_index].numpy().copy(),
        "kl": kl_per_dimension(mu, logvar).numpy(),
        "scores": scores,
        "factor_names": tuple(
            name for name, keep in zip(sprites.factor_names, varying, strict=True) if keep
        ),
        "mig": details.score,
    }
