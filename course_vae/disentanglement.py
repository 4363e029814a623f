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
import zlib
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

__all__ = [
    "DCIResult",
    "MIGResult",
    "dci",
    "dci_from_importance",
    "discrete_entropy",
    "discrete_mutual_info",
    "factor_indices",
    "histogram_discretize",
    "is_discrete_code",
    "mig",
    "mig_details",
    "mutual_info_knn",
    "mutual_info_matched",
    "rank_discretize",
    "ross_mutual_info",
    "traversal_change",
]




def factor_indices(factors: Any, name: str = "factors") -> np.ndarray:
    """Map each column of ``factors`` (n, K) to integer indices 0..m_k-1 of its sorted values."""
    arr = codes_array(factors, name, "(n, K)")
    out = np.empty(arr.shape, dtype=np.int64)
    for k in range(arr.shape[1]):
        out[:, k] = np.unique(arr[:, k], return_inverse=True)[1].reshape(-1)
    return out


def _codes_and_factors(codes: Any, factors: Any) -> tuple[np.ndarray, np.ndarray]:
    z = codes_array(codes)
    v = factor_indices(factors)
    if z.shape[0] != v.shape[0]:
        raise ValueError(
            f"codes and factors must have the same number of rows, got {z.shape[0]} and "
            f"{v.shape[0]}"
        )
    return z, v


def histogram_discretize(codes: Any, n_bins: int = 20) -> np.ndarray:
    """Bin each column of ``codes`` (n, d) into ``n_bins`` equal-width bins over [min, max].

    Returns int64 bin indices in [0, n_bins) (a constant column goes to bin 0), like
    disentanglement_lib's ``np.digitize(x, np.histogram(x, n_bins)[1][:-1])`` minus one.
    """
    z = codes_array(codes)
    n_bins = check_positive_int(n_bins, "n_bins")
    lo, hi = z.min(axis=0) / 2, z.max(axis=0) / 2  # halved: no overflow for spans near 1e308
    span = hi - lo
    safe = np.where(span > 0, span, 1.0)
    scaled = (z / 2 - lo) / safe * n_bins
    return np.clip(np.floor(scaled), 0, n_bins - 1).astype(np.int64)


def discrete_entropy(labels: Any) -> np.ndarray:
    r"""Entropy :math:`H(v_k) = -\sum_a p(a) \log p(a)` (nats) of each column of ``labels``.

    ``labels`` (n, K) holds discrete values; returns (K,) entropies, 0 for a constant column.
    """
    v = factor_indices(labels, "labels")
    out = np.empty(v.shape[1])
    for k in range(v.shape[1]):
        p = np.bincount(v[:, k]) / v.shape[0]
        p = p[p > 0]
        out[k] = max(0.0, float(-(p * np.log(p)).sum()))
    return out


def discrete_mutual_info(a: Any, b: Any) -> np.ndarray:
    r"""Matrix of :math:`I(a_i; b_k) = \sum p(x,y) \log\frac{p(x,y)}{p(x)p(y)}` (nats).

    ``a`` (n, d) and ``b`` (n, K) hold discrete values (each column is mapped to indices).
    Returns (d, K), each entry clipped into [0, min(H(a_i), H(b_k))] against rounding.
    """
    ai = factor_indices(a, "a")
    bi = factor_indices(b, "b")
    if ai.shape[0] != bi.shape[0]:
        raise ValueError(
            f"a and b must have the same number of rows, got {ai.shape[0]} and {bi.shape[0]}"
        )
    n = ai.shape[0]
    ha, hb = discrete_entropy(ai), discrete_entropy(bi)
    out = np.zeros((ai.shape[1], bi.shape[1]))
    for i in range(ai.shape[1]):
        x = ai[:, i]
        nx = int(x.max()) + 1
        px = np.bincount(x, minlength=nx) / n
        for k in range(bi.shape[1]):
            y = bi[:, k]
            ny = int(y.max()) + 1
            pxy = np.bincount(x * ny + y, minlength=nx * ny).reshape(nx, ny) / n
            py = pxy.sum(axis=0)
            mask = pxy > 0
            ratio = pxy[mask] / (px[:, None] * py[None, :])[mask]
            mi = float((pxy[mask] * np.log(ratio)).sum())
            out[i, k] = min(max(mi, 0.0), ha[i], hb[k])
    return out


def rank_discretize(codes: Any, n_bins: int) -> np.ndarray:
    """Equal-frequency bins: bin = floor(rank n_bins / n), tied values sharing their mean rank.

    A column with at most ``n_bins`` distinct values is already discrete: its bins are the
    indices of its sorted distinct values.  Returns int64 (n, d) bin indices.
    """
    z = codes_array(codes)
    n_bins = check_positive_int(n_bins, "n_bins")
    n = z.shape[0]
    out = np.empty(z.shape, dtype=np.int64)
    for j in range(z.shape[1]):
        values, inverse = np.unique(z[:, j], return_inverse=True)
        if len(values) <= n_bins:
            out[:, j] = inverse.reshape(-1)
        else:  # tied values share their mean rank, so ties never split across bins
            srt = np.sort(z[:, j])
            lo = np.searchsorted(srt, values, side="left")
            hi = np.searchsorted(srt, values, side="right")
            mean_rank = (lo + hi - 1) / 2.0
            out[:, j] = np.minimum((mean_rank[inverse.reshape(-1)] * n_bins / n).astype(np.int64),
                                   n_bins - 1)
    return out


def _mm_entropy(idx: np.ndarray) -> float:
    """Miller-Madow entropy (nats) of one column of non-negative integer cells."""
    counts = np.bincount(idx)
    counts = counts[counts > 0]
    n = idx.shape[0]
    p = counts / n
    return float(-(p * np.log(p)).sum() + (len(counts) - 1) / (2 * n))


def mutual_info_matched(codes: Any, factors: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""Bias-corrected I(z_j; v_k) (d, K) nats and plug-in H(v_k) (K,) nats.

    For factor k with n_k values, z_j is cut into n_k equal-frequency bins
    (:func:`rank_discretize`) and :math:`I = H_{MM}(z) + H_{MM}(v) - H_{MM}(z, v)`
    with Miller-Madow entropies; each entry is clipped into [0, min(H(z_j), H(v_k))]
    (plug-in entropies), so a code that determines the factor scores exactly H(v_k).
    """
    z, v = _codes_and_factors(codes, factors)
    h = discrete_entropy(v)
    mi = np.zeros((z.shape[1], v.shape[1]))
    for k in range(v.shape[1]):
        n_k = int(v[:, k].max()) + 1
        if n_k < 2 or h[k] <= 0:
            continue
        zb = rank_discretize(z, n_k)
        hz_plug = discrete_entropy(zb)
        hv = _mm_entropy(v[:, k])
        for j in range(z.shape[1]):
            joint = zb[:, j] * n_k + v[:, k]
            est = _mm_entropy(zb[:, j]) + hv - _mm_entropy(joint)
            mi[j, k] = min(max(est, 0.0), hz_plug[j], h[k])
    return mi, h


def is_discrete_code(codes: Any, max_values: int | None = None) -> bool:
    """True when every column of ``codes`` (n, d) takes at most ``max_values`` distinct values
    (default: sqrt(n), at least 2) -- a code of labels or indices, not of real numbers."""
    z = codes_array(codes)
    limit = max(2, int(math.isqrt(z.shape[0]))) if max_values is None else check_positive_int(
        max_values, "max_values")
    return all(len(np.unique(z[:, j])) <= limit for j in range(z.shape[1]))


def ross_mutual_info(x: np.ndarray, y: np.ndarray, n_neighbors: int = 3) -> float:
    r"""Ross (2014)'s k-NN estimate (nats) of I(x; y), x continuous (n,), y discrete (n,).

    For each point: d_i, the distance to its k-th nearest neighbour among the points of its
    own class (k = min(``n_neighbors``, class size - 1)); m_i, the number of points of any
    class within d_i (itself included).  Then
    :math:`\hat I = \psi(n) + \langle\psi(k)
angle - \langle\psi(n_{y_i})
angle -
    \langle\psi(m_i)
angle`, clipped at 0; points alone in their class are left out.
    The same computation as scikit-learn's ``_compute_mi_cd`` (``mutual_info_classif``),
    vectorised for one dimension: sorted arrays instead of k-d trees.
    """
    from scipy.special import digamma

    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y).reshape(-1)
    n = x.shape[0]
    radius, k_all, counts = np.zeros(n), np.zeros(n), np.zeros(n)
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        m = idx.size
        counts[idx] = m
        if m < 2:
            continue
        k = min(n_neighbors, m - 1)
        order = np.argsort(x[idx], kind="stable")
        srt = x[idx][order]
        pad = np.concatenate([np.full(k, -np.inf), srt, np.full(k, np.inf)])
        offsets = np.concatenate([np.arange(-k, 0), np.arange(1, k + 1)])
        cand = np.abs(pad[np.arange(m)[:, None] + k + offsets[None, :]] - srt[:, None])
        kth = np.partition(cand, k - 1, axis=1)[:, k - 1]
        radius[idx[order]] = np.nextafter(kth, 0)
        k_all[idx[order]] = k
    keep = counts > 1
    xs, r = x[keep], radius[keep]
    allv = np.sort(xs)
    lo = np.searchsorted(allv, xs - r, side="left")
    hi = np.searchsorted(allv, xs + r, side="right")
    n_all = allv.size
    for _ in range(n_all):  # the edges, as |x_j - x_i| <= r_i is computed (rounding at the ends)
        out_hi = (hi > 0) & (np.abs(allv[np.maximum(hi - 1, 0)] - xs) > r)
        in_hi = (hi < n_all) & (np.abs(allv[np.minimum(hi, n_all - 1)] - xs) <= r)
        out_lo = (lo < n_all) & (np.abs(allv[np.minimum(lo, n_all - 1)] - xs) > r)
        in_lo = (lo > 0) & (np.abs(allv[np.maximum(lo - 1, 0)] - xs) <= r)
        if not (out_hi | in_hi | out_lo | in_lo).any():
            break
        hi = hi - out_hi + (in_hi & ~out_hi)
        lo = lo + out_lo - (in_lo & ~out_lo)
    m_all = hi - lo
    n_keep = int(keep.sum())
    if n_keep == 0:
        return 0.0
    mi = (digamma(n_keep) + np.mean(digamma(k_all[keep])) - np.mean(digamma(counts[keep]))
          - np.mean(digamma(m_all)))
    return max(0.0, float(mi))


def _knn_applies(v: np.ndarray, n_neighbors: int = 3) -> bool:
    """Every value of every factor seen more than ``n_neighbors`` times."""
    for k in range(v.shape[1]):
        counts = np.bincount(v[:, k])
        if counts[counts > 0].min() <= n_neighbors and len(np.unique(v[:, k])) > 1:
            return False
    return True


def mutual_info_knn(codes: Any, factors: Any, n_neighbors: int = 3,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""I(z_j; v_k) (d, K) nats of continuous codes and discrete factors, and H(v_k) (K,).

    Ross (2014)'s k-nearest-neighbour estimator for a continuous variable against a discrete
    one (:func:`ross_mutual_info`, the estimator of scikit-learn's ``mutual_info_classif``,
    ``n_neighbors`` = 3 as there).  As scikit-learn does, each column is scaled to unit
    variance and given a tiny seeded jitter (1e-10 x max(1, mean |z|)), so tied values do not
    break the distances.  No bins: no binning bias and no bin edges that fall across unequal
    class counts.  Each entry is clipped into [0, H(v_k)].  Deterministic for a given ``seed``.
    """
    z, v = _codes_and_factors(codes, factors)
    n_neighbors = check_positive_int(n_neighbors, "n_neighbors")
    seed = check_nonnegative_int(seed, "seed")
    h = discrete_entropy(v)
    for k in range(v.shape[1]):
        counts = np.bincount(v[:, k])
        if h[k] > 0 and counts[counts > 0].min() <= n_neighbors:
            raise ValueError(
                f"factor {k} has a value seen {counts[counts > 0].min()} times; the k-NN "
                f"estimator needs more than n_neighbors={n_neighbors} rows of every value"
            )
    big = np.abs(z).max(axis=0)  # first to [-1, 1], so the variance cannot overflow
    z = z / np.where(big > 0, big, 1.0)
    sd = z.std(axis=0)
    z = z / np.where(sd > 0, sd, 1.0)
    for j in range(z.shape[1]):  # the jitter of a column depends on its values, not its place
        rng = np.random.default_rng([seed, zlib.crc32(np.ascontiguousarray(z[:, j]).tobytes())])
        z[:, j] = z[:, j] + 1e-10 * max(1.0, float(np.abs(z[:, j]).mean())) * rng.standard_normal(
            z.shape[0])
    mi = np.zeros((z.shape[1], v.shape[1]))
    for k in range(v.shape[1]):
        if h[k] <= 0:
            continue
        for j in range(z.shape[1]):
            mi[j, k] = min(ross_mutual_info(z[:, j], v[:, k], n_neighbors), h[k])
    return mi, h


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
    z, v = _codes_and_factors(codes, factors)
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
            "matched" if is_discrete_code(z) or not _knn_applies(v) else "knn")
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
) -> DCIResult:
    r"""DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    For each non-constant factor a ``RandomForestClassifier`` (``n_estimators`` trees,
    every split considers all code dimensions, ``random_state=seed``) is fitted on a
    seeded random (1 - ``test_fraction``) share of the rows; its impurity importances
    fill one column of R (d x K); its accuracy on the other rows is that factor's
    informativeness.  D and C come from :func:`dci_from_importance` on the informative
    factors.  Deterministic for a given seed.
    """
    from sklearn.ensemble import RandomForestClassifier

    z, v = _codes_and_factors(codes, factors)
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
    perm = np.random.default_rng(seed).permutation(n)
    test, train = perm[:n_test], perm[n_test:]
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
