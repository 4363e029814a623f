"""The course's figures: one style, and plot helpers that label every axis and legend.

Every helper returns the matplotlib ``Figure`` it drew, so notebooks and tests can
inspect it; notebooks display it with ``plt.show()``.
"""

from __future__ import annotations

import matplotlib as mpl

COURSE_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "image.cmap": "gray_r",
    "svg.hashsalt": "course_vae",
}


def use_course_style() -> None:
    """Apply the course's matplotlib style (same look for every chapter)."""
    mpl.rcParams.update(COURSE_STYLE)


# --- Chapter 02: the Gaussian closed form -------------------------------------------------

KL_TERM_LABELS = {
    "mu^2": r"$\mu^2/2$",
    "sigma^2": r"$\sigma^2/2$",
    "-log sigma^2": r"$-\log\sigma^2/2$",
    "-1": r"$-1/2$",
}


def plot_kl_terms_curves(
    mu_range: tuple[float, float] = (-3.0, 3.0),
    logvar_range: tuple[float, float] = (-6.0, 3.0),
    n_points: int = 401,
):
    r"""The four halved terms of KL(N(mu, sigma^2) || N(0, 1)) and their sum, in one dimension.

    Left: against mu with sigma = 1 (log sigma^2 = 0).  Right: against log sigma^2 with
    mu = 0.  Terms from :func:`course_vae.kl.kl_normal_std_terms`, the total from
    :func:`course_vae.kl.kl_normal_std`; both panels mark the minimum (mu = 0, sigma = 1,
    KL = 0).  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import torch

    from course_vae._validate import check_positive_int
    from course_vae.kl import kl_normal_std, kl_normal_std_terms

    n_points = check_positive_int(n_points, "n_points")
    for name, (lo, hi) in (("mu_range", mu_range), ("logvar_range", logvar_range)):
        if not (lo < hi):
            raise ValueError(f"{name} must be (lo, hi) with lo < hi, got {(lo, hi)!r}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0))
    grids = {
        "mu": torch.linspace(mu_range[0], mu_range[1], n_points, dtype=torch.float64),
        "logvar": torch.linspace(logvar_range[0], logvar_range[1], n_points, dtype=torch.float64),
    }
    for ax, which in zip(axes, ("mu", "logvar"), strict=True):
        x = grids[which]
        if which == "mu":
            mu, logvar = x[:, None], torch.zeros_like(x)[:, None]
        else:
            mu, logvar = torch.zeros_like(x)[:, None], x[:, None]
        terms = kl_normal_std_terms(mu, logvar)
        for key, label in KL_TERM_LABELS.items():
            ax.plot(x, terms[key][:, 0], label=label, linewidth=1.5)
        ax.plot(x, kl_normal_std(mu, logvar), color="black", label="KL (sum)", linewidth=2.5)
        ax.plot([0.0], [0.0], "o", color="crimson", label=r"minimum: $\mu=0$, $\sigma=1$")
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_ylabel("nats")
        ax.legend(loc="upper center")
    axes[0].set_xlabel(r"$\mu$")
    axes[0].set_title(r"Terms against $\mu$ (with $\sigma = 1$)")
    axes[1].set_xlabel(r"$\log\sigma^2$")
    axes[1].set_title(r"Terms against $\log\sigma^2$ (with $\mu = 0$)")
    fig.tight_layout()
    return fig


def plot_kl_term_bars(terms: dict, totals=None):
    r"""Grouped bars: the four halved KL terms (keys of kl_normal_std_terms) per latent dimension.

    ``terms`` maps "mu^2", "sigma^2", "-log sigma^2", "-1" to 1-D arrays over dimensions;
    ``totals`` (optional) are the per-dimension KLs, drawn as black markers.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    missing = [k for k in KL_TERM_LABELS if k not in terms]
    if missing:
        raise ValueError(f"terms is missing the keys {missing}")
    values = {k: np.asarray(terms[k], dtype=float).reshape(-1) for k in KL_TERM_LABELS}
    n_dims = len(values["mu^2"])
    if any(len(v) != n_dims for v in values.values()):
        raise ValueError("terms must hold arrays of one common length (one value per dimension)")
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    x = np.arange(n_dims)
    width = 0.8 / len(KL_TERM_LABELS)
    for i, (key, label) in enumerate(KL_TERM_LABELS.items()):
        ax.bar(x + (i - 1.5) * width, values[key], width=width, label=label)
    if totals is not None:
        totals = np.asarray(totals, dtype=float).reshape(-1)
        if len(totals) != n_dims:
            raise ValueError(
                f"totals must have one value per dimension ({n_dims}), got {len(totals)}"
            )
        ax.plot(x, totals, "D", color="black", markersize=8, label="KL of the dimension")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xticks(x, [f"$z_{j + 1}$" for j in range(n_dims)])
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("nats")
    ax.set_title("The four terms of the closed-form KL, per dimension")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


# --- Chapter 01: KL basics -------------------------------------------------------------------


def plot_gaussian_pair(state: dict):
    r"""Two 1-D Gaussians q, p (top) and the KL integrand q log(q/p) (bottom, shaded by sign).

    ``state`` is the dict of :func:`course_vae.widgets.gaussian_pair_state` (keys x, q, p,
    integrand, kl_qp, kl_pq, mu_q, s_q, mu_p, s_p).  The area under the bottom curve is
    KL(Q || P) >= 0, although the integrand is negative wherever p > q.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    missing = [k for k in ("x", "q", "p", "integrand", "kl_qp", "kl_pq") if k not in state]
    if missing:
        raise ValueError(f"state is missing the keys {missing}")
    x, q, p, f = (np.asarray(state[k], dtype=float) for k in ("x", "q", "p", "integrand"))
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True)
    ax0.plot(x, q, color="C0", label=rf"$q = N({state['mu_q']:.2f}, {state['s_q']:.2f}^2)$")
    ax0.plot(x, p, color="C1", label=rf"$p = N({state['mu_p']:.2f}, {state['s_p']:.2f}^2)$")
    ax0.set_ylabel("density")
    ax0.set_title(
        rf"KL(Q||P) = {state['kl_qp']:.4f} nats,  KL(P||Q) = {state['kl_pq']:.4f} nats"
    )
    ax0.legend(loc="upper right")
    ax1.plot(x, f, color="black", linewidth=1.5, label=r"$q(x)\log(q(x)/p(x))$")
    ax1.fill_between(x, f, 0, where=f >= 0, color="C2", alpha=0.4, label="positive part")
    ax1.fill_between(x, f, 0, where=f < 0, color="C3", alpha=0.4, label="negative part (p > q)")
    ax1.axhline(0.0, color="grey", linewidth=0.8)
    ax1.set_xlabel("x")
    ax1.set_ylabel("integrand (nats per unit x)")
    ax1.set_title(rf"Integrand of KL(Q||P): its area is {state['kl_qp']:.4f} $\geq 0$")
    ax1.legend(loc="upper right")
    fig.tight_layout()
    return fig


def plot_kl_fits(x, target_density, fits: dict, target_label: str = "target p (mixture)"):
    r"""A target density and Gaussian fits N(m, s^2) to it, one curve per entry of ``fits``.

    ``fits`` maps a legend label (e.g. "forward KL(P||Q)") to ``(m, s)``.  Returns the Figure.
    """
    import math

    import matplotlib.pyplot as plt
    import numpy as np

    x = np.asarray(x, dtype=float)
    y = np.asarray(target_density, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(
            f"x and target_density must be 1-D of one length, got {x.shape}, {y.shape}"
        )
    if not fits:
        raise ValueError("fits must name at least one fit (label -> (m, s))")
    fig, ax = plt.subplots()
    ax.fill_between(x, y, color="grey", alpha=0.3)
    ax.plot(x, y, color="black", label=target_label)
    styles = ["--", "-.", ":", (0, (5, 1))]
    for i, (label, (m, s)) in enumerate(fits.items()):
        if not s > 0:
            raise ValueError(f"fits[{label!r}] needs a std s > 0, got {s}")
        dens = np.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
        ax.plot(x, dens, linestyle=styles[i % len(styles)], label=f"{label}: m={m:.2f}, s={s:.2f}")
    top = max(line.get_ydata().max() for line in ax.get_lines())
    ax.set_ylim(0.0, 1.5 * top)  # head room for the legend
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_title("One Gaussian fitted to a two-mode mixture")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_mc_convergence(n_samples, abs_error, std_error, slope: float | None = None):
    r"""Log-log plot of a Monte Carlo estimate's mean |error| and standard error against N.

    A reference line of slope -1/2 (error ~ 1/sqrt(N)) is drawn through the first error;
    ``slope`` (the fitted slope of log |error| on log N) goes into the legend.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    n = np.asarray(n_samples, dtype=float)
    err = np.asarray(abs_error, dtype=float)
    se = np.asarray(std_error, dtype=float)
    if not (n.ndim == 1 and n.shape == err.shape == se.shape and len(n) >= 2):
        raise ValueError("n_samples, abs_error and std_error must be 1-D of one length >= 2")
    if (n <= 0).any() or (err <= 0).any() or (se <= 0).any():
        raise ValueError("n_samples, abs_error and std_error must be > 0 for a log-log plot")
    fig, ax = plt.subplots()
    label = "mean |estimate - exact|"
    if slope is not None:
        label += f" (fitted slope {slope:.3f})"
    ax.loglog(n, err, "o-", label=label)
    ax.loglog(n, se, "s--", label="reported standard error")
    reference = err[0] * np.sqrt(n[0] / n)
    ax.loglog(n, reference, ":", color="grey", label=r"reference $\propto 1/\sqrt{N}$")
    ax.set_xlabel("number of samples N")
    ax.set_ylabel("error (nats)")
    ax.set_title("Monte Carlo KL: the error shrinks like $1/\\sqrt{N}$")
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


# --- Chapter 05 ---------------------------------------------------------------------------
# beta-VAE: latent traversals, the rate-distortion curve, disentanglement against beta.


def _per_beta(values, n_beta: int, name: str):
    """(n_beta,) or (n_beta, n_seeds) -> (values 2-D, mean, sd with ddof=1 or zeros)."""
    import numpy as np

    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n_beta or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (n_beta,) or (n_beta, n_seeds) with n_beta = {n_beta}, "
            f"got {np.shape(values)}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    sd = arr.std(axis=1, ddof=1) if arr.shape[1] > 1 else np.zeros(n_beta)
    return arr, arr.mean(axis=1), sd


def _betas(betas):
    import numpy as np

    b = np.asarray(betas, dtype=float).reshape(-1) if np.ndim(betas) <= 1 else None
    if b is None or len(b) < 1 or not np.isfinite(b).all() or (b < 0).any():
        raise ValueError(f"betas must be a 1-D sequence of finite numbers >= 0, got {betas!r}")
    return b


def _beta_label(beta: float) -> str:
    return rf"$\beta$={beta:g}"


def plot_latent_traversal(
    decode,
    z_base,
    image_shape: tuple[int, int],
    values=None,
    dims=None,
    row_labels=None,
    title: str = "Latent traversals: one latent moves, the others stay fixed",
):
    r"""Grid of decoded images: row j varies latent z_j over ``values``, others fixed at ``z_base``.

    ``decode`` maps a (m, d) float32 tensor of latents to m images ((m, H*W) or
    (m, H, W), e.g. ``lambda z: torch.sigmoid(model.decode(z))``); ``z_base`` is the
    (d,) starting point (an int d means the prior mean 0); ``values`` default to 7 points
    from -3 to 3; ``dims`` (default all) picks the rows; ``row_labels`` (one per row) are
    added under the row names (e.g. each dimension's KL).  Images in [0, 1] are drawn on
    a fixed [0, 1] grey scale.  Returns the Figure.
    """
    import numbers

    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    if not callable(decode):
        raise TypeError(f"decode must be callable (z -> images), got {type(decode).__name__}")
    if isinstance(z_base, numbers.Integral) and not isinstance(z_base, bool):
        if z_base < 1:
            raise ValueError(f"z_base as an int is the latent size and must be >= 1, got {z_base}")
        base = torch.zeros(int(z_base), dtype=torch.float32)
    else:
        base = torch.as_tensor(np.asarray(z_base, dtype=np.float32)).reshape(-1)
        if np.ndim(z_base) != 1 or base.numel() < 1:
            raise ValueError(
                f"z_base must be a (d,) vector or an int d, got shape {np.shape(z_base)}"
            )
        if not torch.isfinite(base).all():
            raise ValueError("z_base contains NaN or infinite values")
    d = base.numel()
    try:
        h, w = (int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise TypeError(f"image_shape must be a pair (H, W), got {image_shape!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"image_shape must be positive, got {image_shape!r}")
    vals = np.linspace(-3.0, 3.0, 7) if values is None else np.asarray(values, dtype=float)
    if vals.ndim != 1 or len(vals) < 1 or not np.isfinite(vals).all():
        raise ValueError("values must be a non-empty 1-D sequence of finite numbers")
    rows = list(range(d)) if dims is None else [int(j) for j in np.asarray(dims).reshape(-1)]
    if not rows or any(j < 0 or j >= d for j in rows):
        raise ValueError(f"dims must be indices in [0, {d}), got {dims!r}")
    if row_labels is not None and len(row_labels) != len(rows):
        raise ValueError(
            f"row_labels must have one label per row ({len(rows)}), got {len(row_labels)}"
        )

    z = base.repeat(len(rows) * len(vals), 1).reshape(len(rows), len(vals), d)
    for r, j in enumerate(rows):
        z[r, :, j] = torch.as_tensor(vals, dtype=torch.float32)
    with torch.no_grad():
        out = decode(z.reshape(-1, d))
    imgs = np.asarray(out.detach().cpu() if isinstance(out, torch.Tensor) else out, dtype=float)
    if imgs.size != len(rows) * len(vals) * h * w:
        raise ValueError(
            f"decode returned {imgs.shape}, which is not {len(rows) * len(vals)} images of "
            f"image_shape {(h, w)}"
        )
    imgs = imgs.reshape(len(rows), len(vals), h, w)
    lo, hi = (0.0, 1.0) if imgs.min() >= 0 and imgs.max() <= 1 else (imgs.min(), imgs.max())

    fig, axes = plt.subplots(
        len(rows), len(vals), figsize=(0.9 * len(vals) + 1.4, 0.9 * len(rows) + 1.0),
        squeeze=False,
    )
    for r, j in enumerate(rows):
        for c, value in enumerate(vals):
            ax = axes[r, c]
            ax.imshow(imgs[r, c], vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_color("lightgrey")
            if r == 0:
                ax.set_title(f"{value:+.1f}", fontsize=9)
        label = f"$z_{{{j + 1}}}$"
        if row_labels is not None:
            label += f"\n{row_labels[r]}"
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    fig.supxlabel("value given to the traversed latent (others fixed)")
    fig.supylabel("traversed latent dimension")
    fig.tight_layout()
    return fig


def plot_rate_distortion(
    rates,
    distortions,
    betas,
    title: str = r"Rate–distortion: one point per $\beta$",
    show_iso_elbo: bool = True,
):
    r"""Rate R = KL(q(z|x) || p(z)) (x) against distortion D = -E_q[log p(x|z)] (y), in nats.

    ``rates`` and ``distortions`` have shape (n_beta,) or (n_beta, n_seeds); points are the
    means over seeds, error bars one standard deviation (ddof = 1) in both directions,
    single seeds drawn faintly, each point labelled by its beta.  With ``show_iso_elbo``
    a dashed line R + D = const (points on it have the same ELBO = -(R + D)) passes
    through the point with the best ELBO.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    b = _betas(betas)
    r_all, r_mean, r_sd = _per_beta(rates, len(b), "rates")
    d_all, d_mean, d_sd = _per_beta(distortions, len(b), "distortions")
    if r_all.shape != d_all.shape:
        raise ValueError(
            f"rates and distortions must have one shape, got {r_all.shape} and {d_all.shape}"
        )
    n_seeds = r_all.shape[1]
    fig, ax = plt.subplots()
    if n_seeds > 1:
        ax.plot(r_all.ravel(), d_all.ravel(), ".", color="grey", alpha=0.5,
                label=f"single seeds ({n_seeds} per $\\beta$)")
    order = np.argsort(b, kind="stable")
    ax.plot(r_mean[order], d_mean[order], "-", color="C0", linewidth=1.0, alpha=0.6)
    ax.errorbar(
        r_mean, d_mean, xerr=r_sd if n_seeds > 1 else None, yerr=d_sd if n_seeds > 1 else None,
        fmt="o", color="C0", capsize=3,
        label="mean ± 1 sd over seeds" if n_seeds > 1 else "one model per $\\beta$",
    )
    for beta, x, y in zip(b, r_mean, d_mean, strict=True):
        ax.annotate(_beta_label(beta), (x, y), textcoords="offset points", xytext=(6, 6),
                    fontsize=9)
    if show_iso_elbo:
        best = int(np.argmin(r_mean + d_mean))
        total = r_mean[best] + d_mean[best]
        xs = np.array([0.0, max(r_mean.max(), total) * 1.05])
        ax.plot(xs, total - xs, "--", color="crimson", linewidth=1.0,
                label=f"R + D = {total:.1f} nats (equal ELBO)")
    pad = 0.1 * np.ptp(d_all) + 1.0
    ax.set_ylim(d_all.min() - pad, d_all.max() + pad)
    ax.set_xlim(0.0, r_all.max() + 0.1 * np.ptp(r_all) + 1.0)
    ax.set_xlabel("rate R = KL(q(z|x) || p(z))  (nats per example)")
    ax.set_ylabel(r"distortion D = $-$E[log p(x|z)]  (nats per example)")
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def plot_mig_vs_beta(
    betas,
    mig,
    others: dict | None = None,
    title: str = r"Disentanglement against $\beta$",
):
    r"""MIG (and optionally other scores in [0, 1], e.g. DCI) against beta, mean ± 1 sd over seeds.

    ``mig`` and each value of ``others`` (name -> scores) have shape (n_beta,) or
    (n_beta, n_seeds).  The beta axis is logarithmic (base 2) when every beta is > 0.
    Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    b = _betas(betas)
    series = {"MIG": mig, **(others or {})}
    fig, ax = plt.subplots()
    order = np.argsort(b, kind="stable")
    markers = "osD^v"
    for i, (name, values) in enumerate(series.items()):
        arr, mean, sd = _per_beta(values, len(b), "mig" if name == "MIG" else f"others[{name!r}]")
        label = name + (f" (mean ± 1 sd, {arr.shape[1]} seeds)" if arr.shape[1] > 1 else "")
        ax.errorbar(b[order], mean[order], yerr=sd[order] if arr.shape[1] > 1 else None,
                    fmt=markers[i % len(markers)] + "-", capsize=3, label=label)
    if (b > 0).all():
        ax.set_xscale("log", base=2)
        ax.set_xticks(b[order], [f"{x:g}" for x in b[order]])
        ax.minorticks_off()
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(r"$\beta$ (weight of the KL term)")
    ax.set_ylabel("score (0 = entangled, 1 = disentangled)")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_traversal_state(state: dict):
    r"""The explorer's view of one latent value: the decoded image and the dimension's factors.

    ``state`` is the dict of :func:`course_vae.widgets.traversal_state` (keys image, dim,
    value, kl, scores, factor_names; optional beta).  Left: E[x|z]; right: bars of
    I(z_j; v_k) / H(v_k) for each factor k.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    missing = [k for k in ("image", "dim", "value", "kl", "scores", "factor_names")
               if k not in state]
    if missing:
        raise ValueError(f"state is missing the keys {missing}")
    scores = np.asarray(state["scores"], dtype=float)
    names = list(state["factor_names"])
    if scores.shape != (len(names),):
        raise ValueError("state['scores'] must hold one score per factor name")
    j = state["dim"] + 1
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(7.6, 3.2),
                                   gridspec_kw={"width_ratios": [1, 1.4]})
    ax0.imshow(np.asarray(state["image"], dtype=float), vmin=0.0, vmax=1.0, cmap="gray_r",
               interpolation="nearest")
    ax0.set_xticks([])
    ax0.set_yticks([])
    ax0.grid(False)
    beta = f"$\\beta$={state['beta']:g}, " if "beta" in state else ""
    ax0.set_title(f"{beta}$z_{{{j}}}$ = {state['value']:+.2f}", fontsize=10)
    ax0.set_xlabel("decoded mean image E[x|z]")
    ax1.bar(names, scores, color="C0")
    ax1.set_ylim(0.0, 1.0)
    ax1.set_xlabel("generative factor")
    ax1.set_ylabel(f"I($z_{{{j}}}$; factor) / H(factor)")
    ax1.set_title(f"What $z_{{{j}}}$ encodes (KL {state['kl']:.2f} nats)", fontsize=10)
    fig.tight_layout()
    return fig


# --- Chapter 03 ---------------------------------------------------------------------------


def _as_np(x, name: str):
    import numpy as np

    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=float)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def plot_elbo_vs_q(param, elbos: dict, log_px: float, gaps_kl: dict | None = None,
                   param_label: str = "parameter of q"):
    r"""Left: ELBO(q) against a parameter of q for each family, beside the flat log p(x).
    Right (if ``gaps_kl`` is given): the gap log p(x) - ELBO (lines) and KL(q || p(z|x))
    (markers) per family, which must coincide.  ``elbos`` and ``gaps_kl`` map a family's
    label to values over ``param``.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    x = _as_np(param, "param").reshape(-1)
    if not elbos:
        raise ValueError("elbos must hold at least one family")
    curves = {k: _as_np(v, f"elbos[{k!r}]").reshape(-1) for k, v in elbos.items()}
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
                kl = _as_np(gaps_kl[label], f"gaps_kl[{label!r}]").reshape(-1)
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


def plot_gradient_variance(curve: dict, true_grad: float | None = None):
    r"""Gradient estimators against the sample count S (``curve`` from
    :func:`course_vae.gradients.estimator_variance_curve`).  Left: variance of the S-sample
    estimate (log-log; Var_1/S is a line of slope -1).  Right: mean +- 2 standard errors
    with the true gradient.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from course_vae.gradients import ESTIMATORS

    if "sample_counts" not in curve or any(k not in curve for k in ESTIMATORS):
        raise ValueError(f"curve must have the keys 'sample_counts' and {sorted(ESTIMATORS)}")
    s = np.asarray(curve["sample_counts"], dtype=float)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.0))
    for i, name in enumerate(ESTIMATORS):
        st = curve[name]
        var, mean, se = (np.asarray(st[k], dtype=float) for k in ("var", "mean", "stderr"))
        ax0.loglog(s, var, "o-", color=f"C{i}", label=name)
        ax0.loglog(s, var[0] / s, ":", color=f"C{i}", linewidth=1.2,
                   label=rf"{name}: Var$_1/S$")
        offset = 1.0 + 0.04 * (i - 0.5)
        ax1.errorbar(s * offset, mean, yerr=2 * se, fmt="o", color=f"C{i}", capsize=3,
                     label=f"{name} (mean $\\pm$ 2 SE)")
    if true_grad is not None:
        ax1.axhline(float(true_grad), color="black", linestyle="--", label="true gradient")
    ax0.set_xlabel("samples per estimate S")
    ax0.set_ylabel("variance of the estimate")
    ax0.set_title("Variance of the gradient estimate")
    ax0.legend()
    ax1.set_xscale("log")
    ax1.set_xlabel("samples per estimate S")
    ax1.set_ylabel(r"estimate of $d/d\mu\ \mathbb{E}[f(z)]$")
    ax1.set_title("Both estimators are unbiased")
    ax1.legend()
    fig.tight_layout()
    return fig


def plot_training_curves(history: dict):
    r"""The reconstruction term E_q[log p(x|z)] (left) and the KL (right) per epoch, train and
    test, in nats per example (``history`` from :func:`course_vae.train.train`).
    Returns the Figure.
    """
    import matplotlib.pyplot as plt

    need = ("epoch", "train_recon", "train_kl", "test_recon", "test_kl")
    missing = [k for k in need if k not in history]
    if missing:
        raise ValueError(f"history is missing the keys {missing}")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8))
    ep = history["epoch"]
    for ax, key, title in (
        (ax0, "recon", r"Reconstruction term $\mathbb{E}_q[\log p(x|z)]$"),
        (ax1, "kl", r"KL$(q(z|x)\,\|\,p(z))$"),
    ):
        ax.plot(ep, history[f"train_{key}"], label="train (average over the epoch)")
        if history[f"test_{key}"]:
            ax.plot(ep, history[f"test_{key}"], label="test (end of epoch)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per example")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_image_rows(rows: dict, image_shape: tuple[int, int], title: str = "", n: int = 12):
    r"""One row of images per entry of ``rows`` (label -> (k, H*W) pixel intensities in
    [0, 1]); the first ``n`` images of each, labelled on the left.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("rows must hold at least one row of images")
    h, w = image_shape
    imgs = {k: _as_np(v, f"rows[{k!r}]").reshape(-1, h * w)[:n] for k, v in rows.items()}
    ncol = max(len(v) for v in imgs.values())
    fig, axes = plt.subplots(len(imgs), ncol, figsize=(0.75 * ncol + 1.6, 0.85 * len(imgs) + 0.5),
                             squeeze=False)
    for r, (label, row) in enumerate(imgs.items()):
        for c in range(ncol):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c < len(row):
                ax.imshow(row[c].reshape(h, w), cmap="gray_r", vmin=0.0, vmax=1.0)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _prior_circles(ax, radii=(1.0, 2.0, 3.0)) -> None:
    import numpy as np

    t = np.linspace(0, 2 * np.pi, 200)
    for i, r in enumerate(radii):
        ax.plot(r * np.cos(t), r * np.sin(t), color="black", linewidth=0.8, linestyle=":",
                label=r"prior $N(0, I)$: radius 1, 2, 3" if i == 0 else None)


def plot_latent_scatter(mu, labels, title: str = "Posterior means of the test images",
                        ax=None, point=None, dims: tuple[int, int] = (0, 1)):
    r"""Scatter of posterior means (two latent coordinates ``dims``) coloured by digit, with
    circles of radius 1, 2, 3 of the prior; ``point`` (z1, z2) is marked with a star.
    Draws into ``ax`` if given; returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    m = _as_np(mu, "mu")
    lab = np.asarray(labels).reshape(-1)
    if m.ndim != 2 or len(m) != len(lab):
        raise ValueError("mu must be (n, latent_dim) with one label per row")
    i, j = dims
    if max(i, j) >= m.shape[1]:
        raise ValueError(f"dims {dims} out of range for latent_dim {m.shape[1]}")
    fig = plt.figure(figsize=(5.6, 4.8)) if ax is None else ax.figure
    ax = fig.add_subplot(1, 1, 1) if ax is None else ax
    sc = ax.scatter(m[:, i], m[:, j], c=lab, cmap="tab10", vmin=-0.5, vmax=9.5, s=10)
    _prior_circles(ax)
    if point is not None:
        ax.plot([point[0]], [point[1]], "*", color="red", markersize=16, markeredgecolor="black",
                label="chosen z")
    cb = fig.colorbar(sc, ax=ax, ticks=range(10))
    cb.set_label("digit")
    ax.set_xlabel(f"$z_{i + 1}$")
    ax.set_ylabel(f"$z_{j + 1}$")
    ax.set_title(title)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_latent_manifold(images, n: int, extent: float, image_shape: tuple[int, int],
                         title: str = "Decodings over the latent plane"):
    r"""An n x n mosaic of decoded mean images for the grid of
    :func:`course_vae.latent.latent_grid` (``images`` of shape (n*n, H*W), in its order:
    top row = largest z2).  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    h, w = image_shape
    imgs = _as_np(images, "images")
    if imgs.shape != (n * n, h * w):
        raise ValueError(f"images must have shape ({n * n}, {h * w}), got {imgs.shape}")
    tiles = np.full((n, n, h + 1, w + 1), np.nan)  # a one-pixel frame (drawn light blue)
    tiles[:, :, :h, :w] = imgs.reshape(n, n, h, w)
    mosaic = tiles.transpose(0, 2, 1, 3).reshape(n * (h + 1), n * (w + 1))[:-1, :-1]
    cmap = plt.get_cmap("gray_r").with_extremes(bad="#b9d3ea")
    fig, ax = plt.subplots(figsize=(5.6, 5.6))
    edge = extent * (1.0 + 1.0 / (n - 1)) if n > 1 else extent  # image centres at the grid
    ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, extent=(-edge, edge, -edge, edge))
    ax.grid(False)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    ticks = np.linspace(-extent, extent, 5)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    return fig


def plot_beta_comparison(results: dict, image_shape: tuple[int, int], n: int = 10):
    r"""One row per model (``results``: label -> dict with ``mu``, ``labels``, ``samples``,
    ``originals``, ``recons``): the posterior means (first two latent coordinates), samples
    from the prior, and test images with their reconstructions.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results must hold at least one model")
    h, w = image_shape
    fig = plt.figure(figsize=(12, 3.8 * len(results)))
    sub = fig.subfigures(len(results), 1, squeeze=False)
    for r, (label, res) in enumerate(results.items()):
        missing = [k for k in ("mu", "labels", "samples", "originals", "recons") if k not in res]
        if missing:
            raise ValueError(f"results[{label!r}] is missing {missing}")
        left, right = sub[r, 0].subfigures(1, 2, width_ratios=[1.0, 1.6])
        plot_latent_scatter(res["mu"], res["labels"], title=f"{label}: codes ($z_1$, $z_2$)",
                            ax=left.add_subplot(1, 1, 1))
        axes = right.subplots(3, n)
        rows = (("samples", "prior samples"), ("originals", "test images"),
                ("recons", "reconstructions"))
        for i, (key, name) in enumerate(rows):
            imgs = _as_np(res[key], key).reshape(-1, h * w)
            for c in range(n):
                ax = axes[i, c]
                ax.imshow(imgs[c].reshape(h, w), cmap="gray_r", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
            axes[i, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
        right.suptitle(f"{label}: samples from the prior and reconstructions")
    return fig


def plot_latent_point(state: dict, mu, labels, image_shape: tuple[int, int]):
    r"""The explorer's figure: the latent scatter with the chosen point (left) and the image
    decoded there (right); ``state`` from :func:`course_vae.latent.latent_point_state`.
    """
    import matplotlib.pyplot as plt

    missing = [k for k in ("z", "image", "log_prior", "kl") if k not in state]
    if missing:
        raise ValueError(f"state is missing the keys {missing}")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.6, 4.2), width_ratios=[1.5, 1.0])
    z = _as_np(state["z"], "z")
    plot_latent_scatter(mu, labels, title="Test codes and the chosen z", ax=ax0, point=z[:2])
    h, w = image_shape
    ax1.imshow(_as_np(state["image"], "image").reshape(h, w), cmap="gray_r", vmin=0, vmax=1)
    ax1.set_xticks([])
    ax1.set_yticks([])
    ax1.grid(False)
    ax1.set_title(f"decoded at z = ({z[0]:.2f}, {z[1]:.2f})")
    ax1.set_xlabel(f"log p(z) = {state['log_prior']:.2f} nats")
    fig.tight_layout()
    return fig


# --- Chapter 04 ---------------------------------------------------------------------------
# Posterior collapse: per-dimension KL, image rows, remedies side by side.


def _ch04_series(values: dict, name: str) -> dict:
    """name -> 1-D float arrays of one common length (validated)."""
    import numpy as np

    if not isinstance(values, dict) or not values:
        raise ValueError(f"{name} must be a non-empty dict label -> values")
    out = {str(k): np.asarray(v, dtype=float).reshape(-1) for k, v in values.items()}
    lengths = {len(v) for v in out.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"{name} must hold non-empty arrays of one common length")
    if not all(np.isfinite(v).all() for v in out.values()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return out


def plot_kl_per_dimension(
    kl_per_dim: dict,
    floor: float | None = None,
    title: str = "KL per latent dimension (test set, nats)",
):
    r"""Grouped bars of KL_d = mean_n KL(q(z_d|x_n) || N(0, 1)) per dimension d, one per model.

    ``kl_per_dim`` maps a model's label to its (d,) values (e.g.
    :func:`course_vae.diagnostics.kl_per_dimension`); ``floor`` draws a free-bits floor
    lambda as a dashed line.  A collapsed dimension has a bar at 0.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    series = _ch04_series(kl_per_dim, "kl_per_dim")
    n_dims = len(next(iter(series.values())))
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    x = np.arange(n_dims)
    width = 0.8 / len(series)
    for i, (label, v) in enumerate(series.items()):
        total = v.sum()
        ax.bar(x + (i - (len(series) - 1) / 2) * width, v, width=width,
               label=f"{label} (sum {total:.2f})")
    if floor is not None:
        if not (np.isfinite(floor) and floor >= 0):
            raise ValueError(f"floor must be finite and >= 0, got {floor!r}")
        ax.axhline(floor, color="black", linestyle="--", linewidth=1,
                   label=rf"free-bits floor $\lambda$ = {floor:g}")
    ax.set_xticks(x, [f"$z_{{{j + 1}}}$" for j in range(n_dims)])
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("KL (nats)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


CH04_METRICS = {
    "test_elbo": "test ELBO (nats, higher is better)",
    "kl": "KL term (nats)",
    "n_active": "active units",
    "mutual_info": "I(x; z) (nats)",
}


def plot_remedy_comparison(
    results: dict,
    baseline: str | None = None,
    metrics: dict | None = None,
    title: str = "Remedies against posterior collapse (same model, data and budget)",
):
    """One bar panel per metric, one bar per run; ``results`` maps label -> {metric: value}.

    ``metrics`` maps the keys to panel titles (default :data:`CH04_METRICS`); the
    ``baseline`` run (a key of ``results``) is drawn in grey and as a dashed line in every
    panel.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    metrics = CH04_METRICS if metrics is None else metrics
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict label -> {metric: value}")
    if baseline is not None and baseline not in results:
        raise ValueError(f"baseline must be one of {list(results)}, got {baseline!r}")
    labels = list(results)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 4.2), squeeze=False)
    for ax, (key, name) in zip(axes[0], metrics.items(), strict=True):
        try:
            values = np.array([float(results[lab][key]) for lab in labels])
        except KeyError:
            raise ValueError(f"every entry of results needs the metric {key!r}") from None
        colors = ["grey" if lab == baseline else f"C{i}" for i, lab in enumerate(labels)]
        bottom = 0.0
        if key == "test_elbo":  # negative values close together: bars start below the lowest
            bottom = values.min() - max(0.5, 0.2 * (values.max() - values.min()))
        ax.bar(np.arange(len(labels)), values - bottom, bottom=bottom, color=colors)
        if baseline is not None:
            ax.axhline(float(results[baseline][key]), color="black", linestyle="--",
                       linewidth=1, label=f"baseline: {baseline}")
        if key == "test_elbo":
            ax.set_ylim(bottom, values.max() + (values.max() - bottom) * 0.3)
        ax.set_xticks(np.arange(len(labels)), labels, rotation=45, ha="right")
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(name.split(" (")[0])
    axes[0, 0].legend(loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
