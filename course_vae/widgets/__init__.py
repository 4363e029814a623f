"""The chapters' ipywidgets explorers, one module each, on one shared base.

Each explorer keeps its arithmetic in a plain, unit-tested function of a concept module
(nbval never moves a slider) and draws with a :mod:`course_vae.plots` function into an
``Image`` widget (see :mod:`~course_vae.widgets.base`):

* chapter 01: :class:`GaussianPairExplorer` (:mod:`~course_vae.widgets.gaussian_pair`);
* chapter 02: :class:`ClosedFormExplorer` (:mod:`~course_vae.widgets.closed_form`);
* chapter 03: :class:`LatentPlaneExplorer` (:mod:`~course_vae.widgets.latent_plane`);
* chapter 04: :class:`CollapseExplorer` (:mod:`~course_vae.widgets.collapse`);
* chapter 05: :class:`BetaTraversalExplorer` (:mod:`~course_vae.widgets.beta_traversal`);
* chapter 06: :class:`LossAuditExplorer` (:mod:`~course_vae.widgets.loss_audit`).
"""

from course_vae.widgets.base import Explorer, figure_to_png
from course_vae.widgets.beta_traversal import BetaTraversalExplorer
from course_vae.widgets.closed_form import ClosedFormExplorer
from course_vae.widgets.collapse import CollapseExplorer
from course_vae.widgets.gaussian_pair import GaussianPairExplorer
from course_vae.widgets.latent_plane import LatentPlaneExplorer
from course_vae.widgets.loss_audit import LossAuditExplorer

__all__ = [
    "BetaTraversalExplorer",
    "ClosedFormExplorer",
    "CollapseExplorer",
    "Explorer",
    "GaussianPairExplorer",
    "LatentPlaneExplorer",
    "LossAuditExplorer",
    "figure_to_png",
]
