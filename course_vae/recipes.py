"""The exact configurations the chapters train, so benchmarks can train the very same thing.

A recipe is a plain dict: the model (``hidden``, ``latent_dim``, ``likelihood``,
``activation``), the data (``dataset``; Bernoulli models train on dynamically binarised
images and are tested on the test set binarised once) and the optimisation (``epochs``,
``lr``, ``batch_size``, ``beta``, ``model_seed`` for the initial weights, ``train_seed`` for
minibatch order, binarisation and noise).  :func:`train_recipe` builds and trains it.
"""

from __future__ import annotations

from typing import Any

import torch

from course_vae.data import ImageDataset, load_dataset
from course_vae.models import VAE, VAEConfig

__all__ = ["CH03_BETA_VAE", "CH03_VAE", "model_from_recipe", "train_recipe"]

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
"""Chapter 03's digits VAE: 64-256-2 MLP, Bernoulli decoder, Adam 3e-3, batch 128, 150 epochs."""

CH03_BETA_VAE: dict[str, Any] = {**CH03_VAE, "latent_dim": 8}
"""Chapter 03's beta = 0 vs beta = 1 comparison: the same model with 8 latent dimensions."""

_KEYS = set(CH03_VAE)


def _check_recipe(recipe: Any) -> dict[str, Any]:
    if not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a dict, got {type(recipe).__name__}")
    missing, unknown = _KEYS - set(recipe), set(recipe) - _KEYS
    if missing or unknown:
        raise ValueError(f"recipe has missing keys {sorted(missing)} / unknown {sorted(unknown)}")
    return recipe


def model_from_recipe(recipe: dict[str, Any], input_dim: int) -> VAE:
    """The untrained :class:`~course_vae.models.VAE` of ``recipe`` (weights from model_seed)."""
    recipe = _check_recipe(recipe)
    config = VAEConfig(
        input_dim=input_dim,
        hidden=tuple(recipe["hidden"]),
        latent_dim=recipe["latent_dim"],
        likelihood=recipe["likelihood"],
        activation=recipe["activation"],
    )
    return VAE(config, seed=recipe["model_seed"])


def train_recipe(
    recipe: dict[str, Any],
    dataset: ImageDataset | None = None,
    epochs: int | None = None,
    beta: float | None = None,
    device: torch.device | str | None = None,
) -> tuple[VAE, dict[str, list[float]]]:
    """Build and train ``recipe``; return (model, history of :func:`course_vae.train.train`).

    ``dataset`` defaults to ``load_dataset(recipe["dataset"])``; ``epochs`` and ``beta``
    override the recipe's (e.g. ``epochs=10 * recipe["epochs"]`` for a longer baseline).
    """
    from course_vae.train import train

    recipe = _check_recipe(recipe)
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
    )
    return model, history
