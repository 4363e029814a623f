"""course_vae: the tested companion package of the course on the KL term of the VAE objective.

Each module holds what its name says: ``kl`` (divergences), ``coding`` (codes and
extra bits), ``plots`` (the course's figures), ``widgets`` (the explorers),
``exercises`` (answer checkers) and ``setup`` (seeds, determinism, style).
"""

from course_vae import (
    checkpoint,
    coding,
    data,
    elbo,
    exercises,
    kl,
    linear_gaussian,
    models,
    plots,
    train,
    widgets,
)
from course_vae.checkpoint import load_checkpoint, save_checkpoint
from course_vae.data import load_dataset
from course_vae.kl import (
    fit_gaussian_1d,
    kl_discrete,
    kl_monte_carlo,
    kl_normal,
    kl_normal_std,
    kl_normal_std_terms,
    kl_quadrature,
)
from course_vae.models import VAE, VAEConfig
from course_vae.setup import setup_notebook, show_source

__version__ = "0.1.0"

__all__ = [
    "coding",
    "exercises",
    "kl",
    "plots",
    "widgets",
    "checkpoint",
    "data",
    "elbo",
    "linear_gaussian",
    "models",
    "train",
    "load_checkpoint",
    "save_checkpoint",
    "load_dataset",
    "VAE",
    "VAEConfig",
    "fit_gaussian_1d",
    "kl_discrete",
    "kl_monte_carlo",
    "kl_normal",
    "kl_normal_std",
    "kl_normal_std_terms",
    "kl_quadrature",
    "setup_notebook",
    "show_source",
]
