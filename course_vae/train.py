r"""One training loop for every chapter: Adam on -mean(recon - beta * KL), seeded and lean.

:func:`train` returns a history of per-epoch train and test reconstruction log-likelihood
(``recon`` = E_q[log p(x|z)]), KL and ELBO, all in nats per example (summed over pixels and
latent dimensions, averaged over examples).  The train values average the minibatches of
the epoch (while the model changes); the test values are computed once at the end of each
epoch.  Chapters change the objective with ``beta`` (a number or a schedule ``step -> beta``)
or with ``objective`` (a function of the :class:`~course_vae.elbo.ELBOTerms` and beta,
e.g. for free bits), without another loop.

:func:`train` is the loop itself (epochs, minibatches, ELBO terms, loss, backward, step);
the checks, the history, the progress bar and the per-epoch evaluation are small helpers.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from course_vae._validate import (
    check_beta_schedule,
    check_callable,
    check_device,
    check_finite,
    check_positive_int,
    check_real,
    check_seed,
)
from course_vae.data import DynamicBinarization
from course_vae.elbo import ELBOTerms, decode, elbo_terms, log_likelihood_unchecked
from course_vae.kl import kl_normal_std
from course_vae.models import VAE, reparameterize_unchecked
from course_vae.rng import as_generator

__all__ = ["HISTORY_KEYS", "NonFiniteLossError", "evaluate", "train"]

HISTORY_KEYS = (
    "epoch",
    "beta",
    "train_loss",
    "train_recon",
    "train_kl",
    "train_elbo",
    "test_recon",
    "test_kl",
    "test_elbo",
)

Objective = Callable[[ELBOTerms, float], torch.Tensor]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; ``epoch`` and ``step`` say where."""

    def __init__(self, message: str, epoch: int, step: int):
        super().__init__(message)
        self.epoch = epoch
        self.step = step


def train(
    model: VAE,
    train_data: torch.Tensor | DynamicBinarization,
    test_data: torch.Tensor | None = None,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 128,
    beta: float | Callable[[int], float] = 1.0,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool | None = None,
    objective: Objective | None = None,
    on_epoch_end: Callable[[int, dict[str, list[float]]], None] | None = None,
    eval_batch_size: int = 1024,
) -> dict[str, list[float]]:
    r"""Train ``model`` with Adam on minibatches of ``train_data``; return the per-epoch history.

    loss = -mean_batch(recon - beta * KL) (or ``objective(terms, beta)``), where recon =
    log p(x|z) summed over pixels and KL = KL(q(z|x) || N(0, I)) summed over latents.

    * ``train_data``: a float tensor (n, input_dim) used as is, or a
      :class:`~course_vae.data.DynamicBinarization`, redrawn x ~ Bernoulli(grey) every epoch.
    * ``test_data``: a tensor evaluated once per epoch (one z per example, same noise each
      epoch), or None.
    * ``beta``: a number, or a function of the global step (0, 1, ...) giving beta.
    * ``objective``: optional hook ``objective(terms, beta) -> scalar loss`` replacing the
      default loss (free bits, KL targets...); the history still reports the plain ELBO.
    * ``seed`` fixes the minibatch order, the binarisations and the noise: same seed, same
      initial model -> the same history (bit for bit on CPU with deterministic algorithms).
    * ``progress``: a ``tqdm.auto`` bar over epochs; None shows it only when interactive.
    * ``on_epoch_end(epoch, history)`` is called after each epoch.

    History keys: :data:`HISTORY_KEYS` (lists, one float per epoch; ``train_loss`` is the
    mean minimised loss; the ``test_*`` lists stay empty without ``test_data``).  Raises
    :class:`NonFiniteLossError` naming the epoch and step if the loss (or the encoder's
    output) is NaN or infinite, before that step's update.
    """
    args = _check_args(model, train_data, test_data, epochs, lr, batch_size, beta, seed,
                       objective, on_epoch_end, eval_batch_size)
    device = check_device(device) if device is not None else next(model.parameters()).device
    train_x, test_x = _to_device(model, train_data, args, device)
    dynamic = isinstance(train_data, DynamicBinarization)
    n, n_steps = len(train_x), math.ceil(len(train_x) / batch_size)
    cpu_gen = torch.Generator().manual_seed(args.seed)  # order and binarisation: any device
    noise_gen = torch.Generator(device=device).manual_seed(args.seed + 1)
    optimizer = _adam(model, args.lr)
    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
    bar = _progress_bar(progress, epochs)
    step = 0
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            x_epoch = train_data.resample(cpu_gen).to(device) if dynamic else train_x
            perm = torch.randperm(n, generator=cpu_gen).to(device)
            log = _EpochLog()
            for i in range(n_steps):
                x = x_epoch[perm[i * batch_size : (i + 1) * batch_size]]
                beta_now = float(args.beta_fn(step))
                terms = elbo_terms(model, x, beta_now, noise_gen)
                loss = terms.loss if objective is None else objective(terms, beta_now)
                _check_loss(loss, epoch, i, n_steps, step)  # before the update
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                log.add(loss, terms)
                step += 1
            log.record(history, epoch, beta_now, n, batch_size)
            if test_x is not None:
                _record_test(history, model, test_x, eval_batch_size, args.seed, epoch, step)
            _show_progress(bar, history)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    return history


# --------------------------------------------------------------------------- helpers of train


@dataclass
class _Args:
    """train()'s checked arguments."""

    train_x: torch.Tensor
    test_x: torch.Tensor | None
    lr: float
    seed: int
    beta_fn: Callable[[int], float]


def _check_args(
    model, train_data, test_data, epochs, lr, batch_size, beta, seed, objective, on_epoch_end,
    eval_batch_size,
) -> _Args:
    """Check train()'s arguments once, each error naming the argument."""
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_vae VAE, got {type(model).__name__}")
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(eval_batch_size, "eval_batch_size")
    seed = check_seed(seed)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    beta_fn = check_beta_schedule(beta)
    if objective is not None:
        check_callable(objective, "objective", "objective(terms, beta) -> loss")
    if on_epoch_end is not None:
        check_callable(on_epoch_end, "on_epoch_end", "on_epoch_end(epoch, history)")
    d = model.config.input_dim
    train_x = _as_tensor_data(train_data, "train_data", d)
    test_x = None if test_data is None else _as_tensor_data(test_data, "test_data", d)
    if model.config.likelihood == "bernoulli":
        for name, t in (("train_data", train_x), ("test_data", test_x)):
            if t is not None and (t.min() < 0 or t.max() > 1):
                raise ValueError(f"{name} must lie in [0, 1] for a Bernoulli decoder")
    return _Args(train_x, test_x, lr, seed, beta_fn)


def _to_device(model: VAE, train_data, args: _Args, device: torch.device):
    """Move the model and the data to ``device`` (a DynamicBinarization moves per epoch)."""
    model.to(device)
    train_x, test_x = args.train_x, args.test_x
    if not isinstance(train_data, DynamicBinarization):
        train_x = train_x.to(device)
    return train_x, None if test_x is None else test_x.to(device)


def _check_loss(loss: torch.Tensor, epoch: int, i: int, n_steps: int, step: int) -> None:
    """A NaN/inf mu, logvar or loss shows up here; raising before the update keeps the
    weights finite (one cheap check per step, as a plain loop's ``.item()``)."""
    if not torch.isfinite(loss):
        raise _non_finite(f"the loss is {loss.item()}", epoch, i, n_steps, step)


@dataclass
class _EpochLog:
    """Detached per-step loss, recon and KL, kept on the device and summed once per epoch."""

    losses: list[torch.Tensor] = field(default_factory=list)
    recons: list[torch.Tensor] = field(default_factory=list)
    kls: list[torch.Tensor] = field(default_factory=list)

    def add(self, loss: torch.Tensor, terms: ELBOTerms) -> None:
        self.losses.append(loss.detach())
        self.recons.append(terms.recon.detach())
        self.kls.append(terms.kl.detach())

    def record(self, history, epoch: int, beta: float, n: int, batch_size: int) -> None:
        """Append the epoch's means (loss weighted by batch size) to ``history``."""
        n_steps = len(self.losses)
        step_loss = torch.stack(self.losses).double().cpu()
        sizes = torch.full((n_steps,), float(batch_size), dtype=torch.float64)
        sizes[-1] = n - batch_size * (n_steps - 1)
        train_loss = float((step_loss * sizes).sum() / n)
        sums = torch.stack(
            [torch.cat(self.recons).double().sum(), torch.cat(self.kls).double().sum()]
        )
        train_recon, train_kl = (sums.cpu() / n).tolist()
        history["epoch"].append(epoch)
        history["beta"].append(beta)
        history["train_loss"].append(train_loss)
        history["train_recon"].append(train_recon)
        history["train_kl"].append(train_kl)
        history["train_elbo"].append(train_recon - train_kl)


def _record_test(history, model, test_x, eval_batch_size, seed, epoch, step) -> None:
    """Evaluate on the test set (same noise every epoch) and append to ``history``."""
    test_gen = torch.Generator(device=test_x.device).manual_seed(seed + 2)
    try:
        sums = _eval_sums(model, test_x, eval_batch_size, test_gen)
    except ValueError as exc:  # non-finite mu or logvar on the test set
        sums = torch.full((2,), math.nan)
        cause: Exception | None = exc
    else:
        cause = None
    test_recon, test_kl = (sums / len(test_x)).tolist()
    if not (math.isfinite(test_recon) and math.isfinite(test_kl)):
        raise NonFiniteLossError(
            f"the test ELBO became non-finite after epoch {epoch}", epoch=epoch, step=step - 1
        ) from cause
    history["test_recon"].append(test_recon)
    history["test_kl"].append(test_kl)
    history["test_elbo"].append(test_recon - test_kl)


def _progress_bar(progress: bool | None, epochs: int):
    """A tqdm bar over epochs if ``progress`` (None: only when interactive), else None."""
    if progress is None:
        progress = _is_interactive()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc="training", unit="epoch", leave=True)


def _show_progress(bar, history: dict[str, list[float]]) -> None:
    if bar is not None:
        shown = (history["test_elbo"] or history["train_elbo"])[-1]
        bar.set_postfix(elbo=f"{shown:.2f}", beta=f"{history['beta'][-1]:.3g}")
        bar.update(1)


def _non_finite(what: str, epoch: int, i: int, n_steps: int, step: int) -> NonFiniteLossError:
    return NonFiniteLossError(
        f"training stopped at epoch {epoch}, step {i + 1} of {n_steps} (global step {step}): "
        f"{what}. Try a smaller lr, check the data, or look for exp(logvar) overflowing.",
        epoch=epoch,
        step=step,
    )


def _is_interactive() -> bool:
    """True in a Jupyter kernel or on a terminal (where a progress bar is wanted)."""
    if "ipykernel" in sys.modules:
        try:
            from IPython import get_ipython

            shell = get_ipython()
            if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
                return True
        except ImportError:  # pragma: no cover - IPython comes with ipykernel
            pass
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _as_tensor_data(data: Any, name: str, input_dim: int) -> torch.Tensor:
    if isinstance(data, DynamicBinarization):
        data = data.grey
    if not isinstance(data, torch.Tensor) or not data.is_floating_point():
        raise TypeError(
            f"{name} must be a float tensor (n, input_dim) or a DynamicBinarization, "
            f"got {type(data).__name__}"
        )
    if data.dim() != 2 or data.shape[1] != input_dim or data.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n, {input_dim}), got {tuple(data.shape)}")
    check_finite(data, name)
    return data


def _adam(model: VAE, lr: float) -> torch.optim.Adam:
    """Adam; the fused kernel where this torch has it for the device (same maths, fewer ops)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older torch / devices
        return torch.optim.Adam(model.parameters(), lr=lr)


@torch.no_grad()
def evaluate(
    model: VAE,
    data: torch.Tensor,
    batch_size: int = 1024,
    generator: torch.Generator | int | None = 0,
) -> dict[str, float]:
    """Mean ``recon``, ``kl`` and ``elbo`` (nats per example) of ``model`` on the tensor ``data``.

    One z ~ q(z|x) per example, drawn from ``generator`` (an int seed by default).
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_vae VAE, got {type(model).__name__}")
    device = next(model.parameters()).device
    data = _as_tensor_data(data, "data", model.config.input_dim).to(device)
    batch_size = check_positive_int(batch_size, "batch_size")
    gen = as_generator(generator, device)
    sums = _eval_sums(model, data, batch_size, gen)
    recon, kl = (sums / len(data)).tolist()
    return {"recon": recon, "kl": kl, "elbo": recon - kl}


@torch.no_grad()
def _eval_sums(model, data, batch_size, gen) -> torch.Tensor:
    was_training = model.training
    model.eval()
    total = torch.zeros(2, device=data.device, dtype=torch.float64)
    for start in range(0, len(data), batch_size):
        x = data[start : start + batch_size]
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=gen, device=mu.device, dtype=mu.dtype)
        z = reparameterize_unchecked(mu, logvar, eps)
        recon = log_likelihood_unchecked(model, x, decode(model, z, x))
        # the checked KL raises ValueError on a non-finite mu or logvar
        total += torch.stack([recon.sum(), kl_normal_std(mu, logvar).sum()]).double()
    model.train(was_training)
    return total


