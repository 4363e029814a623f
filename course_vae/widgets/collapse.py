"""Chapter 04's explorer: pick a trained run (remedy, then its parameter), see its diagnostics."""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.figure import Figure

from course_vae._validate import check_image_shape
from course_vae.explorer_state import collapse_explorer_state, remedy_choices
from course_vae.plots import plot_collapse_run
from course_vae.widgets.base import Explorer

__all__ = ["CollapseExplorer"]


class CollapseExplorer(Explorer):
    """Two dropdowns (remedy, then its parameter) over runs trained in chapter 04.

    Shows the run's test ELBO, KL, active units and I(x; z) (and, for a text run, log p(x)
    by IWAE), the change against the baseline run when the two are of one family (digits
    or text), its KL per latent dimension and, for a digits run, a row of reconstructions.
    ``runs`` maps (remedy, parameter) to :func:`course_vae.runs.summarize_collapse_run` dicts; the
    state comes from :func:`course_vae.explorer_state.collapse_explorer_state`.
    """

    title = "CollapseExplorer"
    hint = "choose a run in JupyterLab to explore"

    def __init__(self, runs: dict, baseline=None, image_shape: tuple[int, int] = (8, 8)):
        choices = remedy_choices(runs)
        self.runs, self.baseline = runs, baseline
        self.image_shape = check_image_shape(image_shape)
        first = next(iter(choices))
        self.remedy = widgets.Dropdown(options=list(choices), value=first, description="remedy")
        self.parameter = widgets.Dropdown(
            options=choices[first], value=choices[first][0], description="parameter"
        )
        self.remedy.observe(self._on_remedy, names="value")
        super().__init__([self.remedy, self.parameter])  # the first update checks baseline

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
        if "mutual_info_stderr" in state:
            text += f" (± {state['mutual_info_stderr']:.2f}, standard error)"
        if "log_px" in state:
            text += f", log p(x) (IWAE) {state['log_px']:.2f} nats"
        if "d_elbo" in state:
            text += (
                f"<br>vs {state['baseline']}: ELBO {state['d_elbo']:+.2f}, "
                f"KL {state['d_kl']:+.2f}, active units {state['d_active']:+d}, "
                f"I(x; z) {state['d_mi']:+.2f}"
            )
        return text

    def draw(self, state: dict) -> Figure:
        return plot_collapse_run(state, self.image_shape)
