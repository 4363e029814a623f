r"""One training loop for every model of the course: Adam on -mean(recon - beta * KL).

:func:`train` takes any course model (the MLP :class:`~course_vae.models.VAE`, the MADE
decoder, the conv VAE, the text VAE): each supplies q(z|x) and log p(x|z), and
:func:`course_vae.elbo.elbo` turns them into the ELBO's terms.  It returns a history of
per-epoch train and test reconstruction log-likelihood (``recon`` = E_q[log p(x|z)]), KL and
ELBO, all in nats per example (summed over pixels or tokens and over latent dimensions,
averaged over examples).  The train values average the minibatches of the epoch (while the
model changes); the test values are computed once at the end of each epoch.

What is minimised: the course's loss (``beta`` a number or a schedule ``step -> beta``), or
``objective(terms, beta)`` (free bits, capacity...), or a loss written the
``pytorch/examples`` way, ``loss_fn(recon_x, x, mu, logvar)``.  ``on_step`` runs between
steps (e.g. extra encoder updates).  The history always reports the plain ELBO.

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
    check_model,
    check_positive_int,
    check_real,
    check_seed,
)
from course_vae.data import DynamicBinarization
from course_vae.diagnostics import encode_dataset, kl_per_dimension
from course_vae.elbo import ELBOTerms, elbo
from course_vae.rng import as_generator

__all__ = ["HISTORY_KEYS", "KLTracker", "NonFiniteLossError", "evaluate", "train"]

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
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; ``epoch`` and ``step`` say where."""

    def __init__(self, message: str, epoch: int, step: int):
        super().__init__(message)
        self.epoch = epoch
        self.step = step


def train(
    model: Any,
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
    loss_fn: LossFn | None = None,
    on_step: Callable[[int, torch.Tensor, float], None] | None = None,
) -> dict[str, list[float]]:
    r"""Train ``model`` with Adam on minibatches of ``train_data``; return the per-epoch history.

    loss = -mean_batch(recon - beta * KL) (or ``objective(terms, beta)``, or ``loss_fn``),
    where recon = log p(x|z) summed over pixels (tokens) and KL = KL(q(z|x) || N(0, I))
    summed over latents.

    * ``model``: any course model (VAE, AutoregressiveVAE, ConvVAE, TextVAE).
    * ``train_data``: the model's data (float images (n, input_dim), or token ids for the
      text VAE), or a :class:`~course_vae.data.DynamicBinarization`, redrawn
      x ~ Bernoulli(grey) every epoch.  Checked once, here (``model.check_data``).
    * ``test_data``: evaluated once per epoch (one z per example, same noise each epoch).
    * ``beta``: a number, or a function of the global step (0, 1, ...) giving beta.
    * ``objective``: optional ``objective(terms, beta) -> scalar loss`` replacing the
      default loss (free bits, KL targets...).
    * ``loss_fn``: optional ``loss_fn(recon_x, x, mu, logvar) -> scalar``, a loss written the
      ``pytorch/examples`` way (recon_x = the decoder's mean image, sigmoid of the logits for
      a Bernoulli decoder); image models only.  Give at most one of objective and loss_fn.
    * ``on_step(step, x, beta)`` runs after each optimiser step (``step`` = steps done, ``x``
      the minibatch), e.g. to track the KL or to update the encoder more often.
    * ``on_epoch_end(epoch, history)`` runs after each epoch.
    * ``seed`` fixes the minibatch order, the binarisations and the noise: same seed, same
      initial model -> the same history (bit for bit on CPU with deterministic algorithms).
    * ``progress``: a ``tqdm.auto`` bar over epochs; None shows it only when interactive.

    History keys: :data:`HISTORY_KEYS` (lists, one float per epoch; ``train_loss`` is the
    mean minimised loss; the ``test_*`` lists stay empty without ``test_data``); whatever is
    minimised, ``*_elbo`` is the plain ELBO.  Raises :class:`NonFiniteLossError` naming the
    epoch and step if the loss (or the encoder's output) is NaN or infinite, before that
    step's update, so the weights stay finite.
    """
    args = _check_args(model, train_data, test_data, epochs, lr, batch_size, beta, seed,
                       objective, loss_fn, on_epoch_end, on_step, eval_batch_size)
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
                try:
                    terms = elbo(model, x, beta_now, noise_gen, check_input=False)
                except ValueError as exc:  # a NaN or infinite mu or logvar, named by the KL
                    raise _non_finite(str(exc), epoch, i, n_steps, step) from exc
                loss = _minimised(model, x, terms, beta_now, objective, loss_fn)
                _check_loss(loss, epoch, i, n_steps, step)  # before the update
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                log.add(loss, terms)
                step += 1
                if on_step is not None:
                    on_step(step, x, beta_now)
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
    model, train_data, test_data, epochs, lr, batch_size, beta, seed, objective, loss_fn,
    on_epoch_end, on_step, eval_batch_size,
) -> _Args:
    """Check train()'s arguments once, each error naming the argument; the data are scanned
    here, once, by the model's own ``check_data``."""
    check_model(model)
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(eval_batch_size, "eval_batch_size")
    seed = check_seed(seed)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    beta_fn = check_beta_schedule(beta)
    hooks = (("objective", objective, "objective(terms, beta) -> loss"),
             ("loss_fn", loss_fn, "loss_fn(recon_x, x, mu, logvar) -> loss"),
             ("on_epoch_end", on_epoch_end, "on_epoch_end(epoch, history)"),
             ("on_step", on_step, "on_step(step, x, beta)"))
    for name, hook, usage in hooks:
        if hook is not None:
            check_callable(hook, name, usage)
    if objective is not None and loss_fn is not None:
        raise ValueError("give at most one of objective and loss_fn")
    if loss_fn is not None and not callable(getattr(model, "mean_image", None)):
        raise ValueError("loss_fn needs an image model (recon_x is its mean image)")
    grey = train_data.grey if isinstance(train_data, DynamicBinarization) else train_data
    train_x = model.check_data(grey, "train_data")
    test_x = None if test_data is None else model.check_data(test_data, "test_data")
    return _Args(train_x, test_x, lr, seed, beta_fn)


def _minimised(model, x, terms: ELBOTerms, beta: float, objective, loss_fn) -> torch.Tensor:
    """What the step minimises: the course's loss, ``objective`` or a learner's ``loss_fn``."""
    if loss_fn is not None:
        loss = loss_fn(model.mean_image(terms.decoded), x, terms.mu, terms.logvar)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise ValueError(f"loss_fn must return a scalar tensor, got "
                             f"{type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}")
        return loss
    return terms.loss if objective is None else objective(terms, beta)


def _to_device(model, train_data, args: _Args, device: torch.device):
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


def _adam(model: torch.nn.Module, lr: float) -> torch.optim.Adam:
    """Adam; the fused kernel where this torch has it for the device (same maths, fewer ops)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older torch / devices
        return torch.optim.Adam(model.parameters(), lr=lr)


@torch.no_grad()
def evaluate(
    model: Any,
    data: torch.Tensor,
    batch_size: int = 1024,
    generator: torch.Generator | int | None = 0,
) -> dict[str, float]:
    """Mean ``recon``, ``kl`` and ``elbo`` (nats per example) of ``model`` on ``data``.

    One z ~ q(z|x) per example, drawn from ``generator`` (an int seed by default).
    """
    check_model(model)
    device = next(model.parameters()).device
    data = model.check_data(data, "data").to(device)
    batch_size = check_positive_int(batch_size, "batch_size")
    sums = _eval_sums(model, data, batch_size, as_generator(generator, device))
    recon, kl = (sums / len(data)).tolist()
    return {"recon": recon, "kl": kl, "elbo": recon - kl}


@torch.no_grad()
def _eval_sums(model, data, batch_size, gen) -> torch.Tensor:
    was_training = model.training
    model.eval()
    total = torch.zeros(2, device=data.device, dtype=torch.float64)
    for start in range(0, len(data), batch_size):
        # the KL raises ValueError on a non-finite mu or logvar
        t = elbo(model, data[start : start + batch_size], 1.0, gen, check_input=False)
        total += torch.stack([t.recon.sum(), t.kl.sum()]).double()
    model.train(was_training)
    return total


class KLTracker:
    r"""An ``on_step`` hook for :func:`train`: the KL per latent dimension of ``data`` every
    ``every`` steps (and at step 0, on creation), and beta at every step.

    After training: ``steps``, ``betas`` (at the recorded steps), ``kl_per_dim`` (one list
    of latent_dim floats per record, nats, :func:`~course_vae.diagnostics.kl_per_dimension`
    of the encoder's posteriors) and ``beta_per_step``.
    """

    def __init__(self, model: Any, data: torch.Tensor, every: int, beta0: float = 0.0):
        self.model = check_model(model)
        self.data = model.check_data(data, "data")
        self.every = check_positive_int(every, "every")
        self.steps: list[int] = []
        self.betas: list[float] = []
        self.kl_per_dim: list[list[float]] = []
        self.beta_per_step: list[float] = []
        self._record(0, check_real(beta0, "beta0", low=0.0))

    def _record(self, step: int, beta: float) -> None:
        mu, logvar = encode_dataset(self.model, self.data)
        self.steps.append(step)
        self.betas.append(beta)
        self.kl_per_dim.append(kl_per_dimension(mu, logvar).tolist())

    def __call__(self, step: int, x: torch.Tensor, beta: float) -> None:
        self.beta_per_step.append(beta)
        if step % self.every == 0:
            self._record(step, beta)
