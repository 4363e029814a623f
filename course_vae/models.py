r"""The course's VAE: an MLP encoder q(z|x) = N(mu(x), diag exp(logvar(x))) and an MLP decoder.

The decoder outputs Bernoulli logits (``likelihood="bernoulli"``, for binary pixels) or
the mean of a Gaussian with a fixed standard deviation ``obs_std``
(``likelihood="gaussian"``, for grey levels).  The prior is p(z) = N(0, I).
A :class:`VAEConfig` (a small dataclass of plain values) is all a checkpoint needs to
rebuild the model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from course_vae._validate import (
    as_float_tensor,
    check_broadcast,
    check_choice,
    check_finite,
    check_last_dim,
    check_pair,
    check_positive_int,
    check_real,
    check_seed,
)
from course_vae.rng import as_generator

__all__ = [
    "LIKELIHOODS",
    "VAE",
    "VAEConfig",
    "as_generator",
    "bernoulli_log_likelihood",
    "gaussian_log_likelihood",
    "reparameterize",
]

LIKELIHOODS = ("bernoulli", "gaussian")
_LOG_2PI = math.log(2 * math.pi)
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "softplus": nn.Softplus}


@dataclass(frozen=True)
class VAEConfig:
    """Sizes and likelihood of a :class:`VAE`.

    ``hidden`` lists the encoder's hidden widths (the decoder mirrors them);
    ``obs_std`` is the Gaussian decoder's fixed standard deviation (unused for Bernoulli).
    """

    input_dim: int = 64
    hidden: tuple[int, ...] = (256,)
    latent_dim: int = 2
    likelihood: str = "bernoulli"
    activation: str = "relu"
    obs_std: float = 0.1

    def __post_init__(self) -> None:
        check_positive_int(self.input_dim, "input_dim")
        check_positive_int(self.latent_dim, "latent_dim")
        hidden = tuple(self.hidden) if not isinstance(self.hidden, int) else (self.hidden,)
        for h in hidden:
            check_positive_int(h, "hidden (each width)")
        object.__setattr__(self, "hidden", hidden)
        check_choice(self.likelihood, "likelihood", LIKELIHOODS)
        check_choice(self.activation, "activation", ACTIVATIONS)
        std = check_real(self.obs_std, "obs_std", low=0.0, low_open=True)
        object.__setattr__(self, "obs_std", std)

    def to_dict(self) -> dict[str, Any]:
        """Plain-value dict (lists, not tuples) that :meth:`from_dict` turns back into a config."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VAEConfig:
        """Rebuild a config from :meth:`to_dict`'s output; unknown keys raise ``ValueError``."""
        if not isinstance(d, dict):
            raise ValueError(f"config must be a dict, got {type(d).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"config has unknown keys {sorted(unknown)}")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)


def reparameterize(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    eps: torch.Tensor | None = None,
    *,
    n_samples: int | None = None,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    r"""z = mu + exp(logvar / 2) * eps with eps ~ N(0, I): differentiable in mu and logvar.

    The course's one reparameterisation (the ELBO, the IWAE bound, the diagnostics and the
    training loop all call it).  ``eps`` is the noise, drawn by the caller (who may reuse
    it) and broadcasting against mu; without it, eps is drawn here from ``generator``, with
    a leading dimension of size ``n_samples`` if given.  Checks types and shapes only
    (O(1)), so it costs nothing on the training path.
    """
    for name, t in (("mu", mu), ("logvar", logvar)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating tensor, got {type(t).__name__}")
    if mu.shape != logvar.shape:  # the encoder's case needs no broadcast check
        check_broadcast(mu, logvar, "mu", "logvar")
    if eps is None:
        gen = as_generator(generator, mu.device)
        shape = tuple(mu.shape)
        if n_samples is not None:
            shape = (check_positive_int(n_samples, "n_samples"),) + shape
        eps = torch.randn(shape, generator=gen, device=mu.device, dtype=mu.dtype)
    elif n_samples is not None or generator is not None:
        raise ValueError("give either eps or (n_samples, generator) to draw it, not both")
    elif not isinstance(eps, torch.Tensor):
        raise TypeError(f"eps must be a tensor, got {type(eps).__name__}")
    return mu + torch.exp(0.5 * logvar) * eps


def _bernoulli_ll(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    if x.shape != logits.shape:  # (torch.broadcast_shapes costs ~50 us; skip it when equal)
        x = torch.broadcast_to(x, torch.broadcast_shapes(x.shape, logits.shape))
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def _gaussian_ll(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor | float) -> torch.Tensor:
    std_t = torch.as_tensor(std, dtype=mean.dtype, device=mean.device)
    out = ((x - mean) / std_t) ** 2 + 2 * torch.log(std_t) + _LOG_2PI
    if out.shape != mean.shape or x.shape != mean.shape:
        out = torch.broadcast_to(out, torch.broadcast_shapes(x.shape, mean.shape))
    return -0.5 * out.sum(-1)


def bernoulli_log_likelihood(x: Any, logits: Any, check_input: bool = True) -> torch.Tensor:
    r"""log p(x|z) = \sum_i [x_i log sigmoid(l_i) + (1 - x_i) log sigmoid(-l_i)] (= -BCE, summed).

    Summed over the last dimension (the pixels); stable for any finite logits.  A
    normalised likelihood only for binary ``x``: against grey levels it is not.
    ``check_input=False`` skips the checks (x in [0, 1], finite logits) for a caller that
    checked its data once already (the training loop), as scikit-learn's ``check_input``.
    """
    if check_input:
        x, logits = check_pair(x, logits, "x", "logits", "the pixels")
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError("x must lie in [0, 1] for a Bernoulli likelihood")
    return _bernoulli_ll(x, logits)


def gaussian_log_likelihood(
    x: Any, mean: Any, std: Any = 1.0, check_input: bool = True
) -> torch.Tensor:
    r"""log N(x; mean, std^2 I) = -1/2 \sum_i [((x_i - m_i)/s_i)^2 + 2 log s_i + log 2 pi].

    Summed over the last dimension; ``std`` is a positive number or a tensor that
    broadcasts against ``x`` (a fixed or a given standard deviation).  ``check_input=False``
    skips the checks, as in :func:`bernoulli_log_likelihood`.
    """
    if check_input:
        x, mean = check_pair(x, mean, "x", "mean", "the pixels")
        std = as_float_tensor(std, "std").to(x.dtype)
        check_finite(std, "std")
        if (std <= 0).any():
            raise ValueError("std must be positive")
        try:
            torch.broadcast_shapes(x.shape, mean.shape, std.shape)
        except RuntimeError as exc:
            raise ValueError(f"std.shape={tuple(std.shape)} does not broadcast against x") from exc
    return _gaussian_ll(x, mean, std)


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """MLP VAE: ``encode`` gives (mu, logvar), ``decode`` gives logits or a Gaussian mean.

    ``VAE(config, seed=0)`` initialises the weights from ``seed`` without touching the
    global random state (``seed=None`` uses it).  Keyword arguments build a config:
    ``VAE(input_dim=64, hidden=(256,), latent_dim=2)``.
    """

    def __init__(self, config: VAEConfig | None = None, seed: int | None = None, **kwargs: Any):
        super().__init__()
        if config is None:
            config = VAEConfig(**kwargs)
        elif kwargs:
            raise TypeError("give either a config or keyword arguments, not both")
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        if seed is not None:
            seed = check_seed(seed)
        self.config = config
        enc_sizes = [config.input_dim, *config.hidden, 2 * config.latent_dim]
        dec_sizes = [config.latent_dim, *reversed(config.hidden), config.input_dim]
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.encoder = _mlp(enc_sizes, config.activation)
            self.decoder = _mlp(dec_sizes, config.activation)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def likelihood(self) -> str:
        return self.config.likelihood

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x), each of shape (..., latent_dim)."""
        check_last_dim(x, "x", self.config.input_dim)
        h = self.encoder(x)
        return h[..., : self.config.latent_dim], h[..., self.config.latent_dim :]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output for z: Bernoulli logits, or the Gaussian mean."""
        check_last_dim(z, "z", self.config.latent_dim)
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | int | None = None):
        """(decoded, mu, logvar, z) for one reparameterised sample z ~ q(z|x)."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator=generator)
        return self.decode(z), mu, logvar, z

    def log_likelihood(
        self, x: torch.Tensor, z: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(x|z) summed over pixels, the decoder output) at z of shape (..., latent_dim).

        What each model of the course supplies to the ELBO (:func:`course_vae.elbo.elbo`);
        ``generator`` serves models whose decoder draws noise (the text VAE's word dropout).
        The data were checked once (:meth:`check_data`); nothing is scanned here.
        """
        decoded = self.decode(z)
        if self.config.likelihood == "bernoulli":
            return bernoulli_log_likelihood(x, decoded, check_input=False), decoded
        ll = gaussian_log_likelihood(x, decoded, self.config.obs_std, check_input=False)
        return ll, decoded

    def check_data(self, data: Any, name: str = "data") -> torch.Tensor:
        """``data`` if it is a finite float tensor (n, input_dim), n >= 1, in [0, 1] for a
        Bernoulli decoder; else raise naming ``name``.  The one scan of a data set's values."""
        d = self.config.input_dim
        if not isinstance(data, torch.Tensor) or not data.is_floating_point():
            raise TypeError(f"{name} must be a float tensor (n, {d}), got {type(data).__name__}")
        if data.dim() != 2 or data.shape[1] != d or data.shape[0] == 0:
            raise ValueError(f"{name} must have shape (n, {d}), got {tuple(data.shape)}")
        check_finite(data, name)
        if self.config.likelihood == "bernoulli" and (data.min() < 0 or data.max() > 1):
            raise ValueError(f"{name} must lie in [0, 1] for a Bernoulli decoder (binarise first)")
        return data

    def mean_image(self, decoded: torch.Tensor) -> torch.Tensor:
        """E[x|z] from the decoder output: sigmoid(logits) (Bernoulli) or the mean (Gaussian)."""
        if not isinstance(decoded, torch.Tensor):
            raise TypeError(f"decoded must be a tensor, got {type(decoded).__name__}")
        return torch.sigmoid(decoded) if self.config.likelihood == "bernoulli" else decoded

    def sample_prior(self, n: int, generator: torch.Generator | int | None = None) -> torch.Tensor:
        """n draws z ~ p(z) = N(0, I), shape (n, latent_dim), on the model's device."""
        n = check_positive_int(n, "n")
        p = next(self.parameters())
        gen = as_generator(generator, p.device)
        return torch.randn(n, self.config.latent_dim, generator=gen, device=p.device, dtype=p.dtype)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | int | None = None) -> torch.Tensor:
        """Mean images E[x|z] for n draws z ~ p(z), shape (n, input_dim)."""
        return self.mean_image(self.decode(self.sample_prior(n, generator)))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Mean images E[x|z] at z = mu(x) (the encoder's mean)."""
        mu, _ = self.encode(x)
        return self.mean_image(self.decode(mu))

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"input_dim={c.input_dim}, hidden={c.hidden}, latent_dim={c.latent_dim}, "
            f"likelihood={c.likelihood!r}"
        )
