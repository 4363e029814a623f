"""course_vae: the tested companion package of the course on the KL term of the VAE objective.

Each module holds what its name says:

* maths: ``kl`` (divergences), ``coding`` (codes and extra bits), ``elbo`` (ELBO, IWAE),
  ``gradients`` (reparameterised vs score-function estimators), ``linear_gaussian``
  (a latent model with an exact posterior), ``diagnostics`` (active units, I(x; z),
  aggregate KL), ``disentanglement`` (MIG, DCI);
* data and models: ``data`` (digits, MNIST), ``sprites`` (images with known factors),
  ``models`` (the MLP VAE), ``made`` (an autoregressive decoder), ``checkpoint``;
* training: ``train`` (the one loop), ``schedules`` (beta schedules, free bits,
  capacity), ``recipes`` (the chapters' model and budget settings);
* the chapters' tools: ``latent``, ``sample_quality``, ``plots``, ``widgets``
  (the explorers), ``exercises`` (answer checkers), ``notebook`` (seeds, determinism, style).
"""

from course_vae import (
    checkpoint,
    coding,
    data,
    diagnostics,
    disentanglement,
    elbo,
    exercises,
    gradients,
    kl,
    latent,
    linear_gaussian,
    made,
    models,
    plots,
    recipes,
    sample_quality,
    schedules,
    sprites,
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
from course_vae.notebook import setup_notebook, show_source

__version__ = "0.1.0"

__all__ = [
    "VAE",
    "VAEConfig",
    "checkpoint",
    "coding",
    "data",
    "diagnostics",
    "disentanglement",
    "elbo",
    "exercises",
    "fit_gaussian_1d",
    "gradients",
    "kl",
    "kl_discrete",
    "kl_monte_carlo",
    "kl_normal",
    "kl_normal_std",
    "kl_normal_std_terms",
    "kl_quadrature",
    "latent",
    "linear_gaussian",
    "load_checkpoint",
    "load_dataset",
    "made",
    "models",
    "plots",
    "recipes",
    "sample_quality",
    "save_checkpoint",
    "schedules",
    "setup_notebook",
    "show_source",
    "sprites",
    "train",
    "widgets",
]
