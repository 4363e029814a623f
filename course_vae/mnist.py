"""MNIST files: the IDX format, checked downloads and the cache (used by ``data.load_mnist``).

MNIST comes from the standard mirrors, is checked against published SHA-256 sums and
cached atomically (temporary file + ``os.replace``); offline, a ``RuntimeError`` names
the URL and suggests the bundled digits.  :func:`read_idx` parses the IDX format and
:func:`write_idx` writes it.  :func:`load_mnist_arrays` returns the four arrays;
:func:`course_vae.data.load_mnist` turns them into an ``ImageDataset``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

__all__ = [
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "default_cache_dir",
    "download_file",
    "load_mnist_arrays",
    "read_idx",
    "sha256_file",
    "write_idx",
]

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


def load_mnist_arrays(
    cache_dir: str | os.PathLike | None = None,
    mirrors: tuple[str, ...] = MNIST_MIRRORS,
    timeout: float = 30.0,
) -> dict[str, np.ndarray]:
    """The four MNIST arrays (keys of :data:`MNIST_FILES`), downloaded once into ``cache_dir``.

    ``cache_dir`` defaults to :func:`default_cache_dir`; each file is SHA-256-checked and
    parsed with :func:`read_idx`; images must be (n, H, W) with one label per image.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    arrays = {key: read_idx(_fetch_mnist_file(key, cache, mirrors, timeout)) for key in MNIST_FILES}
    for split in ("train", "test"):
        imgs, labs = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if imgs.ndim != 3 or labs.ndim != 1 or len(imgs) != len(labs):
            raise ValueError(
                f"MNIST {split} files have unexpected shapes {imgs.shape} and {labs.shape}"
            )
    return arrays
