r"""How much each code dimension says about each generative factor: I(z_j; v_k).

The estimators behind the disentanglement scores (:mod:`course_vae.disentanglement`):

* discrete: :func:`histogram_discretize` (disentanglement_lib's equal-width bins),
  :func:`rank_discretize` (equal-frequency bins matched to the factor's cardinality),
  :func:`discrete_entropy`, :func:`discrete_mutual_info` (plug-in) and
  :func:`mutual_info_matched` (Miller-Madow corrected, on matched bins);
* continuous code vs discrete factor: :func:`ross_mutual_info` (Ross 2014's k-NN estimator,
  the algorithm of scikit-learn's ``mutual_info_classif``) and :func:`mutual_info_knn`
  (every dimension against every factor).
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from course_vae._validate import (
    check_nonnegative_int,
    check_positive_int,
    codes_array,
)

__all__ = [
    "codes_and_factor_indices",
    "discrete_entropy",
    "discrete_mutual_info",
    "factor_indices",
    "histogram_discretize",
    "is_discrete_code",
    "knn_applies",
    "mutual_info_knn",
    "mutual_info_matched",
    "rank_discretize",
    "ross_mutual_info",
]


def factor_indices(factors: Any, name: str = "factors") -> np.ndarray:
    """Map each column of ``factors`` (n, K) to integer indices 0..m_k-1 of its sorted values."""
    arr = codes_array(factors, name, "(n, K)")
    out = np.empty(arr.shape, dtype=np.int64)
    for k in range(arr.shape[1]):
        out[:, k] = np.unique(arr[:, k], return_inverse=True)[1].reshape(-1)
    return out


def codes_and_factor_indices(codes: Any, factors: Any) -> tuple[np.ndarray, np.ndarray]:
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
    z, v = codes_and_factor_indices(codes, factors)
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


def knn_applies(v: np.ndarray, n_neighbors: int = 3) -> bool:
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
    z, v = codes_and_factor_indices(codes, factors)
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
