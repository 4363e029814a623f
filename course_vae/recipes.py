"""Every chapter's budget in one place: model sizes, epochs, learning rates, batch sizes, seeds.

The chapters read these values (and benchmarks train the very same models), so a budget is
changed here and nowhere else.

A *recipe* (chapters 03 and 04) is a plain dict: the model (``hidden``, ``latent_dim``,
``likelihood``, ``activation``, and optionally ``ar_hidden`` for an autoregressive MADE
decoder), the data (``dataset``; Bernoulli models train on dynamically binarised images and
are tested on the test set binarised once) and the optimisation (``epochs``, ``lr``,
``batch_size``, ``beta``, ``model_seed`` for the initial weights, ``train_seed`` for minibatch
order, binarisation and noise).  :func:`model_from_recipe` builds the model and
:func:`train_recipe` trains it.  Chapter 04's text VAE trains with :func:`train_text_recipe`
(data from :func:`text_data`); chapter 05 sweeps beta and seeds on sprites
(:data:`CH05_SPRITES`) with :func:`train_sprites_recipe`: its budget is :data:`CH05_SWEEP`
(and :data:`CH05_CAPACITY` for controlled capacity).  Every chapter trains through these
builders and the one loop, :func:`course_vae.train.train`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch

from course_vae._validate import check_keys
from course_vae.conv import ConvVAE
from course_vae.data import ImageDataset, load_dataset
from course_vae.made import AutoregressiveVAE
from course_vae.models import VAE, VAEConfig
from course_vae.schedules import LinearAnnealing
from course_vae.text import TextVAE, make_sentences
from course_vae.train import KLTracker, train

__all__ = [
    "CH03_BETA_VAE",
    "CH03_SAMPLE_QUALITY",
    "CH03_VAE",
    "CH04_AR_VAE",
    "CH04_BETA_SWEEP",
    "CH04_LINEAR",
    "CH04_REMEDIES",
    "CH04_TEXT",
    "CH04_VAE",
    "CH05_CAPACITY",
    "CH05_LINEAR",
    "CH05_SPRITES",
    "CH05_SWEEP",
    "CH06_RUNS",
    "CH06_VAE",
    "model_from_recipe",
    "text_data",
    "train_recipe",
    "train_loss_runs",
    "train_sprites_recipe",
    "train_text_recipe",
]

# --------------------------------------------------------------------------- chapter 03

CH03_VAE: dict[str, Any] = {
    "dataset": "digits",
    "likelihood": "bernoulli",
    "hidden": (256,),
    "latent_dim": 2,
    "activation": "relu",
    "epochs": 150,
    "lr": 3e-3,
    "batch_size": 128,
    "beta": 1.0,
    "model_seed": 0,
    "train_seed": 0,
}
"""Chapter 03's digits VAE: a 64-256-4 MLP encoder (mu and log sigma^2 of a 2-D code), a
2-256-64 Bernoulli decoder, Adam 3e-3, batch 128, 150 epochs."""

CH03_BETA_VAE: dict[str, Any] = {**CH03_VAE, "latent_dim": 8}
"""Chapter 03's beta = 0 vs beta = 1 comparison: the same model with 8 latent dimensions."""

CH03_SAMPLE_QUALITY: dict[str, Any] = {
    "feature_epochs": 40,
    "feature_seed": 0,
    "k": 3,
    "n_samples": 400,
    "mixture_components": 10,
    "surgery_draws": 10,
    "extra_seeds": (1,),
}
"""Chapter 03's sample-quality and ELBO-surgery settings: the feature net's epochs and seed
(``sample_quality.train_feature_net``), the k of the k-NN balls, samples per model, the
components of the mixture fitted to codes, Monte Carlo draws per posterior, and the training
seeds of the beta = 0 / 1 models retrained to show the spread of the sample scores."""

# --------------------------------------------------------------------------- chapter 04

CH04_VAE: dict[str, Any] = {**CH03_VAE, "latent_dim": 8, "epochs": 60, "lr": 1e-3}
"""Chapter 04's budget for every run: 64-256-8 MLP VAE, Adam 1e-3, batch 128, 60 epochs,
seed 0 for the weights and for training (each run sets its own beta or objective)."""

CH04_AR_VAE: dict[str, Any] = {**CH04_VAE, "ar_hidden": (256,)}
"""Chapter 04's autoregressive model: the same encoder and budget, a MADE decoder (256 units)."""

CH04_LINEAR: dict[str, Any] = {
    "eigenvalues": torch.tensor([4.0, 2.0, 1.0, 0.5, 0.25, 0.125]),
    "noise_var": 0.3,
    "betas": (1.0, 2.0, 4.0, 8.0),
    "n": 2000,
    "steps": 1500,
}
"""Chapter 04's linear VAE (:mod:`course_vae.linear_vae`): Gaussian data with these six
variances (n points), decoder noise variance 0.3, each beta fitted by 1,500 Adam steps on the
exact expected loss."""

CH04_BETA_SWEEP: dict[str, Any] = {"betas": (1.0, 1.5, 2.0, 3.0, 8.0), "seeds": (0, 1)}
"""Chapter 04's beta sweep on the CH04_VAE budget: every beta for every seed (the seed sets
the initial weights and the training seed)."""

CH04_TEXT: dict[str, Any] = {
    "n_train": 960,
    "n_test": 500,
    "train_data_seed": 0,
    "test_data_seed": 1,
    "embed_dim": 32,
    "hidden": 64,
    "latent_dim": 8,
    "epochs": 8,
    "lr": 5e-3,
    "batch_size": 64,
    "seeds": (0, 1, 2),
    "word_dropouts": (1.0, 0.5, 0.0),
    "iwae_samples": 10,
    "track_every": 4,
    "aggressive_steps": 15,
    "aggressive_updates": 8,
    "iwae_ks": (1, 10, 100, 1000),
    "iwae_subset": 100,
    "defensive_mix": 0.5,
    "control_beta": 0.5,
    "control_seeds": (0, 1),
}
"""Chapter 04's text VAE (:mod:`course_vae.text`): 960 training and 500 test sentences, GRU
encoder/decoder (embedding 32, hidden 64, 8 latents), Adam 5e-3, batch 64, 8 epochs (120
steps), seeds 0-2 (weights and training); word dropout from 1.0 (the decoder sees no previous
word) to 0.0 (teacher forcing, the strongest decoder); log p(x) by IWAE with 10 samples; the
KL per dimension recorded every 4 steps where the chapter draws it; He et al.'s aggressive
encoder updates (8 extra encoder steps after each step of the first epoch, 15 steps); IWAE_K
for K up to 1000 on the first 100 test sentences, and a defensive proposal (half q(z|x), half
p(z)); the lagging encoder's positive control at a fixed beta = 0.5, seeds 0-1."""

CH04_REMEDIES: dict[str, Any] = {
    "warmup_fraction": 0.5,
    "n_cycles": 4,
    "ratio": 0.5,
    "free_bits": (0.1, 0.25, 0.5),
}
"""Chapter 04's remedies on the collapsed text VAE: linear annealing over the first half,
cyclical annealing (Fu et al. 2019: M = 4, R = 0.5), free bits with these floors (nats)."""

# --------------------------------------------------------------------------- chapter 05

CH05_SPRITES: dict[str, Any] = {
    "size": 20,
    "shapes": ("square", "ellipse", "triangle"),
    "n_scales": 3,
    "n_orientations": 1,
    "n_x": 6,
    "n_y": 3,
    "y_span": 0.4,
    "test_fraction": 1 / 3,
    "split_seed": 0,
}
"""Chapter 05's data: 3 shapes x 3 scales x 6 x-positions (over 10 pixels) x 3 y-positions
(over 4 pixels) on a 20 x 20 canvas, centres 2 pixels apart (every position a whole-pixel
shift), so x and y matter unequally: 162 images, one per combination; a seeded third
(54 images) held out."""

CH05_SWEEP: dict[str, Any] = {
    "channels": 16,
    "latent_dim": 6,
    "epochs": 200,
    "lr": 1e-2,
    "batch_size": 32,
    "betas": (0.25, 1.0, 2.0, 4.0),
    "seeds": (0, 1, 2, 3, 4),
    "samples": 8,
    "warmup_steps": 200,
    "long_epochs": 400,
}
"""Chapter 05's beta sweep: a :class:`~course_vae.conv.ConvVAE` (two stride-2 convolutions of
16 channels, 6 latents, Bernoulli decoder) on the 108 training sprites, Adam 1e-2, batches of
32, 200 epochs (800 steps), the KL weight raised linearly from 0 to beta over the first
``warmup_steps`` (without it some seeds never leave the all-collapsed start), for every
beta and seed (the seed sets the initial weights and the training seed); the scores use
``samples`` draws of q(z|x) per held-out image; one beta = 1 run of ``long_epochs`` shows
where the training curve flattens."""

CH05_CAPACITY: dict[str, Any] = {"c_max": 6.0, "ramp_steps": 600, "gamma": 30.0,
                                 "seeds": (0,)}
"""Chapter 05's controlled capacity (:class:`~course_vae.schedules.KLCapacity`): the KL
target rises to ``c_max`` nats over ``ramp_steps`` of the 800 steps, weight ``gamma``."""

CH05_LINEAR: dict[str, Any] = {
    "data_dim": 6,
    "noise_std": 1.0,
    "variances": {"distinct": (4.0, 1.0), "equal": (2.5, 2.5)},
    "steps": 1000,
    "lr": 0.02,
    "seeds": (0, 1, 2, 3, 4),
    "record_every": 25,
}
"""Chapter 05's linear VAEs (:func:`~course_vae.linear_vae.fit_linear_vae`): data
x = U diag(sqrt(variances)) z + noise in ``data_dim`` dimensions (2 latent directions U),
noise std 1, Adam for ``steps`` steps, 5 seeds per pair of variances."""

# --------------------------------------------------------------------------- chapter 06

CH06_VAE: dict[str, Any] = {**CH04_VAE, "epochs": 30, "lr": 3e-3}
"""Chapter 06's budget for every loss it trains: chapter 04's 64-256-8 MLP VAE on the digits,
Adam 3e-3, batch 128, 30 epochs (330 steps, under a second on one core); the loss is the
learner's ``loss_fn`` (or the course's, with an explicit beta, as the control)."""

CH06_RUNS: dict[str, Any] = {"seeds": (0, 1, 2), "diverge_epochs": 3, "n_prior_samples": 8}
"""Chapter 06's seeds for every trained loss (each seed sets the initial weights and the
training seed, the same for the buggy loss and its control), the shorter budget of the losses
that diverge (the KL grows without bound), and the prior samples kept per run."""

# --------------------------------------------------------------------------- building, training

_KEYS = set(CH03_VAE)
_OPTIONAL_KEYS = {"ar_hidden"}


def _check_recipe(recipe: Any) -> dict[str, Any]:
    if not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a dict, got {type(recipe).__name__}")
    missing, unknown = _KEYS - set(recipe), set(recipe) - _KEYS - _OPTIONAL_KEYS
    if missing or unknown:
        raise ValueError(f"recipe has missing keys {sorted(missing)} / unknown {sorted(unknown)}")
    return recipe


def model_from_recipe(recipe: dict[str, Any], input_dim: int) -> VAE:
    """The untrained model of ``recipe`` (weights from model_seed).

    A :class:`~course_vae.models.VAE`, or an :class:`~course_vae.made.AutoregressiveVAE`
    when the recipe has ``ar_hidden``.
    """
    recipe = _check_recipe(recipe)
    config = VAEConfig(
        input_dim=input_dim,
        hidden=tuple(recipe["hidden"]),
        latent_dim=recipe["latent_dim"],
        likelihood=recipe["likelihood"],
        activation=recipe["activation"],
    )
    if "ar_hidden" in recipe:
        return AutoregressiveVAE(
            config, seed=recipe["model_seed"], ar_hidden=tuple(recipe["ar_hidden"])
        )
    return VAE(config, seed=recipe["model_seed"])


def train_recipe(
    recipe: dict[str, Any],
    dataset: ImageDataset | None = None,
    epochs: int | None = None,
    beta: float | Callable[[int], float] | None = None,
    device: torch.device | str | None = None,
    seed: int | None = None,
    objective: Callable | None = None,
    loss_fn: Callable | None = None,
) -> tuple[VAE, dict[str, list[float]]]:
    """Build and train ``recipe``; return (model, history of :func:`course_vae.train.train`).

    ``dataset`` defaults to ``load_dataset(recipe["dataset"])``; ``epochs`` and ``beta``
    override the recipe's (e.g. ``epochs=10 * recipe["epochs"]`` for a longer baseline);
    ``seed`` replaces both ``model_seed`` and ``train_seed`` (one seed per run);
    ``objective`` and ``loss_fn`` are passed to :func:`~course_vae.train.train`.
    """
    recipe = _check_recipe(recipe)
    if seed is not None:
        recipe = {**recipe, "model_seed": seed, "train_seed": seed}
    ds = load_dataset(recipe["dataset"]) if dataset is None else dataset
    if not isinstance(ds, ImageDataset):
        raise TypeError(f"dataset must be an ImageDataset, got {type(ds).__name__}")
    train_data, test_data = ds.for_likelihood(recipe["likelihood"])
    model = model_from_recipe(recipe, ds.input_dim)
    if device is not None:
        model.to(device)
    history = train(
        model,
        train_data,
        test_data,
        epochs=recipe["epochs"] if epochs is None else epochs,
        lr=recipe["lr"],
        batch_size=recipe["batch_size"],
        beta=recipe["beta"] if beta is None else beta,
        seed=recipe["train_seed"],
        device=device,
        progress=False,
        objective=objective,
        loss_fn=loss_fn,
    )
    return model, history


def text_data(recipe: dict[str, Any] = CH04_TEXT) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, test) sentences of a text recipe, as token ids (:func:`text.make_sentences`)."""
    check_keys(recipe, ("n_train", "n_test", "train_data_seed", "test_data_seed"), "recipe")
    return (make_sentences(recipe["n_train"], seed=recipe["train_data_seed"]),
            make_sentences(recipe["n_test"], seed=recipe["test_data_seed"]))


def train_text_recipe(
    train_tokens: torch.Tensor,
    test_tokens: torch.Tensor,
    seed: int,
    word_dropout: float = 0.0,
    use_latent: bool = True,
    beta: float | Callable[[int], float] = 1.0,
    objective: Callable | None = None,
    track: bool = False,
    recipe: dict[str, Any] = CH04_TEXT,
    init_state: dict[str, torch.Tensor] | None = None,
    encoder_updates: int = 0,
) -> tuple[TextVAE, dict[str, list[float]], KLTracker | None]:
    """Build a :class:`~course_vae.text.TextVAE` of ``recipe`` (weights from ``seed``) and
    train it with :func:`~course_vae.train.train` (the same ``seed`` for order, noise and
    dropped words).  Returns (model, history, tracker): with ``track``, a
    :class:`~course_vae.train.KLTracker` of the test set's KL per dimension every
    ``recipe["track_every"]`` steps, else None.

    ``init_state``: a warm start, the ``state_dict`` of a trained model of the same shape
    (e.g. one trained with free bits) to continue from instead of fresh weights.
    ``encoder_updates`` > 0: He et al.'s aggressive training
    (:class:`~course_vae.schedules.AggressiveEncoderUpdates`), that many extra encoder
    steps after each of the first ``recipe["aggressive_steps"]`` steps."""
    from course_vae.schedules import AggressiveEncoderUpdates

    check_keys(recipe, ("embed_dim", "hidden", "latent_dim", "epochs", "lr", "batch_size",
                        "track_every"), "recipe")
    model = TextVAE(embed_dim=recipe["embed_dim"], hidden=recipe["hidden"],
                    latent_dim=recipe["latent_dim"], use_latent=use_latent,
                    word_dropout=word_dropout, seed=seed)
    if init_state is not None:
        model.load_state_dict(init_state)
    tracker = None
    if track:
        beta0 = float(beta(0)) if callable(beta) else float(beta)
        tracker = KLTracker(model, test_tokens, recipe["track_every"], beta0=beta0)
    hooks: list[Callable] = [] if tracker is None else [tracker]
    if encoder_updates:
        check_keys(recipe, ("aggressive_steps",), "recipe")
        hooks.insert(0, AggressiveEncoderUpdates(
            model, train_tokens, model.encoder_parameters(), encoder_updates,
            recipe["aggressive_steps"], recipe["lr"], recipe["batch_size"], seed))

    def on_step(step: int, x: torch.Tensor, beta_now: float) -> None:
        for hook in hooks:
            hook(step, x, beta_now)

    history = train(model, train_tokens, test_tokens, epochs=recipe["epochs"], lr=recipe["lr"],
                    batch_size=recipe["batch_size"], beta=beta, seed=seed, progress=False,
                    objective=objective, on_step=on_step if hooks else None)
    return model, history, tracker


def train_sprites_recipe(
    images: torch.Tensor,
    seed: int,
    beta: float | Callable[[int], float] = 1.0,
    latent_dim: int | None = None,
    objective: Callable | None = None,
    track_every: int | None = None,
    device: torch.device | str | None = None,
    recipe: dict[str, Any] = CH05_SWEEP,
    test_images: torch.Tensor | None = None,
    epochs: int | None = None,
) -> tuple[ConvVAE, dict[str, list[float]], KLTracker | None]:
    """Build a :class:`~course_vae.conv.ConvVAE` of ``recipe`` (weights from ``seed``) on
    ``images`` (n, side**2) and train it with :func:`~course_vae.train.train`; return
    (model, history, tracker).  ``latent_dim`` overrides the recipe's (chapter 05's control);
    with ``track_every``, a :class:`~course_vae.train.KLTracker` of the training images' KL
    per dimension every that many steps, else None.  A recipe with ``warmup_steps`` raises a
    numeric beta linearly from 0 over those steps (KL warm-up).  With ``test_images`` the
    history also holds the held-out curves (``test_loss``, ...); ``epochs`` overrides the
    recipe's."""
    check_keys(recipe, ("channels", "latent_dim", "epochs", "lr", "batch_size"), "recipe")
    side = int(round(math.sqrt(images.shape[-1])))
    model = ConvVAE(side=side, latent_dim=recipe["latent_dim"] if latent_dim is None
                    else latent_dim, channels=recipe["channels"], seed=seed)
    if device is not None:
        model.to(device)
    tracker = None if track_every is None else KLTracker(model, images, track_every)
    if recipe.get("warmup_steps") and isinstance(beta, numbers.Real) and objective is None:
        beta = LinearAnnealing(recipe["warmup_steps"], 0.0, float(beta))
    history = train(model, images, test_images, epochs=recipe["epochs"] if epochs is None
                    else epochs, lr=recipe["lr"],
                    batch_size=recipe["batch_size"], beta=beta, seed=seed, device=device,
                    progress=False, objective=objective, on_step=tracker)
    return model, history, tracker


def train_loss_runs(
    loss_fn: Callable | None = None,
    dataset: ImageDataset | None = None,
    seeds: tuple[int, ...] | None = None,
    beta: float | None = None,
    epochs: int | None = None,
    recipe: dict[str, Any] = CH06_VAE,
) -> tuple[list, list[dict], list[dict]]:
    r"""Chapter 06: train ``recipe`` once per seed with a learner's ``loss_fn`` (or, with
    ``loss_fn=None``, the course's loss at ``beta``, the control); return (models,
    histories, summaries).

    Each summary is :func:`course_vae.runs.summarize_loss_run` on the test set binarised
    once, with the loss's effective beta measured by
    :func:`course_vae.audit.audit_vae_loss` at the recipe's sizes (the course's ``beta``
    for the control; None when the audit cannot read it), and
    ``CH06_RUNS["n_prior_samples"]`` prior samples.  ``seeds`` default to
    ``CH06_RUNS["seeds"]``; ``epochs`` overrides the recipe's.
    """
    from course_vae.audit import audit_vae_loss
    from course_vae.runs import summarize_loss_run

    if loss_fn is not None and beta is not None:
        raise ValueError("give loss_fn (its beta is audited) or beta (the course's loss), "
                         "not both")
    recipe = _check_recipe(recipe)
    ds = load_dataset(recipe["dataset"]) if dataset is None else dataset
    seeds = CH06_RUNS["seeds"] if seeds is None else tuple(seeds)
    if loss_fn is None:
        effective = recipe["beta"] if beta is None else float(beta)
    else:
        effective = audit_vae_loss(loss_fn, ds.input_dim, recipe["latent_dim"],
                                   recipe["batch_size"]).beta
    _, test_data = ds.for_likelihood(recipe["likelihood"])
    models, histories, summaries = [], [], []
    for seed in seeds:
        model, history = train_recipe(recipe, ds, epochs=epochs, beta=beta, seed=seed,
                                      loss_fn=loss_fn)
        models.append(model)
        histories.append(history)
        summaries.append(summarize_loss_run(model, history, test_data, effective,
                                            CH06_RUNS["n_prior_samples"],
                                            real=getattr(ds, "test_grey", None)))
    return models, histories, summaries
