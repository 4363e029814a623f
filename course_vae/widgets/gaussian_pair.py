"""Chapter 01's explorer: two 1-D Gaussians, the KL integrand and both KL directions."""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.figure import Figure

from course_vae._validate import check_real
from course_vae.explorer_state import gaussian_pair_state
from course_vae.plots import plot_gaussian_pair
from course_vae.widgets.base import Explorer, float_slider

__all__ = ["GaussianPairExplorer"]


class GaussianPairExplorer(Explorer):
    r"""Sliders for Q = N(mu_q, s_q^2) and P = N(mu_p, s_p^2); densities, integrand, both KLs.

    The numbers come from :func:`course_vae.explorer_state.gaussian_pair_state` (closed form
    :func:`course_vae.kl.kl_normal`); the readout shows KL(Q||P) and KL(P||Q) in nats.
    """

    title = "GaussianPairExplorer"

    def __init__(
        self, mu_q: float = 0.0, s_q: float = 1.0, mu_p: float = 1.0, s_p: float = 2.0
    ) -> None:
        def slider(value: float, lo: float, hi: float, desc: str, name: str):
            value = check_real(value, name, low=lo, high=hi)
            return float_slider(value, lo, hi, 0.05, desc, width="50px")

        self.mu_q = slider(mu_q, -4.0, 4.0, "μ_q", "mu_q")
        self.s_q = slider(s_q, 0.2, 3.0, "σ_q", "s_q")
        self.mu_p = slider(mu_p, -4.0, 4.0, "μ_p", "mu_p")
        self.s_p = slider(s_p, 0.2, 3.0, "σ_p", "s_p")
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
        return plot_gaussian_pair(state)
