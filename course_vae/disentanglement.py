r"""Disentanglement scores of a representation against known generative factors.

Both scores take ``codes`` (n, d) -- e.g. the posterior means of n images -- and the
``factors`` (n, K) that generated the images (each column a discrete factor: integer
indices, or any values, which are mapped to indices).  A factor that takes one value
only carries no information and is left out (its entries in the results are NaN / 0).

* **MIG**, the Mutual Information Gap (Chen et al. 2018), with a mutual-information
  estimator calibrated for a few hundred codes: for factor k with n_k values, each code
  dimension is cut into n_k equal-frequency bins (a column with at most n_k distinct values
  is kept as it is), and I(z_j; v_k) = H(z_j) + H(v_k) - H(z_j, v_k) uses Miller-Madow
  entropies :math:`\hat H + (m - 1)/(2n)` (m = occupied cells), which removes most of the
  plug-in estimator's upward bias :math:`\approx (n_k - 1)^2 / (2n)`.  Then

  .. math:: \mathrm{MIG} = \frac1K \sum_k \frac{I(z_{j^{(1)}_k}; v_k)
            - I(z_{j^{(2)}_k}; v_k)}{H(v_k)}

  where j^(1)_k, j^(2)_k are the two code dimensions most informative about v_k.
  1 when each factor lives in one dimension alone; 0 when the top two tie.  With
  ``n_bins=20`` :func:`mig_details` reproduces disentanglement_lib's uncorrected
  20-bin histogram estimator instead (biased upwards at small n: pure noise scores > 0).
* **DCI** (Eastwood & Williams 2018): a random forest predicts each factor from the
  codes; its impurity importances form R (d x K).  With P_jk = R_jk / sum_k R_jk,
  disentanglement is :math:`D = \sum_j \rho_j (1 - H_K(P_{j\cdot}))`, with weights
  :math:`\rho_j = \sum_k R_{jk} / \sum_{jk} R_{jk}` and entropy in base K;
  completeness is the same with the roles of codes and factors swapped (base d);
  informativeness is the forests' mean accuracy on held-out points.

"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from course_vae._validate import (
    as_float_tensor,
    check_choice,
    check_finite,
    check_nonnegative_int,
    check_positive_int,
    check_real,
    codes_array,
)
from course_vae.factor_information import (
    codes_and_factor_indices,
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    is_discrete_code,
    knn_applies,
    mutual_info_knn,
    mutual_info_matched,
)

__all__ = [
    "DCIResult",
    "MIGResult",
    "dci",
    "dci_from_importance",
    "mig",
    "mig_details",
    "traversal_change",
]




@dataclass(frozen=True)
class MIGResult:
    """MIG and its parts: ``mutual_info`` (d, K) nats, ``entropy`` (K,) nats,
    ``per_factor`` (K,) normalised gaps (NaN for a constant factor), ``top_dims`` (K, 2),
    ``estimator`` the name of the estimator used."""

    score: float
    per_factor: np.ndarray
    mutual_info: np.ndarray
    entropy: np.ndarray
    top_dims: np.ndarray
    estimator: str = "matched"

    @property
    def normalised(self) -> np.ndarray:
        """I(z_j; v_k) / H(v_k) (d, K') for the K' factors that vary."""
        keep = self.entropy > 0
        return self.mutual_info[:, keep] / self.entropy[keep][None, :]


ESTIMATORS = ("auto", "knn", "matched")


def mig_details(codes: Any, factors: Any, n_bins: int | None = None, *,
                estimator: str = "auto", upper_bound: Any = None, seed: int = 0) -> MIGResult:
    r"""Mutual Information Gap with its MI matrix, factor entropies and per-factor gaps.

    Per factor k: :math:`(I_{(1)k} - I_{(2)k}) / H(v_k)` for the two largest
    :math:`I(z_j; v_k)` over code dimensions j; the score averages it over the factors
    that are not constant.  Needs d >= 2 code dimensions.  The estimator of I:

    * ``"knn"``: :func:`mutual_info_knn` (Ross 2014, scikit-learn), for continuous codes --
      posterior samples z ~ q(z|x) or means;
    * ``"matched"``: :func:`mutual_info_matched` (equal-frequency bins, Miller-Madow), exact
      for a discrete code (a column of at most n_k values is used as it is);
    * ``"auto"`` (default): ``"matched"`` when :func:`is_discrete_code` (a code of indices)
      or when some factor value is seen 3 times or fewer (too few for k = 3 neighbours),
      else ``"knn"``;
    * ``n_bins`` an int: disentanglement_lib's plug-in estimator on ``n_bins`` equal-width
      bins (biased upwards for small n), whatever ``estimator`` says.

    ``upper_bound`` (d,) nats, optional: a known bound on each dimension's information,
    I(z_j; v_k) <= I(z_j; x) <= KL_j (the dimension's mean KL to the prior, when z are
    samples of q(z|x) and v is a function of x); the estimates are clipped to it.
    """
    z, v = codes_and_factor_indices(codes, factors)
    if z.shape[1] < 2:
        raise ValueError(f"codes needs at least 2 dimensions for a gap, got {z.shape[1]}")
    check_choice(estimator, "estimator", ESTIMATORS)
    if n_bins is not None:
        n_bins = check_positive_int(n_bins, "n_bins")
        mi = discrete_mutual_info(histogram_discretize(z, n_bins), v)
        h = discrete_entropy(v)
        used = f"plug-in, {n_bins} bins"
    else:
        used = estimator if estimator != "auto" else (
            "matched" if is_discrete_code(z) or not knn_applies(v) else "knn")
        mi, h = mutual_info_matched(z, v) if used == "matched" else mutual_info_knn(
            z, v, seed=seed)
    if upper_bound is not None:
        bound_t = as_float_tensor(upper_bound, "upper_bound")
        check_finite(bound_t, "upper_bound")
        bound = bound_t.detach().cpu().double().numpy().reshape(-1)
        if bound_t.ndim != 1 or bound.shape[0] != z.shape[1] or (bound < 0).any():
            raise ValueError(
                f"upper_bound must hold {z.shape[1]} non-negative values (one per code "
                f"dimension), got {bound.tolist()}"
            )
        mi = np.minimum(mi, bound[:, None])
    order = np.argsort(-mi, axis=0, kind="stable")
    top = order[:2].T.copy()
    mi_sorted = np.take_along_axis(mi, order, axis=0)
    informative = h > 0
    if not informative.any():
        raise ValueError("factors: every factor is constant, so MIG is undefined")
    per_factor = np.full(v.shape[1], np.nan)
    gap = mi_sorted[0, informative] - mi_sorted[1, informative]
    per_factor[informative] = np.clip(gap / h[informative], 0.0, 1.0)
    return MIGResult(
        score=float(per_factor[informative].mean()),
        per_factor=per_factor,
        mutual_info=mi,
        entropy=h,
        top_dims=top,
        estimator=used,
    )


def mig(codes: Any, factors: Any, n_bins: int | None = None, **kwargs: Any) -> float:
    """Mutual Information Gap in [0, 1] (see :func:`mig_details`, whose keywords it takes)."""
    return mig_details(codes, factors, n_bins, **kwargs).score


@dataclass(frozen=True)
class DCIResult:
    """DCI scores and parts: ``importance`` R (d, K), ``per_code`` disentanglement D_j (d,),
    ``code_weights`` rho_j (d,), ``per_factor_accuracy`` (K,) held-out accuracies."""

    disentanglement: float
    completeness: float
    informativeness: float
    importance: np.ndarray
    per_code: np.ndarray
    code_weights: np.ndarray
    per_factor_accuracy: np.ndarray


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Row-wise 1 - H(p)/log(base) for rows of probabilities p (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return 1.0 + terms.sum(axis=1) / math.log(base)


def dci_from_importance(importance: Any) -> tuple[float, float, np.ndarray, np.ndarray]:
    r"""Disentanglement and completeness from an importance matrix R (d codes x K factors).

    :math:`D = \sum_j \rho_j (1 - H_K(R_{j\cdot} / \sum_k R_{jk}))`,
    :math:`C = \sum_k \tau_k (1 - H_d(R_{\cdot k} / \sum_j R_{jk}))` with weights
    :math:`\rho_j, \tau_k` the row/column shares of the total.  Returns
    ``(D, C, per_code D_j, rho)``; rows of zeros get weight 0 (an all-zero R gives 0, 0).
    Needs K >= 2 factors and d >= 2 codes (an entropy in base 1 is undefined).
    """
    r = as_float_tensor(importance, "importance")
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 2:
        raise ValueError(f"importance must have shape (d, K) with d, K >= 2, got {tuple(r.shape)}")
    check_finite(r, "importance")
    r = r.detach().cpu().double().numpy()
    if (r < 0).any():
        raise ValueError("importance must be non-negative")
    total = r.sum()
    if total <= 0:
        return 0.0, 0.0, np.zeros(r.shape[0]), np.zeros(r.shape[0])
    row = r.sum(axis=1)
    col = r.sum(axis=0)
    p_rows = r / np.where(row > 0, row, 1.0)[:, None]
    p_cols = (r / np.where(col > 0, col, 1.0)[None, :]).T
    per_code = np.where(row > 0, _one_minus_entropy(p_rows, r.shape[1]), 0.0)
    per_factor = np.where(col > 0, _one_minus_entropy(p_cols, r.shape[0]), 0.0)
    rho, tau = row / total, col / total
    d_score = float(np.clip((rho * per_code).sum(), 0.0, 1.0))
    c_score = float(np.clip((tau * per_factor).sum(), 0.0, 1.0))
    return d_score, c_score, np.clip(per_code, 0.0, 1.0), rho


def dci(
    codes: Any,
    factors: Any,
    *,
    test_fraction: float = 0.25,
    n_estimators: int = 20,
    min_samples_leaf: int = 1,
    seed: int = 0,
    groups: Any = None,
) -> DCIResult:
    r"""DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    For each non-constant factor a ``RandomForestClassifier`` (``n_estimators`` trees,
    every split considers all code dimensions, ``random_state=seed``) is fitted on a
    seeded random (1 - ``test_fraction``) share of the rows; its impurity importances
    fill one column of R (d x K); its accuracy on the other rows is that factor's
    informativeness.  D and C come from :func:`dci_from_importance` on the informative
    factors.  Deterministic for a given seed.

    ``groups`` (n,), optional: a group label per row (e.g. the image several posterior
    samples came from).  The split then keeps every group whole: a seeded random share
    ``test_fraction`` of the groups is tested, the rest trained on, so the forests are
    scored on groups they never saw (a random row split would let them recognise the
    image instead of predicting the factor).
    """
    from sklearn.ensemble import RandomForestClassifier

    z, v = codes_and_factor_indices(codes, factors)
    test_fraction = check_real(
        test_fraction, "test_fraction", low=0.0, high=1.0, low_open=True, high_open=True
    )
    n_estimators = check_positive_int(n_estimators, "n_estimators")
    min_samples_leaf = check_positive_int(min_samples_leaf, "min_samples_leaf")
    seed = check_nonnegative_int(seed, "seed")
    n = z.shape[0]
    n_test = int(round(n * float(test_fraction)))
    if n_test < 1 or n - n_test < 2:
        raise ValueError(
            f"test_fraction={test_fraction} leaves {n - n_test} training and {n_test} test rows "
            f"of {n}; need at least 2 and 1"
        )
    if z.shape[1] < 2:
        raise ValueError(f"codes needs at least 2 dimensions, got {z.shape[1]}")
    informative = np.array([len(np.unique(v[:, k])) > 1 for k in range(v.shape[1])])
    if informative.sum() < 2:
        raise ValueError("factors needs at least 2 non-constant factors for DCI")
    # scikit-learn's forests read the codes as float32: a column beyond its range is scaled by
    # a power of two (exact, order-preserving, so the trees split the same way) to fit.
    big = np.abs(z).max(axis=0) > float(np.finfo(np.float32).max)
    if big.any():
        z = z.copy()
        exps = np.frexp(np.abs(z[:, big]).max(axis=0))[1]
        z[:, big] = np.ldexp(z[:, big], 100 - exps)
    if groups is None:
        perm = np.random.default_rng(seed).permutation(n)
        test, train = perm[:n_test], perm[n_test:]
    else:
        g = np.asarray(groups)
        if g.shape != (n,):
            raise ValueError(f"groups must have shape ({n},), got {g.shape}")
        names = np.unique(g)
        n_test_groups = int(round(len(names) * float(test_fraction)))
        if n_test_groups < 1 or len(names) - n_test_groups < 2:
            raise ValueError(
                f"test_fraction={test_fraction} leaves {len(names) - n_test_groups} training and "
                f"{n_test_groups} test groups of {len(names)}; need at least 2 and 1"
            )
        test_names = np.random.default_rng(seed).permutation(names)[:n_test_groups]
        is_test = np.isin(g, test_names)
        test, train = np.flatnonzero(is_test), np.flatnonzero(~is_test)
    importance = np.zeros((z.shape[1], v.shape[1]))
    accuracy = np.full(v.shape[1], np.nan)
    for k in np.flatnonzero(informative):
        forest = RandomForestClassifier(
            n_estimators=n_estimators,
            max_features=None,
            min_samples_leaf=min_samples_leaf,
            random_state=seed,
            n_jobs=1,
        )
        forest.fit(z[train], v[train, k])
        importance[:, k] = np.abs(forest.feature_importances_)
        accuracy[k] = float(forest.score(z[test], v[test, k]))
    d_score, c_score, per_code, rho = dci_from_importance(importance[:, informative])
    return DCIResult(
        disentanglement=d_score,
        completeness=c_score,
        informativeness=float(np.nanmean(accuracy)),
        importance=importance,
        per_code=per_code,
        code_weights=rho,
        per_factor_accuracy=accuracy,
    )


def traversal_change(decode: Any, codes: Any, span: float = 2.0) -> np.ndarray:
    r"""How much each latent dimension moves the decoded image: (d,) mean pixel change.

    For every row z of ``codes`` (n, d) and every dimension j, decodes z with z_j set to
    -``span`` and to +``span`` (``decode``: (m, d) tensor -> (m, pixels) mean images in
    [0, 1]) and averages :math:`\tfrac1P\sum_p |x_p(+) - x_p(-)|` over the rows: 0 for a
    dimension the decoder ignores.
    """
    import torch

    z = torch.as_tensor(codes_array(codes), dtype=torch.float64)
    span = check_real(span, "span", low=0.0, low_open=True)
    out = np.zeros(z.shape[1])
    with torch.no_grad():
        for j in range(z.shape[1]):
            lo, hi = z.clone(), z.clone()
            lo[:, j], hi[:, j] = -span, span
            out[j] = float((decode(hi) - decode(lo)).abs().double().mean())
    return out
