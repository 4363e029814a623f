"""Chapter 06's explorer: build a VAE loss from choices, see its effective beta and what the
chapter's trained runs predict for it."""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.figure import Figure

from course_vae._validate import check_choice, check_image_shape
from course_vae.explorer_state import loss_audit_state
from course_vae.loss_bugs import BUILD_CHOICES
from course_vae.plots import plot_loss_audit
from course_vae.widgets.base import Explorer

__all__ = ["LossAuditExplorer"]

_LABELS = {
    "pixels": "BCE over pixels",
    "recon_batch": "BCE over batch",
    "latents": "KL over latents",
    "kl_batch": "KL over batch",
    "kl_sign": "KL sign",
    "logvar_as": "logvar read as",
}


class LossAuditExplorer(Explorer):
    """Dropdowns for the reductions, the KL's sign and the log-variance convention, and a
    log-scale slider for the KL's weight.  The loss they build
    (:func:`course_vae.loss_bugs.build_loss`) is audited; the readout gives its effective
    beta and the regime the nearest trained run showed, the figure the runs' active units and
    KL(q(z) || p(z)) against beta.  ``runs`` as in
    :func:`course_vae.explorer_state.loss_audit_state`; ``start`` sets initial choices.
    """

    title = "LossAuditExplorer"
    hint = "choose reductions, sign, convention and weight in JupyterLab to explore"

    def __init__(self, runs: dict, batch_size: int = 128, input_dim: int = 64,
                 latent_dim: int = 8, image_shape: tuple[int, int] = (8, 8), **start):
        self.runs = runs
        self.sizes = {"batch_size": batch_size, "input_dim": input_dim,
                      "latent_dim": latent_dim}
        self.image_shape = check_image_shape(image_shape)
        unknown = set(start) - set(BUILD_CHOICES) - {"weight"}
        if unknown:
            raise ValueError(f"unknown choices {sorted(unknown)}; "
                             f"have {sorted(BUILD_CHOICES)} and 'weight'")
        for name, value in start.items():
            if name in BUILD_CHOICES:
                check_choice(value, name, BUILD_CHOICES[name])
        self.dropdowns = {
            name: widgets.Dropdown(options=list(options), value=start.get(name, options[0]),
                                   description=_LABELS[name],
                                   style={"description_width": "110px"})
            for name, options in BUILD_CHOICES.items()
        }
        self.weight = widgets.FloatLogSlider(value=start.get("weight", 1.0), base=10, min=-4,
                                             max=4, step=0.25, description="KL weight",
                                             continuous_update=False,
                                             style={"description_width": "110px"})
        super().__init__([*self.dropdowns.values(), self.weight])

    def state(self) -> dict:
        choices = {name: d.value for name, d in self.dropdowns.items()}
        return loss_audit_state(self.runs, **choices, weight=self.weight.value, **self.sizes)

    def readout_html(self, state: dict) -> str:
        beta = state["beta"]
        shown = "not readable" if beta is None else f"{beta:.6g}"
        text = (f"<b>{state['loss_doc']}</b><br>effective beta (audit) = {shown} "
                f"(formula: {state['expected_beta']:.6g}); KL form: {state['audit'].kl_form}"
                f"<br>prediction: <b>{state['regime']}</b>")
        if state["nearest"] is not None:
            run = state["runs"][state["nearest"]]
            text += (f" - nearest trained run: {state['nearest']} (beta {run['beta']:.4g}, "
                     f"{state['factor']:.3g}x away): active units {run['n_active']:.1f}, "
                     f"KL {run['kl']:.2f} nats, KL(q(z)||p(z)) {run['aggregate_kl']:.2f} nats, "
                     f"test ELBO {run['test_elbo']:.2f} nats (means over seeds)")
        return text

    def draw(self, state: dict) -> Figure:
        return plot_loss_audit(state, self.image_shape)
