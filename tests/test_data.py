"""Tests of course_vae.data and course_vae.mnist: digits split, binarisation, loaders, IDX
files, MNIST download."""

from __future__ import annotations

import gzip
import hashlib
import struct
import urllib.error
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import load_digits as sk_load_digits

from course_vae import data as D
from course_vae import mnist as M


@pytest.fixture(scope="module")
def digits() -> D.ImageDataset:
    return D.load_digits()


def test_digits_split_sizes_shapes_and_labels(digits):
    assert (digits.n_train, digits.n_test) == (1397, 400)
    assert digits.train_grey.shape == (1397, 64) and digits.test_grey.shape == (400, 64)
    assert digits.input_dim == 64 and digits.image_shape == (8, 8) and digits.levels == 17
    assert digits.train_grey.dtype == torch.float32
    assert digits.train_labels.dtype == torch.int64 and len(digits.train_labels) == 1397


def test_digits_grey_levels_are_pixel_over_16(digits):
    levels = digits.train_grey * 16
    assert torch.equal(levels, levels.round())
    assert digits.train_grey.min() == 0 and digits.train_grey.max() == 1


def test_digits_split_is_a_partition_of_sklearn_images(digits):
    bunch = sk_load_digits()
    all_rows = Counter(bytes(r) for r in (bunch.data / 16).astype(np.float32))
    ours = Counter(bytes(r) for r in digits.train_grey.numpy()) + Counter(
        bytes(r) for r in digits.test_grey.numpy()
    )
    assert ours == all_rows
    # labels travel with their images: each (image, label) pair exists in sklearn's data
    pairs = Counter(
        (bytes(r), int(y))
        for r, y in zip((bunch.data / 16).astype(np.float32), bunch.target, strict=True)
    )
    ours_pairs = Counter(
        (bytes(r), int(y))
        for r, y in zip(digits.test_grey.numpy(), digits.test_labels.tolist(), strict=True)
    )
    assert all(pairs[k] >= v for k, v in ours_pairs.items())


def test_digits_split_is_stratified(digits):
    total = torch.bincount(torch.cat([digits.train_labels, digits.test_labels]))
    expected = total.double() * 400 / 1797
    got = torch.bincount(digits.test_labels, minlength=10).double()
    assert (got - expected).abs().max() < 1.0


def test_digits_are_deterministic_and_seeds_matter(digits):
    again = D.load_digits()
    assert torch.equal(again.train_grey, digits.train_grey)
    assert torch.equal(again.test_binary, digits.test_binary)
    other_split = D.load_digits(split_seed=1)
    assert not torch.equal(other_split.test_grey, digits.test_grey)
    other_bin = D.load_digits(binarize_seed=1)
    assert torch.equal(other_bin.test_grey, digits.test_grey)
    assert not torch.equal(other_bin.test_binary, digits.test_binary)


def test_test_set_is_binarised_once_from_the_grey_levels(digits):
    b = digits.test_binary
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    # pixels with grey level 0 stay 0, level 1 become 1
    assert (b[digits.test_grey == 0] == 0).all() and (b[digits.test_grey == 1] == 1).all()
    assert abs(b.mean().item() - digits.test_grey.mean().item()) < 0.01


def test_dynamic_binarisation_resamples_with_the_right_mean(digits):
    dyn = digits.train_binary()
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = dyn.resample(g1).clone()
    assert torch.equal(a, D.DynamicBinarization(digits.train_grey).resample(g2))
    b = dyn.resample(g1)
    assert not torch.equal(a, b)
    draws = torch.stack([dyn.resample(g1) for _ in range(200)])
    # mean of 200 Bernoulli draws: standard error <= 0.5 / sqrt(200) = 0.035
    assert (draws.mean(0) - digits.train_grey).abs().max() < 6 * 0.5 / 200**0.5
    x, y = dyn[3]
    assert torch.equal(x, dyn.current[3]) and y == digits.train_labels[3]
    assert len(dyn) == 1397


def test_binarize_validates_its_input():
    with pytest.raises(ValueError, match="grey"):
        D.binarize(torch.tensor([0.5, 1.5]))
    with pytest.raises(TypeError, match="grey"):
        D.binarize(torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="seed"):
        D.binarize(torch.tensor([0.5]), seed="a")


def test_for_likelihood(digits):
    tr, te = digits.for_likelihood("bernoulli")
    assert isinstance(tr, D.DynamicBinarization) and te is digits.test_binary
    tr, te = digits.for_likelihood("gaussian")
    assert tr is digits.train_grey and te is digits.test_grey
    with pytest.raises(ValueError, match="likelihood"):
        digits.for_likelihood("poisson")


def test_load_dataset_by_name():
    assert D.load_dataset().name == "digits"
    assert D.load_dataset("digits", n_test=300).n_test == 300
    with pytest.raises(ValueError, match="name"):
        D.load_dataset("cifar")
    with pytest.raises(ValueError, match="n_test"):
        D.load_digits(n_test=1797)


# ----------------------------------------------------------------------------- IDX


def _idx_bytes(code: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + payload


def test_read_idx_parses_handwritten_uint8_images(tmp_path):
    pixels = bytes(range(24))
    raw = _idx_bytes(0x08, (2, 3, 4), pixels)
    arr = M.read_idx(raw)
    assert arr.shape == (2, 3, 4) and arr.dtype == np.uint8
    assert arr[1, 2, 3] == 23 and arr[0, 1, 0] == 4
    path = tmp_path / "x.idx.gz"
    path.write_bytes(gzip.compress(raw))
    assert np.array_equal(M.read_idx(path), arr)


def test_read_idx_big_endian_int32_and_float():
    raw = _idx_bytes(0x0C, (3,), struct.pack(">3i", 1, -2, 70000))
    assert M.read_idx(raw).tolist() == [1, -2, 70000]
    raw = _idx_bytes(0x0D, (2,), struct.pack(">2f", 0.5, -1.25))
    assert M.read_idx(raw).tolist() == [0.5, -1.25]


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
    ),
    st.booleans(),
)
def test_write_then_read_idx_round_trips(tmp_path_factory, array, compress):
    path = tmp_path_factory.mktemp("idx") / "a.idx"
    M.write_idx(path, array, compress=compress)
    back = M.read_idx(path)
    assert back.shape == array.shape and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def test_read_idx_rejects_corrupted_files(tmp_path):
    good = _idx_bytes(0x08, (2, 2), bytes(4))
    with pytest.raises(ValueError, match="magic"):
        M.read_idx(b"\x01" + good[1:])
    with pytest.raises(ValueError, match="type code"):
        M.read_idx(good[:2] + b"\x07" + good[3:])
    with pytest.raises(ValueError, match="truncated"):
        M.read_idx(good[:-1])
    with pytest.raises(ValueError, match="truncated"):
        M.read_idx(good + b"\x00")
    with pytest.raises(ValueError, match="header"):
        M.read_idx(good[:6])
    bad_gz = gzip.compress(good)[:-6]
    path = tmp_path / "bad.gz"
    path.write_bytes(bad_gz)
    with pytest.raises(ValueError, match="gzip"):
        M.read_idx(path)


# ----------------------------------------------------------------------------- downloads


@pytest.fixture
def no_network(monkeypatch):
    """Fail loudly if anything but a file:// URL is opened."""
    real = M.urllib.request.urlopen

    def guarded(url, *args, **kwargs):
        if not str(url).startswith("file://"):
            raise AssertionError(f"test tried to open {url}")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(M.urllib.request, "urlopen", guarded)


def test_mnist_hash_constants_are_sha256_hex():
    assert len(M.MNIST_FILES) == 4
    for fname, digest in M.MNIST_FILES.values():
        assert fname.endswith("-ubyte.gz")
        assert len(digest) == 64 and int(digest, 16) >= 0


def test_download_file_checks_the_hash_and_writes_atomically(tmp_path, no_network):
    src = tmp_path / "src.bin"
    src.write_bytes(b"course_vae" * 1000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / "cache" / "file.bin"
    out = M.download_file(src.as_uri(), dest, digest)
    assert out == dest and dest.read_bytes() == src.read_bytes()
    assert M.sha256_file(dest) == digest
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.bin"]  # no temp files left

    wrong = "0" * 64
    dest2 = tmp_path / "cache" / "other.bin"
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        M.download_file(src.as_uri(), dest2, wrong)
    assert not dest2.exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.bin"]
    with pytest.raises(ValueError, match="sha256"):
        M.download_file(src.as_uri(), dest2, "abc")


def test_download_file_reuses_a_good_cached_file(tmp_path, monkeypatch):
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"cached")

    def boom(*args, **kwargs):
        raise AssertionError("should not download")

    monkeypatch.setattr(M.urllib.request, "urlopen", boom)
    digest = hashlib.sha256(b"cached").hexdigest()
    assert M.download_file("https://example.invalid/f.bin", dest, digest) == dest


def test_download_file_offline_names_the_url_and_suggests_digits(tmp_path, monkeypatch):
    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(M.urllib.request, "urlopen", offline)
    url = "https://example.invalid/mnist/train-images-idx3-ubyte.gz"
    with pytest.raises(RuntimeError) as err:
        M.download_file(url, tmp_path / "x.gz", "1" * 64)
    assert url in str(err.value) and "digits" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def _fake_mnist_mirror(tmp_path, monkeypatch, n_train=5, n_test=3):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for key, (fname, _) in list(M.MNIST_FILES.items()):
        M.write_idx(mirror / fname, arrays[key])
        digest = M.sha256_file(mirror / fname)
        monkeypatch.setitem(M.MNIST_FILES, key, (fname, digest))
    return mirror, arrays


def test_load_mnist_from_a_local_mirror(tmp_path, monkeypatch, no_network):
    mirror, arrays = _fake_mnist_mirror(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    ds = D.load_dataset("mnist", cache_dir=cache, mirrors=(mirror.as_uri() + "/",))
    assert ds.name == "mnist" and ds.image_shape == (28, 28) and ds.levels == 256
    assert (ds.n_train, ds.n_test) == (5, 3)
    expected = torch.from_numpy(arrays["train_images"].reshape(5, -1).astype(np.float32) / 255)
    assert torch.equal(ds.train_grey, expected)
    assert ds.test_labels.tolist() == arrays["test_labels"].tolist()
    assert set(ds.test_binary.unique().tolist()) <= {0.0, 1.0}
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(
        f for f, _ in M.MNIST_FILES.values()
    )


def test_load_mnist_tries_the_next_mirror_and_reports_hash_mismatch(
    tmp_path, monkeypatch, no_network
):
    mirror, _ = _fake_mnist_mirror(tmp_path, monkeypatch)
    bad = tmp_path / "bad_mirror"
    bad.mkdir()
    for fname, _ in M.MNIST_FILES.values():
        (bad / fname).write_bytes(b"not the file")
    ds = D.load_mnist(tmp_path / "c1", mirrors=(bad.as_uri(), mirror.as_uri()))
    assert ds.n_train == 5
    with pytest.raises(RuntimeError) as err:
        D.load_mnist(tmp_path / "c2", mirrors=(bad.as_uri(),))
    assert "SHA-256 mismatch" in str(err.value) and "digits" in str(err.value)
    assert not any((tmp_path / "c2" / "mnist").glob("*-ubyte.gz"))


def test_load_mnist_arrays_and_make_image_dataset(tmp_path, monkeypatch, no_network):
    mirror, arrays = _fake_mnist_mirror(tmp_path, monkeypatch)
    got = M.load_mnist_arrays(tmp_path / "cache", mirrors=(mirror.as_uri(),))
    assert set(got) == set(arrays) and all(np.array_equal(got[k], arrays[k]) for k in arrays)
    ds = D.make_image_dataset("mnist", (28, 28), 256, *got.values(), binarize_seed=0)
    assert ds.n_train == 5 and torch.equal(ds.test_binary, D.binarize(ds.test_grey, 0))
    assert D.read_idx is M.read_idx  # the file functions are also reachable from data
