"""Tests of course_vae.notebook: show_source prints the package's own code."""

from __future__ import annotations

import inspect

from course_vae.elbo import elbo_terms
from course_vae.notebook import show_source
from course_vae.schedules import FreeBits
from course_vae.train import train


def test_show_source_prints_the_function(capsys):
    show_source(elbo_terms)
    assert capsys.readouterr().out == inspect.getsource(elbo_terms) + "\n"


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
