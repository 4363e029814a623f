"""Datasets for the course: sklearn's 8x8 digits (default, bundled) and MNIST (downloaded).

Every image is flattened to a row of grey levels scaled to [0, 1] (``pixel / max_level``).
A Bernoulli decoder needs binary targets, because binary cross-entropy against grey
levels is not a normalised likelihood (its "ELBO" is no bound on log p(x)).  So:

* training uses *dynamic binarisation*: x ~ Bernoulli(grey), redrawn every epoch from a
  seeded generator (:class:`DynamicBinarization`);
* the test set is binarised *once* with a fixed seed (``ImageDataset.test_binary``);
* a Gaussian decoder uses the grey levels themselves (``train_grey`` / ``test_grey``).

MNIST comes from the standard mirrors, is checked against published SHA-256 sums and
cached atomically (temporary file + ``os.replace``); offline, a ``RuntimeError`` names
the URL and suggests the bundled digits.  :func:`read_idx` parses the IDX format.
"""

from __future__ import annotations

import gzip
import hashlib
import numbers
import os
import struct
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from course_vae._validate import check_positive_int

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
    "make_loader",
    "read_idx",
    "sha256_file",
    "write_idx",
]

DIGITS_N_TEST = 400
"""Size of the digits test split (the other 1,397 of the 1,797 images are for training)."""

MNIST_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
"""Mirrors tried in order (TensorFlow's and torchvision's copies of LeCun's files)."""

MNIST_FILES = {
    "train_images": (
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train_labels": (
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "test_images": (
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "test_labels": (
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}
"""File name and published SHA-256 of each MNIST file (as listed by TFDS and others)."""

# IDX type codes -> big-endian numpy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder(">"): code for code, dt in _IDX_DTYPES.items()}


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
        if likelihood == "bernoulli":
            return self.train_binary(), self.test_binary
        if likelihood == "gaussian":
            return self.train_grey, self.test_grey
        raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")

    def loader(
        self,
        split: str = "train",
        batch_size: int = 128,
        binary: bool = True,
        shuffle: bool | None = None,
        seed: int = 0,
    ) -> DataLoader:
        """A DataLoader of (image, label) batches for ``split`` ("train" or "test").

        ``binary=True`` gives the binarised images (a fixed draw for "test"; for "train"
        one draw from ``seed``: call ``loader.dataset.resample`` to redraw), ``False`` the
        grey levels.  Shuffles the training split by default, from a generator seeded with
        ``seed``.
        """
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        shuffle = split == "train" if shuffle is None else bool(shuffle)
        if split == "train":
            ds: Dataset = (
                self.train_binary(seed)
                if binary
                else TensorDataset(self.train_grey, self.train_labels)
            )
        else:
            x = self.test_binary if binary else self.test_grey
            ds = TensorDataset(x, self.test_labels)
        return make_loader(ds, batch_size=batch_size, shuffle=shuffle, seed=seed)

    def __repr__(self) -> str:
        return (
            f"ImageDataset(name={self.name!r}, image_shape={self.image_shape}, "
            f"levels={self.levels}, n_train={self.n_train}, n_test={self.n_test})"
        )


def make_loader(
    data: Dataset | torch.Tensor,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = 0,
    labels: torch.Tensor | None = None,
) -> DataLoader:
    """A DataLoader over ``data`` (a Dataset, or a tensor with optional ``labels``).

    The shuffling order comes from a ``torch.Generator`` seeded with ``seed``, so two
    loaders made with the same seed yield the same batches.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if isinstance(data, torch.Tensor):
        bad = labels is not None and (
            not isinstance(labels, torch.Tensor) or len(labels) != len(data)
        )
        if bad:
            raise ValueError(
                f"labels must be a tensor with one entry per row of data ({len(data)}), got "
                f"{len(labels) if isinstance(labels, torch.Tensor) else type(labels).__name__}"
            )
        data = TensorDataset(data) if labels is None else TensorDataset(data, labels)
    elif not isinstance(data, Dataset):
        raise TypeError(f"data must be a torch Dataset or a tensor, got {type(data).__name__}")
    gen = torch.Generator().manual_seed(int(seed))
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=gen)


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


def _make_dataset(name, shape, levels, x_tr, y_tr, x_te, y_te, binarize_seed) -> ImageDataset:
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
    if (
        isinstance(split_seed, bool)
        or not isinstance(split_seed, numbers.Integral)
        or split_seed < 0
    ):
        raise ValueError(f"split_seed must be a non-negative integer, got {split_seed!r}")
    if isinstance(binarize_seed, bool) or not isinstance(binarize_seed, numbers.Integral):
        raise TypeError(f"binarize_seed must be an int, got {type(binarize_seed).__name__}")
    bunch = _sk_load_digits()
    x, y = bunch.images, bunch.target
    if n_test >= len(x):
        raise ValueError(f"n_test must be smaller than the {len(x)} images, got {n_test}")
    train, test = _stratified_split(y, n_test, split_seed)
    return _make_dataset("digits", (8, 8), 17, x[train], y[train], x[test], y[test], binarize_seed)


# --------------------------------------------------------------------------- IDX files


def read_idx(source: str | os.PathLike | bytes) -> np.ndarray:
    """Parse an IDX file (path or bytes; gzip-compressed or not) into a numpy array.

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions n, then n big-endian uint32
    sizes and the data, big-endian, row-major.  Raises ``ValueError`` on a bad magic
    number, an unknown type code or a size that does not match the dimensions.
    """
    if isinstance(source, (bytes, bytearray)):
        raw, where = bytes(source), "the given bytes"
    elif not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path or bytes, got {type(source).__name__}")
    else:
        where = str(source)
        raw = Path(source).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{where}: corrupted gzip data ({exc})") from None
    if len(raw) < 4:
        raise ValueError(f"{where}: too short to be an IDX file ({len(raw)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise ValueError(f"{where}: bad IDX magic number {raw[:4].hex()} (must start 0000)")
    if code not in _IDX_DTYPES:
        raise ValueError(f"{where}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{where}: truncated IDX header ({ndim} dimensions announced)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{where}: IDX data has {len(raw) - header} bytes, the header {dims} of "
            f"{dtype.name} needs {expected} (truncated or corrupted file)"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed if ``compress`` or the name ends .gz)."""
    path = Path(path)
    array = np.asarray(array)
    big = array.dtype.newbyteorder(">")
    if big not in _IDX_CODES:
        raise ValueError(f"array dtype {array.dtype} has no IDX type code")
    if array.ndim > 255:
        raise ValueError("array has too many dimensions for IDX")
    header = struct.pack(">HBB", 0, _IDX_CODES[big], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + np.ascontiguousarray(array, dtype=big).tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        raw = gzip.compress(raw, mtime=0)
    _atomic_write_bytes(path, raw)
    return path


# --------------------------------------------------------------------------- downloads


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_file(url: str, dest: str | os.PathLike, sha256: str, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right SHA-256 is already there.

    The bytes go to a temporary file in ``dest``'s folder, are hashed, and only then moved
    into place with ``os.replace`` (so ``dest`` is never half-written).  Raises
    ``RuntimeError`` (naming the URL) when the download fails, ``ValueError`` when the
    SHA-256 does not match (nothing is written then).
    """
    dest = Path(dest)
    if not (isinstance(sha256, str) and len(sha256) == 64):
        raise ValueError(f"sha256 must be a 64-character hex string, got {sha256!r}")
    if dest.is_file() and sha256_file(dest) == sha256.lower():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        h.update(block)
                        f.write(block)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                raise RuntimeError(
                    f"could not download {url} ({exc}). Are you offline? The course's default "
                    f"dataset needs no download: use load_dataset('digits')."
                ) from exc
        if h.hexdigest() != sha256.lower():
            raise ValueError(
                f"SHA-256 mismatch for {url}: expected {sha256.lower()}, got {h.hexdigest()} "
                f"(corrupted or changed file; nothing was written to {dest})"
            )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def default_cache_dir() -> Path:
    """``$COURSE_VAE_DATA`` if set, else ``~/.cache/course_vae``."""
    env = os.environ.get("COURSE_VAE_DATA")
    return Path(env) if env else Path.home() / ".cache" / "course_vae"


def _fetch_mnist_file(key: str, cache_dir: Path, mirrors, timeout: float) -> Path:
    fname, digest = MNIST_FILES[key]
    dest = cache_dir / "mnist" / fname
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + fname
        try:
            return download_file(url, dest, digest, timeout=timeout)
        except (RuntimeError, ValueError) as exc:
            errors.append(str(exc))
    raise RuntimeError(
        f"could not get MNIST file {fname} from any mirror:\n  "
        + "\n  ".join(errors)
        + "\nUse the bundled default instead: load_dataset('digits')."
    )


def load_mnist(
    cache_dir: str | os.PathLike | None = None,
    binarize_seed: int = 0,
    mirrors: tuple[str, ...] = MNIST_MIRRORS,
    timeout: float = 30.0,
) -> ImageDataset:
    """MNIST (60,000 training and 10,000 test images, 28x28, 256 grey levels).

    Files are downloaded once into ``cache_dir`` (default :func:`default_cache_dir`),
    SHA-256-checked against :data:`MNIST_FILES` and parsed with :func:`read_idx`.
    The test set is binarised once with ``binarize_seed``.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    arrays = {key: read_idx(_fetch_mnist_file(key, cache, mirrors, timeout)) for key in MNIST_FILES}
    for split in ("train", "test"):
        imgs, labs = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if imgs.ndim != 3 or labs.ndim != 1 or len(imgs) != len(labs):
            raise ValueError(
                f"MNIST {split} files have unexpected shapes {imgs.shape} and {labs.shape}"
            )
    return _make_dataset(
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
    if name not in loaders:
        raise ValueError(f"name must be one of {sorted(loaders)}, got {name!r}")
    return loaders[name](**kwargs)
