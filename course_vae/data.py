"""Datasets for the course: sklearn's 8x8 digits (default, bundled) and MNIST (downloaded).

Every image is flattened to a row of grey levels scaled to [0, 1] (``pixel / max_level``).
A Bernoulli decoder needs binary targets, because binary cross-entropy against grey
levels is not a normalised likelihood (its "ELBO" is no bound on log p(x)).  So:

* training uses *dynamic binarisation*: x ~ Bernoulli(grey), redrawn every epoch from a
  seeded generator (:class:`DynamicBinarization`);
* the test set is binarised *once* with a fixed seed (``ImageDataset.test_binary``);
* a Gaussian decoder uses the grey levels themselves (``train_grey`` / ``test_grey``).

MNIST's files (IDX format, checked downloads, cache) are handled by :mod:`course_vae.mnist`;
its public names are also available from here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from course_vae._validate import (
    check_choice,
    check_nonnegative_int,
    check_positive_int,
    check_seed,
)
from course_vae.mnist import (
    MNIST_FILES,
    MNIST_MIRRORS,
    default_cache_dir,
    download_file,
    load_mnist_arrays,
    read_idx,
    sha256_file,
    write_idx,
)

__all__ = [
    "DIGITS_N_TEST",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "DynamicBinarization",
    "ImageDataset",
    "binarize",
    "default_cache_dir",
    "download_file",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "make_image_dataset",
    "read_idx",
    "sha256_file",
    "write_idx",
]

DIGITS_N_TEST = 400
"""Size of the digits test split (the other 1,397 of the 1,797 images are for training)."""

# --------------------------------------------------------------------------- binarisation


def _check_grey(x: Any, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor of grey levels in [0, 1]")
    if x.numel() and (not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name} must hold grey levels in [0, 1] (finite)")
    return x


def binarize(grey: torch.Tensor, seed: int | torch.Generator = 0) -> torch.Tensor:
    """One draw x ~ Bernoulli(grey) per pixel (same dtype as ``grey``), from a seeded generator.

    ``seed`` is an int (a fresh CPU generator) or a ``torch.Generator`` on ``grey``'s device.
    """
    grey = _check_grey(grey, "grey")
    if isinstance(seed, torch.Generator):
        gen = seed
    elif isinstance(seed, int) and not isinstance(seed, bool):
        gen = torch.Generator(device=grey.device).manual_seed(seed)
    else:
        raise TypeError(f"seed must be an int or a torch.Generator, got {type(seed).__name__}")
    return torch.bernoulli(grey, generator=gen)


class DynamicBinarization(Dataset):
    """Training images binarised afresh each epoch: x ~ Bernoulli(grey).

    ``current`` holds the latest draw; :meth:`resample` redraws it from a generator
    (``course_vae.train.train`` calls it once per epoch).  As a ``Dataset`` item ``i``
    is ``(current[i], labels[i])``, so it also works with a ``DataLoader``.
    """

    def __init__(self, grey: torch.Tensor, labels: torch.Tensor | None = None, seed: int = 0):
        self.grey = _check_grey(grey, "grey")
        if labels is not None and len(labels) != len(grey):
            raise ValueError(f"labels has {len(labels)} entries for {len(grey)} images")
        self.labels = labels
        self.current = binarize(self.grey, seed)

    def resample(self, generator: torch.Generator | int) -> torch.Tensor:
        """Redraw ``current`` from ``generator`` (a CPU generator or an int seed) and return it."""
        if isinstance(generator, torch.Generator):
            # grey was checked at construction: no per-epoch scan of the data
            self.current = torch.bernoulli(self.grey, generator=generator)
        else:
            self.current = binarize(self.grey, generator)
        return self.current

    def __len__(self) -> int:
        return len(self.grey)

    def __getitem__(self, i: int):
        if self.labels is None:
            return self.current[i]
        return self.current[i], self.labels[i]

    def __repr__(self) -> str:
        return f"DynamicBinarization(n={len(self)}, dim={self.grey.shape[-1]})"


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True, repr=False, eq=False)
class ImageDataset:
    """A train/test split of flattened images (float32 rows) with labels (int64).

    ``train_grey``/``test_grey`` hold grey levels in [0, 1]; ``test_binary`` is the test
    set binarised once with ``binarize_seed``.  ``levels`` is the number of grey levels of
    the source (17 for digits, 256 for MNIST); ``image_shape`` is (height, width).
    """

    name: str
    image_shape: tuple[int, int]
    levels: int
    train_grey: torch.Tensor
    train_labels: torch.Tensor
    test_grey: torch.Tensor
    test_labels: torch.Tensor
    test_binary: torch.Tensor
    binarize_seed: int

    @property
    def input_dim(self) -> int:
        """Pixels per image (height * width)."""
        return self.image_shape[0] * self.image_shape[1]

    @property
    def n_train(self) -> int:
        return len(self.train_grey)

    @property
    def n_test(self) -> int:
        return len(self.test_grey)

    def train_binary(self, seed: int | None = None) -> DynamicBinarization:
        """The training images as a :class:`DynamicBinarization` (first draw from ``seed``)."""
        return DynamicBinarization(
            self.train_grey, self.train_labels, self.binarize_seed + 1 if seed is None else seed
        )

    def for_likelihood(self, likelihood: str = "bernoulli"):
        """(train_data, test_data) for ``course_vae.train.train`` and a decoder ``likelihood``.

        "bernoulli": (dynamically binarised training set, test set binarised once);
        "gaussian": (grey training images, grey test images).
        """
        check_choice(likelihood, "likelihood", ("bernoulli", "gaussian"))
        if likelihood == "bernoulli":
            return self.train_binary(), self.test_binary
        return self.train_grey, self.test_grey

    def __repr__(self) -> str:
        return (
            f"ImageDataset(name={self.name!r}, image_shape={self.image_shape}, "
            f"levels={self.levels}, n_train={self.n_train}, n_test={self.n_test})"
        )


def _stratified_split(labels: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train/test indices with class proportions kept (largest-remainder rounding), seeded."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n_test / len(labels)
    per_class = np.floor(exact).astype(int)
    short = n_test - per_class.sum()
    per_class[np.argsort(-(exact - per_class), kind="stable")[:short]] += 1
    test_idx = []
    for c, k in zip(classes, per_class, strict=True):
        idx = np.flatnonzero(labels == c)
        test_idx.append(rng.permutation(idx)[:k])
    test = np.sort(np.concatenate(test_idx))
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


def make_image_dataset(
    name: str,
    shape: tuple[int, int],
    levels: int,
    x_tr: Any,
    y_tr: Any,
    x_te: Any,
    y_te: Any,
    binarize_seed: int,
) -> ImageDataset:
    """An :class:`ImageDataset` from integer images (n, H, W) with ``levels`` grey levels.

    Grey = pixel / (levels - 1) as float32 rows; the test set is binarised once.
    """

    def grey(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(x, dtype=np.float32).reshape(len(x), -1) / (levels - 1))

    test_grey = grey(x_te)
    return ImageDataset(
        name=name,
        image_shape=shape,
        levels=levels,
        train_grey=grey(x_tr),
        train_labels=torch.as_tensor(np.asarray(y_tr), dtype=torch.int64),
        test_grey=test_grey,
        test_labels=torch.as_tensor(np.asarray(y_te), dtype=torch.int64),
        test_binary=binarize(test_grey, binarize_seed),
        binarize_seed=binarize_seed,
    )


def load_digits(
    n_test: int = DIGITS_N_TEST, split_seed: int = 0, binarize_seed: int = 0
) -> ImageDataset:
    """scikit-learn's bundled 8x8 digits (1,797 images, 17 grey levels 0..16; no download).

    Split by class (stratified) into ``1797 - n_test`` training and ``n_test`` test images
    with ``split_seed``; the test set is binarised once with ``binarize_seed``.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    n_test = check_positive_int(n_test, "n_test")
    split_seed = check_nonnegative_int(split_seed, "split_seed")
    binarize_seed = check_seed(binarize_seed, "binarize_seed")
    bunch = _sk_load_digits()
    x, y = bunch.images, bunch.target
    if n_test >= len(x):
        raise ValueError(f"n_test must be smaller than the {len(x)} images, got {n_test}")
    train, test = _stratified_split(y, n_test, split_seed)
    return make_image_dataset(
        "digits", (8, 8), 17, x[train], y[train], x[test], y[test], binarize_seed
    )


def load_mnist(
    cache_dir: str | os.PathLike | None = None,
    binarize_seed: int = 0,
    mirrors: tuple[str, ...] = MNIST_MIRRORS,
    timeout: float = 30.0,
) -> ImageDataset:
    """MNIST (60,000 training and 10,000 test images, 28x28, 256 grey levels).

    Files are downloaded once into ``cache_dir`` (default :func:`default_cache_dir`),
    SHA-256-checked against :data:`MNIST_FILES` and parsed with :func:`read_idx` (see
    :mod:`course_vae.mnist`).  The test set is binarised once with ``binarize_seed``.
    """
    arrays = load_mnist_arrays(cache_dir, mirrors, timeout)
    return make_image_dataset(
        "mnist",
        tuple(arrays["train_images"].shape[1:]),
        256,
        arrays["train_images"],
        arrays["train_labels"],
        arrays["test_images"],
        arrays["test_labels"],
        binarize_seed,
    )


def load_dataset(name: str = "digits", **kwargs: Any) -> ImageDataset:
    """The dataset called ``name``: "digits" (default, bundled) or "mnist" (downloaded).

    Keyword arguments go to :func:`load_digits` or :func:`load_mnist`.
    """
    loaders = {"digits": load_digits, "mnist": load_mnist}
    check_choice(name, "name", loaders)
    return loaders[name](**kwargs)
