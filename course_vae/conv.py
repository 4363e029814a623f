r"""A small convolutional VAE for square binary images (chapter 05's sprites).

Encoder: two stride-2 4x4 convolutions (``channels`` each, ReLU), then a linear map to
(mu, logvar) of q(z|x) = N(mu(x), diag exp(logvar(x))).  Decoder: a linear map back to the
feature map, then two stride-2 transposed convolutions to Bernoulli logits.  The canvas
side must be divisible by 4.  :class:`ConvVAE` keeps the :class:`~course_vae.models.VAE`
interface (flat inputs (..., H*W), ``encode``, ``decode``, ``config``), so
:func:`course_vae.train.train`, :mod:`course_vae.elbo` and the diagnostics work unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from course_vae._validate import check_last_dim, check_positive_int, check_seed
from course_vae.models import VAE, VAEConfig

__all__ = ["ConvVAE"]


class ConvVAE(VAE):
    """Conv encoder / transposed-conv decoder VAE on ``side`` x ``side`` Bernoulli images.

    ``ConvVAE(side=20, latent_dim=6, channels=32, seed=0)``; ``config`` is the
    :class:`~course_vae.models.VAEConfig` with ``input_dim = side**2`` and
    ``hidden = (channels,)``.  Weights are initialised from ``seed`` without touching the
    global random state.
    """

    def __init__(self, side: int = 20, latent_dim: int = 6, channels: int = 32,
                 seed: int | None = None) -> None:
        nn.Module.__init__(self)
        side = check_positive_int(side, "side")
        if side % 4:
            raise ValueError(f"side must be divisible by 4, got {side}")
        channels = check_positive_int(channels, "channels")
        if seed is not None:
            seed = check_seed(seed)
        self.config = VAEConfig(input_dim=side * side, hidden=(channels,),
                                latent_dim=latent_dim, likelihood="bernoulli")
        self.side = side
        self._feat = (channels, side // 4, side // 4)
        n_feat = channels * (side // 4) ** 2
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.encoder = nn.Sequential(
                nn.Conv2d(1, channels, 4, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(channels, channels, 4, stride=2, padding=1), nn.ReLU(),
                nn.Flatten(), nn.Linear(n_feat, 2 * latent_dim),
            )
            self.decoder_in = nn.Sequential(nn.Linear(latent_dim, n_feat), nn.ReLU())
            self.decoder = nn.Sequential(
                nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1), nn.ReLU(),
                nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),
            )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x) for flat images x (..., side**2)."""
        check_last_dim(x, "x", self.config.input_dim)
        lead = x.shape[:-1]
        h = self.encoder(x.reshape(-1, 1, self.side, self.side))
        h = h.reshape(*lead, 2 * self.config.latent_dim)
        return h[..., : self.config.latent_dim], h[..., self.config.latent_dim :]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits (..., side**2) at z."""
        check_last_dim(z, "z", self.config.latent_dim)
        lead = z.shape[:-1]
        h = self.decoder_in(z.reshape(-1, self.config.latent_dim)).reshape(-1, *self._feat)
        return self.decoder(h).reshape(*lead, self.config.input_dim)

    def extra_repr(self) -> str:
        return (f"side={self.side}, channels={self._feat[0]}, "
                f"latent_dim={self.config.latent_dim}, likelihood='bernoulli'")
