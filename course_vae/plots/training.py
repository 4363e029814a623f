"""Figures of the ELBO and of training (chapter 03): the ELBO against a parameter of q beside
log p(x) and its gap, gradient estimators' variance, and the training curves."""

from __future__ import annotations

import numpy as np

from course_vae._validate import check_keys
from course_vae.plots.style import as_array

__all__ = ["plot_elbo_vs_q", "plot_gradient_variance", "plot_training_curves"]


def plot_elbo_vs_q(param, elbos: dict, log_px: float, gaps_kl: dict | None = None,
                   param_label: str = "parameter of q"):
    r"""Left: ELBO(q) against a parameter of q for each family, beside the flat log p(x).
    Right (if ``gaps_kl`` is given): the gap log p(x) - ELBO (lines) and KL(q || p(z|x))
    (markers) per family, which must coincide.  ``elbos`` and ``gaps_kl`` map a family's
    label to values over ``param``.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    x = as_array(param, "param").reshape(-1)
    if not elbos:
        raise ValueError("elbos must hold at least one family")
    curves = {k: as_array(v, f"elbos[{k!r}]").reshape(-1) for k, v in elbos.items()}
    if any(len(v) != len(x) for v in curves.values()):
        raise ValueError("every family in elbos needs one value per param value")
    ncols = 1 if gaps_kl is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(5.6 * ncols, 4.0), squeeze=False)
    ax = axes[0, 0]
    for i, (label, y) in enumerate(curves.items()):
        ax.plot(x, y, color=f"C{i}", label=f"ELBO, {label}")
    ax.axhline(float(log_px), color="black", linestyle="--", label=r"$\log p(x)$ (exact)")
    ax.set_xlabel(param_label)
    ax.set_ylabel("nats")
    ax.set_title(r"ELBO$(q) \leq \log p(x)$")
    ax.legend(loc="lower center")
    if gaps_kl is not None:
        ax = axes[0, 1]
        for i, (label, y) in enumerate(curves.items()):
            ax.plot(x, float(log_px) - y, color=f"C{i}", label=rf"$\log p(x)$ - ELBO, {label}")
            if label in gaps_kl:
                kl = as_array(gaps_kl[label], f"gaps_kl[{label!r}]").reshape(-1)
                step = max(1, len(x) // 12)
                ax.plot(x[::step], kl[::step], "o", color=f"C{i}", markersize=5,
                        label=rf"KL$(q\,\|\,p(z|x))$, {label}")
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xlabel(param_label)
        ax.set_ylabel("nats")
        ax.set_title("The gap is KL(q || exact posterior)")
        ax.legend(loc="upper center")
    fig.tight_layout()
    return fig


def plot_gradient_variance(curve: dict, true_grad: float | None = None,
                           exact_var: dict | None = None):
    r"""Gradient estimators against the sample count L (``curve`` from
    :func:`course_vae.gradients.estimator_variance_curve`).  Left: variance of the L-sample
    estimate (log-log), with the line Var_1 / L of slope -1 anchored at the exact per-sample
    variance where ``exact_var`` (estimator name -> Var_1) gives it, else at the measured
    L = 1 point.  Right: mean +- 2 standard errors with the true gradient.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    from course_vae.gradients import ESTIMATORS

    check_keys(curve, ("sample_counts", *ESTIMATORS), "curve")
    exact_var = {} if exact_var is None else dict(exact_var)
    s = np.asarray(curve["sample_counts"], dtype=float)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.0))
    for i, name in enumerate(ESTIMATORS):
        st = curve[name]
        var, mean, se = (np.asarray(st[k], dtype=float) for k in ("var", "mean", "stderr"))
        ax0.loglog(s, var, "o-", color=f"C{i}", label=f"{name} (measured)")
        if name in exact_var:
            v1, what = float(exact_var[name]), f"exact Var$_1$ = {float(exact_var[name]):g}"
        else:
            v1, what = var[0], "measured Var$_1$"
        ax0.loglog(s, v1 / s, ":", color=f"C{i}", linewidth=1.2,
                   label=rf"{name}: Var$_1/L$, {what}")
        offset = 1.0 + 0.04 * (i - 0.5)
        ax1.errorbar(s * offset, mean, yerr=2 * se, fmt="o", color=f"C{i}", capsize=3,
                     label=f"{name} (mean $\\pm$ 2 SE)")
    if true_grad is not None:
        ax1.axhline(float(true_grad), color="black", linestyle="--", label="true gradient")
    ax0.set_xlabel("samples per estimate L")
    ax0.set_ylabel("variance of the estimate")
    ax0.set_title("Variance of the gradient estimate")
    ax0.legend(fontsize=8)
    ax1.set_xscale("log")
    ax1.set_xlabel("samples per estimate L")
    ax1.set_ylabel(r"estimate of $d/d\mu\ \mathbb{E}[f(z)]$")
    ax1.set_title("Both estimators are unbiased")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_training_curves(history: dict):
    r"""The reconstruction term E_q[log p(x|z)], the KL and, when ``history`` has them, the
    ELBO = recon - KL per epoch, train and test, in nats per example (``history`` from
    :func:`course_vae.train.train`).  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    check_keys(history, ("epoch", "train_recon", "train_kl", "test_recon", "test_kl"), "history")
    panels = [("recon", r"Reconstruction term $\mathbb{E}_q[\log p(x|z)]$"),
              ("kl", r"KL$(q(z|x)\,\|\,p(z))$")]
    if "train_elbo" in history and "test_elbo" in history:
        panels.append(("elbo", "ELBO = reconstruction - KL"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8))
    ep = history["epoch"]
    for ax, (key, title) in zip(axes, panels, strict=True):
        ax.plot(ep, history[f"train_{key}"], label="train (average over the epoch)")
        if history[f"test_{key}"]:
            ax.plot(ep, history[f"test_{key}"], label="test (end of epoch)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per example")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    return fig
