"""Bad input, across the package: a wrong shape, dtype or value raises TypeError or
ValueError, and the message names the offending argument.

One row per (function, bad argument).  ``kl.py`` is covered by tests/test_kl.py.
Checkpoint loading must never unpickle arbitrary objects (weights_only=True).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from course_vae import (
    coding,
    data,
    diagnostics,
    disentanglement,
    elbo,
    explorer_state,
    factor_information,
    gradients,
    latent,
    made,
    models,
    rng,
    schedules,
    sprites,
    train,
)
from course_vae.kl import kl_gaussian_full
from course_vae.linear_gaussian import LinearGaussian

VAE = models.VAE


@pytest.fixture(scope="module")
def vae() -> models.VAE:
    return VAE(input_dim=4, hidden=(8,), latent_dim=2, seed=0)


@pytest.fixture(scope="module")
def ar_vae() -> made.AutoregressiveVAE:
    return made.AutoregressiveVAE(input_dim=4, hidden=(8,), latent_dim=2, seed=0, ar_hidden=(8,))


X = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
MU = torch.zeros(3, 2)
LV = torch.zeros(3, 2)
LG = LinearGaussian.random(data_dim=2, latent_dim=2, seed=0)
CODES = np.random.default_rng(0).normal(size=(40, 3))
FACTORS = np.random.default_rng(1).integers(0, 3, size=(40, 2))
F2 = lambda z: z**2  # noqa: E731
PROBS = [0.5, 0.25, 0.25]

# (id, call, expected exception type(s), word the message must contain)
CASES = [
    # ---------------------------------------------------------------- elbo
    ("bernoulli_ll x>1", lambda m: models.bernoulli_log_likelihood(X * 2, X), ValueError, "x"),
    ("bernoulli_ll logits shape", lambda m: models.bernoulli_log_likelihood(X, torch.zeros(3, 5)),
     ValueError, "logits"),
    ("bernoulli_ll logits nan", lambda m: models.bernoulli_log_likelihood(X, X * math.nan),
     ValueError, "logits"),
    ("gaussian_ll std<=0", lambda m: models.gaussian_log_likelihood(X, X, 0.0), ValueError, "std"),
    ("gaussian_ll mean str", lambda m: models.gaussian_log_likelihood(X, "a"), TypeError, "mean"),
    ("iwae_bound model None", lambda m: elbo.iwae_bound(None, X, 2), TypeError, "model"),
    ("elbo model", lambda m: elbo.elbo("vae", X), TypeError, "model"),
    ("elbo x dtype", lambda m: elbo.elbo(m, X.long()), TypeError, "x"),
    ("elbo x shape", lambda m: elbo.elbo(m, torch.zeros(3, 5)), ValueError, "x"),
    ("elbo x range", lambda m: elbo.elbo(m, X * 3), ValueError, "x"),
    ("elbo beta nan", lambda m: elbo.elbo(m, X, beta=math.nan), ValueError, "beta"),
    ("elbo beta str", lambda m: elbo.elbo(m, X, beta="1"), TypeError, "beta"),
    ("elbo generator", lambda m: elbo.elbo(m, X, generator=1.5), TypeError, "generator"),
    ("importance fn", lambda m: elbo.importance_log_weights(X, MU, LV, 3, 4), TypeError,
     "log_likelihood_fn"),
    ("importance mu shape", lambda m: elbo.importance_log_weights(
        X, torch.zeros(2, 2), torch.zeros(2, 2), LG.log_likelihood, 4), ValueError, "mu"),
    ("importance logvar inf", lambda m: elbo.importance_log_weights(
        X, MU, LV + math.inf, LG.log_likelihood, 4), ValueError, "logvar"),
    ("importance n_samples", lambda m: elbo.importance_log_weights(
        X, MU, LV, LG.log_likelihood, 0), ValueError, "n_samples"),
    ("iwae_from_log_weights 0-d", lambda m: elbo.iwae_from_log_weights(torch.tensor(1.0)),
     ValueError, "log_w"),
    ("iwae_from_log_weights str", lambda m: elbo.iwae_from_log_weights("w"), TypeError, "log_w"),
    ("iwae_bound n_samples", lambda m: elbo.iwae_bound(m, X, 0), ValueError, "n_samples"),
    ("iwae_bound batch_size", lambda m: elbo.iwae_bound(m, X, 2, batch_size=0), ValueError,
     "batch_size"),
    ("iwae_bound chunk_size", lambda m: elbo.iwae_bound(m, X, 2, chunk_size=-1), ValueError,
     "chunk_size"),
    ("iwae_bound mu with a VAE", lambda m: elbo.iwae_bound(m, X, 2, mu=MU, logvar=LV),
     ValueError, "mu"),
    ("iwae_bound model", lambda m: elbo.iwae_bound(3, X, 2), TypeError, "model"),
    ("iwae_bound fn without q", lambda m: elbo.iwae_bound(LG.log_likelihood, X, 2), ValueError,
     "mu"),
    # ---------------------------------------------------------------- diagnostics
    ("encode_dataset model", lambda m: diagnostics.encode_dataset(None, X), TypeError, "model"),
    ("encode_dataset data", lambda m: diagnostics.encode_dataset(m, X.long()), TypeError, "data"),
    ("encode_dataset batch_size", lambda m: diagnostics.encode_dataset(m, X, 0), ValueError,
     "batch_size"),
    ("kl_per_dimension mu 1-d", lambda m: diagnostics.kl_per_dimension(torch.zeros(3), LV),
     ValueError, "mu"),
    ("kl_per_dimension logvar shape", lambda m: diagnostics.kl_per_dimension(MU, torch.zeros(3, 3)),
     ValueError, "logvar"),
    ("posterior_mean_variance nan", lambda m: diagnostics.posterior_mean_variance(MU * math.nan),
     ValueError, "mu"),
    ("active_units threshold", lambda m: diagnostics.active_units(MU, -1.0), ValueError,
     "threshold"),
    ("mutual_information n_samples", lambda m: diagnostics.mutual_information(MU, LV, 0),
     ValueError, "n_samples"),
    ("aggregate_kl chunk_size", lambda m: diagnostics.aggregate_kl(MU, LV, chunk_size=0),
     ValueError, "chunk_size"),
    ("latent_diagnostics generator", lambda m: diagnostics.latent_diagnostics(
        MU, LV, generator="0"), TypeError, "generator"),
    ("model_diagnostics threshold", lambda m: diagnostics.model_diagnostics(m, X, threshold="a"),
     TypeError, "threshold"),
    # ---------------------------------------------------------------- disentanglement
    ("factor_indices 1-d", lambda m: factor_information.factor_indices(np.zeros(5)), ValueError,
     "factors"),
    ("histogram_discretize n_bins", lambda m: factor_information.histogram_discretize(CODES, 0),
     ValueError, "n_bins"),
    ("discrete_entropy nan", lambda m: factor_information.discrete_entropy([[0.0], [math.nan]]),
     ValueError, "labels"),
    ("discrete_mutual_info rows", lambda m: factor_information.discrete_mutual_info(
        FACTORS, FACTORS[:5]), ValueError, "b"),
    ("mig codes 1-d", lambda m: disentanglement.mig(np.zeros(40), FACTORS), ValueError, "codes"),
    ("mig codes inf", lambda m: disentanglement.mig(CODES * np.inf, FACTORS), ValueError, "codes"),
    ("mig one code dim", lambda m: disentanglement.mig(CODES[:, :1], FACTORS), ValueError,
     "codes"),
    ("mig constant factors", lambda m: disentanglement.mig(CODES, np.zeros((40, 2))), ValueError,
     "factors"),
    ("mig_details rows", lambda m: disentanglement.mig_details(CODES, FACTORS[:10]), ValueError,
     "factors"),
    ("dci test_fraction", lambda m: disentanglement.dci(CODES, FACTORS, test_fraction=1.0),
     ValueError, "test_fraction"),
    ("dci n_estimators", lambda m: disentanglement.dci(CODES, FACTORS, n_estimators=0),
     ValueError, "n_estimators"),
    ("dci seed", lambda m: disentanglement.dci(CODES, FACTORS, seed=-1), ValueError, "seed"),
    ("dci one factor", lambda m: disentanglement.dci(CODES, FACTORS[:, :1]), ValueError,
     "factors"),
    ("dci_from_importance negative", lambda m: disentanglement.dci_from_importance(
        -np.ones((2, 2))), ValueError, "importance"),
    ("dci_from_importance shape", lambda m: disentanglement.dci_from_importance(np.ones(3)),
     ValueError, "importance"),
    # ---------------------------------------------------------------- schedules
    ("LinearAnnealing warmup", lambda m: schedules.LinearAnnealing(0), ValueError,
     "warmup_steps"),
    ("LinearAnnealing end str", lambda m: schedules.LinearAnnealing(5, end="1"), TypeError,
     "end"),
    ("schedule step float", lambda m: schedules.LinearAnnealing(5)(1.5), ValueError, "step"),
    ("schedule step negative", lambda m: schedules.LinearAnnealing(2)(-1), ValueError, "step"),
    ("CyclicalAnnealing ratio", lambda m: schedules.CyclicalAnnealing(10, ratio=0.0), ValueError,
     "ratio"),
    ("CyclicalAnnealing n_cycles", lambda m: schedules.CyclicalAnnealing(3, n_cycles=4),
     ValueError, "n_cycles"),
    ("FreeBits floor", lambda m: schedules.FreeBits(math.inf), ValueError, "floor"),
    ("FreeBits group_size", lambda m: schedules.FreeBits(0.1, group_size=3).group_kl(
        torch.zeros(2, 4), torch.zeros(2, 4)), ValueError, "group_size"),
    ("FreeBits group_kl mu", lambda m: schedules.FreeBits(0.1).group_kl("mu", LV), TypeError,
     "mu"),
    ("FreeBits beta", lambda m: schedules.FreeBits(0.1)(elbo.elbo(m, X), beta=-1.0),
     ValueError, "beta"),
    ("kl_per_dimension_batch 0-d", lambda m: schedules.kl_per_dimension_batch(
        torch.tensor(0.0), torch.tensor(0.0)), ValueError, "mu"),
    ("kl_per_dimension_batch logvar nan", lambda m: schedules.kl_per_dimension_batch(
        MU, LV * math.nan), ValueError, "logvar"),
    ("KLCapacity gamma", lambda m: schedules.KLCapacity(1.0, 10, gamma=0.0), ValueError,
     "gamma"),
    ("KLCapacity step", lambda m: schedules.KLCapacity(1.0, 10).capacity(-2), ValueError,
     "step"),
    ("from_dict type", lambda m: schedules.from_dict({"type": "Nope"}), ValueError, "type"),
    ("from_dict not a dict", lambda m: schedules.from_dict([1]), ValueError, "d"),
    # ---------------------------------------------------------------- gradients
    ("reparam f", lambda m: gradients.reparam_gradient_samples(3, 0.0, 1.0, 4), TypeError, "f"),
    ("reparam mu nan", lambda m: gradients.reparam_gradient_samples(F2, math.nan, 1.0, 4),
     ValueError, "mu"),
    ("reparam sigma 0", lambda m: gradients.reparam_gradient_samples(F2, 0.0, 0.0, 4),
     ValueError, "sigma"),
    ("reparam f not differentiable", lambda m: gradients.reparam_gradient_samples(
        lambda z: torch.ones_like(z), 0.0, 1.0, 4), TypeError, "f"),
    ("score f shape", lambda m: gradients.score_gradient_samples(lambda z: z.sum(), 0.0, 1.0, 4),
     ValueError, "f"),
    ("score n_samples", lambda m: gradients.score_gradient_samples(F2, 0.0, 1.0, 0), ValueError,
     "n_samples"),
    ("gradient_estimates estimator", lambda m: gradients.gradient_estimates(
        "pathwise", F2, 0.0, 1.0, 2, 2), ValueError, "estimator"),
    ("gradient_estimates n_repeats", lambda m: gradients.gradient_estimates(
        "score function", F2, 0.0, 1.0, 2, 0), ValueError, "n_repeats"),
    ("variance_curve sample_counts", lambda m: gradients.estimator_variance_curve(
        F2, 0.0, 1.0, sample_counts=16), TypeError, "sample_counts"),
    ("variance_curve n_repeats", lambda m: gradients.estimator_variance_curve(
        F2, 0.0, 1.0, n_repeats=1), ValueError, "n_repeats"),
    # ---------------------------------------------------------------- latent
    ("latent_grid extent", lambda m: latent.latent_grid(-1.0), ValueError, "extent"),
    ("latent_grid n", lambda m: latent.latent_grid(3.0, 0), ValueError, "n"),
    ("prior_log_density 0-d", lambda m: latent.prior_log_density(0.0), ValueError, "z"),
    ("encoding_kl sigma 0", lambda m: latent.encoding_kl(MU, 0.0), ValueError, "sigma"),
    ("encoding_kl sigma shape", lambda m: latent.encoding_kl(MU, torch.ones(3)), ValueError,
     "sigma"),
    ("latent_point_state model", lambda m: explorer_state.latent_point_state("m", [0.0, 0.0]),
     TypeError, "model"),
    ("latent_point_state z shape", lambda m: explorer_state.latent_point_state(m, [0.0, 0.0, 0.0]),
     ValueError, "z"),
    # ---------------------------------------------------------------- sample quality
    # ---------------------------------------------------------------- linear-Gaussian
    ("kl_gaussian_full mean_q 0-d", lambda m: kl_gaussian_full(
        0.0, torch.eye(1), torch.zeros(1), torch.eye(1)), ValueError, "mean_q"),
    ("kl_gaussian_full batch", lambda m: kl_gaussian_full(
        torch.zeros(3, 2), torch.eye(2), torch.zeros(4, 2), torch.eye(2)), ValueError, "mean_p"),
    ("kl_gaussian_full cov_q", lambda m: kl_gaussian_full(
        torch.zeros(2), -torch.eye(2), torch.zeros(2), torch.eye(2)), ValueError, "cov_q"),
    ("kl_gaussian_full cov_p asym", lambda m: kl_gaussian_full(
        torch.zeros(2), torch.eye(2), torch.zeros(2), torch.tensor([[1.0, 0.5], [0.0, 1.0]])),
     ValueError, "cov_p"),
    ("LinearGaussian W", lambda m: LinearGaussian(torch.zeros(3), torch.zeros(3), 1.0),
     ValueError, "W"),
    ("LinearGaussian b", lambda m: LinearGaussian(torch.zeros(3, 2), torch.zeros(2), 1.0),
     ValueError, "b"),
    ("LinearGaussian noise_std", lambda m: LinearGaussian(torch.zeros(3, 2), torch.zeros(3), 0),
     ValueError, "noise_std"),
    ("LinearGaussian.random seed", lambda m: LinearGaussian.random(seed="0"), TypeError, "seed"),
    ("LinearGaussian.random latent_dim", lambda m: LinearGaussian.random(latent_dim=0),
     ValueError, "latent_dim"),
    ("LinearGaussian.sample n", lambda m: LG.sample(0), ValueError, "n"),
    ("LinearGaussian.log_marginal x", lambda m: LG.log_marginal(torch.zeros(3)), ValueError,
     "x"),
    ("LinearGaussian.log_prior z", lambda m: LG.log_prior(torch.zeros(3)), ValueError, "z"),
    ("LinearGaussian.posterior x nan", lambda m: LG.posterior(torch.full((2,), math.nan)),
     ValueError, "x"),
    ("LinearGaussian.elbo q_var", lambda m: LG.elbo(torch.zeros(2), torch.zeros(2), -torch.ones(2)),
     ValueError, "q_var"),
    ("LinearGaussian.elbo q_cov", lambda m: LG.elbo(
        torch.zeros(2), torch.zeros(2), q_cov=torch.eye(3)), ValueError, "q_cov"),
    ("LinearGaussian.posterior_kl neither", lambda m: LG.posterior_kl(
        torch.zeros(2), torch.zeros(2)), ValueError, "q_var"),
    # ---------------------------------------------------------------- data
    ("binarize grey range", lambda m: data.binarize(torch.full((3,), 2.0)), ValueError, "grey"),
    ("binarize grey dtype", lambda m: data.binarize(torch.ones(3, dtype=torch.long)), TypeError,
     "grey"),
    ("binarize seed", lambda m: data.binarize(torch.ones(3) / 2, "0"), TypeError, "seed"),
    ("DynamicBinarization labels", lambda m: data.DynamicBinarization(
        torch.ones(3, 2) / 2, torch.zeros(2)), ValueError, "labels"),
    ("read_idx source", lambda m: data.read_idx(3), TypeError, "source"),
    ("read_idx bad magic", lambda m: data.read_idx(b"\x01\x00\x08\x01\x00\x00\x00\x00"),
     ValueError, "magic"),
    ("write_idx array", lambda m: data.write_idx("unused.idx", np.array([object()])), ValueError,
     "array"),
    ("download_file sha256", lambda m: data.download_file("http://unused", "unused", "abc"),
     ValueError, "sha256"),
    ("load_digits n_test", lambda m: data.load_digits(n_test=0), ValueError, "n_test"),
    ("load_digits split_seed", lambda m: data.load_digits(split_seed="a"), ValueError,
     "split_seed"),
    ("load_digits binarize_seed", lambda m: data.load_digits(binarize_seed=0.5), TypeError,
     "binarize_seed"),
    ("load_dataset name", lambda m: data.load_dataset("cifar"), ValueError, "name"),
    # ---------------------------------------------------------------- sprites
    ("shape_mask shape", lambda m: sprites.shape_mask("star", 0.0, 0.0), ValueError, "shape"),
    ("shape_mask u", lambda m: sprites.shape_mask("square", "a", 0.0), TypeError, "u"),
    ("factor_index labels dtype", lambda m: sprites.factor_index([0.5, 1.0], [2, 2]), TypeError,
     "labels"),
    ("factor_index labels range", lambda m: sprites.factor_index([0, 2], [2, 2]), ValueError,
     "labels"),
    ("factor_index factor_sizes", lambda m: sprites.factor_index([0, 0], [2, 0]), ValueError,
     "factor_sizes"),
    ("make_sprites size", lambda m: sprites.make_sprites(size=4), ValueError, "size"),
    ("make_sprites shapes", lambda m: sprites.make_sprites(shapes="square"), TypeError, "shapes"),
    ("make_sprites scale_range", lambda m: sprites.make_sprites(scale_range=(0.0, 1.0)),
     ValueError, "scale_range"),
    ("make_sprites n_x", lambda m: sprites.make_sprites(n_x=0), ValueError, "n_x"),
    # ---------------------------------------------------------------- made
    ("MaskedLinear mask type", lambda m: made.MaskedLinear(2, 2, [[1, 0], [1, 1]]), TypeError,
     "mask"),
    ("MaskedLinear mask shape", lambda m: made.MaskedLinear(2, 2, torch.ones(3, 2)), ValueError,
     "mask"),
    ("MaskedLinear x", lambda m: made.MaskedLinear(2, 2, torch.ones(2, 2))(torch.zeros(3, 5)),
     ValueError, "x"),
    ("made_degrees input_dim", lambda m: made.made_degrees(1, (4,)), ValueError, "input_dim"),
    ("made_masks hidden", lambda m: made.made_masks(4, (0,)), ValueError, "hidden"),
    ("MADE input_dim", lambda m: made.MADE("4"), ValueError, "input_dim"),
    ("MADE cond_dim", lambda m: made.MADE(4, cond_dim=-1), ValueError, "cond_dim"),
    ("MADE activation", lambda m: made.MADE(4, activation="gelu"), ValueError, "activation"),
    ("MADE forward x", lambda m: made.MADE(4, (8,))(torch.zeros(3, 5)), ValueError, "x"),
    ("MADE forward cond missing", lambda m: made.MADE(4, (8,), cond_dim=2)(torch.zeros(3, 4)),
     ValueError, "cond"),
    ("AutoregressiveVAE likelihood", lambda m: made.AutoregressiveVAE(
        input_dim=4, likelihood="gaussian"), ValueError, "likelihood"),
    ("AutoregressiveVAE ar_hidden", lambda m: made.AutoregressiveVAE(input_dim=4, ar_hidden=()),
     ValueError, "hidden"),
    # ---------------------------------------------------------------- models
    ("VAEConfig input_dim", lambda m: models.VAEConfig(input_dim=0), ValueError, "input_dim"),
    ("VAEConfig likelihood", lambda m: models.VAEConfig(likelihood="poisson"), ValueError,
     "likelihood"),
    ("VAEConfig obs_std", lambda m: models.VAEConfig(obs_std=-1.0), ValueError, "obs_std"),
    ("VAEConfig from_dict", lambda m: models.VAEConfig.from_dict({"latent": 2}), ValueError,
     "config"),
    ("VAE config", lambda m: VAE("config"), TypeError, "config"),
    ("VAE seed", lambda m: VAE(input_dim=4, seed="0"), TypeError, "seed"),
    ("VAE.encode x shape", lambda m: m.encode(torch.zeros(3, 5)), ValueError, "x"),
    ("VAE.encode x list", lambda m: m.encode([[0.0] * 4]), TypeError, "x"),
    ("VAE.decode z shape", lambda m: m.decode(torch.zeros(3, 3)), ValueError, "z"),
    ("VAE.forward x", lambda m: m(torch.zeros(3, 5)), ValueError, "x"),
    ("VAE.reconstruct x", lambda m: m.reconstruct(torch.zeros(3, 5)), ValueError, "x"),
    ("VAE.mean_image decoded", lambda m: m.mean_image("d"), TypeError, "decoded"),
    ("VAE.sample n", lambda m: m.sample(0), ValueError, "n"),
    ("as_generator", lambda m: rng.as_generator(1.5), TypeError, "generator"),
    ("reparameterize mu", lambda m: models.reparameterize([0.0], torch.zeros(1)), TypeError, "mu"),
    ("reparameterize shapes", lambda m: models.reparameterize(torch.zeros(3), torch.zeros(4)),
     ValueError, "logvar"),
    ("reparameterize n_samples", lambda m: models.reparameterize(MU, LV, n_samples=0), ValueError,
     "n_samples"),
    # ---------------------------------------------------------------- train
    ("evaluate model", lambda m: train.evaluate(None, X), TypeError, "model"),
    ("evaluate data", lambda m: train.evaluate(m, torch.zeros(3, 5)), ValueError, "data"),
    ("evaluate batch_size", lambda m: train.evaluate(m, X, 0), ValueError, "batch_size"),
    ("train lr", lambda m: train.train(m, X, lr=0.0), ValueError, "lr"),
    ("train epochs", lambda m: train.train(m, X, epochs=0), ValueError, "epochs"),
    ("train seed", lambda m: train.train(m, X, seed=0.5), TypeError, "seed"),
    ("train beta", lambda m: train.train(m, X, beta=-1.0), ValueError, "beta"),
    ("train objective", lambda m: train.train(m, X, objective=3), TypeError, "objective"),
    ("train on_epoch_end", lambda m: train.train(m, X, on_epoch_end=3), TypeError, "on_epoch_end"),
    ("train device", lambda m: train.train(m, X, device="nowhere", progress=False), ValueError,
     "device"),
    ("train train_data range", lambda m: train.train(m, X * 2), ValueError, "train_data"),
    ("train test_data shape", lambda m: train.train(m, X, torch.zeros(2, 3)), ValueError,
     "test_data"),
    ("train eval_batch_size", lambda m: train.train(m, X, eval_batch_size=0), ValueError,
     "eval_batch_size"),
    # ---------------------------------------------------------------- coding
    ("check_probs sum", lambda m: coding.check_probs([0.5, 0.6]), ValueError, "probs"),
    ("check_probs zero", lambda m: coding.check_probs([1.0, 0.0]), ValueError, "probs"),
    ("huffman_code probs 2-d", lambda m: coding.huffman_code([[1.0]]), ValueError, "probs"),
    ("code_lengths code", lambda m: coding.code_lengths("01"), TypeError, "code"),
    ("kraft_sum codeword", lambda m: coding.kraft_sum(["0", "2"]), ValueError, "code"),
    ("is_prefix_free empty", lambda m: coding.is_prefix_free([]), TypeError, "code"),
    ("encode message", lambda m: coding.encode([0, 3], ["0", "1"]), ValueError, "message"),
    ("encode message float", lambda m: coding.encode(torch.zeros(2), ["0", "1"]), ValueError,
     "message"),
    ("decode bits", lambda m: coding.decode("012", ["0", "1"]), ValueError, "bits"),
    ("decode code", lambda m: coding.decode("01", ["0", "01"]), ValueError, "code"),
    ("expected_length code", lambda m: coding.expected_length(PROBS, ["0", "1"]), ValueError,
     "code"),
    ("ideal_code_lengths probs", lambda m: coding.ideal_code_lengths([-0.5, 1.5]), ValueError,
     "probs"),
    ("sample_message n", lambda m: coding.sample_message(PROBS, 0), ValueError, "n"),
    ("sample_message seed", lambda m: coding.sample_message(PROBS, 3, seed="0"), TypeError,
     "seed"),
    ("block_distribution k", lambda m: coding.block_distribution(PROBS, 0), ValueError, "k"),
]


@pytest.mark.parametrize(("call", "exc", "word"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_naming_the_argument(call, exc, word, vae, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # any file a case might touch stays in tmp_path
    with pytest.raises(exc) as info:
        call(vae)
    message = str(info.value)
    # the argument appears as a whole word: "x" in "x.shape=(3, 5)" but not in "max"
    assert re.search(rf"(?<![A-Za-z0-9_]){re.escape(word)}(?![A-Za-z0-9_])", message), (
        f"message does not name {word!r}: {message}"
    )


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_autoregressive_decoder_bad_input(ar_vae):
    with pytest.raises(ValueError, match="x must be given"):
        ar_vae.decode(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="z must"):
        ar_vae.decode_sequential(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="x must"):
        ar_vae.decode(torch.zeros(3, 2), torch.zeros(3, 5))


def test_validation_does_not_change_valid_results(vae):
    """The checks added in front of the maths leave valid calls bit for bit the same."""
    torch.manual_seed(0)
    h = vae.encoder(X)
    mu, logvar = vae.encode(X)
    assert torch.equal(mu, h[..., :2]) and torch.equal(logvar, h[..., 2:])
    assert torch.equal(vae.decode(mu), vae.decoder(mu))
    z = models.reparameterize(mu, logvar, generator=3)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
    assert torch.equal(z, mu + torch.exp(0.5 * logvar) * eps)
    sched = schedules.LinearAnnealing(10, 0.25, 2.0)
    assert [sched(t) for t in (0, 5, 10, 11)] == [
        0.25 + 1.75 * min(1.0, t / 10) for t in (0, 5, 10, 11)
    ]
    cap = schedules.KLCapacity(5.0, 4, c_start=1.0)
    assert [cap.capacity(t) for t in (0, 2, 4, 9)] == [1.0 + 4.0 * min(1.0, t / 4) for t in
                                                       (0, 2, 4, 9)]
    log_w = torch.tensor([[0.5, -1.0], [2.0, 3.0], [-4.0, 0.0]])
    assert torch.equal(
        elbo.iwae_from_log_weights(log_w), torch.logsumexp(log_w, 0) - math.log(3)
    )


