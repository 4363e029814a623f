"""course_vae: the tested companion package of the course on the KL term of the VAE objective.

Each module holds what its name says:

* maths: ``kl`` (divergences), ``coding`` (codes and extra bits), ``elbo`` (ELBO, IWAE),
  ``gradients`` (reparameterised vs score-function estimators), ``linear_gaussian``
  (a latent model with an exact posterior), ``diagnostics`` (active units, I(x; z),
  aggregate KL), ``disentanglement`` (MIG, DCI, what each latent of a model encodes);
* data and models: ``data`` (digits, datasets), ``mnist`` (MNIST files: download, IDX),
  ``sprites`` (images with known factors), ``models`` (the MLP VAE, the
  reparameterisation), ``made`` (an autoregressive decoder), ``checkpoint``, ``rng``
  (random generators);
* training: ``train`` (the one loop), ``schedules`` (beta schedules, free bits,
  capacity), ``recipes`` (every chapter's model and budget settings), ``runs``
  (summaries of trained runs that tables and explorers read);
* the chapters' tools: ``latent`` (points, traversals), ``sample_quality``, ``notebook``
  (seeds, determinism, style), and three packages: ``plots`` (one module per concept,
  ``plots.style`` for the look), ``widgets`` (one explorer per chapter on ``widgets.base``)
  and ``exercises`` (answer checkers, ``exercises.ch01`` ... ``ch05``).
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
    mnist,
    models,
    notebook,
    plots,
    recipes,
    rng,
    runs,
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
    "mnist",
    "models",
    "notebook",
    "plots",
    "recipes",
    "rng",
    "runs",
    "sample_quality",
    "save_checkpoint",
    "schedules",
    "setup_notebook",
    "show_source",
    "sprites",
    "train",
    "widgets",
]
