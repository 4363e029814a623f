r"""A tiny text VAE on procedurally generated sentences (Bowman et al. 2016, no download).

**The data.** :func:`make_sentences` draws sentences of 7-11 tokens from a grammar with
four topics: a sentence picks a topic (probability 1/4), then every content word
(adjectives, nouns, verbs) from that topic's lists, with a few optional words::

    the [very] ADJ NOUN VERB a [ADJ] NOUN [and VERB] .

Each sentence's exact probability under the grammar is known (:func:`sentence_log_prob`),
so the data's entropy gives a ceiling on any model's log p(x).

**The model.** :class:`TextVAE`: a GRU encoder reads the sentence and gives
q(z|x) = N(mu, diag exp(logvar)); a GRU decoder reads <bos> x_1 ... x_{T-1} (teacher
forcing) with z fed to its initial state and to every step, and predicts each next token:

    log p(x|z) = \sum_t log softmax(l_t)[x_t]   (summed over the tokens and <eos>, pads masked).

**Word dropout** (Bowman et al.) weakens the decoder: each input word is replaced by
<unk> with probability ``word_dropout`` (at training and at evaluation, each with its own
seeded draw), so the decoder sees fewer of the previous words and must get them from z.
With ``use_latent=False`` the decoder ignores z (a language model alone: its log p(x|z) is
then its exact log p(x)).

The ELBO follows the course's conventions (:class:`~course_vae.elbo.ELBOTerms`): recon summed
over tokens, KL = :func:`~course_vae.kl.kl_normal_std_unchecked` summed over latents, both
averaged over the batch.  :func:`train_text` is the sibling of :func:`course_vae.train.train`
for token sequences (the image loop takes float pixel tensors, this one token ids with a
decoder that needs x as input); it takes the same ``beta`` (number or schedule) and
``objective`` hooks (e.g. :class:`~course_vae.schedules.FreeBits`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from course_vae._validate import (
    check_beta_schedule,
    check_callable,
    check_positive_int,
    check_probability,
    check_real,
    check_seed,
)
from course_vae.diagnostics import latent_diagnostics
from course_vae.elbo import ELBOTerms, iwae_bound
from course_vae.models import reparameterize_unchecked

__all__ = [
    "MAX_LEN",
    "TOPICS",
    "VOCAB",
    "TextVAE",
    "decode_tokens",
    "make_sentences",
    "sentence_log_prob",
    "text_diagnostics",
    "text_elbo_terms",
    "text_iwae",
    "evaluate_text",
    "train_text",
]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
TOPICS: dict[str, dict[str, tuple[str, ...]]] = {
    "animals": {"adj": ("small", "furry", "wild"), "noun": ("cat", "dog", "fox"),
                "verb": ("chases", "licks")},
    "food": {"adj": ("sweet", "hot", "fresh"), "noun": ("soup", "bread", "cake"),
             "verb": ("tastes", "needs")},
    "space": {"adj": ("dark", "bright", "distant"), "noun": ("star", "moon", "comet"),
              "verb": ("orbits", "lights")},
    "music": {"adj": ("loud", "soft", "slow"), "noun": ("song", "drum", "choir"),
              "verb": ("plays", "follows")},
}
"""Four topics; each fixes the content words of a sentence (the lists are disjoint)."""

_FUNCTION_WORDS = ("the", "a", "very", "and", ".")
VOCAB: tuple[str, ...] = (PAD, BOS, EOS, UNK, *_FUNCTION_WORDS, *(
    w for t in TOPICS.values() for part in ("adj", "noun", "verb") for w in t[part]))
"""Token ids: <pad> 0, <bos> 1, <eos> 2, <unk> 3, then function and content words (41)."""
_ID = {w: i for i, w in enumerate(VOCAB)}
MAX_LEN = 12
"""Longest sentence in tokens, <eos> included (11 words + <eos>)."""


def make_sentences(n: int, seed: int = 0) -> torch.Tensor:
    r"""``n`` sentences as token ids, shape (n, MAX_LEN), each ended by <eos> and padded with 0.

    Topic uniform over the 4; each optional part ("very", the second adjective, "and VERB")
    present with probability 1/2; each content word uniform over its topic's list.
    """
    n = check_positive_int(n, "n")
    g = torch.Generator().manual_seed(check_seed(seed))
    topics = list(TOPICS.values())
    out = torch.zeros(n, MAX_LEN, dtype=torch.long)

    def pick(options: tuple[str, ...]) -> str:
        return options[int(torch.randint(len(options), (1,), generator=g))]

    for i in range(n):
        t = topics[int(torch.randint(4, (1,), generator=g))]
        very, adj2, more = (torch.rand(3, generator=g) < 0.5).tolist()
        words = ["the"] + (["very"] if very else []) + [pick(t["adj"]), pick(t["noun"]),
                                                        pick(t["verb"]), "a"]
        words += ([pick(t["adj"])] if adj2 else []) + [pick(t["noun"])]
        words += (["and", pick(t["verb"])] if more else []) + [".", EOS]
        out[i, : len(words)] = torch.tensor([_ID[w] for w in words])
    return out


def decode_tokens(tokens: torch.Tensor) -> list[str]:
    """Token ids (n, T) back to sentences (words up to <eos>, joined by spaces)."""
    out = []
    for row in tokens.tolist():
        words = [VOCAB[i] for i in row]
        out.append(" ".join(words[: words.index(EOS)] if EOS in words else words))
    return out


def sentence_log_prob(tokens: torch.Tensor) -> torch.Tensor:
    r"""The exact log probability of each sentence under the grammar, shape (n,), nats.

    log p(x) = log 1/4 + 3 log 1/2 (the optional parts) + \sum log 1/|list| over the content
    words (the topic is fixed by any content word, the lists being disjoint).
    """
    sizes = {w: len(lst) for t in TOPICS.values() for lst in t.values() for w in lst}
    out = []
    for sentence in decode_tokens(tokens):
        words = sentence.split()
        lp = math.log(0.25) + 3 * math.log(0.5) - sum(math.log(sizes[w]) for w in words
                                                      if w in sizes)
        out.append(lp)
    return torch.tensor(out, dtype=torch.float64)


def _lengths(tokens: torch.Tensor) -> torch.Tensor:
    return (tokens != 0).sum(1)


class TextVAE(nn.Module):
    """GRU encoder -> (mu, logvar); GRU decoder with z in its initial state and every input.

    ``use_latent=False``: the decoder gets z = 0 always and the KL is not charged (the
    decoder alone).  Weights are drawn from ``seed``.
    """

    def __init__(self, vocab_size: int = len(VOCAB), embed_dim: int = 32, hidden: int = 64,
                 latent_dim: int = 8, use_latent: bool = True, seed: int = 0):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("embed_dim", embed_dim),
                        ("hidden", hidden), ("latent_dim", latent_dim)):
            check_positive_int(v, name)
        torch.manual_seed(check_seed(seed))
        self.latent_dim, self.vocab_size, self.use_latent = latent_dim, vocab_size, use_latent
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.encoder = nn.GRU(embed_dim, hidden, batch_first=True)
        self.to_q = nn.Linear(hidden, 2 * latent_dim)
        self.z_to_h = nn.Linear(latent_dim, hidden)
        self.decoder = nn.GRU(embed_dim + latent_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mu, logvar of q(z|x), each (n, latent_dim): the encoder's last state (at <eos>)."""
        states, _ = self.encoder(self.embed(tokens))
        last = states[torch.arange(len(tokens)), _lengths(tokens) - 1]
        mu, logvar = self.to_q(last).chunk(2, dim=-1)
        return mu, logvar

    def decoder_inputs(self, tokens: torch.Tensor, word_dropout: float = 0.0,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """<bos> x_1 ... x_{T-1}, each word replaced by <unk> with prob. ``word_dropout``."""
        inputs = torch.cat([torch.full_like(tokens[:, :1], _ID[BOS]), tokens[:, :-1]], 1)
        if word_dropout > 0:
            drop = torch.rand(inputs.shape, generator=generator) < word_dropout
            drop[:, 0] = False  # <bos> stays
            inputs = inputs.masked_fill(drop & (inputs != 0), _ID[UNK])
        return inputs

    def log_likelihood(self, tokens: torch.Tensor, z: torch.Tensor, inputs: torch.Tensor
                       ) -> torch.Tensor:
        """log p(x|z) summed over tokens (pads masked), shape z.shape[:-1].

        ``z`` is (n, latent) or (k, n, latent) (k samples per sentence, as IWAE needs).
        """
        lead = z.shape[:-1]
        z = z.reshape(-1, self.latent_dim)
        k = z.shape[0] // len(tokens)
        tokens, inputs = tokens.repeat(k, 1), inputs.repeat(k, 1)
        if not self.use_latent:
            z = torch.zeros_like(z)
        emb = torch.cat([self.embed(inputs), z[:, None, :].expand(-1, inputs.shape[1], -1)], -1)
        states, _ = self.decoder(emb, torch.tanh(self.z_to_h(z))[None])
        logp = torch.log_softmax(self.out(states), -1)
        ll = logp.gather(-1, tokens[..., None]).squeeze(-1) * (tokens != 0)
        return ll.sum(-1).reshape(lead)


def text_elbo_terms(model: TextVAE, tokens: torch.Tensor, beta: float = 1.0,
                    generator: torch.Generator | None = None, word_dropout: float = 0.0
                    ) -> ELBOTerms:
    r"""The ELBO's terms for a batch of sentences, one z per sentence (no input checks).

    recon = log p(x|z) summed over tokens; kl = KL(q(z|x) || N(0, I)) summed over latents
    (0 with ``use_latent=False``); loss = -mean_batch(recon - beta * kl).
    """
    if model.use_latent:
        mu, logvar = model.encode(tokens)
        eps = torch.randn(mu.shape, generator=generator)
        z = reparameterize_unchecked(mu, logvar, eps)
    else:  # the decoder alone: no posterior, nothing to charge, z = 0
        mu = logvar = z = torch.zeros(len(tokens), model.latent_dim)
    recon = model.log_likelihood(tokens, z, model.decoder_inputs(tokens, word_dropout, generator))
    return ELBOTerms.from_parts(recon, mu, logvar, z, tokens, beta)


@torch.no_grad()
def text_iwae(model: TextVAE, tokens: torch.Tensor, n_samples: int = 50,
              word_dropout: float = 0.0, seed: int = 0) -> torch.Tensor:
    r"""IWAE_K estimate of log p(x) per sentence, shape (n,) (:func:`~course_vae.elbo.iwae_bound`).

    IWAE_K = log (1/K) \sum_k p(x|z_k) p(z_k) / q(z_k|x); word dropout (if any) uses one
    seeded draw of the dropped words, shared by the K samples.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    g = torch.Generator().manual_seed(check_seed(seed))
    mu, logvar = model.encode(tokens)
    inputs = model.decoder_inputs(tokens, word_dropout, g)
    if not model.use_latent:  # exact: log p(x|z) does not depend on z
        return model.log_likelihood(tokens, mu, inputs).double()

    def fn(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return model.log_likelihood(tokens, z, inputs)

    return iwae_bound(fn, tokens.float(), n_samples, mu=mu, logvar=logvar, generator=g).double()


@torch.no_grad()
def text_diagnostics(model: TextVAE, tokens: torch.Tensor, **kwargs: Any):
    """:func:`~course_vae.diagnostics.latent_diagnostics` of the encoder's posteriors."""
    mu, logvar = model.encode(tokens)
    return latent_diagnostics(mu, logvar, **kwargs)


def train_text(
    model: TextVAE,
    train_tokens: torch.Tensor,
    test_tokens: torch.Tensor,
    epochs: int = 15,
    lr: float = 1e-3,
    batch_size: int = 64,
    beta: float | Callable[[int], float] = 1.0,
    objective: Callable[[ELBOTerms, float], torch.Tensor] | None = None,
    word_dropout: float = 0.0,
    seed: int = 0,
    track_every: int | None = 10,
) -> dict[str, list[float]]:
    r"""Adam on -mean(recon - beta * KL) (or ``objective(terms, beta)``) over minibatches.

    Returns a history: ``test_elbo`` and ``test_kl`` after training (lists of one value,
    one seeded z per test sentence), and every ``track_every`` steps (and after the last)
    ``step``, ``beta`` and ``kl_per_dim`` (the test set's KL_d, a list per record), to draw
    the KL per dimension over training with beta(t) (``track_every=None``: only at the
    end); ``beta_per_step`` holds beta at every step.  ``seed`` fixes the order, the noise
    and the dropped words.
    """
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size,
                                                                                    "batch_size")
    if track_every is not None:
        track_every = check_positive_int(track_every, "track_every")
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    word_dropout = check_probability(word_dropout, "word_dropout")
    beta_fn = check_beta_schedule(beta)
    if objective is not None:
        check_callable(objective, "objective", "objective(terms, beta) -> loss")
    g = torch.Generator().manual_seed(check_seed(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist: dict[str, list] = {"step": [], "beta": [], "kl_per_dim": [], "test_elbo": [],
                             "test_kl": [], "beta_per_step": []}
    n, step = len(train_tokens), 0
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            b = float(beta_fn(step))
            hist["beta_per_step"].append(b)
            if track_every is not None and step % track_every == 0:
                _track(model, test_tokens, hist, step, b)
            terms = text_elbo_terms(model, train_tokens[perm[i:i + batch_size]], b, g,
                                    word_dropout)
            loss = terms.loss if objective is None else objective(terms, b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    test = evaluate_text(model, test_tokens, word_dropout, seed=seed + 1)
    hist["test_elbo"].append(test["elbo"])
    hist["test_kl"].append(test["kl"])
    _track(model, test_tokens, hist, step, float(beta_fn(step)))
    model.eval()
    return hist


@torch.no_grad()
def _track(model: TextVAE, tokens: torch.Tensor, hist: dict, step: int, beta: float) -> None:
    mu, logvar = model.encode(tokens)
    kl_d = 0.5 * (mu**2 + logvar.exp() - logvar - 1).mean(0)
    hist["step"].append(step)
    hist["beta"].append(beta)
    hist["kl_per_dim"].append(kl_d.tolist() if model.use_latent else [0.0] * model.latent_dim)


@torch.no_grad()
def evaluate_text(model: TextVAE, tokens: torch.Tensor, word_dropout: float = 0.0,
                  seed: int = 0) -> dict[str, float]:
    """Mean ``recon``, ``kl``, ``elbo`` (nats per sentence), one seeded z per sentence."""
    was = model.training
    model.eval()
    terms = text_elbo_terms(model, tokens, 1.0, torch.Generator().manual_seed(seed), word_dropout)
    model.train(was)
    recon, kl = float(terms.recon.mean()), float(terms.kl.mean())
    return {"recon": recon, "kl": kl, "elbo": recon - kl}
