"""Chapter 03's explorer: a point of a trained 2-D VAE's latent plane, decoded, and its cost."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from course_vae._validate import check_image_shape, check_real
from course_vae.explorer_state import latent_point_state
from course_vae.plots import plot_latent_point
from course_vae.widgets.base import Explorer, float_slider

__all__ = ["LatentPlaneExplorer"]


class LatentPlaneExplorer(Explorer):
    r"""Sliders for a point z = (z1, z2) of a trained 2-D VAE's latent plane and a width sigma.

    Shows the image decoded at z (the decoder's mean E[x|z]) and z on the scatter of the
    test codes; the readout gives log p(z) = log N(z; 0, I) and the KL an encoder would pay
    to put a posterior N(z, sigma^2 I) there, KL = |z|^2/2 + sum_j (sigma^2 - log sigma^2 - 1)/2,
    all from :func:`course_vae.explorer_state.latent_point_state`.
    """

    title = "LatentPlaneExplorer"

    def __init__(self, model, mu, labels, image_shape: tuple[int, int], z=(0.0, 0.0),
                 sigma: float = 1.0, extent: float = 4.0) -> None:
        if getattr(model, "latent_dim", None) != 2:
            raise ValueError("model must be a VAE with latent_dim = 2")
        if len(z) != 2:
            raise ValueError(f"z must be two numbers in [-{extent}, {extent}], got {z!r}")
        z = [check_real(v, "z", low=-extent, high=extent) for v in z]
        sigma = check_real(sigma, "sigma", low=0.05, high=2.0)
        self.model = model
        self.mu = torch.as_tensor(mu).detach().cpu()
        self.labels = torch.as_tensor(labels).cpu()
        if self.mu.dim() != 2 or self.mu.shape[1] != 2 or len(self.mu) != len(self.labels):
            raise ValueError("mu must be (n, 2) posterior means with one label per row")
        self.image_shape = check_image_shape(image_shape)
        self.z1, self.z2 = (
            float_slider(v, -extent, extent, 0.05, d) for v, d in zip(z, ("z₁", "z₂"), strict=True)
        )
        self.sigma = float_slider(sigma, 0.05, 2.0, 0.05, "σ")
        super().__init__([self.z1, self.z2, self.sigma])

    def state(self) -> dict:
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
        return plot_latent_point(state, self.mu, self.labels, self.image_shape)
