"""course_vae: the tested companion package of the course on the KL term of the VAE objective.

Each module holds what its name says:

* maths: ``kl`` (every divergence of the course, the Gaussian closed forms), ``coding``
  (codes and extra bits), ``elbo`` (ELBO, IWAE), ``gradients`` (reparameterised vs
  score-function estimators), ``linear_gaussian`` (a latent model with an exact
  posterior), ``linear_vae`` (pPCA as a VAE: collapse thresholds, rotation gap),
  ``diagnostics`` (active units, I(x; z), the aggregate posterior),
  ``likelihood_bounds`` (exact log p(x) on a grid, the data's ceilings, baselines),
  ``disentanglement`` (MIG, DCI), ``factor_information`` (I(code; factor) estimators),
  ``score_calibration`` (known-answer codes), ``latent`` (points, traversals, ELBO
  surgery), ``sample_quality``;
* data and models: ``data`` (digits, datasets), ``mnist`` (MNIST files), ``sprites``
  (images with known factors), ``text`` (sentences and a text VAE), ``models`` (the MLP
  VAE, the likelihoods, the reparameterisation), ``made`` (an autoregressive decoder),
  ``conv`` (a convolutional VAE), ``rng`` (random generators);
* VAE losses as people write them: ``loss_bugs`` (the correct loss and the bugs people
  ship, a loss builder), ``audit`` (a loss's effective beta, forms and reductions),
  ``audit_report`` (its result in plain words),
  ``loss_source`` (a function read out of a script without running it);
* training: ``train`` (the one loop for every model), ``schedules`` (beta schedules, free
  bits, capacity), ``recipes`` (every chapter's budget and the builders that train it),
  ``runs`` (summaries of trained runs that tables read);
* presentation: ``explorer_state`` (what each explorer shows), ``notebook`` (seeds,
  determinism, style), and three packages: ``plots`` (one module per concept,
  ``plots.style`` for the look), ``widgets`` (one explorer per chapter on ``widgets.base``)
  and ``exercises`` (answer checkers, ``exercises.ch01`` ... ``ch06``).
"""

from course_vae import (
    coding,
    conv,
    data,
    diagnostics,
    disentanglement,
    elbo,
    exercises,
    explorer_state,
    factor_information,
    gradients,
    kl,
    latent,
    likelihood_bounds,
    linear_gaussian,
    linear_vae,
    loss_bugs,
    loss_source,
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
    score_calibration,
    sprites,
    text,
    train,
    widgets,
)
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


def __getattr__(name: str):
    """``course_vae.audit`` is imported on first use, not here: ``python -m course_vae.audit``
    would otherwise find it already imported and print runpy's RuntimeWarning."""
    if name == "audit":
        import importlib

        return importlib.import_module("course_vae.audit")
    raise AttributeError(f"module 'course_vae' has no attribute {name!r}")

__all__ = [
    "VAE",
    "VAEConfig",
    "audit",
    "coding",
    "conv",
    "data",
    "diagnostics",
    "disentanglement",
    "elbo",
    "exercises",
    "explorer_state",
    "factor_information",
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
    "likelihood_bounds",
    "linear_gaussian",
    "linear_vae",
    "load_dataset",
    "loss_bugs",
    "loss_source",
    "made",
    "mnist",
    "models",
    "notebook",
    "plots",
    "recipes",
    "rng",
    "runs",
    "sample_quality",
    "schedules",
    "score_calibration",
    "setup_notebook",
    "show_source",
    "sprites",
    "text",
    "train",
    "widgets",
]
