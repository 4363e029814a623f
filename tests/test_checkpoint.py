"""Tests of course_vae.checkpoint: round trip, atomic writes, safe and clear loading."""

from __future__ import annotations

import os
import pickle
import random

import pytest
import torch

from course_vae.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from course_vae.models import VAE, VAEConfig


@pytest.fixture
def model() -> VAE:
    return VAE(
        VAEConfig(input_dim=12, hidden=(8, 6), latent_dim=3, likelihood="gaussian", obs_std=0.2),
        seed=0,
    )


def test_round_trip_rebuilds_the_same_model(tmp_path, model):
    history = {"test_elbo": [-30.5, -28.25], "epoch": [1, 2]}
    path = save_checkpoint(tmp_path / "vae.pt", model, metadata={"history": history, "note": "x"})
    loaded, meta = load_checkpoint(path, return_metadata=True)
    assert loaded.config == model.config
    for (k1, v1), (k2, v2) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k1 == k2 and torch.equal(v1, v2)
    x = torch.rand(4, 12)
    assert torch.equal(loaded.encode(x)[0], model.encode(x)[0])
    assert meta == {"history": history, "note": "x"}
    assert not loaded.training
    assert isinstance(load_checkpoint(path), VAE)


def test_writes_atomically_and_overwrites(tmp_path, model):
    path = tmp_path / "sub" / "vae.pt"
    save_checkpoint(path, model)
    other = VAE(model.config, seed=1)
    save_checkpoint(path, other)
    assert sorted(os.listdir(path.parent)) == ["vae.pt"]  # no temporary file left behind
    loaded = load_checkpoint(path)
    assert torch.equal(
        loaded.state_dict()["encoder.0.weight"], other.state_dict()["encoder.0.weight"]
    )


def test_rejects_files_that_are_not_checkpoints(tmp_path, model):
    junk = tmp_path / "junk.pt"
    for seed in range(20):
        junk.write_bytes(random.Random(seed).randbytes(256))
        with pytest.raises(ValueError, match="not a course_vae checkpoint"):
            load_checkpoint(junk)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(ValueError, match="not a course_vae checkpoint"):
        load_checkpoint(tensor)
    plain = tmp_path / "dict.pt"
    torch.save({"state_dict": model.state_dict()}, plain)
    with pytest.raises(ValueError, match="format marker"):
        load_checkpoint(plain)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_never_unpickles_arbitrary_objects(tmp_path):
    marker = tmp_path / "pwned"
    for name, writer in (("pickle.pt", pickle.dump), ("torch.pt", torch.save)):
        path = tmp_path / name
        with open(path, "wb") as f:
            writer(_Evil(str(marker)), f)
        with pytest.raises(ValueError, match="not a course_vae checkpoint"):
            load_checkpoint(path)
        assert not marker.exists()


def test_rejects_future_versions_bad_configs_and_wrong_weights(tmp_path, model):
    base = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "config": model.config.to_dict(),
        "state_dict": model.state_dict(),
        "metadata": {},
    }
    cases = {
        "version": ({**base, "version": 99}, "version"),
        "config": ({**base, "config": {**base["config"], "latent_dim": 0}}, "invalid model config"),
        "weights": ({**base, "config": {**base["config"], "latent_dim": 4}}, "do not fit"),
        "missing": ({k: v for k, v in base.items() if k != "state_dict"}, "state_dict"),
    }
    for name, (payload, message) in cases.items():
        path = tmp_path / f"{name}.pt"
        torch.save(payload, path)
        with pytest.raises(ValueError, match=message):
            load_checkpoint(path)


def test_metadata_must_be_plain(tmp_path, model):
    with pytest.raises(TypeError, match="metadata"):
        save_checkpoint(tmp_path / "a.pt", model, metadata={"fn": print})
    with pytest.raises(TypeError, match="metadata"):
        save_checkpoint(tmp_path / "a.pt", model, metadata=[1, 2])
    with pytest.raises(TypeError, match="model"):
        save_checkpoint(tmp_path / "a.pt", torch.nn.Linear(2, 2))
    assert not (tmp_path / "a.pt").exists()
