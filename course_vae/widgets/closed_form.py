"""Chapter 02's explorer: sliders for mu and sigma per latent dimension, bars of the KL terms."""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.figure import Figure

from course_vae._validate import check_positive_int, check_real
from course_vae.explorer_state import closed_form_state
from course_vae.plots import plot_kl_term_bars
from course_vae.widgets.base import Explorer, float_slider

__all__ = ["ClosedFormExplorer"]


class ClosedFormExplorer(Explorer):
    r"""Sliders for mu_j and sigma_j of a few latent dimensions; bars of the four KL terms.

    The state comes from :func:`course_vae.explorer_state.closed_form_state`:
    KL = 1/2 \sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1) in nats.
    """

    title = "ClosedFormExplorer"

    def __init__(self, n_dims: int = 3, mu=None, sigma=None) -> None:
        n_dims = check_positive_int(n_dims, "n_dims")
        if n_dims > 8:
            raise ValueError(f"n_dims must be at most 8 (one slider pair each), got {n_dims}")
        mu = [0.0] * n_dims if mu is None else list(mu)
        sigma = [1.0] * n_dims if sigma is None else list(sigma)
        if len(mu) != n_dims or len(sigma) != n_dims:
            raise ValueError(f"mu and sigma must have n_dims={n_dims} values each")
        sigma = [check_real(s, "sigma", low=0.05, high=3.0) for s in sigma]
        mu = [check_real(m, "mu", low=-3.0, high=3.0) for m in mu]
        self.mu_sliders = [float_slider(m, -3.0, 3.0, 0.05, f"μ{j + 1}") for j, m in enumerate(mu)]
        self.sigma_sliders = [
            float_slider(s, 0.05, 3.0, 0.05, f"σ{j + 1}") for j, s in enumerate(sigma)
        ]
        pairs = zip(self.mu_sliders, self.sigma_sliders, strict=True)
        rows = [widgets.HBox([m, s]) for m, s in pairs]
        super().__init__(self.mu_sliders + self.sigma_sliders)
        self.children = (widgets.VBox(rows), self.readout, self.image)

    def state(self) -> dict:
        return closed_form_state([s.value for s in self.mu_sliders],
                                 [s.value for s in self.sigma_sliders])

    def readout_html(self, state: dict) -> str:
        dims = ", ".join(f"z{j + 1}: {v:.4f}" for j, v in enumerate(state["per_dim"].tolist()))
        return (
            f"<b>KL(q || N(0, I)) = {state['total']:.4f} nats</b> "
            f"(sum over {len(state['mu'])} dimensions; per dimension {dims})"
        )

    def draw(self, state: dict) -> Figure:
        return plot_kl_term_bars(state["terms"], state["per_dim"])
