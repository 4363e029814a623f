r"""The course's VAE: an MLP encoder q(z|x) = N(mu(x), diag exp(logvar(x))) and an MLP decoder.

The decoder outputs Bernoulli logits (``likelihood="bernoulli"``, for binary pixels) or
the mean of a Gaussian with a fixed standard deviation ``obs_std``
(``likelihood="gaussian"``, for grey levels).  The prior is p(z) = N(0, I).
A :class:`VAEConfig` (a small dataclass of plain values) is all a checkpoint needs to
rebuild the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from course_vae._validate import check_choice, check_positive_int, check_real, check_seed
from course_vae.rng import as_generator

__all__ = [
    "LIKELIHOODS",
    "VAE",
    "VAEConfig",
    "as_generator",
    "reparameterize",
    "reparameterize_unchecked",
]

LIKELIHOODS = ("bernoulli", "gaussian")
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
    n_samples: int | None = None,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    r"""z = mu + exp(logvar / 2) * eps with eps ~ N(0, I): differentiable in mu and logvar.

    With ``n_samples`` the result has a leading dimension of that size.  Checks its input,
    draws eps from ``generator`` and calls :func:`reparameterize_unchecked`.
    """
    for name, t in (("mu", mu), ("logvar", logvar)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating tensor, got {type(t).__name__}")
    try:
        torch.broadcast_shapes(mu.shape, logvar.shape)
    except RuntimeError as exc:
        raise ValueError(
            f"mu.shape={tuple(mu.shape)} and logvar.shape={tuple(logvar.shape)} do not broadcast"
        ) from exc
    gen = as_generator(generator, mu.device)
    shape = (
        mu.shape
        if n_samples is None
        else (check_positive_int(n_samples, "n_samples"),) + tuple(mu.shape)
    )
    eps = torch.randn(shape, generator=gen, device=mu.device, dtype=mu.dtype)
    return reparameterize_unchecked(mu, logvar, eps)


def reparameterize_unchecked(
    mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    r"""z = mu + exp(logvar / 2) * eps for a given noise ``eps`` (no input checks).

    The one formula behind :func:`reparameterize`, the ELBO, the IWAE bound and the
    diagnostics; ``eps`` (drawn by the caller, which may reuse it) broadcasts against mu.
    """
    return mu + torch.exp(0.5 * logvar) * eps


def _check_last_dim(t: Any, name: str, dim: int) -> None:
    """Raise naming ``name`` unless ``t`` is a floating tensor of shape (..., dim)."""
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        raise TypeError(
            f"{name} must be a floating tensor of shape (..., {dim}), got {type(t).__name__}"
            + (f" of dtype {t.dtype}" if isinstance(t, torch.Tensor) else "")
        )
    if t.dim() == 0 or t.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (..., {dim}), got {tuple(t.shape)}")


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
        _check_last_dim(x, "x", self.config.input_dim)
        h = self.encoder(x)
        return h[..., : self.config.latent_dim], h[..., self.config.latent_dim :]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output for z: Bernoulli logits, or the Gaussian mean."""
        _check_last_dim(z, "z", self.config.latent_dim)
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | int | None = None):
        """(decoded, mu, logvar, z) for one reparameterised sample z ~ q(z|x)."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator=generator)
        return self.decode(z), mu, logvar, z

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
