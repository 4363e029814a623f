r"""One training loop for every chapter: Adam on -mean(recon - beta * KL), seeded and lean.

:func:`train` returns a history of per-epoch train and test reconstruction log-likelihood
(``recon`` = E_q[log p(x|z)]), KL and ELBO, all in nats per example (summed over pixels and
latent dimensions, averaged over examples).  The train values average the minibatches of
the epoch (while the model changes); the test values are computed once at the end of each
epoch.  Chapters change the objective with ``beta`` (a number or a schedule ``step -> beta``)
or with ``objective`` (a function of the :class:`~course_vae.elbo.ELBOTerms` and beta,
e.g. for free bits), without another loop.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import torch

from course_vae._validate import check_finite, check_positive_int
from course_vae.data import DynamicBinarization
from course_vae.elbo import ELBOTerms, _check_beta, _decode, _elbo_terms, _model_ll
from course_vae.kl import kl_normal_std
from course_vae.models import VAE
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


def _as_device(device: Any) -> torch.device:
    """``device`` as a torch.device, or a ValueError naming it."""
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"device must name a torch device such as 'cpu', got {device!r}") from exc


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
        recon = _model_ll(model, x, _decode(model, mu + torch.exp(0.5 * logvar) * eps, x))
        total += torch.stack([recon.sum(), kl_normal_std(mu, logvar).sum()]).double()
    model.train(was_training)
    return total


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
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_vae VAE, got {type(model).__name__}")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    eval_batch_size = check_positive_int(eval_batch_size, "eval_batch_size")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (0 < lr < math.inf):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    beta_fn: Callable[[int], float]
    if callable(beta):
        beta_fn = beta
    else:
        fixed = _check_beta(beta)
        beta_fn = lambda _step: fixed
    if objective is not None and not callable(objective):
        raise TypeError("objective must be a callable objective(terms, beta) -> loss")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError("on_epoch_end must be a callable on_epoch_end(epoch, history)")
    dynamic = isinstance(train_data, DynamicBinarization)
    d = model.config.input_dim
    train_x = _as_tensor_data(train_data, "train_data", d)
    test_x = None if test_data is None else _as_tensor_data(test_data, "test_data", d)
    if model.config.likelihood == "bernoulli":
        for name, t in (("train_data", train_x), ("test_data", test_x)):
            if t is not None and (t.min() < 0 or t.max() > 1):
                raise ValueError(f"{name} must lie in [0, 1] for a Bernoulli decoder")

    device = _as_device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    if not dynamic:
        train_x = train_x.to(device)
    if test_x is not None:
        test_x = test_x.to(device)
    n = len(train_x)
    n_steps = math.ceil(n / batch_size)
    cpu_gen = torch.Generator().manual_seed(seed)  # order and binarisation: same on any device
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
    optimizer = _adam(model, float(lr))
    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}

    if progress is None:
        progress = _is_interactive()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="training", unit="epoch", leave=True)

    step = 0
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            if dynamic:
                x_epoch = train_data.resample(cpu_gen).to(device)
            else:
                x_epoch = train_x
            perm = torch.randperm(n, generator=cpu_gen).to(device)
            # Detached per-step values stay on the device; summed once per epoch.
            losses, recons, kls = [], [], []
            beta_now = 0.0
            for i in range(n_steps):
                x = x_epoch[perm[i * batch_size : (i + 1) * batch_size]]
                beta_now = float(beta_fn(step))
                terms = _elbo_terms(model, x, beta_now, noise_gen)
                loss = terms.loss if objective is None else objective(terms, beta_now)
                # A NaN/inf mu, logvar or loss shows up here; stopping before the update
                # keeps the weights finite (one cheap check per step, as a plain loop's .item()).
                if not torch.isfinite(loss):
                    raise _non_finite(f"the loss is {loss.item()}", epoch, i, n_steps, step)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.detach())
                recons.append(terms.recon.detach())
                kls.append(terms.kl.detach())
                step += 1
            step_loss = torch.stack(losses).double().cpu()
            sizes = torch.full((n_steps,), float(batch_size), dtype=torch.float64)
            sizes[-1] = n - batch_size * (n_steps - 1)
            train_loss = float((step_loss * sizes).sum() / n)
            sums = torch.stack([torch.cat(recons).double().sum(), torch.cat(kls).double().sum()])
            train_recon, train_kl = (sums.cpu() / n).tolist()
            history["epoch"].append(epoch)
            history["beta"].append(beta_now)
            history["train_loss"].append(train_loss)
            history["train_recon"].append(train_recon)
            history["train_kl"].append(train_kl)
            history["train_elbo"].append(train_recon - train_kl)
            if test_x is not None:
                test_gen = torch.Generator(device=device).manual_seed(seed + 2)
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
                        f"the test ELBO became non-finite after epoch {epoch}",
                        epoch=epoch,
                        step=step - 1,
                    ) from cause
                history["test_recon"].append(test_recon)
                history["test_kl"].append(test_kl)
                history["test_elbo"].append(test_recon - test_kl)
            if bar is not None:
                shown = history["test_elbo"][-1] if test_x is not None else train_recon - train_kl
                bar.set_postfix(elbo=f"{shown:.2f}", beta=f"{beta_now:.3g}")
                bar.update(1)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    return history
