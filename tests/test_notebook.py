"""Tests of course_vae.notebook: show_source prints the package's own code; format_stable
prints numbers that read the same on every CPU."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae.elbo import elbo
from course_vae.notebook import DEVICE_VARIABLE, format_stable, setup_notebook, show_source
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


# ------------------------------------------------------------------------- format_stable


@pytest.mark.parametrize("value", [-2.463089680722772e-11, 2.922560074857511e-11, -0.0, 0.0,
                                   -4e-5, torch.tensor(-1e-17), np.float64(-3e-12)])
def test_format_stable_prints_no_signed_zero(value):
    """Issue 19: the forward fit's m = -2.5e-11 (AVX-512) / +2.9e-11 (generic kernels)
    printed as -0.0000 on one CPU and 0.0000 on another."""
    assert format_stable(value) == "0.0000"
    assert format_stable(value, 2) == "0.00"
    assert format_stable([value, value]) == "[0.0000, 0.0000]"


def test_format_stable_prints_like_format_away_from_boundaries():
    assert format_stable(2.0880613019762175) == "2.0881"
    assert format_stable(-1.25, 3) == "-1.250"
    assert format_stable(torch.tensor([0.19, 1.0], dtype=torch.float64)) == "[0.1900, 1.0000]"
    assert format_stable(np.array([[0.5]])) == "0.5000"
    assert format_stable(-2.9802322387695312e-08, 1, style="e") == "-3.0e-08"
    assert format_stable(-0.0, 1, style="e") == "0.0e+00"


@pytest.mark.parametrize("value, digits", [(0.12345, 4), (0.25, 1), (-1.25, 1), (2.5, 0),
                                           (0.0049999999999999, 2)])
def test_format_stable_refuses_a_value_at_a_rounding_boundary(value, digits):
    with pytest.raises(ValueError, match="rounding boundary"):
        format_stable(value, digits)
    format_stable(value, digits + 2)  # with more digits it is no longer at a boundary


def test_format_stable_refuses_a_mantissa_at_a_rounding_boundary():
    with pytest.raises(ValueError, match="rounding boundary"):
        format_stable(1.25e-7, 1, style="e")
    assert format_stable(1.25e-7, 2, style="e") == "1.25e-07"


@settings(max_examples=300, deadline=None)
@given(st.floats(-100, 100, allow_nan=False), st.floats(-0.49, 0.49),
       st.integers(0, 6), st.sampled_from([1e-9, 1e-6]))
def test_format_stable_reads_the_same_under_a_perturbation_below_spread(x, frac, digits,
                                                                        spread):
    """What a second CPU computes, x + d with |d| < spread / 2, prints the same text
    whenever both print at all; and no text is a negative zero."""
    d = frac * spread
    try:
        a, b = format_stable(x, digits, spread=spread), format_stable(x + d, digits, spread=spread)
    except ValueError:
        return
    assert a == b
    assert float(a) != 0.0 or not a.startswith("-")


def test_format_stable_validates_its_arguments():
    with pytest.raises(ValueError, match="digits"):
        format_stable(1.0, -1)
    with pytest.raises(ValueError, match="spread"):
        format_stable(1.0, spread=-1e-9)
    with pytest.raises(ValueError, match="style"):
        format_stable(1.0, style="g")
    with pytest.raises(TypeError, match="value"):
        format_stable("1.0")
    with pytest.raises(ValueError, match="value"):
        format_stable(math.nan)
