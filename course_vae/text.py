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

The model follows the course's conventions: recon summed over tokens, KL summed over
latents, both averaged over the batch; it trains with the one loop,
:func:`course_vae.train.train`, like every other model of the course.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from course_vae._validate import (
    check_bool,
    check_positive_int,
    check_probability,
    check_real,
    check_seed,
)
from course_vae.elbo import iwae_bound

__all__ = [
    "MAX_LEN",
    "TOPICS",
    "VOCAB",
    "TextVAE",
    "decode_tokens",
    "grammar_bounds",
    "grammar_sentences",
    "make_sentences",
    "sentence_log_prob",
    "sentence_patterns",
    "sentence_topics",
    "text_iwae",
    "text_log_weights",
    "token_log_likelihood",
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

    ``word_dropout``: the probability that each word the decoder reads is replaced by
    <unk> (in training and in evaluation, each draw from the caller's generator).
    ``use_latent=False``: the decoder alone: ``encode`` returns the prior's parameters
    (mu = 0, logvar = 0, so the KL is exactly 0) and the decoder gets z = 0.  Weights are
    drawn from ``seed`` without touching the global random state.  The model follows the
    course's model protocol (``encode``, ``log_likelihood``, ``check_data``), so
    :func:`course_vae.train.train` and :func:`course_vae.elbo.elbo` take it as they take
    the image VAEs.
    """

    def __init__(self, vocab_size: int = len(VOCAB), embed_dim: int = 32, hidden: int = 64,
                 latent_dim: int = 8, use_latent: bool = True, word_dropout: float = 0.0,
                 seed: int = 0):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("embed_dim", embed_dim),
                        ("hidden", hidden), ("latent_dim", latent_dim)):
            check_positive_int(v, name)
        self.word_dropout = check_probability(word_dropout, "word_dropout")
        self.latent_dim, self.vocab_size = latent_dim, vocab_size
        self.use_latent = check_bool(use_latent, "use_latent")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(check_seed(seed))
            self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
            self.encoder = nn.GRU(embed_dim, hidden, batch_first=True)
            self.to_q = nn.Linear(hidden, 2 * latent_dim)
            self.z_to_h = nn.Linear(latent_dim, hidden)
            self.decoder = nn.GRU(embed_dim + latent_dim, hidden, batch_first=True)
            self.out = nn.Linear(hidden, vocab_size)

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mu, logvar of q(z|x), each (n, latent_dim): the encoder's last state (at <eos>)."""
        if not self.use_latent:  # the decoder alone: q(z|x) = p(z), nothing to charge
            zeros = torch.zeros(len(tokens), self.latent_dim, device=tokens.device)
            return zeros, zeros
        states, _ = self.encoder(self.embed(tokens))
        last = states[torch.arange(len(tokens)), _lengths(tokens) - 1]
        mu, logvar = self.to_q(last).chunk(2, dim=-1)
        return mu, logvar

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The parameters only the encoder uses (its GRU and the layer to mu, logvar; the
        word embedding is shared with the decoder and left out), e.g. for
        :class:`~course_vae.schedules.AggressiveEncoderUpdates`."""
        return [*self.encoder.parameters(), *self.to_q.parameters()]

    def decoder_inputs(self, tokens: torch.Tensor, generator: torch.Generator | None = None
                       ) -> torch.Tensor:
        """<bos> x_1 ... x_{T-1}, each word replaced by <unk> with prob. ``word_dropout``."""
        inputs = torch.cat([torch.full_like(tokens[:, :1], _ID[BOS]), tokens[:, :-1]], 1)
        if self.word_dropout > 0:
            drop = torch.rand(inputs.shape, generator=generator) < self.word_dropout
            drop[:, 0] = False  # <bos> stays
            inputs = inputs.masked_fill(drop & (inputs != 0), _ID[UNK])
        return inputs

    def decode(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Next-token logits (..., n, T, vocab) for z (..., n, latent) and decoder inputs (n, T)."""
        lead = z.shape[:-1]
        z = z.reshape(-1, self.latent_dim)
        inputs = inputs.repeat(z.shape[0] // len(inputs), 1)
        if not self.use_latent:
            z = torch.zeros_like(z)
        emb = torch.cat([self.embed(inputs), z[:, None, :].expand(-1, inputs.shape[1], -1)], -1)
        states, _ = self.decoder(emb, torch.tanh(self.z_to_h(z))[None])
        logits = self.out(states)
        return logits.reshape(*lead, *logits.shape[-2:])

    def log_likelihood(self, tokens: torch.Tensor, z: torch.Tensor,
                       generator: torch.Generator | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""(log p(x|z), logits): \sum_t log softmax(l_t)[x_t] over the tokens (pads masked).

        ``z`` is (n, latent) or (k, n, latent) (k samples per sentence); word dropout draws
        the dropped words from ``generator``.
        """
        logits = self.decode(z, self.decoder_inputs(tokens, generator))
        return token_log_likelihood(tokens, logits), logits

    def check_data(self, tokens: Any, name: str = "data") -> torch.Tensor:
        """``tokens`` if it is a long tensor (n, T) of ids in [0, vocab_size), n >= 1, every
        row starting with a word; else raise naming ``name``."""
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
            raise TypeError(f"{name} must be a long tensor of token ids (n, T), "
                            f"got {type(tokens).__name__}")
        if tokens.dim() != 2 or tokens.shape[0] == 0 or tokens.shape[1] == 0:
            raise ValueError(f"{name} must have shape (n, T) with n, T >= 1, "
                             f"got {tuple(tokens.shape)}")
        if tokens.min() < 0 or tokens.max() >= self.vocab_size or (tokens[:, 0] == 0).any():
            raise ValueError(f"{name} must hold ids in [0, {self.vocab_size}), no empty row")
        return tokens


def token_log_likelihood(tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    r"""\sum_t log softmax(l_t)[x_t] over the non-pad tokens; shape logits.shape[:-2]."""
    logp = torch.log_softmax(logits, -1)
    tokens = torch.broadcast_to(tokens, logp.shape[:-1])
    return (logp.gather(-1, tokens[..., None]).squeeze(-1) * (tokens != 0)).sum(-1)


@torch.no_grad()
def text_iwae(model: TextVAE, tokens: torch.Tensor, n_samples: int = 50, seed: int = 0
              ) -> torch.Tensor:
    r"""IWAE_K estimate of log p(x) per sentence, shape (n,) (:func:`~course_vae.elbo.iwae_bound`).

    IWAE_K = log (1/K) \sum_k p(x|z_k) p(z_k) / q(z_k|x); word dropout (if any) uses one
    seeded draw of the dropped words, shared by the K samples.
    """
    tokens = model.check_data(tokens, "tokens")
    n_samples = check_positive_int(n_samples, "n_samples")
    g = torch.Generator().manual_seed(check_seed(seed))
    mu, logvar = model.encode(tokens)
    inputs = model.decoder_inputs(tokens, g)
    if not model.use_latent:  # exact: log p(x|z) does not depend on z
        return token_log_likelihood(tokens, model.decode(mu, inputs)).double()

    def fn(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return token_log_likelihood(tokens, model.decode(z, inputs))

    return iwae_bound(fn, tokens.float(), n_samples, mu=mu, logvar=logvar, generator=g).double()


# --------------------------------------------------------------------------- chapter 04:
# the grammar enumerated, what z can win, what z carries


def sentence_topics(tokens: torch.Tensor) -> torch.Tensor:
    """The topic index (0-3, in the order of :data:`TOPICS`) of each sentence, shape (n,):
    the topic of its first content word (every content word names one topic)."""
    topic_of = {_ID[w]: k for k, t in enumerate(TOPICS.values()) for lst in t.values()
                for w in lst}
    out = []
    for row in tokens.tolist():
        ids = [topic_of[i] for i in row if i in topic_of]
        if not ids:
            raise ValueError("a sentence has no content word")
        out.append(ids[0])
    return torch.tensor(out, dtype=torch.long)


def sentence_patterns(tokens: torch.Tensor) -> torch.Tensor:
    """Which optional parts each sentence has, as 0-7 = 4 very + 2 second-adjective + 1
    "and VERB", shape (n,); the three are independent fair coins in :func:`make_sentences`."""
    adjectives = {_ID[w] for t in TOPICS.values() for w in t["adj"]}
    out = []
    for row in tokens.tolist():
        very = _ID["very"] in row
        more = _ID["and"] in row
        adj2 = sum(i in adjectives for i in row) == 2
        out.append(4 * very + 2 * adj2 + more)
    return torch.tensor(out, dtype=torch.long)


def grammar_sentences() -> tuple[torch.Tensor, torch.Tensor]:
    r"""Every sentence the grammar can produce and its exact probability.

    Returns (tokens (5184, MAX_LEN), log_prob (5184,) float64): 4 topics x 8 patterns of
    the optional parts x the content words; the probabilities sum to 1.
    """
    rows = []
    for t in TOPICS.values():
        for very in (False, True):
            for adj2 in (False, True):
                for more in (False, True):
                    slots = [t["adj"], t["noun"], t["verb"]] + ([t["adj"]] if adj2 else []) + [
                        t["noun"]] + ([t["verb"]] if more else [])
                    for words in _product(slots):
                        s = ["the"] + (["very"] if very else []) + list(words[:3]) + ["a"]
                        rest = list(words[3:])
                        s += rest[: 1 + adj2]
                        s += (["and", rest[-1]] if more else []) + [".", EOS]
                        row = [_ID[w] for w in s] + [0] * (MAX_LEN - len(s))
                        rows.append(row)
    tokens = torch.tensor(rows, dtype=torch.long)
    return tokens, sentence_log_prob(tokens)


def _product(slots: list) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [()]
    for options in slots:
        out = [prefix + (w,) for prefix in out for w in options]
    return out


def grammar_bounds() -> dict[str, float]:
    r"""What a text model of this grammar can reach, in nats per sentence (exact).

    * ``entropy``: H = -\sum_x p(x) log p(x); every model's E log p(x) <= -H, so a
      decoder alone that reaches E log p(x) = -H - g leaves z at most g nats to win;
    * ``topic_entropy`` = log 4 and ``pattern_entropy`` = 3 log 2 (the three optional parts):
      the information a sentence holds beyond its content words' choices within a topic;
    * ``position_only``: the best E log p(x) of a decoder that sees no previous word, only
      the position (word dropout 1, no z): \sum_t E log p(x_t | t);
    * ``given_topic_pattern``: E log p(x | topic, pattern) = -H + log 4 + 3 log 2, what such
      a decoder reaches when z tells it the topic and the pattern exactly.
    """
    tokens, log_p = grammar_sentences()
    p = log_p.exp()
    entropy = float(-(p * log_p).sum())
    position = 0.0
    for t in range(tokens.shape[1]):
        col = tokens[:, t]
        present = col != 0
        if not present.any():
            continue
        counts = torch.zeros(len(VOCAB), dtype=torch.float64)
        counts.index_add_(0, col[present], p[present])
        probs = counts / counts.sum()
        position += float((p[present] * torch.log(probs[col[present]])).sum())
    topic, pattern = math.log(4), 3 * math.log(2)
    return {"entropy": entropy, "topic_entropy": topic, "pattern_entropy": pattern,
            "position_only": position, "given_topic_pattern": -entropy + topic + pattern}


@torch.no_grad()
def text_log_weights(model: TextVAE, tokens: torch.Tensor, n_samples: int, seed: int = 0,
                     prior_mix: float = 0.0) -> torch.Tensor:
    r"""Log importance weights log p(x|z_k) + log p(z_k) - log r(z_k|x), shape (n_samples, n).

    The proposal r is the encoder's q(z|x) (``prior_mix`` = 0, the IWAE weights) or the
    *defensive* mixture r = (1 - m) q(z|x) + m p(z) with m = ``prior_mix`` in (0, 1)
    (Hesterberg 1995): then w <= p(x|z) / m, so the weights have a finite variance even where
    q is narrower than p(z|x), and log (1/K) \sum_k w_k converges to log p(x) much faster.
    One seeded draw of the dropped words (if any) shared by the samples, as
    :func:`text_iwae`; feed them to :func:`course_vae.elbo.iwae_by_k` for the
    estimate against K.  Computed in chunks of samples, so memory stays bounded.
    """
    from course_vae.elbo import importance_log_weights

    tokens = model.check_data(tokens, "tokens")
    n_samples = check_positive_int(n_samples, "n_samples")
    m = check_real(prior_mix, "prior_mix", low=0.0, high=1.0, high_open=True)
    g = torch.Generator().manual_seed(check_seed(seed))
    mu, logvar = model.encode(tokens)
    inputs = model.decoder_inputs(tokens, g)
    if m > 0:
        return _defensive_log_weights(model, tokens, inputs, mu, logvar, n_samples, m, g)

    def fn(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return token_log_likelihood(tokens, model.decode(z, inputs))

    return importance_log_weights(tokens.float(), mu, logvar, fn, n_samples, generator=g).double()


def _defensive_log_weights(model, tokens, inputs, mu, logvar, n_samples, m, g, chunk=50):
    """log p(x|z) + log p(z) - log[(1 - m) q(z|x) + m p(z)] for z from that mixture."""
    out = []
    log_2pi = math.log(2 * math.pi)
    with torch.no_grad():
        for done in range(0, n_samples, chunk):
            k = min(chunk, n_samples - done)
            eps = torch.randn((k, *mu.shape), generator=g)
            from_prior = torch.rand((k, mu.shape[0], 1), generator=g) < m
            z = torch.where(from_prior, eps, mu + torch.exp(0.5 * logvar) * eps)
            log_p = -0.5 * (z**2 + log_2pi).sum(-1)
            log_q = -0.5 * ((z - mu) ** 2 / logvar.exp() + logvar + log_2pi).sum(-1)
            log_r = torch.logaddexp(math.log1p(-m) + log_q, math.log(m) + log_p)
            out.append(token_log_likelihood(tokens, model.decode(z, inputs)) + log_p - log_r)
    return torch.cat(out).double()
