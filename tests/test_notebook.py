"""Tests of course_vae.notebook: show_source prints the package's own code."""

from __future__ import annotations

import inspect

import pytest
import torch

from course_vae.elbo import elbo
from course_vae.notebook import DEVICE_VARIABLE, setup_notebook, show_source
from course_vae.schedules import FreeBits
from course_vae.train import train


def test_show_source_prints_the_function(capsys):
    show_source(elbo)
    assert capsys.readouterr().out == inspect.getsource(elbo) + "\n"


def test_show_source_without_docstring_keeps_every_line_of_code(capsys):
    for fn in (train, FreeBits.__call__):
        show_source(fn, docstring=False)
        out = capsys.readouterr().out
        assert fn.__doc__ is None or fn.__doc__.strip().splitlines()[0] not in out
        code = [ln for ln in inspect.getsource(fn).splitlines() if ln.strip()]
        assert all(ln in out for ln in code[-5:]) and out.startswith(code[0])
    show_source(train, docstring=False)
    out = capsys.readouterr().out
    assert "loss.backward()" in out and "optimizer.step()" in out and '"""' not in out


def test_setup_notebook_uses_the_cpu_unless_asked(monkeypatch):
    monkeypatch.delenv(DEVICE_VARIABLE, raising=False)
    assert setup_notebook(seed=0) == torch.device("cpu")
    monkeypatch.setenv(DEVICE_VARIABLE, "cpu")
    assert setup_notebook(seed=0) == torch.device("cpu")


def test_setup_notebook_opt_in_to_a_gpu_fails_clearly_without_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="COURSE_VAE_DEVICE"):
        setup_notebook(device="cuda")
    monkeypatch.setenv(DEVICE_VARIABLE, "cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        setup_notebook()
    # the argument wins over the variable
    assert setup_notebook(device="cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device"):
        setup_notebook(device="abacus")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_setup_notebook_opt_in_to_a_gpu(monkeypatch):
    monkeypatch.setenv(DEVICE_VARIABLE, "cuda")
    assert setup_notebook().type == "cuda"
