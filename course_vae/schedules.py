r"""KL weight schedules (``beta=`` of :func:`course_vae.train.train`) and objectives against
posterior collapse (``objective=``).

Schedules map the optimiser step t = 0, 1, 2, ... to a weight beta(t) >= 0:

* :class:`LinearAnnealing` (Bowman et al. 2016): beta(t) = start + (end - start) min(1, t / W);
* :class:`CyclicalAnnealing` (Fu et al. 2019): M cycles of length T / M; in each, beta rises
  linearly from ``start`` to ``end`` during the first fraction R of the cycle, then stays.

Objectives map the minibatch's :class:`~course_vae.elbo.ELBOTerms` (and beta) to the scalar
loss.  Per example, recon is summed over pixels and KL over latent dimensions; both are
averaged over the batch:

* :class:`FreeBits` (Kingma et al. 2016, as in the IAF code):
  loss = -mean(recon) + beta \sum_g max(lambda, mean_batch KL_g), KL_g the KL of group g;
* :class:`KLCapacity` (Burgess et al. 2018): loss = -mean(recon) + gamma |mean(KL) - C(t)|,
  C(t) raised linearly to C_max over n steps.

Every class holds plain numbers only: ``to_dict()`` gives a dict of str/int/float that
:func:`from_dict` turns back into an equal object (no pickle needed to store it).
"""

from __future__ import annotations

from typing import Any

import torch

from course_vae._validate import check_nonnegative_int, check_pair, check_positive_int, check_real
from course_vae.kl import kl_normal_std


def _check_terms(terms: Any, needed: tuple[str, ...]) -> None:
    """Objectives take the ELBOTerms of a minibatch (as train() passes them), or a look-alike."""
    missing = [a for a in needed if not hasattr(terms, a)]
    if missing:
        raise TypeError(
            f"terms must be course_vae.elbo.ELBOTerms (or have {', '.join(missing)}), "
            f"got {type(terms).__name__}"
        )


class _Plain:
    """Shared plumbing: the constructor's arguments are the state (repr, ==, to_dict)."""

    _fields: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``{"type": class name, **arguments}``: plain values that :func:`from_dict` reads."""
        return {"type": type(self).__name__, **{f: getattr(self, f) for f in self._fields}}

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(tuple(self.to_dict().items()))


# --------------------------------------------------------------------------- beta schedules


class BetaSchedule(_Plain):
    """A KL weight beta(step) >= 0 for the optimiser step 0, 1, 2, ... (call it with the step)."""

    def __call__(self, step: int) -> float:
        return self._value(check_nonnegative_int(step, "step"))

    def _value(self, step: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class LinearAnnealing(BetaSchedule):
    r"""KL annealing (Bowman et al. 2016): beta(t) = start + (end - start) min(1, t / warmup_steps).

    beta(0) = start (0 by default) and beta(t) = end (1 by default) from t = warmup_steps on.
    """

    _fields = ("warmup_steps", "start", "end")

    def __init__(self, warmup_steps: int, start: float = 0.0, end: float = 1.0):
        self.warmup_steps = check_positive_int(warmup_steps, "warmup_steps")
        self.start = check_real(start, "start", low=0.0)
        self.end = check_real(end, "end", low=0.0)

    def _value(self, step: int) -> float:
        # (a step past the warm-up gives frac = 1 without a division that could overflow)
        frac = 1.0 if step >= self.warmup_steps else step / self.warmup_steps
        return self.start + (self.end - self.start) * frac


class CyclicalAnnealing(BetaSchedule):
    r"""Cyclical annealing (Fu et al. 2019): ``n_cycles`` cycles over ``total_steps`` steps.

    With period P = total_steps / n_cycles and tau = (t mod P) / P in [0, 1):
    beta(t) = start + (end - start) min(1, tau / ratio).  So beta rises linearly from
    ``start`` to ``end`` during the first ``ratio`` of each cycle (R = 0.5 in the paper) and
    stays at ``end`` for the rest; after ``total_steps`` it stays at ``end``.
    """

    _fields = ("total_steps", "n_cycles", "ratio", "start", "end")

    def __init__(
        self,
        total_steps: int,
        n_cycles: int = 4,
        ratio: float = 0.5,
        start: float = 0.0,
        end: float = 1.0,
    ):
        self.total_steps = check_positive_int(total_steps, "total_steps")
        self.n_cycles = check_positive_int(n_cycles, "n_cycles")
        if self.n_cycles > self.total_steps:
            raise ValueError(
                f"n_cycles ({self.n_cycles}) must not exceed total_steps ({self.total_steps})"
            )
        self.ratio = check_real(ratio, "ratio", low=0.0, low_open=True, high=1.0)
        self.start = check_real(start, "start", low=0.0)
        self.end = check_real(end, "end", low=0.0)

    @property
    def period(self) -> float:
        """Steps per cycle, total_steps / n_cycles (not necessarily an integer)."""
        return self.total_steps / self.n_cycles

    def _value(self, step: int) -> float:
        if step >= self.total_steps:
            return self.end
        tau = (step % self.period) / self.period
        return self.start + (self.end - self.start) * min(1.0, tau / self.ratio)


# --------------------------------------------------------------------------- objectives


def kl_per_dimension_batch(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""KL(q(z_d|x) || N(0, 1)) = 1/2 (mu_d^2 + sigma_d^2 - log sigma_d^2 - 1) per example and
    dimension, shape (batch, latent_dim); its sum over d is :func:`~course_vae.kl.kl_normal_std`.

    Differentiable (computed by ``kl_normal_std`` on one dimension at a time).
    """
    mu, logvar = check_pair(mu, logvar, "mu", "logvar", "latent_dim", scan=False)
    return kl_normal_std(mu.unsqueeze(-1), logvar.unsqueeze(-1))


class FreeBits(_Plain):
    r"""Free bits (Kingma et al. 2016; the IAF code's ``kl_min``) as an ``objective=`` for train.

    loss = -mean_batch(recon) + beta \sum_g max(floor, mean_batch KL_g),

    where KL_g = \sum_{d in g} KL(q(z_d|x) || N(0, 1)) for contiguous groups of
    ``group_size`` latent dimensions (1: every dimension its own group).  The floor applies
    to the batch mean, not to each example.  A group whose mean KL is below ``floor`` nats
    gets no gradient from the KL term, so the encoder may use it "for free"; above the floor
    the gradient is the ordinary KL gradient.  ``floor`` is typically 0.1 to 0.25 nats.
    Needs ``terms.mu`` and ``terms.logvar`` of shape (batch, latent_dim).
    """

    _fields = ("floor", "group_size")

    def __init__(self, floor: float, group_size: int = 1):
        self.floor = check_real(floor, "floor", low=0.0)
        self.group_size = check_positive_int(group_size, "group_size")

    def group_kl(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Batch-mean KL of each group, shape (latent_dim // group_size,) (before the floor)."""
        kl = kl_per_dimension_batch(mu, logvar)
        d = kl.shape[-1]
        if d % self.group_size:
            raise ValueError(
                f"group_size ({self.group_size}) must divide latent_dim ({d})"
            )
        kl = kl.reshape(*kl.shape[:-1], d // self.group_size, self.group_size).sum(-1)
        return kl.reshape(-1, kl.shape[-1]).mean(0)

    def __call__(self, terms: Any, beta: float = 1.0) -> torch.Tensor:
        beta = check_real(beta, "beta", low=0.0)
        _check_terms(terms, ("recon", "mu", "logvar"))
        kl = torch.clamp(self.group_kl(terms.mu, terms.logvar), min=self.floor).sum()
        return -terms.recon.mean() + beta * kl


class KLCapacity(_Plain):
    r"""KL capacity target (Burgess et al. 2018) as an ``objective=`` for train.

    loss = -mean_batch(recon) + gamma |mean_batch(KL) - C(t)|,
    C(t) = c_start + (c_max - c_start) min(1, t / n_steps).

    The ``beta`` that train passes is ignored (gamma takes its role).  The step t: pass
    ``step=`` explicitly, or leave it out and the object counts its own calls (one call per
    optimiser step in train, starting at 0, so t matches the step a beta schedule sees).
    The count lives in ``self.step``; call :meth:`reset` before training again with the
    same object.  Burgess et al. (2018) raise C from 0 to C_max = 25 nats over 1e5
    iterations with gamma = 1000 on dSprites; chapter 05 uses a far shorter ramp.
    """

    _fields = ("c_max", "n_steps", "gamma", "c_start")

    def __init__(self, c_max: float, n_steps: int, gamma: float = 100.0, c_start: float = 0.0):
        self.c_max = check_real(c_max, "c_max", low=0.0)
        self.n_steps = check_positive_int(n_steps, "n_steps")
        self.gamma = check_real(gamma, "gamma", low=0.0, low_open=True)
        self.c_start = check_real(c_start, "c_start", low=0.0)
        self.step = 0

    def capacity(self, step: int) -> float:
        """C(step) in nats."""
        step = check_nonnegative_int(step, "step")
        frac = 1.0 if step >= self.n_steps else step / self.n_steps
        return self.c_start + (self.c_max - self.c_start) * frac

    def reset(self) -> None:
        """Set the internal step counter back to 0."""
        self.step = 0

    def __call__(self, terms: Any, beta: float = 1.0, step: int | None = None) -> torch.Tensor:
        if step is None:
            step = self.step
            self.step += 1
        c = self.capacity(step)
        _check_terms(terms, ("recon", "kl"))
        return -terms.recon.mean() + self.gamma * (terms.kl.mean() - c).abs()


_CLASSES = {
    c.__name__: c for c in (LinearAnnealing, CyclicalAnnealing, FreeBits, KLCapacity)
}


def from_dict(d: dict[str, Any]) -> _Plain:
    """Rebuild a schedule or objective from its ``to_dict()`` output (the step count resets)."""
    if not isinstance(d, dict) or "type" not in d:
        raise ValueError(f"d must be a dict with a 'type' key, got {d!r}")
    kind = d["type"]
    if kind not in _CLASSES:
        raise ValueError(f"d['type'] must be one of {sorted(_CLASSES)}, got {kind!r}")
    args = {k: v for k, v in d.items() if k != "type"}
    try:
        return _CLASSES[kind](**args)
    except TypeError as exc:
        raise ValueError(f"d holds arguments that {kind} does not take: {exc}") from None


# --------------------------------------------------------------------------- chapter 04:
# He et al.'s aggressive encoder updates, as an on_step hook


class AggressiveEncoderUpdates:
    r"""He et al. (2019)'s remedy for a lagging encoder, as an ``on_step`` hook of
    :func:`course_vae.train.train`: after each of the first ``until_step`` optimiser steps,
    ``n_updates`` extra steps of Adam on the encoder's parameters alone, each on a fresh
    minibatch of ``data``, minimising the same beta-weighted negative ELBO.

    He et al. update the encoder (up to convergence on the batch) *before* each decoder
    update and stop the aggressive phase once I(x; z) stops rising; here the joint step of
    the loop comes first and a fixed number of encoder steps follow it, during the first
    ``until_step`` steps.  ``parameters``: the encoder's own parameters (e.g.
    :meth:`course_vae.text.TextVAE.encoder_parameters`); the other parameters' gradients
    are cleared after each update, so the loop's optimiser is not affected.  ``updates``
    counts the encoder steps taken.
    """

    def __init__(self, model: Any, data: torch.Tensor, parameters: Any, n_updates: int,
                 until_step: int, lr: float, batch_size: int, seed: int = 0):
        from course_vae._validate import check_model, check_seed

        self.model = check_model(model)
        self.data = model.check_data(data, "data")
        self.params = list(parameters)
        if not self.params or not all(isinstance(p, torch.nn.Parameter) for p in self.params):
            raise ValueError("parameters must be a non-empty list of the encoder's parameters")
        self.n_updates = check_positive_int(n_updates, "n_updates")
        self.until_step = check_nonnegative_int(until_step, "until_step")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.optimizer = torch.optim.Adam(self.params, lr=check_real(lr, "lr", low=0.0))
        self.generator = torch.Generator().manual_seed(check_seed(seed))
        self.updates = 0

    def __call__(self, step: int, x: torch.Tensor, beta: float) -> None:
        from course_vae.elbo import elbo

        if step > self.until_step:
            return
        for _ in range(self.n_updates):
            idx = torch.randperm(len(self.data), generator=self.generator)[: self.batch_size]
            terms = elbo(self.model, self.data[idx], beta, self.generator, check_input=False)
            loss = -(terms.recon - beta * terms.kl).mean()
            self.model.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.updates += 1
        self.model.zero_grad(set_to_none=True)
