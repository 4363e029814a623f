"""Trained runs, summarised: the numbers a chapter's tables and explorer read.

Chapter 05's explorer reads :func:`latent_report`: what each latent dimension of a trained
VAE encodes about the factors of a :class:`~course_vae.sprites.Sprites` data set.

Chapter 04 trains several models (a baseline and its remedies):
:func:`summarize_collapse_run` turns one trained model into a plain dict of its numbers
(ELBO, KL, per-dimension KL, active units, I(x; z), KL(q(z) || p(z)), reconstructions);
the explorer's selection of a run against a baseline is
:func:`course_vae.explorer_state.collapse_explorer_state`.
"""

from __future__ import annotations

from typing import Any

import torch

from course_vae._validate import check_model, check_nonnegative_int, check_positive_int
from course_vae.diagnostics import (
    encode_dataset,
    kl_per_dimension,
    latent_diagnostics,
    linear_probe_accuracy,
    paired_mutual_information,
)
from course_vae.disentanglement import dci, mig, mig_details
from course_vae.models import VAE, reparameterize
from course_vae.score_calibration import permute_images
from course_vae.sprites import Sprites

__all__ = [
    "latent_report",
    "format_mean_std",
    "mean_std",
    "per_seed",
    "code_scores",
    "sample_codes",
    "summarize_collapse_run",
    "summarize_loss_run",
    "summarize_sprite_run",
    "summarize_text_run",
    "text_probes",
]


def _latent_fields(diag: Any, mu: torch.Tensor, logvar: torch.Tensor, mi_seed: int) -> dict:
    """The latent-space numbers of a :class:`~course_vae.diagnostics.LatentDiagnostics`;
    I(x; z) by the paired estimator (:func:`~course_vae.diagnostics.paired_mutual_information`,
    one draw per point from the generator ``mi_seed``: a different one per run)."""
    mi = paired_mutual_information(mu.detach(), logvar.detach(), 1, generator=mi_seed)
    return {
        "kl_per_dim": diag.kl_per_dim.detach().cpu().double(),
        "n_active": diag.n_active,
        "mutual_info": mi.value,
        "mutual_info_stderr": mi.stderr,
        "aggregate_kl": diag.aggregate_kl.value,
    }


def summarize_collapse_run(model: Any, history: dict, test_x: Any, n_images: int = 8,
                           mi_seed: int = 0) -> dict:
    r"""The numbers chapter 04 shows for one trained model, as a plain dict.

    ``test_elbo``, ``test_recon``, ``kl`` (last epoch of ``history``, nats per example),
    ``kl_per_dim`` (:func:`~course_vae.diagnostics.kl_per_dimension` on ``test_x``; it sums
    to the average KL),
    ``n_active`` (variance threshold 0.01), ``mutual_info`` (I(x; z) by the paired
    estimator, one draw per test point from generator ``mi_seed``; may be slightly
    negative) and ``mutual_info_stderr`` (its Monte Carlo standard error),
    ``aggregate_kl`` (KL(q(z) || p(z))), and the first ``n_images`` test images
    (``originals``) with their reconstructions ``model.reconstruct`` (``reconstructions``).
    """
    n_images = check_positive_int(n_images, "n_images")
    for key in ("test_elbo", "test_recon", "test_kl"):
        if not history.get(key):
            raise ValueError(f"history must hold a non-empty {key!r} list (train with test_data)")
    mu, logvar = encode_dataset(model, test_x)
    diag = latent_diagnostics(mu, logvar, generator=mi_seed)
    originals = test_x[:n_images]
    with torch.no_grad():
        recons = model.reconstruct(originals)
    return {
        "test_elbo": float(history["test_elbo"][-1]),
        "test_recon": float(history["test_recon"][-1]),
        "kl": float(history["test_kl"][-1]),
        **_latent_fields(diag, mu, logvar, mi_seed),
        "originals": originals.detach().cpu().float(),
        "reconstructions": recons.detach().cpu().float(),
    }


def summarize_loss_run(model: Any, history: dict, test_x: Any, beta: float | None,
                       n_samples: int = 8, seed: int = 0, real: Any = None,
                       n_quality: int = 400) -> dict:
    r"""Chapter 06: :func:`summarize_collapse_run` of a model trained with a (buggy) loss,
    plus the loss's effective ``beta`` (as audited; None when unrecognised),
    ``prior_samples``: the mean images of ``n_samples`` draws z ~ N(0, I) (seeded by
    ``seed``), and three numbers that put ``aggregate_kl`` beside its null:

    * ``null_aggregate_kl``: the same estimator on N codes whose population is exactly the
      prior, with this model's mean posterior width per dimension
      (:func:`~course_vae.latent.prior_null_codes`, widths capped at 0.999): what narrow
      posteriors alone give at this N, holes or not;
    * ``placement_kl``: KL(q_G || p) of the Gaussian with q(z)'s mean and covariance
      (:func:`~course_vae.latent.placement_kl`), a large-scale measure that the widths
      hardly touch;
    * with ``real`` (reference images, e.g. the grey test digits): ``prior_precision`` and
      ``prior_recall`` of ``n_quality`` prior samples' mean images against them in pixel space
      (:func:`~course_vae.sample_quality.precision_recall`, k = 3).
    """
    from course_vae.latent import placement_kl, prior_null_codes
    from course_vae.sample_quality import precision_recall

    n_samples = check_positive_int(n_samples, "n_samples")
    n_quality = check_positive_int(n_quality, "n_quality")
    seed = check_nonnegative_int(seed, "seed")
    run = summarize_collapse_run(model, history, test_x)
    mu, logvar = encode_dataset(model, test_x)
    widths = torch.exp(0.5 * logvar.double()).mean(0).clamp(1e-6, 0.999)
    null_mu, null_lv = prior_null_codes(len(mu), widths, generator=seed)
    null = latent_diagnostics(null_mu, null_lv, generator=seed)
    run["null_aggregate_kl"] = null.aggregate_kl.value
    run["placement_kl"] = placement_kl(mu, logvar)
    run["mean_posterior_var"] = float(torch.exp(logvar.double()).mean())
    with torch.no_grad():
        samples = model.sample(n_samples, generator=seed)
        if real is not None:
            many = model.sample(n_quality, generator=seed + 1).detach().cpu().float()
            pr = precision_recall(torch.as_tensor(real).float().reshape(len(real), -1), many)
            run["prior_precision"], run["prior_recall"] = float(pr.precision), float(pr.recall)
    run["beta"] = None if beta is None else float(beta)
    run["prior_samples"] = samples.detach().cpu().float()
    return run


def summarize_text_run(model: Any, history: dict, test_tokens: Any, iwae_samples: int = 20,
                       seed: int = 0, tracker: Any = None, mi_seed: int | None = None,
                       train_tokens: Any = None) -> dict:
    r"""The numbers chapter 04 shows for one trained :class:`~course_vae.text.TextVAE`.

    As :func:`summarize_collapse_run` (``test_elbo``, ``kl``, ``kl_per_dim``, ``n_active``,
    ``mutual_info``, ``aggregate_kl``), plus ``log_px``: the test set's mean IWAE estimate of
    log p(x) with ``iwae_samples`` samples (exact for the decoder alone), ``track``: the
    :class:`~course_vae.train.KLTracker`'s ``step``, ``beta``, ``kl_per_dim`` and
    ``beta_per_step`` over training (empty without a tracker), and ``sentences``: the first
    three test sentences (text runs have no images).  I(x; z) from generator ``mi_seed``
    (default ``seed``).  With ``train_tokens``: ``topic_acc_mu`` and ``topic_acc_z``, the
    test accuracy of a linear probe (:func:`~course_vae.diagnostics.linear_probe_accuracy`)
    predicting each sentence's topic from the posterior mean mu, and from one draw
    z ~ q(z|x) (what the decoder receives); chance is about 1/4; ``pattern_acc_z``: the
    same probe for the optional-word pattern (8 classes, chance about 1/8).
    """
    from course_vae.text import decode_tokens, text_iwae

    if not history.get("test_elbo"):
        raise ValueError("history must hold a non-empty 'test_elbo' list")
    mu, logvar = encode_dataset(model, test_tokens)
    mi_seed = seed if mi_seed is None else mi_seed
    diag = latent_diagnostics(mu, logvar, generator=mi_seed)
    log_px = text_iwae(model, test_tokens, iwae_samples, seed)
    probe = {} if train_tokens is None else text_probes(model, train_tokens, test_tokens, seed)
    return {
        "family": "text",
        "test_elbo": float(history["test_elbo"][-1]),
        "kl": float(history["test_kl"][-1]),
        **_latent_fields(diag, mu, logvar, mi_seed),
        **probe,
        "log_px": float(log_px.mean()),
        "track": {} if tracker is None else {
            "step": tracker.steps, "beta": tracker.betas, "kl_per_dim": tracker.kl_per_dim,
            "beta_per_step": tracker.beta_per_step},
        "sentences": decode_tokens(test_tokens[:3]),
    }


def text_probes(model: Any, train_tokens: Any, test_tokens: Any, seed: int = 0) -> dict:
    r"""Linear probes (:func:`~course_vae.diagnostics.linear_probe_accuracy`, fitted on the
    training sentences, scored on the test ones) of a :class:`~course_vae.text.TextVAE`'s
    encoder: ``topic_acc_mu`` (topic from the posterior mean mu), ``topic_acc_z`` (topic
    from one draw z ~ q(z|x), what the decoder receives; chance about 1/4) and
    ``pattern_acc_z`` (the optional-word pattern from z; 8 classes, chance about 1/8).
    The draws come from generator ``seed + 7``.  Works for an untrained model too (the
    control: the probe standardises its features, so it reads any deterministic dependence
    of mu on the words, however small).
    """
    from course_vae.text import sentence_patterns, sentence_topics

    mu, logvar = encode_dataset(model, test_tokens)
    mu_tr, logvar_tr = encode_dataset(model, train_tokens)
    g = torch.Generator().manual_seed(seed + 7)
    z_tr = reparameterize(mu_tr, logvar_tr, torch.randn(mu_tr.shape, generator=g))
    z_te = reparameterize(mu, logvar, torch.randn(mu.shape, generator=g))
    y_tr, y_te = sentence_topics(train_tokens), sentence_topics(test_tokens)
    p_tr, p_te = sentence_patterns(train_tokens), sentence_patterns(test_tokens)
    return {"topic_acc_mu": linear_probe_accuracy(mu_tr, y_tr, mu, y_te),
            "topic_acc_z": linear_probe_accuracy(z_tr, y_tr, z_te, y_te),
            "pattern_acc_z": linear_probe_accuracy(z_tr, p_tr, z_te, p_te)}


def sample_codes(mu: Any, logvar: Any, samples: int = 4, seed: int = 0) -> torch.Tensor:
    r"""``samples`` draws z ~ q(z|x) = N(mu, diag exp(logvar)) per row, seeded: (n * samples, d).

    Rows are grouped by draw (all n rows of draw 1, then draw 2, ...), so the labels of the
    codes are the n labels repeated ``samples`` times (``labels.repeat(samples, 1)``).
    """
    samples = check_positive_int(samples, "samples")
    mu = torch.as_tensor(mu, dtype=torch.float64)
    std = torch.exp(0.5 * torch.as_tensor(logvar, dtype=torch.float64))
    g = torch.Generator().manual_seed(check_nonnegative_int(seed, "seed"))
    noise = torch.randn(samples, *mu.shape, generator=g, dtype=torch.float64)
    return (mu + std * noise).reshape(-1, mu.shape[-1])


def code_scores(mu: Any, logvar: Any, labels: Any, samples: int = 4, seed: int = 0) -> dict:
    r"""Disentanglement scores of what a code carries: samples z ~ q(z|x), bounded by KL_j.

    ``samples`` draws per row (:func:`sample_codes`); the information I(z_j; v_k) is the
    k-NN estimate (:func:`~course_vae.factor_information.mutual_info_knn`) clipped to the
    dimension's KL_j (I(v; z_j) <= I(x; z_j) <= KL_j).  Returns ``kl_dims`` (d,),
    ``mig`` (a :class:`~course_vae.disentanglement.MIGResult`, with ``per_factor``),
    ``dci`` on the same samples (train/test split by image: every sample of one image on
    one side), ``mig_permuted`` (whole images shuffled by ``seed``,
    :func:`~course_vae.score_calibration.permute_images`: the image-level null) and ``z``
    the samples.
    """
    mu = torch.as_tensor(mu, dtype=torch.float64)
    logvar = torch.as_tensor(logvar, dtype=torch.float64)
    labels = torch.as_tensor(labels)
    kl_dims = kl_per_dimension(mu, logvar).numpy()
    z = sample_codes(mu, logvar, samples, seed).numpy()
    lab = labels.repeat(samples, 1).numpy()
    details = mig_details(z, lab, estimator="knn", upper_bound=kl_dims, seed=seed)
    image = torch.arange(len(mu)).repeat(samples).numpy()
    return {
        "kl_dims": kl_dims, "mig": details, "dci": dci(z, lab, seed=seed, groups=image),
        "mig_permuted": mig(permute_images(z, len(mu), seed), lab, estimator="knn",
                            upper_bound=kl_dims, seed=seed),
        "z": z,
    }


def summarize_sprite_run(model: Any, history: dict, x_train: torch.Tensor,
                         x_test: torch.Tensor, labels_test: Any, seed: int,
                         samples: int = 4) -> dict:
    r"""The numbers chapter 05 shows for one trained sprite VAE.

    Rate R = E KL and distortion D = -E log p(x|z) (nats per image, one z per image) on the
    training and the held-out images (``R_train``, ``D_train``, ``R_test``, ``D_test``),
    ``R_last10`` the mean training rate of the last 10 epochs, ``train_loss`` the training
    loss per epoch, and the scores of :func:`code_scores` on ``samples`` draws of
    q(z|x) per held-out image: ``kl_dims``, ``mig`` (the score), ``mig_per_factor``,
    ``mi`` (d, K') I(z_j; v_k) / H(v_k) for the factors that vary, ``dci``,
    ``mig_permuted``, and ``mu``, ``logvar`` (the held-out posteriors).
    """
    from course_vae.train import evaluate

    ev_train, ev_test = evaluate(model, x_train), evaluate(model, x_test)
    mu, logvar = (t.cpu().double() for t in encode_dataset(model, x_test))
    sc = code_scores(mu, logvar, labels_test, samples, seed)
    return {
        "R_train": ev_train["kl"], "D_train": -ev_train["recon"],
        "R_last10": float(torch.tensor(history["train_kl"][-10:], dtype=torch.float64).mean()),
        "train_loss": list(history["train_loss"]) if "train_loss" in history else [],
        "R_test": ev_test["kl"], "D_test": -ev_test["recon"],
        "kl_dims": sc["kl_dims"], "mig": sc["mig"].score,
        "mig_per_factor": sc["mig"].per_factor[sc["mig"].entropy > 0],
        "mi": sc["mig"].normalised, "dci": sc["dci"], "mig_permuted": sc["mig_permuted"],
        "mu": mu, "logvar": logvar,
    }


def mean_std(values: Any) -> tuple[float, float]:
    """Mean and standard deviation over seeds (ddof 1; 0 for a single run) of ``values``."""
    v = torch.as_tensor([float(x) for x in values], dtype=torch.float64)
    if v.numel() == 0:
        raise ValueError("values must hold at least one run's value")
    return float(v.mean()), float(v.std()) if len(v) > 1 else 0.0


def format_mean_std(values: Any, digits: int) -> str:
    """'mean ± std' over seeds, each with ``digits`` decimals (the std is over seeds)."""
    mean, sd = mean_std(values)
    return f"{mean:{digits + 4}.{digits}f} ± {sd:.{digits}f}"


def per_seed(runs: dict, family: str, label: str, metric: str, seeds: Any) -> list:
    """``metric`` of the run ``(family, f"{label}, seed {s}")`` of ``runs`` for every seed s."""
    return [runs[(family, f"{label}, seed {s}")][metric] for s in seeds]


def latent_report(model: VAE, sprites: Sprites, base_index: int | None = None,
                  n_bins: int | None = None, samples: int = 8, seed: int = 0) -> dict:
    r"""What each latent dimension of ``model`` encodes, measured on every image of ``sprites``.

    Encodes the images to posteriors q(z|x) = N(mu, diag exp(logvar)) and returns a dict:
    ``z_base`` (d,) the code mu of the image ``base_index`` (default: the middle row);
    ``kl`` (d,) the per-dimension KL_j = mean_n KL(q(z_j|x_n) || N(0, 1)) in nats;
    ``scores`` (d, K') the normalised information I(z_j; v_k) / H(v_k) for the K' factors
    that vary, estimated on ``samples`` draws z ~ q(z|x) per image with the k-NN estimator
    and clipped to KL_j (:func:`code_scores`; with ``n_bins``, the 20-bin-style plug-in
    estimator on the means instead); ``factor_names`` those factors' names; ``mig`` the MIG.
    """
    check_model(model)
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
    if n_bins is None:
        details = code_scores(mu, logvar, sprites.labels, samples, seed)["mig"]
    else:
        details = mig_details(mu, sprites.labels, n_bins=n_bins)
    varying = details.entropy > 0
    return {
        "z_base": mu[base_index].numpy().copy(),
        "kl": kl_per_dimension(mu, logvar).numpy(),
        "scores": details.normalised,
        "factor_names": tuple(
            name for name, keep in zip(sprites.factor_names, varying, strict=True) if keep
        ),
        "mig": details.score,
    }
