"""Chapter 05's explorer: slide one latent of a trained beta-VAE and name the factor it moves."""

from __future__ import annotations

import numbers

import ipywidgets as widgets
from matplotlib.figure import Figure

from course_vae.explorer_state import traversal_state
from course_vae.plots import plot_traversal_state
from course_vae.runs import latent_report
from course_vae.widgets.base import Explorer, float_slider

__all__ = ["BetaTraversalExplorer"]


class BetaTraversalExplorer(Explorer):
    r"""Pick a trained beta-VAE (by beta) and a latent dimension; slide its value.

    The other latents stay at the code of one reference image.  The figure shows the
    decoded image and how much the dimension tells about each factor (I(z_j; v_k) / H(v_k),
    on samples z ~ q(z|x), cut to the dimension's KL); the readout names the factor it knows
    most about, or says it is off (KL < 0.1 nats), and the dimension's KL in nats.  The
    numbers come from :func:`course_vae.runs.latent_report` and
    :func:`course_vae.explorer_state.traversal_state`.
    """

    title = "BetaTraversalExplorer"

    def __init__(self, models: dict, sprites, base_index: int | None = None) -> None:
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
        self.beta = widgets.Dropdown(
            options=[(f"{b:g}", b) for b in self.models], value=next(iter(self.models)),
            description="β",
        )
        self.dim = widgets.IntSlider(value=1, min=1, max=dims.pop(), step=1, description="z_j",
                                     continuous_update=False)
        self.value = float_slider(0.0, -3.0, 3.0, 0.25, "value", width=None)
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
        if state["kl"] < 0.1:
            text += (
                f"it is off (KL below 0.1 nats): it can carry at most {state['kl']:.3f} nats "
                f"about any factor, so it names none (best: {top}, I/H = {scores[top]:.3f})"
            )
        else:
            text += f"it moves mostly <b>{top}</b> (I/H = {scores[top]:.3f})"
            if second:
                text += f", then {second[0]} ({scores[second[0]]:.3f})"
        return text + f". MIG of this model: {state['mig']:.3f}."

    def draw(self, state: dict) -> Figure:
        return plot_traversal_state(state)
