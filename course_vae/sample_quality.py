r"""How data-like generated images are: improved precision and recall in a feature space.

**Precision and recall** (Kynkäänniemi et al. 2019).  Embed a real set R and a generated set
G with a feature map f.  Around every point a of a set A put the ball of radius r_k(a), the
distance from f(a) to its k-th nearest neighbour in f(A) (itself excluded; k = 3).  The
manifold estimate of A is the union of these balls, and

    coverage(B; A) = share of points b in B with ||f(b) - f(a)|| <= r_k(a) for some a in A,
    precision = coverage(G; R)   (how many generated images look like some real one),
    recall    = coverage(R; G)   (how much of the real variety the generated set reaches).

A set scores (1, 1) against itself; sets far apart score (0, 0).  Precision alone rewards
a model that repeats one good image; recall alone rewards noise that spreads everywhere.

**The feature space.**  Pixel distances reward blur: an average of many digits lies close to
all of them.  :func:`train_feature_net` trains a small MLP on the training digits to name
the digit *and* to tell a single digit from "not one digit" (averages of 2-16 same-class
digits, 50/50 blends of two digits of different classes); its last hidden layer is the
feature space (:meth:`FeatureNet.features`).  ``negatives=False`` trains a plain digit
classifier, whose features, as a chapter-03 check shows, still reward blur.  Whatever the
features, calibrate the scores: held-out real images should score high, blurs and noise low.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from course_vae._validate import (
    as_float_tensor,
    check_bool,
    check_finite,
    check_positive_int,
    check_seed,
)

__all__ = [
    "FeatureNet",
    "PrecisionRecall",
    "blends",
    "class_means",
    "coverage",
    "knn_radii",
    "precision_recall",
    "train_feature_net",
]


def _rows(x: Any, name: str) -> torch.Tensor:
    x = as_float_tensor(x, name)
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n, pixels) with n >= 1, got {tuple(x.shape)}")
    check_finite(x, name)
    return x.detach().to(torch.float64)


def _same_width(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} have {a.shape[1]} columns per row but {name_b} has {b.shape[1]}"
        )


# --------------------------------------------------------------------------- k-NN manifolds


def _radii(a: torch.Tensor, k: int) -> torch.Tensor:
    if k >= len(a):
        raise ValueError(f"k = {k} needs more than k points, got {len(a)}")
    return torch.cdist(a, a).kthvalue(k + 1, dim=1).values  # the 1st is the point itself


def _coverage(query: torch.Tensor, ref: torch.Tensor, radii: torch.Tensor) -> float:
    inside = torch.zeros(len(query), dtype=torch.bool)
    for i in range(0, len(query), 1024):
        d = torch.cdist(query[i : i + 1024], ref)
        inside[i : i + 1024] = (d <= radii[None, :]).any(dim=1)
    return float(inside.double().mean())


def knn_radii(points: Any, k: int = 3) -> torch.Tensor:
    r"""r_k(a) = distance from each row a of ``points`` to its k-th nearest other row, (n,)."""
    p = _rows(points, "points")
    return _radii(p, check_positive_int(k, "k"))


def coverage(query: Any, reference: Any, k: int = 3) -> float:
    r"""Share of rows of ``query`` inside some k-NN ball of ``reference`` (a number in [0, 1])."""
    q, r = _rows(query, "query"), _rows(reference, "reference")
    _same_width(q, r, "query rows", "reference")
    return _coverage(q, r, _radii(r, check_positive_int(k, "k")))


class PrecisionRecall(NamedTuple):
    precision: float
    recall: float


def precision_recall(real: Any, generated: Any, k: int = 3) -> PrecisionRecall:
    r"""Improved precision coverage(G; R) and recall coverage(R; G) of feature rows (k-NN balls)."""
    r, g = _rows(real, "real"), _rows(generated, "generated")
    _same_width(g, r, "generated rows", "real")
    k = check_positive_int(k, "k")
    return PrecisionRecall(_coverage(g, r, _radii(r, k)), _coverage(r, g, _radii(g, k)))


# --------------------------------------------------------------------------- calibration sets


def class_means(images: Any, labels: Any) -> torch.Tensor:
    """The mean image of every class in ``labels``, in label order, shape (classes, pixels)."""
    x = _rows(images, "images")
    y = torch.as_tensor(labels)
    if y.shape != (len(x),):
        raise ValueError(f"labels must have shape ({len(x)},), got {tuple(y.shape)}")
    return torch.stack([x[y == c].mean(0) for c in torch.unique(y)])


def blends(images: Any, labels: Any, n: int, generator: torch.Generator | int = 0) -> torch.Tensor:
    """``n`` 50/50 blends (x_i + x_j) / 2 of random pairs of images with different labels."""
    x, y = _rows(images, "images"), torch.as_tensor(labels)
    n = check_positive_int(n, "n")
    g = torch.Generator().manual_seed(generator) if isinstance(generator, int) else generator
    out: list[torch.Tensor] = []
    while sum(len(o) for o in out) < n:
        i, j = torch.randint(0, len(x), (2, 2 * n), generator=g)
        keep = y[i] != y[j]
        out.append(0.5 * (x[i[keep]] + x[j[keep]]))
    return torch.cat(out)[:n]


# --------------------------------------------------------------------------- the feature net


class FeatureNet(nn.Module):
    """An MLP classifier of images; :meth:`features` is its last hidden layer."""

    def __init__(self, input_dim: int, n_classes: int, hidden: tuple[int, int] = (128, 64)):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(input_dim, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], hidden[1]), nn.ReLU()
        )
        self.head = nn.Linear(hidden[1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    @torch.no_grad()
    def features(self, images: Any) -> torch.Tensor:
        """The last hidden layer for each row of ``images`` (float64, shape (n, hidden[1]))."""
        x = _rows(images, "images").to(self.head.weight.dtype)
        return self.body(x).double()


def _negatives(x, y, idx, g) -> torch.Tensor:
    """Averages of 2-16 same-class images and 50/50 blends of two different-class images."""
    half = idx[: len(idx) // 2]
    order = torch.argsort(y, stable=True)
    counts = torch.bincount(y)
    starts = torch.cumsum(counts, 0) - counts
    c = y[half]
    pick = (torch.rand(len(half), 16, generator=g) * counts[c, None]).long() + starts[c, None]
    k = torch.randint(2, 17, (len(half), 1), generator=g)
    w = (torch.arange(16)[None] < k).float() / k  # the first k of 16 same-class draws
    avgs = (w[..., None] * x[order[pick]]).sum(1)
    j = torch.randint(0, len(x), (len(half),), generator=g)
    mix = 0.5 * (x[half] + x[j])
    return torch.cat([avgs, mix[y[half] != y[j]]])


def train_feature_net(images: Any, labels: Any, epochs: int = 40, negatives: bool = True,
                      seed: int = 0) -> FeatureNet:
    """Train a :class:`FeatureNet` (Adam 1e-3, batch 64) to name the digit of each image.

    With ``negatives`` every batch also holds "not one digit" images (an extra class):
    averages of 2-16 same-class images and 50/50 blends of two different-class images.
    """
    x = _rows(images, "images").float()
    y = torch.as_tensor(labels).long()
    if y.shape != (len(x),):
        raise ValueError(f"labels must have shape ({len(x)},), got {tuple(y.shape)}")
    epochs, negatives = check_positive_int(epochs, "epochs"), check_bool(negatives, "negatives")
    seed = check_seed(seed)
    n_classes = int(y.max()) + 1
    with torch.random.fork_rng():  # seeded weights, the global RNG untouched
        torch.manual_seed(seed)
        net = FeatureNet(x.shape[1], n_classes + int(negatives))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            xb, yb = x[idx], y[idx]
            if negatives:
                neg = _negatives(x, y, idx, g)
                xb = torch.cat([xb, neg])
                yb = torch.cat([yb, torch.full((len(neg),), n_classes)])
            loss = nn.functional.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()



# --------------------------------------------------------------------------- unseen negatives
# (chapter 03, issue 20): kinds of "not a clean digit" the feature net never trained on.


def _as_images(images: Any, image_shape: Any) -> tuple[torch.Tensor, int, int]:
    x = _rows(images, "images")
    h, w = (int(v) for v in image_shape)
    if h * w != x.shape[1]:
        raise ValueError(f"image_shape {h}x{w} does not match {x.shape[1]} pixels")
    return x.reshape(-1, 1, h, w), h, w


def blur(images: Any, image_shape: Any, sigma: float = 1.0) -> torch.Tensor:
    r"""Each image convolved with a 5 x 5 Gaussian kernel of width ``sigma`` pixels (zero
    padding, kernel normalised), shape (n, h*w): a sharp digit made blurry."""
    x, h, w = _as_images(images, image_shape)
    sigma = float(sigma)
    if not sigma > 0:
        raise ValueError("sigma must be > 0")
    t = torch.arange(-2, 3, dtype=x.dtype)
    k1 = torch.exp(-(t**2) / (2 * sigma**2))
    k = torch.outer(k1, k1)
    k = (k / k.sum())[None, None]
    return torch.nn.functional.conv2d(x, k, padding=2).reshape(-1, h * w).float()


def shift(images: Any, image_shape: Any, dx: int = 1, dy: int = 0) -> torch.Tensor:
    r"""Each image moved by (``dx``, ``dy``) pixels (right, down), zeros shifted in; (n, h*w)."""
    x, h, w = _as_images(images, image_shape)
    out = torch.zeros_like(x)
    dx, dy = int(dx), int(dy)
    if abs(dx) >= w or abs(dy) >= h:
        raise ValueError("the shift must be smaller than the image")
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[:, :, yd, xd] = x[:, :, ys, xs]
    return out.reshape(-1, h * w).float()


__all__ += ["blur", "shift"]
