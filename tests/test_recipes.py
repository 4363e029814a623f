"""Tests of course_vae.recipes: the chapters' training configurations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_vae.data import load_dataset
from course_vae.made import AutoregressiveVAE
from course_vae.models import VAE
from course_vae.recipes import (
    CH03_BETA_VAE,
    CH03_VAE,
    CH04_AR_VAE,
    CH04_VAE,
    CH05_CAPACITY,
    CH05_LINEAR,
    CH05_SPRITES,
    CH05_SWEEP,
    model_from_recipe,
    train_recipe,
)
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


def test_chapter_04_and_05_budgets():
    assert {k: v for k, v in CH04_VAE.items() if k not in ("latent_dim", "epochs", "lr")} == {
        k: v for k, v in CH03_VAE.items() if k not in ("latent_dim", "epochs", "lr")
    }
    assert (CH04_VAE["latent_dim"], CH04_VAE["epochs"], CH04_VAE["lr"]) == (8, 60, 1e-3)
    assert CH04_AR_VAE == {**CH04_VAE, "ar_hidden": (256,)}
    assert CH05_SWEEP["betas"] == (0.25, 1.0, 2.0, 4.0)  # issue 22: from below 1
    assert len(CH05_SWEEP["seeds"]) >= 5
    assert CH05_SWEEP["warmup_steps"] < CH05_SWEEP["epochs"] * 4  # warm-up inside the budget
    assert CH05_SPRITES["n_orientations"] == 1 and CH05_SPRITES["size"] == 20
    assert (CH05_SPRITES["n_x"], CH05_SPRITES["n_y"]) == (6, 3)  # x and y of unequal importance
    assert set(CH05_CAPACITY) == {"c_max", "ramp_steps", "gamma", "seeds"}
    assert set(CH05_LINEAR["variances"]) == {"distinct", "equal"}


def test_sprite_recipe_warms_the_kl_weight_up():
    from course_vae.recipes import train_sprites_recipe

    images = (torch.rand(12, 64, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    sprite = {"channels": 4, "latent_dim": 3, "epochs": 3, "lr": 1e-3, "batch_size": 4,
              "warmup_steps": 6}
    _, history, _ = train_sprites_recipe(images, 0, beta=2.0, recipe=sprite, test_images=images[:4])
    assert history["beta"][0] < history["beta"][-1] == 2.0  # rises to beta within the budget
    assert len(history["test_elbo"]) == 3
    _, history, _ = train_sprites_recipe(images, 0, beta=2.0, recipe=sprite, epochs=1)
    assert len(history["train_loss"]) == 1


def test_code_scores_respect_the_kl_bound():
    from course_vae.runs import code_scores, sample_codes

    rng = np.random.default_rng(0)
    labels = torch.from_numpy(np.stack([rng.integers(0, 3, 60), rng.integers(0, 4, 60)], 1))
    mu = torch.stack([labels[:, 0].double(), labels[:, 1].double(), torch.zeros(60)], 1)
    mu[:, 2] = 0.05 * torch.from_numpy(rng.normal(size=60))  # a nearly-off dimension
    logvar = torch.tensor([-6.0, -6.0, 0.0]).expand(60, 3)
    z = sample_codes(mu, logvar, samples=4, seed=1)
    assert z.shape == (240, 3)
    np.testing.assert_allclose(z[:60, 0], mu[:, 0], atol=0.3)  # grouped by draw
    sc = code_scores(mu, logvar, labels, samples=4, seed=1)
    mi = sc["mig"].mutual_info
    assert (mi <= sc["kl_dims"][:, None] + 1e-12).all()
    assert mi[2].max() <= sc["kl_dims"][2] < 0.01  # the off dimension knows (almost) nothing
    assert sc["mig"].score > 0.85 and sc["mig_permuted"] < 0.1


def test_model_from_recipe_builds_the_chapter_04_models():
    """The recipe's models are the ones the chapter built before by hand, weight for weight."""
    for recipe, by_hand in (
        (CH04_VAE, VAE(latent_dim=8, seed=0)),
        (CH04_AR_VAE, AutoregressiveVAE(latent_dim=8, seed=0)),
    ):
        model = model_from_recipe(recipe, 64)
        assert type(model) is type(by_hand) and model.config == by_hand.config
        for a, b in zip(model.state_dict().values(), by_hand.state_dict().values(), strict=True):
            assert torch.equal(a, b)


def test_per_seed_summaries():
    from course_vae.runs import format_mean_std, mean_std, per_seed

    runs = {("fam", f"lab, seed {s}"): {"kl": v} for s, v in ((0, 1.0), (1, 2.0), (2, 3.0))}
    values = per_seed(runs, "fam", "lab", "kl", (0, 1, 2))
    assert values == [1.0, 2.0, 3.0]
    assert mean_std(values) == (2.0, 1.0)  # std over seeds with ddof 1
    assert mean_std([5.0]) == (5.0, 0.0)
    assert format_mean_std(values, 2) == "  2.00 ± 1.00"
    with pytest.raises(ValueError, match="values"):
        mean_std([])


def test_text_and_sprite_builders_train_through_the_one_loop():
    from course_vae.recipes import train_sprites_recipe, train_text_recipe
    from course_vae.text import make_sentences

    tokens = make_sentences(64, seed=0)
    small = {"embed_dim": 4, "hidden": 8, "latent_dim": 2, "epochs": 1, "lr": 1e-3,
             "batch_size": 16, "track_every": 2}
    model, history, tracker = train_text_recipe(tokens[:48], tokens[48:], 0, word_dropout=0.5,
                                                track=True, recipe=small)
    assert model.word_dropout == 0.5 and len(history["test_elbo"]) == 1
    assert tracker.steps == [0, 2]
    images = (torch.rand(20, 64, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    sprite = {"channels": 4, "latent_dim": 3, "epochs": 2, "lr": 1e-3, "batch_size": 10}
    model, history, tracker = train_sprites_recipe(images, 1, beta=2.0, recipe=sprite,
                                                   track_every=2)
    assert model.config.latent_dim == 3 and history["beta"] == [2.0, 2.0]
    assert tracker.steps == [0, 2, 4]


def test_train_loss_runs_audits_beta_and_matches_train_recipe():
    from course_vae.loss_bugs import recon_mean_kl_batch_mean
    from course_vae.recipes import CH06_RUNS, CH06_VAE, train_loss_runs

    ds = load_dataset("digits")
    recipe = {**CH06_VAE, "hidden": (16,), "epochs": 2}
    models, hists, runs = train_loss_runs(recon_mean_kl_batch_mean, ds, seeds=(0, 1),
                                          recipe=recipe)
    assert len(models) == len(hists) == len(runs) == 2
    assert [r["beta"] for r in runs] == [pytest.approx(64.0, rel=1e-3)] * 2   # audited: pixels
    assert runs[0]["prior_samples"].shape == (CH06_RUNS["n_prior_samples"], 64)
    _, ref = train_recipe(recipe, ds, seed=1, loss_fn=recon_mean_kl_batch_mean)
    assert hists[1]["test_elbo"] == ref["test_elbo"]                          # same seed, same run
    _, _, control = train_loss_runs(None, ds, seeds=(0,), beta=64.0, recipe=recipe)
    assert control[0]["beta"] == 64.0
    with pytest.raises(ValueError, match="not both"):
        train_loss_runs(recon_mean_kl_batch_mean, ds, beta=2.0, recipe=recipe)


def test_text_recipe_warm_start_and_aggressive_encoder_updates():
    from course_vae.recipes import train_text_recipe
    from course_vae.text import make_sentences

    tokens = make_sentences(64, seed=0)
    small = {"embed_dim": 4, "hidden": 8, "latent_dim": 2, "epochs": 1, "lr": 1e-2,
             "batch_size": 16, "track_every": 2, "aggressive_steps": 2}
    first, _, _ = train_text_recipe(tokens[:48], tokens[48:], 0, recipe=small)
    # a warm start continues from the given weights, not from the seed's fresh ones
    zero_epochs = {**small, "epochs": 1, "lr": 1e-12}
    warm, _, _ = train_text_recipe(tokens[:48], tokens[48:], 5, recipe=zero_epochs,
                                   init_state=first.state_dict())
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(
        warm.state_dict().values(), first.state_dict().values(), strict=True))
    # aggressive updates move only the encoder beyond the plain run
    plain, _, _ = train_text_recipe(tokens[:48], tokens[48:], 0, recipe=small)
    aggr, _, _ = train_text_recipe(tokens[:48], tokens[48:], 0, recipe=small, encoder_updates=3)
    assert not torch.equal(plain.to_q.weight, aggr.to_q.weight)
    with pytest.raises(ValueError):  # a recipe without the aggressive phase's length
        train_text_recipe(tokens[:48], tokens[48:], 0, recipe={k: v for k, v in small.items()
                                                               if k != "aggressive_steps"},
                          encoder_updates=3)
