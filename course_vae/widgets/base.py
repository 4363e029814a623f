"""What every explorer shares: controls on top, a readout, the figure below as a PNG image.

Each explorer keeps its arithmetic in a plain, unit-tested function of a concept module
(nbval never moves a slider) and draws with a :mod:`course_vae.plots` function into an
``Image`` widget: the figure is rendered to PNG bytes on every change, so the explorer works
the same in JupyterLab, in a static notebook and in tests, and its text representation stays
stable for nbval.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["Explorer", "figure_to_png", "float_slider"]


def figure_to_png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def float_slider(value: float, lo: float, hi: float, step: float, description: str,
                 width: str | None = "40px") -> widgets.FloatSlider:
    """A slider that redraws on release (``continuous_update=False``), labelled ``description``
    in a label ``width`` wide (None: ipywidgets' default)."""
    style = {} if width is None else {"style": {"description_width": width}}
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                               continuous_update=False, **style)


class Explorer(widgets.VBox):
    """Base of the explorers: controls on top, a readout, the figure below.

    Subclasses implement ``state()`` (the numbers shown, from package functions),
    ``readout_html(state)`` and ``draw(state)`` (a matplotlib Figure); ``update()``
    recomputes all three.  The readout is an ``HTML`` widget; ``redraws`` counts how often
    the figure was drawn.
    """

    title = "explorer"
    hint = "move the sliders in JupyterLab to explore"

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
        return f"<{self.title}: {self.hint}>"
