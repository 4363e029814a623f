r"""An autoregressive decoder (MADE, Germain et al. 2015) conditioned on z, and its VAE.

The decoder models the pixels one after the other in a fixed order (row by row):

    log p(x|z) = \sum_{i=1}^{D} log Bernoulli(x_i | sigmoid(l_i(x_{<i}, z))),

where the logit l_i of pixel i may read the pixels *before* i and the code z, never pixel
i itself or a later one.  One masked MLP computes all D logits in a single pass
("teacher forcing": the true x is fed in, the masks hide what each output may not see):

* every unit k of a hidden layer gets a degree m(k) in {1, ..., D-1} and is connected to
  input pixel j only if m(k) >= j (to a unit k' of the previous hidden layer only if
  m(k) >= m(k'));
* output i is connected to a last-layer unit k only if i > m(k), and directly to the
  input pixel j only if i > j (a strictly lower-triangular mask);
* z enters every hidden layer and the output without a mask.

So output i depends on x_1..x_{i-1} and on z only (:meth:`MADE.connectivity` multiplies
the masks to show it).  Such a decoder can model x well *without* z, which is what makes
posterior collapse likely (chapter 04).  Sampling is sequential: D passes, one per pixel.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from course_vae._validate import check_choice, check_nonnegative_int, check_positive_int
from course_vae.models import (
    ACTIVATIONS,
    VAE,
    VAEConfig,
    bernoulli_log_likelihood,
    reparameterize,
)
from course_vae.rng import as_generator

__all__ = ["MADE", "AutoregressiveVAE", "MaskedLinear", "made_degrees", "made_masks"]


class MaskedLinear(nn.Linear):
    """y = x (W * M)^T + b with a fixed 0/1 mask M (a buffer) of W's shape (out, in)."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask must be a 0/1 tensor, got {type(mask).__name__}")
        if tuple(mask.shape) != (out_features, in_features):
            raise ValueError(
                f"mask must have shape ({out_features}, {in_features}), got {tuple(mask.shape)}"
            )
        self.register_buffer("mask", mask.to(self.weight.dtype).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"x must be a tensor of shape (..., {self.in_features}), got "
                f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}"
            )
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def made_degrees(input_dim: int, hidden: tuple[int, ...]) -> list[torch.Tensor]:
    r"""Degrees of the input pixels (1..D) and of each hidden layer's units.

    Hidden unit k gets degree 1 + (k mod (D - 1)) (cycling through 1..D-1, deterministic):
    a unit of degree m may depend on pixels 1..m.  Needs D >= 2.
    """
    d = check_positive_int(input_dim, "input_dim")
    if d < 2:
        raise ValueError(f"input_dim must be at least 2 for an autoregressive model, got {d}")
    hidden = _hidden(hidden)
    degrees = [torch.arange(1, d + 1)]
    for h in hidden:
        degrees.append(torch.arange(h) % (d - 1) + 1)
    return degrees


def made_masks(input_dim: int, hidden: tuple[int, ...]) -> list[torch.Tensor]:
    r"""The 0/1 masks (out, in) of the layers: hidden layers, last hidden -> output, and the
    direct input -> output connection.

    Hidden: M[k, j] = [m_l(k) >= m_{l-1}(j)]; output: M[i, k] = [i > m_L(k)];
    direct: M[i, j] = [i > j].  Their products never connect input j to output i >= j.
    """
    degrees = made_degrees(input_dim, hidden)
    masks = [
        (deg_out[:, None] >= deg_in[None, :]).float()
        for deg_in, deg_out in zip(degrees[:-1], degrees[1:], strict=True)
    ]
    out_deg = degrees[0]
    masks.append((out_deg[:, None] > degrees[-1][None, :]).float())
    masks.append((out_deg[:, None] > out_deg[None, :]).float())
    return masks


def _hidden(hidden: Any) -> tuple[int, ...]:
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    if not hidden:
        raise ValueError("hidden must list at least one width")
    for h in hidden:
        check_positive_int(h, "hidden (each width)")
    return hidden


class MADE(nn.Module):
    r"""Masked autoencoder for distribution estimation with a conditioning input z.

    ``forward(x, cond)`` returns logits l (…, D) with l_i a function of x_{<i} and
    ``cond`` only.  ``x`` has shape (batch, D); ``cond`` has shape (…, batch, cond_dim)
    (leading sample dimensions broadcast, e.g. K importance samples of z for one x).
    """

    def __init__(
        self,
        input_dim: int,
        hidden: tuple[int, ...] = (256,),
        cond_dim: int = 0,
        activation: str = "relu",
    ):
        super().__init__()
        check_positive_int(input_dim, "input_dim")
        hidden = _hidden(hidden)
        cond_dim = check_nonnegative_int(cond_dim, "cond_dim")
        check_choice(activation, "activation", ACTIVATIONS)
        self.input_dim, self.hidden, self.cond_dim = int(input_dim), hidden, cond_dim
        masks = made_masks(input_dim, hidden)
        sizes = [self.input_dim, *hidden]
        self.layers = nn.ModuleList(
            MaskedLinear(a, b, m) for a, b, m in zip(sizes[:-1], sizes[1:], masks, strict=False)
        )
        self.out = MaskedLinear(hidden[-1], self.input_dim, masks[-2])
        self.direct = MaskedLinear(self.input_dim, self.input_dim, masks[-1], bias=False)
        self.cond_layers = nn.ModuleList(
            nn.Linear(cond_dim, n, bias=False) for n in [*hidden, self.input_dim]
        ) if cond_dim else None
        self.act = ACTIVATIONS[activation]()

    @property
    def masks(self) -> list[torch.Tensor]:
        """The masks in use: hidden layers, output, direct (each (out, in))."""
        return [layer.mask for layer in self.layers] + [self.out.mask, self.direct.mask]

    def connectivity(self) -> torch.Tensor:
        r"""C (D, D): C[i, j] > 0 iff some path of unmasked weights joins input j to output i.

        The product of the hidden masks and the output mask, plus the direct mask; for an
        autoregressive model it is strictly lower-triangular.
        """
        path = self.layers[0].mask
        for layer in self.layers[1:]:
            path = layer.mask @ path
        return self.out.mask @ path + self.direct.mask

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Logits l (…, batch, D) of p(x_i = 1 | x_{<i}, cond), all i in one pass."""
        if cond is None and self.cond_dim:
            raise ValueError("cond must be given: this MADE was built with cond_dim > 0")
        if cond is not None and (
            not isinstance(cond, torch.Tensor) or cond.dim() == 0 or cond.shape[-1] != self.cond_dim
        ):
            raise ValueError(f"cond must be a tensor of shape (..., {self.cond_dim})")
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if self.cond_layers is not None:
                h = h + self.cond_layers[i](cond)
            h = self.act(h)
        out = self.out(h) + self.direct(x)
        if self.cond_layers is not None:
            out = out + self.cond_layers[-1](cond)
        return out


class AutoregressiveVAE(VAE):
    r"""The course's MLP encoder with an autoregressive Bernoulli decoder (a :class:`MADE`).

    log p(x|z) = \sum_i log Bernoulli(x_i | sigmoid(l_i(x_{<i}, z))): the likelihood is
    still a sum of per-pixel Bernoulli terms, so ``config.likelihood`` is "bernoulli" and
    :func:`course_vae.elbo.elbo`, :func:`course_vae.train.train`, the IWAE bound and the
    diagnostics work unchanged.  The difference: ``decode(z, x)`` needs x for teacher
    forcing (``needs_x = True`` tells the ELBO code to pass it).  ``ar_hidden`` are the
    MADE's hidden widths.  With the same ``seed``, the encoder starts from the same
    weights as ``VAE(config, seed)``.

    ``sample`` and ``reconstruct`` decode sequentially (D passes): pixel i is drawn from
    Bernoulli(p_i) given the pixels already drawn; they return the probabilities p_i
    along that draw (a grey image that shows what the decoder expects at each step).
    """

    needs_x = True

    def __init__(
        self,
        config: VAEConfig | None = None,
        seed: int | None = None,
        ar_hidden: tuple[int, ...] = (256,),
        **kwargs: Any,
    ):
        super().__init__(config, seed, **kwargs)
        if self.config.likelihood != "bernoulli":
            raise ValueError(
                "config.likelihood must be 'bernoulli' for the autoregressive decoder, "
                f"got {self.config.likelihood!r}"
            )
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed + 1)
            self.decoder = MADE(
                self.config.input_dim, ar_hidden, self.config.latent_dim, self.config.activation
            )

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of p(x_i = 1 | x_{<i}, z) for all pixels i, by teacher forcing on ``x``."""
        if x is None:
            raise ValueError(
                "x must be given: the autoregressive decoder reads the previous pixels of x "
                "(teacher forcing); to generate, use sample() or decode_sequential()"
            )
        return self.decoder(x, z)

    def log_likelihood(
        self, x: torch.Tensor, z: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(x|z) = \\sum_i log Bernoulli(x_i | x_{<i}, z), the logits), one pass (teacher
        forcing); z may carry leading sample dimensions (..., latent_dim)."""
        logits = self.decode(z, x)
        return bernoulli_log_likelihood(x, logits, check_input=False), logits

    def forward(self, x: torch.Tensor, generator: torch.Generator | int | None = None):
        """(logits, mu, logvar, z) for one reparameterised z ~ q(z|x), decoded with x."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator=generator)
        return self.decode(z, x), mu, logvar, z

    @torch.no_grad()
    def decode_sequential(
        self, z: torch.Tensor, generator: torch.Generator | int | None = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw x ~ p(x|z) pixel by pixel; return (binary x, probabilities p_i), each (n, D)."""
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be a tensor of shape (n, {self.latent_dim})")
        gen = as_generator(generator, z.device)
        d = self.config.input_dim
        x = torch.zeros(z.shape[0], d, device=z.device, dtype=z.dtype)
        probs = torch.zeros_like(x)
        u = torch.rand(z.shape[0], d, generator=gen, device=z.device, dtype=z.dtype)
        for i in range(d):
            p = torch.sigmoid(self.decoder(x, z)[:, i])
            probs[:, i] = p
            x[:, i] = (u[:, i] < p).to(x.dtype)
        return x, probs

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | int | None = None) -> torch.Tensor:
        """Probabilities p_i along a sequential draw from p(x|z), z ~ p(z); shape (n, D)."""
        gen = as_generator(generator, next(self.parameters()).device)
        return self.decode_sequential(self.sample_prior(n, gen), gen)[1]

    @torch.no_grad()
    def reconstruct(
        self, x: torch.Tensor, generator: torch.Generator | int | None = 0
    ) -> torch.Tensor:
        """Probabilities p_i along a sequential draw from p(x|z) at z = mu(x); shape (n, D)."""
        mu, _ = self.encode(x)
        return self.decode_sequential(mu, generator)[1]

    def extra_repr(self) -> str:
        return super().extra_repr() + f", ar_hidden={self.decoder.hidden}"
