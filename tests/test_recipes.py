"""Tests of course_vae.recipes: the chapters' training configurations."""

from __future__ import annotations

import pytest
import torch

from course_vae.data import load_dataset
from course_vae.recipes import CH03_BETA_VAE, CH03_VAE, model_from_recipe, train_recipe
from course_vae.train import train


def test_recipes_describe_the_chapter_models():
    assert CH03_VAE["hidden"] == (256,) and CH03_VAE["latent_dim"] == 2
    assert CH03_BETA_VAE["latent_dim"] == 8
    assert {k: v for k, v in CH03_BETA_VAE.items() if k != "latent_dim"} == {
        k: v for k, v in CH03_VAE.items() if k != "latent_dim"
    }
    m = model_from_recipe(CH03_VAE, 64)
    assert m.config.hidden == (256,) and m.latent_dim == 2 and m.likelihood == "bernoulli"


def test_train_recipe_is_the_plain_training_call():
    ds = load_dataset("digits")
    recipe = {**CH03_VAE, "hidden": (16,)}
    model, hist = train_recipe(recipe, ds, epochs=2)
    ref = model_from_recipe(recipe, 64)
    train_data, test_data = ds.for_likelihood("bernoulli")
    ref_hist = train(ref, train_data, test_data, epochs=2, lr=recipe["lr"],
                     batch_size=recipe["batch_size"], seed=recipe["train_seed"], progress=False)
    assert hist == ref_hist
    for a, b in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_bad_recipes_are_rejected():
    with pytest.raises(TypeError, match="recipe"):
        model_from_recipe([1, 2], 64)
    with pytest.raises(ValueError, match="missing"):
        model_from_recipe({"hidden": (4,)}, 64)
    with pytest.raises(ValueError, match="unknown"):
        model_from_recipe({**CH03_VAE, "dropout": 0.1}, 64)
    with pytest.raises(TypeError, match="dataset"):
        train_recipe(CH03_VAE, dataset="digits", epochs=1)
