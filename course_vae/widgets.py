"""The chapters' ipywidgets explorers.

Each explorer keeps its arithmetic in a plain function of this package (unit-tested,
since nbval never moves a slider) and draws with matplotlib into an ``Image``
widget: the figure is rendered to PNG bytes on every change, so the explorer works
the same in JupyterLab, in a static notebook and in tests, and its text
representation stays stable for nbval.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def figure_to_png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


class Explorer(widgets.VBox):
    """Base of the explorers: controls on top, a readout, the figure below.

    Subclasses implement ``state()`` (the numbers shown, from package functions)
    and ``draw(state)`` (a matplotlib Figure); ``update()`` recomputes both. The
    readout is an ``HTML`` widget; ``redraws`` counts how often the figure was drawn.
    """

    title = "explorer"

    def __init__(self, controls: list[widgets.Widget]) -> None:
        self.controls = controls
        self.readout = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.redraws = 0
        for c in controls:
            c.observe(self._on_change, names="value")
        super().__init__([widgets.VBox(controls), self.readout, self.image])
        self.update()

    def _on_change(self, _change: dict) -> None:
        self.update()

    def state(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self, state: dict) -> Figure:  # pragma: no cover - abstract
        raise NotImplementedError

    def readout_html(self, state: dict) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self) -> None:
        """Recompute the state, the readout text and the figure."""
        st = self.state()
        self.readout.value = self.readout_html(st)
        self.image.value = figure_to_png(self.draw(st))
        self.redraws += 1

    def __repr__(self) -> str:  # stable text for nbval (the default repr lists widget ids)
        return f"<{self.title}: move the sliders in JupyterLab to explore>"


# --- Chapter 02: the Gaussian closed form -------------------------------------------------


class ClosedFormExplorer(Explorer):
    r"""Sliders for mu_j and sigma_j of a few latent dimensions; bars of the four KL terms.

    The terms come from :func:`course_vae.kl.kl_normal_std_terms` and the readout's total
    from :func:`course_vae.kl.kl_normal_std` with logvar = log sigma^2, i.e.
    KL = 1/2 \sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1) in nats.
    """

    title = "ClosedFormExplorer"

    def __init__(self, n_dims: int = 3, mu=None, sigma=None) -> None:
        from course_vae._validate import check_positive_int

        n_dims = check_positive_int(n_dims, "n_dims")
        if n_dims > 8:
            raise ValueError(f"n_dims must be at most 8 (one slider pair each), got {n_dims}")
        mu = [0.0] * n_dims if mu is None else [float(m) for m in mu]
        sigma = [1.0] * n_dims if sigma is None else [float(s) for s in sigma]
        if len(mu) != n_dims or len(sigma) != n_dims:
            raise ValueError(f"mu and sigma must have n_dims={n_dims} values each")
        if not all(0.05 <= s <= 3.0 for s in sigma):
            raise ValueError(f"sigma values must lie in [0.05, 3], got {sigma}")
        if not all(-3.0 <= m <= 3.0 for m in mu):
            raise ValueError(f"mu values must lie in [-3, 3], got {mu}")
        style = {"description_width": "40px"}
        self.mu_sliders = [
            widgets.FloatSlider(value=m, min=-3.0, max=3.0, step=0.05, description=f"μ{j + 1}",
                                style=style, continuous_update=False)
            for j, m in enumerate(mu)
        ]
        self.sigma_sliders = [
            widgets.FloatSlider(value=s, min=0.05, max=3.0, step=0.05, description=f"σ{j + 1}",
                                style=style, continuous_update=False)
            for j, s in enumerate(sigma)
        ]
        pairs = zip(self.mu_sliders, self.sigma_sliders, strict=True)
        rows = [widgets.HBox([m, s]) for m, s in pairs]
        super().__init__(self.mu_sliders + self.sigma_sliders)
        self.children = (widgets.VBox(rows), self.readout, self.image)

    def state(self) -> dict:
        import torch

        from course_vae.kl import kl_normal_std, kl_normal_std_terms

        mu = torch.tensor([s.value for s in self.mu_sliders], dtype=torch.float64)
        sigma = torch.tensor([s.value for s in self.sigma_sliders], dtype=torch.float64)
        logvar = 2.0 * torch.log(sigma)
        terms = kl_normal_std_terms(mu, logvar)
        per_dim = sum(terms.values())
        return {
            "mu": mu,
            "sigma": sigma,
            "terms": terms,
            "per_dim": per_dim,
            "total": float(kl_normal_std(mu, logvar)),
        }

    def readout_html(self, state: dict) -> str:
        dims = ", ".join(f"z{j + 1}: {v:.4f}" for j, v in enumerate(state["per_dim"].tolist()))
        return (
            f"<b>KL(q || N(0, I)) = {state['total']:.4f} nats</b> "
            f"(sum over {len(state['mu'])} dimensions; per dimension {dims})"
        )

    def draw(self, state: dict) -> Figure:
        from course_vae.plots import plot_kl_term_bars

        return plot_kl_term_bars(state["terms"], state["per_dim"])


# --- Chapter 01: KL basics -------------------------------------------------------------------


def gaussian_pair_state(
    mu_q: float, s_q: float, mu_p: float, s_p: float, n_points: int = 801
) -> dict:
    r"""Densities of Q = N(mu_q, s_q^2) and P = N(mu_p, s_p^2), the integrand and both KLs.

    Returns a dict with the grid ``x`` (float64, covering both densities), ``q``, ``p``,
    ``integrand`` = q log(q/p), and ``kl_qp`` = KL(Q||P), ``kl_pq`` = KL(P||Q) in nats from
    the closed form :func:`course_vae.kl.kl_normal`:
    KL(Q||P) = log(s_p/s_q) + (s_q^2 + (mu_q - mu_p)^2) / (2 s_p^2) - 1/2.
    """
    import math

    import torch

    from course_vae._validate import check_positive_int
    from course_vae.kl import kl_normal

    for name, v in (("mu_q", mu_q), ("mu_p", mu_p)):
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")
    for name, v in (("s_q", s_q), ("s_p", s_p)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a finite standard deviation > 0, got {v}")
    n_points = check_positive_int(n_points, "n_points")
    lo = min(mu_q - 4 * s_q, mu_p - 4 * s_p)
    hi = max(mu_q + 4 * s_q, mu_p + 4 * s_p)
    x = torch.linspace(lo, hi, n_points, dtype=torch.float64)
    log_q = torch.distributions.Normal(float(mu_q), float(s_q)).log_prob(x)
    log_p = torch.distributions.Normal(float(mu_p), float(s_p)).log_prob(x)
    q = torch.exp(log_q)
    lv_q, lv_p = [2 * math.log(s_q)], [2 * math.log(s_p)]
    return {
        "mu_q": float(mu_q), "s_q": float(s_q), "mu_p": float(mu_p), "s_p": float(s_p),
        "x": x,
        "q": q,
        "p": torch.exp(log_p),
        "integrand": q * (log_q - log_p),
        "kl_qp": float(kl_normal([float(mu_q)], lv_q, [float(mu_p)], lv_p)),
        "kl_pq": float(kl_normal([float(mu_p)], lv_p, [float(mu_q)], lv_q)),
    }


class GaussianPairExplorer(Explorer):
    r"""Sliders for Q = N(mu_q, s_q^2) and P = N(mu_p, s_p^2); densities, integrand, both KLs.

    The numbers come from :func:`gaussian_pair_state` (closed form
    :func:`course_vae.kl.kl_normal`); the readout shows KL(Q||P) and KL(P||Q) in nats.
    """

    title = "GaussianPairExplorer"

    def __init__(
        self, mu_q: float = 0.0, s_q: float = 1.0, mu_p: float = 1.0, s_p: float = 2.0
    ) -> None:
        gaussian_pair_state(mu_q, s_q, mu_p, s_p, n_points=2)  # validates the arguments
        style = {"description_width": "50px"}

        def slider(value: float, lo: float, hi: float, step: float, desc: str, name: str):
            if not lo <= value <= hi:
                raise ValueError(f"{name} must lie in [{lo}, {hi}], got {value}")
            return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=desc,
                                       style=style, continuous_update=False)

        self.mu_q = slider(mu_q, -4.0, 4.0, 0.05, "μ_q", "mu_q")
        self.s_q = slider(s_q, 0.2, 3.0, 0.05, "σ_q", "s_q")
        self.mu_p = slider(mu_p, -4.0, 4.0, 0.05, "μ_p", "mu_p")
        self.s_p = slider(s_p, 0.2, 3.0, 0.05, "σ_p", "s_p")
        super().__init__([self.mu_q, self.s_q, self.mu_p, self.s_p])
        self.children = (
            widgets.VBox(
                [widgets.HBox([self.mu_q, self.s_q]), widgets.HBox([self.mu_p, self.s_p])]
            ),
            self.readout,
            self.image,
        )

    def state(self) -> dict:
        return gaussian_pair_state(self.mu_q.value, self.s_q.value, self.mu_p.value, self.s_p.value)

    def readout_html(self, state: dict) -> str:
        return (
            f"<b>KL(Q||P) = {state['kl_qp']:.4f} nats</b>, "
            f"<b>KL(P||Q) = {state['kl_pq']:.4f} nats</b> "
            f"(KL(Q||P) - KL(P||Q) = {state['kl_qp'] - state['kl_pq']:+.4f})"
        )

    def draw(self, state: dict) -> Figure:
        from course_vae.plots import plot_gaussian_pair

        return plot_gaussian_pair(state)


# --- Chapter 03 ---------------------------------------------------------------------------


class LatentPlaneExplorer(Explorer):
    r"""Sliders for a point z = (z1, z2) of a trained 2-D VAE's latent plane and a width sigma.

    Shows the image decoded at z (the decoder's mean E[x|z]) and z on the scatter of the
    test codes; the readout gives log p(z) = log N(z; 0, I) and the KL an encoder would pay
    to put a posterior N(z, sigma^2 I) there, KL = |z|^2/2 + sum_j (sigma^2 - log sigma^2 - 1)/2,
    all from :func:`course_vae.latent.latent_point_state`.
    """

    title = "LatentPlaneExplorer"

    def __init__(self, model, mu, labels, image_shape: tuple[int, int], z=(0.0, 0.0),
                 sigma: float = 1.0, extent: float = 4.0) -> None:
        import torch

        if getattr(model, "latent_dim", None) != 2:
            raise ValueError("model must be a VAE with latent_dim = 2")
        if not (len(z) == 2 and all(-extent <= float(v) <= extent for v in z)):
            raise ValueError(f"z must be two numbers in [-{extent}, {extent}], got {z!r}")
        if not 0.05 <= float(sigma) <= 2.0:
            raise ValueError(f"sigma must lie in [0.05, 2], got {sigma!r}")
        self.model = model
        self.mu = torch.as_tensor(mu).detach().cpu()
        self.labels = torch.as_tensor(labels).cpu()
        if self.mu.dim() != 2 or self.mu.shape[1] != 2 or len(self.mu) != len(self.labels):
            raise ValueError("mu must be (n, 2) posterior means with one label per row")
        self.image_shape = tuple(image_shape)
        style = {"description_width": "40px"}
        self.z1, self.z2 = (
            widgets.FloatSlider(value=float(v), min=-extent, max=extent, step=0.05,
                                description=d, style=style, continuous_update=False)
            for v, d in zip(z, ("z₁", "z₂"), strict=True)
        )
        self.sigma = widgets.FloatSlider(value=float(sigma), min=0.05, max=2.0, step=0.05,
                                         description="σ", style=style, continuous_update=False)
        super().__init__([self.z1, self.z2, self.sigma])

    def state(self) -> dict:
        from course_vae.latent import latent_point_state

        return latent_point_state(self.model, [self.z1.value, self.z2.value], self.sigma.value)

    def readout_html(self, state: dict) -> str:
        z = state["z"].tolist()
        return (
            f"z = ({z[0]:.2f}, {z[1]:.2f}): <b>log p(z) = {state['log_prior']:.4f} nats</b>; "
            f"<b>KL(N(z, σ²I) || N(0, I)) = {state['kl']:.4f} nats</b> "
            f"(position |z|²/2 = {state['kl_mean']:.4f}, width σ = {self.sigma.value:.2f}: "
            f"{state['kl_width']:.4f})"
        )

    def draw(self, state: dict) -> Figure:
        from course_vae.plots import plot_latent_point

        return plot_latent_point(state, self.mu, self.labels, self.image_shape)


# --- Chapter 04 ---------------------------------------------------------------------------
# Posterior collapse: pick a trained run (remedy + parameter), see its KL per dimension.


def summarize_collapse_run(model, history: dict, test_x, n_images: int = 8) -> dict:
    r"""The numbers the chapter 04 explorer shows for one trained model, as a plain dict.

    ``test_elbo``, ``test_recon``, ``kl`` (last epoch of ``history``, nats per example),
    ``mutual_info_stderr`` (its Monte Carlo standard error),
    ``kl_per_dim`` (:func:`course_vae.diagnostics.kl_per_dimension` on ``test_x``; it sums
    to the average KL), ``n_active`` (variance threshold 0.01), ``mutual_info`` (I(x; z),
    He et al.; may be slightly negative), ``aggregate_kl`` (KL(q(z) || p(z))), and the first
    ``n_images`` test images with their reconstructions ``model.reconstruct``.
    """
    import torch

    from course_vae._validate import check_positive_int
    from course_vae.diagnostics import encode_dataset, latent_diagnostics

    n_images = check_positive_int(n_images, "n_images")
    for key in ("test_elbo", "test_recon", "test_kl"):
        if not history.get(key):
            raise ValueError(f"history must hold a non-empty {key!r} list (train with test_data)")
    mu, logvar = encode_dataset(model, test_x)
    diag = latent_diagnostics(mu, logvar)
    originals = test_x[:n_images]
    with torch.no_grad():
        recons = model.reconstruct(originals)
    return {
        "test_elbo": float(history["test_elbo"][-1]),
        "test_recon": float(history["test_recon"][-1]),
        "kl": float(history["test_kl"][-1]),
        "kl_per_dim": diag.kl_per_dim.detach().cpu().double(),
        "n_active": diag.n_active,
        "mutual_info": diag.mutual_info.value,
        "mutual_info_stderr": diag.mutual_info.stderr,
        "aggregate_kl": diag.aggregate_kl.value,
        "originals": originals.detach().cpu().float(),
        "reconstructions": recons.detach().cpu().float(),
    }


def remedy_choices(runs: dict) -> dict:
    """remedy -> its parameters, in the order the runs were added; ``runs`` maps
    (remedy, parameter) -> a :func:`summarize_collapse_run` dict."""
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict (remedy, parameter) -> summary")
    choices: dict = {}
    for key in runs:
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"runs keys must be (remedy, parameter) pairs, got {key!r}")
        choices.setdefault(key[0], []).append(key[1])
    return choices


def collapse_explorer_state(runs: dict, remedy: str, parameter, baseline=None) -> dict:
    """The selected run's summary plus ``label`` and its differences to ``baseline``.

    ``baseline`` is a (remedy, parameter) key of ``runs`` (or None); the differences
    ``d_elbo``, ``d_kl``, ``d_active``, ``d_mi`` are selected minus baseline.
    """
    choices = remedy_choices(runs)
    if remedy not in choices:
        raise ValueError(f"remedy must be one of {list(choices)}, got {remedy!r}")
    if parameter not in choices[remedy]:
        raise ValueError(
            f"parameter must be one of {choices[remedy]} for remedy {remedy!r}, got {parameter!r}"
        )
    run = dict(runs[(remedy, parameter)])
    run["label"] = f"{remedy}, {parameter}"
    if baseline is not None:
        if baseline not in runs:
            raise ValueError(f"baseline must be a key of runs, got {baseline!r}")
        b = runs[baseline]
        run["baseline"] = f"{baseline[0]}, {baseline[1]}"
        run["d_elbo"] = run["test_elbo"] - b["test_elbo"]
        run["d_kl"] = run["kl"] - b["kl"]
        run["d_active"] = run["n_active"] - b["n_active"]
        run["d_mi"] = run["mutual_info"] - b["mutual_info"]
    return run


class CollapseExplorer(Explorer):
    """Two dropdowns (remedy, then its parameter) over runs trained in chapter 04.

    Shows the run's test ELBO, KL, active units and I(x; z) (and the change against the
    baseline run), its KL per latent dimension and a row of reconstructions.  The state
    comes from :func:`collapse_explorer_state`.
    """

    title = "CollapseExplorer"

    def __init__(self, runs: dict, baseline=None, image_shape: tuple[int, int] = (8, 8)):
        choices = remedy_choices(runs)
        if baseline is not None and baseline not in runs:
            raise ValueError(f"baseline must be a key of runs, got {baseline!r}")
        self.runs, self.baseline, self.image_shape = runs, baseline, tuple(image_shape)
        first = next(iter(choices))
        self.remedy = widgets.Dropdown(options=list(choices), value=first, description="remedy")
        self.parameter = widgets.Dropdown(
            options=choices[first], value=choices[first][0], description="parameter"
        )
        self.remedy.observe(self._on_remedy, names="value")
        super().__init__([self.remedy, self.parameter])

    def _on_remedy(self, change: dict) -> None:
        params = remedy_choices(self.runs)[change["new"]]
        # Changing the options resets the value; hold the redraw until both are consistent.
        self._hold = True
        try:
            self.parameter.options = params
            self.parameter.value = params[0]
        finally:
            self._hold = False
        self.update()

    def _on_change(self, change: dict) -> None:
        # A new remedy is handled by _on_remedy (one redraw, after the parameter is reset).
        if change.get("owner") is not self.remedy and not getattr(self, "_hold", False):
            self.update()

    def __repr__(self) -> str:
        return f"<{self.title}: choose a run in JupyterLab to explore>"

    def state(self) -> dict:
        return collapse_explorer_state(
            self.runs, self.remedy.value, self.parameter.value, self.baseline
        )

    def readout_html(self, state: dict) -> str:
        text = (
            f"<b>{state['label']}</b>: test ELBO {state['test_elbo']:.2f} nats, "
            f"KL {state['kl']:.2f} nats, active units {state['n_active']} "
            f"of {len(state['kl_per_dim'])}, I(x; z) {state['mutual_info']:.2f} nats"
        )
        if "d_elbo" in state:
            text += (
                f"<br>vs {state['baseline']}: ELBO {state['d_elbo']:+.2f}, "
                f"KL {state['d_kl']:+.2f}, active units {state['d_active']:+d}, "
                f"I(x; z) {state['d_mi']:+.2f}"
            )
        return text

    def draw(self, state: dict) -> Figure:
        import matplotlib.pyplot as plt
        import numpy as np

        kl = np.asarray(state["kl_per_dim"], dtype=float)
        orig = np.asarray(state["originals"], dtype=float)
        rec = np.asarray(state["reconstructions"], dtype=float)
        n = len(orig)
        h, w = self.image_shape
        fig = plt.figure(figsize=(max(6.4, 0.8 * n), 4.6))
        grid = fig.add_gridspec(3, n, height_ratios=[2.2, 1, 1])
        ax = fig.add_subplot(grid[0, :])
        ax.bar(np.arange(len(kl)), kl, color="C0")
        ax.set_xticks(np.arange(len(kl)), [f"$z_{{{j + 1}}}$" for j in range(len(kl))])
        ax.set_xlabel("latent dimension")
        ax.set_ylabel("KL (nats)")
        ax.set_title(f"{state['label']}: KL per dimension (sum {kl.sum():.2f} nats)")
        for r, (imgs, name) in enumerate(((orig, "test x"), (rec, "reconstruction"))):
            for c in range(n):
                a = fig.add_subplot(grid[r + 1, c])
                a.imshow(imgs[c].reshape(h, w), vmin=0, vmax=1, cmap="gray_r")
                a.set_xticks([])
                a.set_yticks([])
                a.grid(False)
                if c == 0:
                    a.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
        fig.tight_layout()
        return fig


# --- Chapter 05: beta-VAE -----------------------------------------------------------------


def latent_report(model, sprites, base_index: int | None = None, n_bins: int = 20) -> dict:
    r"""What each latent dimension of ``model`` encodes, measured on every image of ``sprites``.

    Encodes the images to posterior means mu (n, d) and log-variances, and returns a dict:
    ``z_base`` (d,) the code mu of the image ``base_index`` (default: the middle row);
    ``kl`` (d,) the per-dimension KL_j = mean_n KL(q(z_j|x_n) || N(0, 1)) in nats;
    ``scores`` (d, K') the normalised mutual information I(z_j; v_k) / H(v_k) (20-bin
    histograms of mu, as in MIG) for the K' factors that vary; ``factor_names`` those
    factors' names; ``mig`` the MIG of mu.
    """
    import numbers

    import torch

    from course_vae.diagnostics import kl_per_dimension
    from course_vae.disentanglement import mig_details
    from course_vae.models import VAE
    from course_vae.sprites import Sprites

    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_vae VAE, got {type(model).__name__}")
    if not isinstance(sprites, Sprites):
        raise TypeError(f"sprites must be a Sprites data set, got {type(sprites).__name__}")
    if model.config.input_dim != sprites.images.shape[1]:
        raise ValueError(
            f"model input_dim {model.config.input_dim} does not match the sprites' "
            f"{sprites.images.shape[1]} pixels"
        )
    n = len(sprites)
    if base_index is None:
        base_index = n // 2
    if isinstance(base_index, bool) or not isinstance(base_index, numbers.Integral) or not (
        0 <= base_index < n
    ):
        raise ValueError(f"base_index must be an integer in [0, {n}), got {base_index!r}")
    p = next(model.parameters())
    with torch.no_grad():
        mu, logvar = model.encode(sprites.images.to(device=p.device, dtype=p.dtype))
    mu, logvar = mu.cpu().double(), logvar.cpu().double()
    details = mig_details(mu, sprites.labels, n_bins=n_bins)
    varying = details.entropy > 0
    scores = details.mutual_info[:, varying] / details.entropy[varying][None, :]
    return {
        "z_base": mu[int(base_index)].numpy().copy(),
        "kl": kl_per_dimension(mu, logvar).numpy(),
        "scores": scores,
        "factor_names": tuple(
            name for name, keep in zip(sprites.factor_names, varying, strict=True) if keep
        ),
        "mig": details.score,
    }


def traversal_state(model, report: dict, dim: int, value: float, image_shape) -> dict:
    r"""Decode the code ``report["z_base"]`` with z_dim set to ``value``; rank the factors it moves.

    Returns a dict with ``z`` (d,), ``image`` (H, W) the mean image E[x|z] (sigmoid of the
    logits for a Bernoulli decoder), ``dim``, ``value``, ``kl`` the dimension's KL in nats,
    ``scores`` (K',) its normalised mutual information with each factor, ``ranking`` the
    factor names by decreasing score, and ``factor_names``.
    """
    import math
    import numbers

    import numpy as np
    import torch

    z_base = np.asarray(report["z_base"], dtype=np.float64)
    d = z_base.shape[0]
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not 0 <= dim < d:
        raise ValueError(f"dim must be an integer in [0, {d}), got {dim!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"value must be a finite number, got {value!r}")
    h, w = (int(s) for s in image_shape)
    z = z_base.copy()
    z[int(dim)] = float(value)
    p = next(model.parameters())
    with torch.no_grad():
        decoded = model.decode(torch.as_tensor(z, dtype=p.dtype, device=p.device)[None, :])
        image = model.mean_image(decoded)[0].cpu().double().numpy()
    if image.size != h * w:
        raise ValueError(f"image_shape {(h, w)} does not match the decoder's {image.size} pixels")
    scores = np.asarray(report["scores"], dtype=np.float64)[int(dim)]
    order = np.argsort(-scores, kind="stable")
    return {
        "z": z,
        "image": image.reshape(h, w),
        "dim": int(dim),
        "value": float(value),
        "kl": float(report["kl"][int(dim)]),
        "scores": scores,
        "ranking": tuple(report["factor_names"][i] for i in order),
        "factor_names": tuple(report["factor_names"]),
    }


class BetaTraversalExplorer(Explorer):
    r"""Pick a trained beta-VAE (by beta) and a latent dimension; slide its value.

    The other latents stay at the code of one reference image.  The figure shows the
    decoded image and how much the dimension tells about each factor (I(z_j; v_k) / H(v_k));
    the readout names the factor it moves most and the dimension's KL in nats.  The
    numbers come from :func:`latent_report` and :func:`traversal_state`.
    """

    title = "BetaTraversalExplorer"

    def __init__(self, models: dict, sprites, base_index: int | None = None) -> None:
        import numbers

        if not isinstance(models, dict) or not models:
            raise ValueError("models must be a non-empty dict {beta: trained VAE}")
        for beta in models:
            if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
                raise ValueError(f"models must be keyed by beta (a number), got {beta!r}")
        self.models = {float(b): m for b, m in sorted(models.items())}
        dims = {m.config.latent_dim for m in self.models.values()}
        if len(dims) != 1:
            raise ValueError(f"models must share one latent_dim, got {sorted(dims)}")
        self.sprites = sprites
        self.reports = {b: latent_report(m, sprites, base_index) for b, m in self.models.items()}
        d = dims.pop()
        self.beta = widgets.Dropdown(
            options=[(f"{b:g}", b) for b in self.models], value=next(iter(self.models)),
            description="β",
        )
        self.dim = widgets.IntSlider(value=1, min=1, max=d, step=1, description="z_j",
                                     continuous_update=False)
        self.value = widgets.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.25,
                                         description="value", continuous_update=False)
        super().__init__([self.beta, self.dim, self.value])
        self.children = (
            widgets.HBox([self.beta, self.dim, self.value]), self.readout, self.image
        )

    def state(self) -> dict:
        b = float(self.beta.value)
        st = traversal_state(self.models[b], self.reports[b], self.dim.value - 1,
                             float(self.value.value), self.sprites.image_shape)
        st["beta"] = b
        st["mig"] = self.reports[b]["mig"]
        return st

    def readout_html(self, state: dict) -> str:
        j = state["dim"] + 1
        top, second = state["ranking"][0], state["ranking"][1:2]
        scores = dict(zip(state["factor_names"], state["scores"], strict=True))
        text = (
            f"<b>β = {state['beta']:g}, z_{j} = {state['value']:+.2f}</b>: "
            f"KL of z_{j} = {state['kl']:.3f} nats; "
        )
        if state["kl"] < 0.05:
            text += (
                "it has collapsed to the prior, so moving it changes almost nothing "
                f"(best factor {top}, I/H = {scores[top]:.3f})"
            )
        else:
            text += f"it moves mostly <b>{top}</b> (I/H = {scores[top]:.3f})"
            if second:
                text += f", then {second[0]} ({scores[second[0]]:.3f})"
        return text + f". MIG of this model: {state['mig']:.3f}."

    def draw(self, state: dict) -> Figure:
        from course_vae.plots import plot_traversal_state

        return plot_traversal_state(state)
