"""Tests of course_vae.text: the sentence generator, the GRU VAE and its ELBO conventions."""

from __future__ import annotations

import math

import pytest
import torch

from course_vae import schedules, text
from course_vae.elbo import elbo
from course_vae.kl import kl_normal_std
from course_vae.train import KLTracker, evaluate, train


@pytest.fixture(scope="module")
def sentences():
    return text.make_sentences(200, seed=3)


def test_sentences_follow_the_grammar(sentences):
    assert sentences.shape == (200, text.MAX_LEN) and sentences.dtype == torch.long
    lengths = (sentences != 0).sum(1) - 1  # words, without <eos>
    assert int(lengths.min()) >= 7 and int(lengths.max()) <= 11
    topic_of = {w: t for t, parts in text.TOPICS.items() for lst in parts.values() for w in lst}
    for s in text.decode_tokens(sentences):
        words = s.split()
        assert words[0] == "the" and words[-1] == "."
        topics = {topic_of[w] for w in words if w in topic_of}
        assert len(topics) == 1  # the topic fixes every content word
    assert torch.equal(sentences, text.make_sentences(200, seed=3))  # seeded
    assert not torch.equal(sentences, text.make_sentences(200, seed=4))


def test_every_topic_and_option_appears(sentences):
    decoded = " ".join(text.decode_tokens(sentences))
    for parts in text.TOPICS.values():
        assert any(w in decoded for w in parts["noun"])
    for optional in ("very", "and"):
        assert optional in decoded


def test_exact_log_prob_is_a_normalised_distribution():
    # sum over every sentence of the grammar of p(x) = 1: count them by structure
    total = 0.0
    for _very in (0, 1):
        for adj2 in (0, 1):
            for more in (0, 1):
                n_sentences = 4 * 3 * 3 * 2 * 3 * 3 ** adj2 * 2 ** more
                total += n_sentences * 0.25 * 0.125 / (3 * 3 * 2 * 3 * 3 ** adj2 * 2 ** more)
    assert total == pytest.approx(1.0)
    one = text.make_sentences(1, seed=0)
    words = text.decode_tokens(one)[0].split()
    n_content = sum(w not in ("the", "a", "very", "and", ".") for w in words)
    assert n_content >= 4
    lp = text.sentence_log_prob(one).item()
    assert lp < math.log(0.25) + 3 * math.log(0.5)


def test_model_shapes_and_likelihood_normalisation(sentences):
    model = text.TextVAE(seed=0, hidden=16, embed_dim=8, latent_dim=3)
    x = sentences[:5]
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    inputs = model.decoder_inputs(x)
    assert inputs[:, 0].eq(text.VOCAB.index("<bos>")).all()
    z = torch.randn(4, 5, 3)
    ll, logits = model.log_likelihood(x, z)
    assert ll.shape == (4, 5) and logits.shape == (4, 5, text.MAX_LEN, len(text.VOCAB))
    # normalised: the per-token distributions sum to 1 over the vocabulary
    with torch.no_grad():
        emb = torch.cat([model.embed(inputs), z[0][:, None, :].expand(-1, inputs.shape[1], -1)], -1)
        states, _ = model.decoder(emb, torch.tanh(model.z_to_h(z[0]))[None])
        probs = torch.softmax(model.out(states), -1)
    assert torch.allclose(probs.sum(-1), torch.ones(5, text.MAX_LEN))
    # log p(x|z) is the sum of the per-token log probabilities up to <eos>
    ll0 = model.log_likelihood(x, z[0])[0]
    manual = (probs.log().gather(-1, x[..., None]).squeeze(-1) * (x != 0)).sum(-1)
    assert torch.allclose(ll0, manual, atol=1e-5)


def test_word_dropout_replaces_only_words():
    x = text.make_sentences(50, seed=1)
    kept = text.TextVAE(seed=0, hidden=8, embed_dim=4, latent_dim=2).decoder_inputs(x)
    model = text.TextVAE(seed=0, hidden=8, embed_dim=4, latent_dim=2, word_dropout=1.0)
    dropped = model.decoder_inputs(x, torch.Generator().manual_seed(0))
    unk = text.VOCAB.index("<unk>")
    assert (dropped[:, 0] == kept[:, 0]).all()  # <bos> stays
    assert ((dropped == unk) == ((kept != 0) & (torch.arange(x.shape[1]) > 0))).all()


def test_constructor_leaves_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    a = text.TextVAE(seed=0, hidden=8, embed_dim=4, latent_dim=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = text.TextVAE(seed=0, hidden=8, embed_dim=4, latent_dim=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_elbo_terms_follow_the_course_conventions(sentences):
    model = text.TextVAE(seed=0, hidden=16, embed_dim=8, latent_dim=3)
    x = sentences[:7]
    terms = elbo(model, x, beta=2.0, generator=torch.Generator().manual_seed(0))
    assert terms.recon.shape == terms.kl.shape == (7,)
    assert torch.allclose(terms.kl, kl_normal_std(terms.mu, terms.logvar))  # summed over latents
    assert torch.allclose(terms.loss, -(terms.recon - 2.0 * terms.kl).mean())  # mean over batch
    alone = text.TextVAE(seed=0, hidden=16, embed_dim=8, latent_dim=3, use_latent=False)
    t2 = elbo(alone, x, generator=0)
    assert (t2.kl == 0).all()
    exact = text.text_iwae(alone, x, n_samples=3)
    assert torch.allclose(exact, t2.recon.double(), atol=1e-5)  # decoder alone: exact log p(x)


def test_iwae_is_at_least_the_elbo_on_average(sentences):
    model = text.TextVAE(seed=1, hidden=16, embed_dim=8, latent_dim=3)
    x = sentences[:40]
    value = evaluate(model, x)["elbo"]
    iwae = text.text_iwae(model, x, n_samples=20).mean().item()
    assert iwae > value - 0.05


def test_the_one_training_loop_trains_the_text_vae_and_tracks_kl_and_beta(sentences):
    model = text.TextVAE(seed=0, hidden=16, embed_dim=8, latent_dim=2)
    sched = schedules.LinearAnnealing(4)
    tracker = KLTracker(model, sentences[64:96], every=2)
    hist = train(model, sentences[:64], sentences[64:96], epochs=2, batch_size=16,
                 beta=sched, on_step=tracker, seed=0, progress=False)
    assert tracker.steps == [0, 2, 4, 6, 8]
    assert tracker.betas == [0.0, 0.25, 0.75, 1.0, 1.0]  # beta of the step just taken
    assert tracker.beta_per_step == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]
    assert all(len(k) == 2 for k in tracker.kl_per_dim)
    assert len(hist["test_elbo"]) == 2 and math.isfinite(hist["test_elbo"][-1])
    final = evaluate(model, sentences[64:96], generator=2)["elbo"]
    assert hist["test_elbo"][-1] == pytest.approx(final)
    again = train(text.TextVAE(seed=0, hidden=16, embed_dim=8, latent_dim=2), sentences[:64],
                  sentences[64:96], epochs=2, batch_size=16, beta=sched, seed=0, progress=False)
    assert again["test_elbo"] == hist["test_elbo"]  # seeded; the tracker changes nothing
    fb = train(text.TextVAE(seed=0, hidden=16, embed_dim=8, latent_dim=2), sentences[:64],
               sentences[64:96], epochs=1, batch_size=32, objective=schedules.FreeBits(0.5),
               progress=False)
    assert len(fb["train_loss"]) == 1 and math.isfinite(fb["train_loss"][0])


def test_bad_input():
    with pytest.raises(ValueError):
        text.make_sentences(0)
    model = text.TextVAE(seed=0, hidden=8, embed_dim=4, latent_dim=2)
    x = text.make_sentences(4)
    with pytest.raises(ValueError, match="word_dropout"):
        text.TextVAE(word_dropout=1.5)
    with pytest.raises(ValueError, match="epochs"):
        train(model, x, x, epochs=0)
    with pytest.raises(TypeError, match="train_data"):
        train(model, x.float(), x)
    with pytest.raises(ValueError, match="test_data"):
        train(model, x, x + 100)
    with pytest.raises(ValueError, match="loss_fn"):
        train(model, x, loss_fn=lambda r, xx, m, lv: r.sum())
    with pytest.raises(ValueError):
        text.TextVAE(latent_dim=0)


# --------------------------------------------------------------------------- chapter 04 additions


def test_grammar_enumerated_exactly():
    tokens, log_p = text.grammar_sentences()
    assert tokens.shape == (5184, text.MAX_LEN) and len(set(map(tuple, tokens.tolist()))) == 5184
    assert float(log_p.exp().sum()) == pytest.approx(1.0, abs=1e-12)
    # every sampled sentence is one of them
    enumerated = set(map(tuple, tokens.tolist()))
    assert all(tuple(r) in enumerated for r in text.make_sentences(300, seed=4).tolist())


def test_grammar_bounds():
    b = text.grammar_bounds()
    tokens, log_p = text.grammar_sentences()
    assert b["entropy"] == pytest.approx(float(-(log_p.exp() * log_p).sum()))
    assert b["topic_entropy"] == pytest.approx(math.log(4))
    assert b["pattern_entropy"] == pytest.approx(3 * math.log(2))
    assert b["given_topic_pattern"] == pytest.approx(-b["entropy"] + math.log(32))
    # a position-only model is worse than the data's -H, and the sample mean agrees with it
    assert b["position_only"] < -b["entropy"] - 5
    sample = text.make_sentences(4000, seed=9)
    assert text.sentence_log_prob(sample).mean().item() == pytest.approx(-b["entropy"], abs=0.1)


def test_sentence_topics():
    tokens, _ = text.grammar_sentences()
    topics = text.sentence_topics(tokens)
    assert torch.bincount(topics).tolist() == [1296] * 4
    first = text.decode_tokens(tokens[:1])[0].split()
    names = list(text.TOPICS)
    assert any(w in text.TOPICS[names[int(topics[0])]]["noun"] for w in first)


def test_encoder_parameters_and_log_weights():
    model = text.TextVAE(seed=0)
    enc = {id(p) for p in model.encoder_parameters()}
    assert enc and not enc & {id(p) for p in model.decoder.parameters()}
    assert id(model.embed.weight) not in enc  # shared with the decoder
    tokens = text.make_sentences(6, seed=1)
    log_w = text.text_log_weights(model, tokens, 8, seed=0)
    assert log_w.shape == (8, 6)
    iw = text.text_iwae(model, tokens, 8, seed=0)
    assert torch.allclose(torch.logsumexp(log_w, 0) - math.log(8), iw, atol=1e-4)


def test_summarize_text_run_paired_mi_and_probes():
    from course_vae.recipes import train_text_recipe
    from course_vae.runs import summarize_text_run

    tokens = text.make_sentences(120, seed=0)
    small = {"embed_dim": 4, "hidden": 8, "latent_dim": 2, "epochs": 1, "lr": 1e-2,
             "batch_size": 16, "track_every": 2}
    alone, hist, _ = train_text_recipe(tokens[:80], tokens[80:], 0, use_latent=False, recipe=small)
    s = summarize_text_run(alone, hist, tokens[80:], 4, seed=0, mi_seed=3)
    # the decoder alone: q = p exactly, so KL and the paired I(x; z) are exactly 0
    assert abs(s["mutual_info"]) < 1e-12 and s["mutual_info_stderr"] < 1e-12
    assert float(s["kl_per_dim"].abs().max()) == 0.0 and s["n_active"] == 0
    vae, hist, _ = train_text_recipe(tokens[:80], tokens[80:], 0, recipe=small)
    a = summarize_text_run(vae, hist, tokens[80:], 4, seed=0, mi_seed=1, train_tokens=tokens[:80])
    b = summarize_text_run(vae, hist, tokens[80:], 4, seed=0, mi_seed=2)
    assert a["mutual_info"] != b["mutual_info"]  # a different generator per run
    assert all(0.0 <= a[k] <= 1.0 for k in ("topic_acc_mu", "topic_acc_z", "pattern_acc_z"))
    assert "topic_acc_mu" not in b


def test_sentence_patterns():
    tokens, log_p = text.grammar_sentences()
    pat = text.sentence_patterns(tokens)
    mass = torch.zeros(8, dtype=torch.float64).index_add_(0, pat, log_p.exp())
    assert torch.allclose(mass, torch.full((8,), 1 / 8, dtype=torch.float64))  # fair coins
    lengths = (tokens != 0).sum(1) - 1
    assert torch.equal(lengths, 7 + (pat >= 4).long() + ((pat // 2) % 2) + 2 * (pat % 2))


def test_defensive_log_weights_are_unbiased_and_bounded():
    # decoder alone: p(x|z) = p(x) for every z, so w / p(x) = p(z) / r(z), whose mean under
    # r is exactly 1, and each is at most 1 / m
    alone = text.TextVAE(use_latent=False, seed=0)
    tokens = text.make_sentences(5, seed=2)
    with torch.no_grad():
        exact = text.text_iwae(alone, tokens, 1, seed=0).double()  # exact for q = p
        log_w = text.text_log_weights(alone, tokens, 4000, seed=0, prior_mix=0.5)
    ratio = (log_w - exact).exp()
    assert log_w.shape == (4000, 5)
    assert float(ratio.max()) <= 2.0 + 1e-6
    assert torch.allclose(ratio.mean(0), torch.ones(5, dtype=torch.float64), atol=0.03)
    # a VAE: the mixture's weights are bounded by 2 p(x|z); the IWAE weights (m = 0) are the default
    vae = text.TextVAE(seed=0)
    with torch.no_grad():
        assert torch.equal(text.text_log_weights(vae, tokens, 8, seed=0),
                           text.text_log_weights(vae, tokens, 8, seed=0, prior_mix=0.0))
        d = text.text_log_weights(vae, tokens, 200, seed=0, prior_mix=0.5)
    assert torch.isfinite(d).all()
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="prior_mix"):
            text.text_log_weights(vae, tokens, 4, prior_mix=bad)


def test_text_probes_match_the_run_summary_and_work_untrained():
    from course_vae.recipes import train_text_recipe
    from course_vae.runs import summarize_text_run, text_probes

    tokens = text.make_sentences(120, seed=0)
    small = {"embed_dim": 4, "hidden": 8, "latent_dim": 2, "epochs": 1, "lr": 1e-2,
             "batch_size": 16, "track_every": 2}
    vae, hist, _ = train_text_recipe(tokens[:80], tokens[80:], 0, recipe=small)
    s = summarize_text_run(vae, hist, tokens[80:], 4, seed=3, train_tokens=tokens[:80])
    p = text_probes(vae, tokens[:80], tokens[80:], seed=3)
    assert all(p[k] == s[k] for k in ("topic_acc_mu", "topic_acc_z", "pattern_acc_z"))
    untrained = text_probes(text.TextVAE(embed_dim=4, hidden=8, latent_dim=2, seed=1),
                            tokens[:80], tokens[80:], seed=0)
    assert all(0.0 <= v <= 1.0 for v in untrained.values())
