r"""Figures of the beta-VAE (chapter 05): latent traversals, the rate-distortion curve,
disentanglement against beta, and what one latent of a trained model encodes."""

from __future__ import annotations

import numpy as np

from course_vae._validate import check_callable, check_image_shape, check_keys
from course_vae.plots.style import as_array, betas_array, per_beta_array, show_image

__all__ = [
    "plot_code_scatter",
    "plot_latent_traversal",
    "plot_mi_heatmaps",
    "plot_mig_vs_beta",
    "plot_rate_distortion",
    "plot_rotation_gap",
    "plot_traversal_state",
]


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
    (m, H, W), e.g. ``lambda z: torch.sigmoid(model.decode(z))``); ``z_base``, ``values``
    and ``dims`` are those of :func:`course_vae.latent.traversal_codes` (``z_base`` the
    (d,) starting point or an int d for the prior mean 0, ``values`` by default 7 points
    from -3 to 3, ``dims`` by default all rows); ``row_labels`` (one per row) are added
    under the row names (e.g. each dimension's KL).  Images in [0, 1] are drawn on a fixed
    [0, 1] grey scale.  Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import torch

    from course_vae.latent import traversal_codes

    check_callable(decode, "decode", "(z -> images)")
    h, w = check_image_shape(image_shape)
    codes, vals, rows = traversal_codes(z_base, values, dims)
    if row_labels is not None and len(row_labels) != len(rows):
        raise ValueError(
            f"row_labels must have one label per row ({len(rows)}), got {len(row_labels)}"
        )
    n_rows, n_cols, d = codes.shape
    with torch.no_grad():
        out = decode(codes.reshape(-1, d).float())
    imgs = np.asarray(out.detach().cpu() if isinstance(out, torch.Tensor) else out, dtype=float)
    if imgs.size != n_rows * n_cols * h * w:
        raise ValueError(
            f"decode returned {imgs.shape}, which is not {n_rows * n_cols} images of "
            f"image_shape {(h, w)}"
        )
    imgs = imgs.reshape(n_rows, n_cols, h, w)
    lo, hi = (0.0, 1.0) if imgs.min() >= 0 and imgs.max() <= 1 else (imgs.min(), imgs.max())

    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(0.9 * n_cols + 1.4, 0.9 * n_rows + 1.0), squeeze=False
    )
    for r, j in enumerate(rows):
        for c, value in enumerate(vals.tolist()):
            ax = axes[r, c]
            show_image(ax, imgs[r, c], vmin=lo, vmax=hi, interpolation="nearest")
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

    b = betas_array(betas)
    r_all, r_mean, r_sd = per_beta_array(rates, len(b), "rates")
    d_all, d_mean, d_sd = per_beta_array(distortions, len(b), "distortions")
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
        ax.annotate(rf"$\beta$={beta:g}", (x, y), textcoords="offset points", xytext=(6, 6),
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
    references: dict | None = None,
    controls: dict | None = None,
    ylabel: str = "score (0 = entangled, 1 = disentangled)",
):
    r"""Scores in [0, 1] against beta: every seed as a dot, the mean ± 1 sd over seeds as a line.

    ``mig`` and each value of ``others`` (name -> scores) have shape (n_beta,) or
    (n_beta, n_seeds).  ``references`` (name -> a number, e.g. the score of random codes
    and of a perfect code) are drawn as horizontal lines: the floor and the ceiling.
    ``controls`` (name -> (beta, scores of its seeds)) are drawn as open diamonds at that
    beta.  The beta axis is logarithmic (base 2) when every beta is > 0.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    b = betas_array(betas)
    series = {"MIG": mig, **(others or {})}
    fig, ax = plt.subplots(figsize=(9.0, 4.6))
    order = np.argsort(b, kind="stable")
    log_axis = bool((b > 0).all())
    markers = "osD^v"
    for i, (name, values) in enumerate(series.items()):
        label = "mig" if name == "MIG" else f"others[{name!r}]"
        arr, mean, sd = per_beta_array(values, len(b), label)
        n_seeds = arr.shape[1]
        shift = 2.0 ** (0.06 * (i - (len(series) - 1) / 2)) if log_axis else 0.0
        xs = b * shift if log_axis else b + shift
        label = name + (f" (mean ± 1 sd, {n_seeds} seeds)" if n_seeds > 1 else "")
        ax.errorbar(xs[order], mean[order], yerr=sd[order] if n_seeds > 1 else None,
                    fmt=markers[i % len(markers)] + "-", color=f"C{i}", capsize=3, label=label)
        if n_seeds > 1:
            ax.plot(np.repeat(xs, n_seeds), arr.ravel(), ".", color=f"C{i}", alpha=0.45,
                    label=f"{name}: single seeds")
    for i, (name, (beta, values)) in enumerate((controls or {}).items()):
        vals = np.atleast_1d(as_array(values, f"controls[{name!r}]"))
        x = float(beta) * (2.0 ** -0.15 if log_axis else 1.0)
        ax.plot(np.full(vals.shape, x), vals, "D", mfc="none", color=f"C{len(series) + i}",
                label=name)
    styles = ("--", ":", "-.")
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(float(value), color="dimgrey", linestyle=styles[i % len(styles)],
                   linewidth=1.0, label=f"{name}: {float(value):.2f}")
    if log_axis:
        ax.set_xscale("log", base=2)
        ax.set_xticks(b[order], [f"{x:g}" for x in b[order]])
        ax.minorticks_off()
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(r"$\beta$ (weight of the KL term)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def plot_traversal_state(state: dict):
    r"""The explorer's view of one latent value: the decoded image and the dimension's factors.

    ``state`` is the dict of :func:`course_vae.explorer_state.traversal_state` (keys image, dim,
    value, kl, scores, factor_names; optional beta).  Left: E[x|z]; right: bars of
    I(z_j; v_k) / H(v_k) for each factor k.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    check_keys(state, ("image", "dim", "value", "kl", "scores", "factor_names"), "state")
    scores = np.asarray(state["scores"], dtype=float)
    names = list(state["factor_names"])
    j = state["dim"] + 1
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(7.6, 3.2),
                                   gridspec_kw={"width_ratios": [1, 1.4]})
    show_image(ax0, np.asarray(state["image"], dtype=float), interpolation="nearest")
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


def plot_rotation_gap(angles_deg, gaps: dict, trained: dict | None = None,
                      traces: dict | None = None, steps=None,
                      title: str = "Why a diagonal posterior picks axes: the linear VAE"):
    r"""Left: the closed-form mean-field gap (nats) against the rotation angle of the latent
    axes, one curve per name of ``gaps`` (name -> (A,) gaps at ``angles_deg`` (A,)), with
    ``trained`` (name -> final angles of trained models, degrees in [0, 45]) as dots on the
    axis.  Right (with ``traces``: name -> (seeds, T) angles at ``steps`` (T,)): each trained
    model's angle during training.  Returns the Figure.
    """
    import matplotlib.pyplot as plt

    a = as_array(angles_deg, "angles_deg").reshape(-1)
    if not gaps:
        raise ValueError("gaps must name at least one curve")
    ncol = 2 if traces else 1
    fig, axes = plt.subplots(1, ncol, figsize=(6.2 * ncol, 4.0), squeeze=False)
    ax = axes[0, 0]
    for i, (name, g) in enumerate(gaps.items()):
        g = as_array(g, f"gaps[{name!r}]").reshape(-1)
        if g.shape != a.shape:
            raise ValueError(f"gaps[{name!r}] needs {a.size} values, got {g.size}")
        ax.plot(a, g, "-", color=f"C{i}", label=f"closed form: {name}")
        if trained and name in trained:
            t = np.atleast_1d(as_array(trained[name], f"trained[{name!r}]"))
            ax.plot(t, np.full(t.shape, -0.004 - 0.006 * i), "|", color=f"C{i}", markersize=12,
                    mew=2, label=f"trained linear VAEs ({t.size} seeds): {name}")
    ax.set_xlabel("rotation of the latent axes away from the generative ones (degrees)")
    ax.set_ylabel("mean-field gap (nats per example)")
    ax.set_title("closed form, and where trained models end")
    ax.legend(fontsize=8)
    if traces:
        ax = axes[0, 1]
        s = as_array(steps, "steps").reshape(-1)
        for i, (name, tr) in enumerate(traces.items()):
            tr = np.atleast_2d(as_array(tr, f"traces[{name!r}]"))
            if tr.shape[1] != s.size:
                raise ValueError(f"traces[{name!r}] needs {s.size} columns, got {tr.shape[1]}")
            for k, row in enumerate(tr):
                ax.plot(s, row, "-", color=f"C{i}", alpha=0.7, label=name if k == 0 else None)
        ax.set_xlabel("Adam step")
        ax.set_ylabel("angle to the generative axes (degrees)")
        ax.set_ylim(-1, 46)
        ax.set_title("the angle during training (one line per seed)")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_mi_heatmaps(mi: dict, kl: dict, factor_names, threshold: float = 0.1,
                     title: str = r"What each latent dimension knows: $I(z_j; v_k)/H(v_k)$",
                     null: dict | None = None):
    r"""One heatmap per key of ``mi`` (e.g. beta -> (d, K) normalised information); rows are
    latent dimensions labelled with their KL_j (``kl``: key -> (d,) nats, the bound on their
    information), marked "off" below ``threshold`` nats.  ``null`` (key -> (d, K), e.g. the
    95th percentile of a permutation null per cell): cells above it get a "*".
    Returns the Figure."""
    import matplotlib.pyplot as plt

    if not mi:
        raise ValueError("mi must hold at least one matrix")
    names = list(factor_names)
    fig, axes = plt.subplots(1, len(mi), figsize=(3.7 * len(mi) + 0.8, 3.8), squeeze=False)
    fig.subplots_adjust(wspace=0.75, left=0.08, right=0.9, bottom=0.15, top=0.82)
    for ax, (key, m) in zip(axes[0], mi.items(), strict=True):
        m = as_array(m, f"mi[{key!r}]")
        k = as_array(kl[key], f"kl[{key!r}]").reshape(-1)
        if m.ndim != 2 or m.shape != (k.size, len(names)):
            raise ValueError(f"mi[{key!r}] must be (d, {len(names)}) with d = len(kl), got "
                             f"{m.shape}")
        im = ax.imshow(m, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
        band = None if null is None or key not in null else as_array(null[key], f"null[{key!r}]")
        if band is not None and band.shape != m.shape:
            raise ValueError(f"null[{key!r}] must have the shape {m.shape}, got {band.shape}")
        for j in range(m.shape[0]):
            for f in range(m.shape[1]):
                star = "*" if band is not None and m[j, f] > band[j, f] else ""
                ax.text(f, j, f"{m[j, f]:.2f}{star}", ha="center", va="center", fontsize=7,
                        color="white" if m[j, f] < 0.6 else "black")
        ax.set_xticks(range(len(names)), names)
        ax.set_yticks(range(k.size), [f"z{j + 1} KL {k[j]:.2f}" + (" off" if k[j] < threshold
                                                                      else "")
                                      for j in range(k.size)], fontsize=7)
        ax.set_title(rf"$\beta$ = {key:g}" if isinstance(key, (int, float)) else str(key))
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="I / H")
    fig.suptitle(title, y=0.99)
    return fig


def plot_score_vs_active(active, scores, betas, references: dict | None = None,
                         title: str = "MIG against the number of active dimensions",
                         ylabel: str = "MIG"):
    r"""One dot per model: ``scores`` (n_beta, n_seeds) against ``active`` (n_beta, n_seeds),
    the number of dimensions with KL_j above the off threshold, coloured by beta (``betas``,
    n_beta); ``references`` (name -> number) as horizontal lines.  Returns the Figure."""
    import matplotlib.pyplot as plt

    a = as_array(active, "active")
    sc = as_array(scores, "scores")
    b = betas_array(betas)
    if a.shape != sc.shape or a.ndim != 2 or a.shape[0] != b.size:
        raise ValueError(f"active and scores must both be (n_beta, n_seeds) = ({b.size}, .), "
                         f"got {a.shape} and {sc.shape}")
    fig, ax = plt.subplots(figsize=(8.0, 4.2))
    for i, beta in enumerate(b):
        jitter = 0.06 * (i - (b.size - 1) / 2)
        ax.plot(a[i] + jitter, sc[i], "o", color=f"C{i}", label=rf"$\beta$ = {beta:g}")
    styles = ("--", ":", "-.")
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(float(value), color="dimgrey", linestyle=styles[i % len(styles)],
                   linewidth=1.0, label=f"{name}: {float(value):.2f}")
    ax.set_xticks(range(int(a.min()), int(a.max()) + 1))
    ax.set_xlabel("active latent dimensions (KL_j > 0.1 nats) of the model")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def plot_code_scatter(codes: dict, labels, dims: dict, factors: tuple = (3, 4),
                      factor_names: tuple = ("x", "y"),
                      title: str = r"Posterior means $\mu(x)$, coloured by position"):
    r"""Scatter of two code dimensions per key of ``codes`` (key -> (n, d) means), the
    dimensions ``dims[key]`` = (j1, j2); one column per key, one row per factor column of
    ``labels`` (n, K) in ``factors``, coloured by that factor.  Returns the Figure."""
    import matplotlib.pyplot as plt

    lab = as_array(labels, "labels")
    fig, axes = plt.subplots(len(factors), len(codes), figsize=(3.3 * len(codes) + 0.6,
                                                                 3.0 * len(factors)),
                             squeeze=False)
    for c, (key, z) in enumerate(codes.items()):
        z = as_array(z, f"codes[{key!r}]")
        j1, j2 = dims[key]
        for r, (f, fname) in enumerate(zip(factors, factor_names, strict=True)):
            ax = axes[r, c]
            sc = ax.scatter(z[:, j1], z[:, j2], c=lab[:, f], cmap="viridis", s=14)
            ax.set_xlabel(f"$\\mu_{{{j1 + 1}}}$")
            ax.set_ylabel(f"$\\mu_{{{j2 + 1}}}$")
            head = rf"$\beta$ = {key:g}" if isinstance(key, (int, float)) else str(key)
            ax.set_title(f"{head}: colour = {fname}", fontsize=9)
            fig.colorbar(sc, ax=ax, label=f"{fname} index")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
