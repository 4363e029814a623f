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
