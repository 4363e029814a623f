"""The course's figures: one style, and plot functions that label every axis and legend.

Every plot function returns the matplotlib ``Figure`` it drew, so notebooks and tests can
inspect it; notebooks display it with ``plt.show()``.  Plot functions draw numbers that the
concept modules compute, and check only what the drawing itself needs.  One module per
concept:

* :mod:`~course_vae.plots.style`: the course style, image drawing, rows of images;
* :mod:`~course_vae.plots.divergences`: KL basics (chapter 01);
* :mod:`~course_vae.plots.gaussian_kl`: the terms of the Gaussian closed form (chapter 02);
* :mod:`~course_vae.plots.training`: ELBO and its gap, gradient estimators, training curves;
* :mod:`~course_vae.plots.latent_space`: posterior means, decodings of the latent plane;
* :mod:`~course_vae.plots.collapse`: posterior-collapse diagnostics and remedies (chapter 04);
* :mod:`~course_vae.plots.disentanglement`: traversals, rate-distortion, MIG (chapter 05);
* :mod:`~course_vae.plots.rate_distortion`: the exact rate-distortion plane, capacity (05);
* :mod:`~course_vae.plots.loss_audit`: a loss's effective beta against trained runs (06).
"""

from course_vae.plots.collapse import (
    CH04_METRICS,
    plot_beta_sweep,
    plot_collapse_run,
    plot_dose_response,
    plot_kl_over_training,
    plot_kl_per_dimension,
    plot_remedy_comparison,
)
from course_vae.plots.disentanglement import (
    plot_code_scatter,
    plot_latent_traversal,
    plot_mi_heatmaps,
    plot_mig_vs_beta,
    plot_rate_distortion,
    plot_rotation_gap,
    plot_score_vs_active,
    plot_traversal_state,
)
from course_vae.plots.divergences import (
    plot_factorised_fits,
    plot_gaussian_pair,
    plot_kl_fits,
    plot_mc_convergence,
)
from course_vae.plots.gaussian_kl import KL_TERM_LABELS, plot_kl_term_bars, plot_kl_terms_curves
from course_vae.plots.latent_space import (
    plot_beta_comparison,
    plot_elbo_surgery,
    plot_hole_map,
    plot_latent_manifold,
    plot_latent_point,
    plot_latent_scatter,
    plot_sample_quality,
)
from course_vae.plots.loss_audit import plot_loss_audit
from course_vae.plots.rate_distortion import plot_capacity_kl, plot_loss_curves, plot_rd_plane
from course_vae.plots.style import COURSE_STYLE, plot_image_rows, use_course_style
from course_vae.plots.training import (
    plot_elbo_vs_q,
    plot_gradient_variance,
    plot_training_curves,
)

__all__ = [
    "CH04_METRICS",
    "COURSE_STYLE",
    "KL_TERM_LABELS",
    "plot_beta_comparison",
    "plot_capacity_kl",
    "plot_code_scatter",
    "plot_mi_heatmaps",
    "plot_rotation_gap",
    "plot_beta_sweep",
    "plot_collapse_run",
    "plot_dose_response",
    "plot_elbo_surgery",
    "plot_elbo_vs_q",
    "plot_factorised_fits",
    "plot_gaussian_pair",
    "plot_gradient_variance",
    "plot_hole_map",
    "plot_image_rows",
    "plot_kl_fits",
    "plot_kl_over_training",
    "plot_kl_per_dimension",
    "plot_kl_term_bars",
    "plot_kl_terms_curves",
    "plot_latent_manifold",
    "plot_latent_point",
    "plot_latent_scatter",
    "plot_latent_traversal",
    "plot_loss_audit",
    "plot_loss_curves",
    "plot_mc_convergence",
    "plot_mig_vs_beta",
    "plot_rate_distortion",
    "plot_rd_plane",
    "plot_remedy_comparison",
    "plot_sample_quality",
    "plot_score_vs_active",
    "plot_training_curves",
    "plot_traversal_state",
    "use_course_style",
]
