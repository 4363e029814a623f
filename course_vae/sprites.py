r"""Sprites: a small, offline stand-in for dSprites, with known generative factors.

Every image shows one white shape on a black square canvas, drawn from five factors
(in this order, like dSprites without its constant colour):

* ``shape``       -- which shape (``"square"``, ``"ellipse"``, ``"heart"``, ``"triangle"``);
* ``scale``       -- the radius (in pixels) of the circle the shape fits in;
* ``orientation`` -- the rotation angle, evenly spaced in [0, pi/2) radians (a square
  repeats every pi/2, so this range draws every shape at distinct angles);
* ``x``           -- the column of the shape's centre (pixels, left to right);
* ``y``           -- the row of the shape's centre (pixels, top to bottom).

Pixels are binary (a pixel is 1 when its centre lies inside the shape), which suits a
Bernoulli decoder.  Every combination of factor values appears exactly once, in C order
(the last factor, ``y``, varies fastest): the image of the factor indices
``(v_1, ..., v_K)`` sits at row :math:`\sum_k v_k \prod_{m>k} n_m` (see
:func:`factor_index`).  Generation is deterministic and vectorised (no download).
When the centres lie a whole number of pixels apart (e.g. ``size=20, n_x=n_y=6``: 2 pixels),
moving a shape shifts its pixels exactly, so its area depends on shape and scale only.
:func:`split_indices` splits the rows into a seeded training and held-out part.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from course_vae._validate import (
    check_choice,
    check_nonnegative_int,
    check_positive_int,
    check_real,
)

__all__ = [
    "FACTOR_NAMES",
    "SHAPES",
    "Sprites",
    "factor_index",
    "make_sprites",
    "shape_mask",
    "split_indices",
]

SHAPES = ("square", "ellipse", "heart", "triangle")
FACTOR_NAMES = ("shape", "scale", "orientation", "x", "y")
_MAX_PIXELS = 200_000_000  # images x pixels; beyond this the arrays would not fit comfortably


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # (a^2 + b^2 - 1)^3 - a^2 b^3 <= 0 with b pointing up; shifted and shrunk so that
    # the heart fits inside the unit circle (its farthest point lies at radius < 1).
    a = 1.32 * u
    b = -1.32 * v + 0.15
    return (a * a + b * b - 1.0) ** 3 - a * a * b**3 <= 0.0


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # Equilateral triangle inscribed in the unit circle, apex up (v points down).
    s3 = math.sqrt(3.0)
    return (v <= 0.5) & (s3 * u - v <= 1.0) & (-s3 * u - v <= 1.0)


_SHAPE_TESTS = {
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 1.0 / math.sqrt(2.0),
    "ellipse": lambda u, v: (u / 1.0) ** 2 + (v / 0.5) ** 2 <= 1.0,
    "heart": _heart,
    "triangle": _triangle,
}


def shape_mask(shape: str, u: Any, v: Any) -> np.ndarray:
    """Boolean mask of the points (u, v) inside ``shape`` in its own unit frame.

    The frame is centred on the shape, ``u`` points right and ``v`` points down; every
    shape fits inside the unit circle u^2 + v^2 <= 1 (so ``scale`` is a bounding radius).
    """
    check_choice(shape, "shape", SHAPES)
    arrays = []
    for name, a in (("u", u), ("v", v)):
        try:
            arrays.append(np.asarray(a, dtype=float))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be numeric (array-like of numbers): {exc}") from None
    return _SHAPE_TESTS[shape](*arrays)


def factor_index(labels: Any, factor_sizes: Any) -> torch.Tensor:
    r"""Row of each factor combination: :math:`\sum_k v_k \prod_{m>k} n_m` (C order).

    ``labels`` holds integer factor indices, shape (K,) or (m, K); ``factor_sizes`` the
    K sizes n_k.  Returns a 0-d or (m,) int64 tensor.
    """
    sizes = [check_positive_int(n, "factor_sizes")
             for n in (factor_sizes.tolist() if hasattr(factor_sizes, "tolist") else factor_sizes)]
    if isinstance(labels, torch.Tensor):
        lab = labels.detach().cpu()
        if lab.is_floating_point() or lab.is_complex() or lab.dtype == torch.bool:
            raise TypeError(f"labels must hold integers, got dtype {lab.dtype}")
        lab = lab.to(torch.int64)
    else:
        arr = np.asarray(labels)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"labels must hold integers, got {arr.dtype}")
        lab = torch.from_numpy(arr.astype(np.int64))
    if lab.ndim not in (1, 2) or lab.shape[-1] != len(sizes):
        raise ValueError(
            f"labels must have shape (K,) or (m, K) with K = {len(sizes)} factors, "
            f"got {tuple(lab.shape)}"
        )
    size_t = torch.tensor(sizes, dtype=torch.int64)
    if ((lab < 0) | (lab >= size_t)).any():
        raise ValueError(f"labels out of range: factor k must lie in [0, n_k) with n = {sizes}")
    bases = torch.ones(len(sizes), dtype=torch.int64)
    for k in range(len(sizes) - 2, -1, -1):
        bases[k] = bases[k + 1] * sizes[k + 1]
    return (lab * bases).sum(dim=-1)


@dataclass(frozen=True)
class Sprites:
    """The sprites data set: images, factor labels and what the labels mean.

    ``images``: (n, H*W) float tensor of 0/1 pixels, row-major.  ``labels``: (n, K) int64
    factor indices.  ``factor_values[k]`` maps index -> value (shape names for ``shape``,
    pixels for ``scale``/``x``/``y``, radians for ``orientation``).
    """

    images: torch.Tensor
    labels: torch.Tensor
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    factor_values: tuple[tuple[Any, ...], ...]
    image_shape: tuple[int, int]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_factors(self) -> int:
        """Number of factors K."""
        return len(self.factor_names)

    def index_of(self, labels: Any = None, **factors: int) -> int | torch.Tensor:
        """Row of a factor combination, given as ``labels`` (K,)/(m, K) or by name.

        ``sprites.index_of(shape=1, scale=0, orientation=2, x=3, y=4)`` and
        ``sprites.index_of([1, 0, 2, 3, 4])`` give the same int; (m, K) labels give an
        (m,) tensor.  Then ``sprites.labels[i]`` equals the combination asked for.
        """
        if labels is not None and factors:
            raise ValueError("give either labels or factors by name, not both")
        if labels is None:
            unknown = sorted(set(factors) - set(self.factor_names))
            missing = [name for name in self.factor_names if name not in factors]
            if unknown or missing:
                raise ValueError(
                    f"factors must name each of {self.factor_names} once; "
                    f"unknown {unknown}, missing {missing}"
                )
            for name, value in factors.items():
                if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                    raise TypeError(f"{name} must be an integer index, got {value!r}")
            labels = [int(factors[name]) for name in self.factor_names]
        idx = factor_index(labels, self.factor_sizes)
        return int(idx) if idx.ndim == 0 else idx

    def images_2d(self) -> torch.Tensor:
        """The images reshaped to (n, H, W)."""
        return self.images.reshape(-1, *self.image_shape)


def _check_shapes(shapes: Any) -> tuple[str, ...]:
    if isinstance(shapes, str) or not hasattr(shapes, "__iter__"):
        raise TypeError(f"shapes must be a sequence of shape names from {SHAPES}, got {shapes!r}")
    shapes = tuple(shapes)
    if not shapes:
        raise ValueError("shapes must name at least one shape")
    for s in shapes:
        check_choice(s, "shapes", SHAPES)
    if len(set(shapes)) != len(shapes):
        raise ValueError(f"shapes must not repeat a shape, got {shapes}")
    return shapes


def make_sprites(
    size: int = 28,
    shapes: tuple[str, ...] | list[str] = ("square", "ellipse", "heart"),
    n_scales: int = 4,
    n_orientations: int = 4,
    n_x: int = 8,
    n_y: int = 8,
    scale_range: tuple[float, float] = (0.5, 1.0),
    dtype: torch.dtype = torch.float32,
    y_span: float = 1.0,
) -> Sprites:
    r"""Draw every combination of the factors once, on a ``size`` x ``size`` canvas.

    Scales are evenly spaced bounding radii ``r`` in ``scale_range`` x r_max, with
    r_max = size / 4; orientations are k (pi/2) / n_orientations; centres x and y are
    evenly spaced in [r_max, size - r_max] (pixel coordinates, pixel centres at i + 0.5),
    so no shape leaves the canvas.  A pixel with centre p is 1 when
    R(-theta) (p - c) / r lies inside the shape's unit-frame mask (:func:`shape_mask`).
    Returns a :class:`Sprites`; ``len`` = n_shapes x n_scales x n_orientations x n_x x n_y.
    The defaults give 3 x 4 x 4 x 8 x 8 = 3072 distinct images of 28 x 28 (radii 3.5 to
    7 pixels, centres 7 to 21).  Smaller canvases work too, but there the pixel grid can
    make two combinations of a small square draw the same pixels.
    ``y_span`` in (0, 1] shrinks the vertical range of the centres to that share of
    [r_max, size - r_max] around the middle: with ``size=20, n_x=6, n_y=3, y_span=0.4``
    x moves over 10 pixels in 6 steps and y over 4 pixels in 3 steps, both by whole
    pixels -- two position factors of unequal importance (chapter 05).
    """
    size = check_positive_int(size, "size")
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    shapes = _check_shapes(shapes)
    n_scales = check_positive_int(n_scales, "n_scales")
    n_orientations = check_positive_int(n_orientations, "n_orientations")
    n_x = check_positive_int(n_x, "n_x")
    n_y = check_positive_int(n_y, "n_y")
    try:
        lo, hi = (float(v) for v in scale_range)
    except (TypeError, ValueError):
        raise TypeError(f"scale_range must be a pair of numbers, got {scale_range!r}") from None
    if not (0.0 < lo <= hi <= 1.0):
        raise ValueError(f"scale_range must satisfy 0 < lo <= hi <= 1, got {(lo, hi)!r}")
    if n_scales > 1 and lo == hi:
        raise ValueError(f"scale_range needs lo < hi for n_scales = {n_scales} distinct scales")
    y_span = check_real(y_span, "y_span", low=0.0, high=1.0, low_open=True)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch dtype, got {dtype!r}")
    sizes = (len(shapes), n_scales, n_orientations, n_x, n_y)
    n = math.prod(sizes)
    if n * size * size > _MAX_PIXELS:
        raise ValueError(
            f"{n} images of {size}x{size} pixels are too many ({n * size * size} > "
            f"{_MAX_PIXELS}); reduce size, n_scales, n_orientations, n_x or n_y"
        )

    r_max = size / 4.0
    scales = np.linspace(lo, hi, n_scales) * r_max if n_scales > 1 else np.array([hi * r_max])
    angles = np.arange(n_orientations) * (math.pi / 2) / n_orientations
    xs = np.linspace(r_max, size - r_max, n_x) if n_x > 1 else np.array([size / 2.0])
    half = y_span * (size / 2.0 - r_max)
    ys = (np.linspace(size / 2.0 - half, size / 2.0 + half, n_y) if n_y > 1
          else np.array([size / 2.0]))

    pix = np.arange(size) + 0.5
    # (scale, orientation, x, y, row, col) coordinates in each shape's unit frame
    dx = pix[None, :] - xs[:, None]  # (n_x, W)
    dy = pix[None, :] - ys[:, None]  # (n_y, H)
    cos = np.cos(angles)[:, None, None, None, None]
    sin = np.sin(angles)[:, None, None, None, None]
    dxb = dx[:, None, None, :]  # (n_x, 1, 1, W)
    dyb = dy[None, :, :, None]  # (1, n_y, H, 1)
    # rotate the offset by -theta (angle measured counter-clockwise on screen, v down)
    u = cos * dxb - sin * dyb  # (n_o, n_x, n_y, H, W)
    v = sin * dxb + cos * dyb
    images = np.empty((len(shapes), n_scales, n_orientations, n_x, n_y, size, size), dtype=bool)
    for i, shape in enumerate(shapes):
        for j, r in enumerate(scales):
            images[i, j] = shape_mask(shape, u / r, v / r)
    images_t = torch.from_numpy(images.reshape(n, size * size)).to(dtype)

    grids = torch.meshgrid(*(torch.arange(k) for k in sizes), indexing="ij")
    labels = torch.stack([g.reshape(-1) for g in grids], dim=1).to(torch.int64)
    values = (
        shapes,
        tuple(float(s) for s in scales),
        tuple(float(a) for a in angles),
        tuple(float(x) for x in xs),
        tuple(float(y) for y in ys),
    )
    return Sprites(
        images=images_t,
        labels=labels,
        factor_names=FACTOR_NAMES,
        factor_sizes=sizes,
        factor_values=values,
        image_shape=(size, size),
    )


def split_indices(n: int, test_fraction: float = 1 / 3,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random split of rows 0..n-1 into (train, test) index tensors, each sorted.

    ``round(n * test_fraction)`` rows go to the test part; both parts are non-empty.
    """
    n = check_positive_int(n, "n")
    test_fraction = check_real(test_fraction, "test_fraction", low=0.0, high=1.0,
                               low_open=True, high_open=True)
    n_test = int(round(n * test_fraction))
    if not 0 < n_test < n:
        raise ValueError(f"test_fraction={test_fraction} of n={n} rows leaves an empty part")
    perm = np.random.default_rng(check_nonnegative_int(seed, "seed")).permutation(n)
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return torch.from_numpy(train), torch.from_numpy(test)
