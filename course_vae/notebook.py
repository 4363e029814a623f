"""One call at the top of every notebook: seeds, deterministic torch, print options, style."""

from __future__ import annotations

import ast
import inspect
import math
import os
import random
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from course_vae._validate import (
    as_float_tensor,
    check_choice,
    check_device,
    check_finite,
    check_nonnegative_int,
    check_real,
)
from course_vae.plots import use_course_style


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


DEVICE_VARIABLE = "COURSE_VAE_DEVICE"


def setup_notebook(
    seed: int = 0, threads: int | None = 1, device: str | None = None
) -> torch.device:
    """Make a notebook reproducible and return the device to compute on: the CPU by default.

    Seeds every generator, turns on ``torch.use_deterministic_algorithms``, rounds
    printed tensors and arrays to 4 decimals and applies the course's plot style.
    ``threads=1`` (the default) runs torch's CPU work on one thread: the course's
    tensors are small, so one thread is as fast as several, it never competes with
    other processes (nbval runs notebooks in parallel), and float reductions happen
    in the same order on every machine.  ``threads=None`` keeps torch's default.

    The course's models are small and run on the CPU.  To opt in to a GPU, pass
    ``device="cuda"`` or set the environment variable ``COURSE_VAE_DEVICE=cuda`` before
    starting JupyterLab; the argument wins over the variable.  A GPU gives other (equally
    valid) training numbers; the chapters' check cells accept them.
    """
    chosen = device if device is not None else os.environ.get(DEVICE_VARIABLE, "cpu")
    chosen = check_device(chosen)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {str(chosen)!r} was asked for (argument or {DEVICE_VARIABLE}), "
            "but torch sees no CUDA GPU; leave it unset to run on the CPU"
        )
    if threads is not None:
        torch.set_num_threads(threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed for deterministic CUDA
    seed_everything(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_printoptions(precision=4, sci_mode=False)
    np.set_printoptions(precision=4, suppress=True)
    use_course_style()
    return chosen


def show_source(fn: Callable, docstring: bool = True) -> None:
    """Print the source of a package function, so a chapter shows the tested code itself.

    ``docstring=False`` leaves the docstring out, so a longer function's code fits a screen.
    """
    source = inspect.getsource(fn)
    print(source if docstring else _without_docstring(source))


def _without_docstring(source: str) -> str:
    """``source`` (one function or class, possibly indented) minus its docstring's lines."""
    node = ast.parse(textwrap.dedent(source)).body[0]
    body = getattr(node, "body", [])
    if not (body and ast.get_docstring(node) is not None):
        return source
    doc = body[0]
    lines = source.splitlines(keepends=True)
    return "".join(lines[: doc.lineno - 1] + lines[doc.end_lineno :])


def format_stable(value: Any, digits: int = 4, *, spread: float = 1e-9, style: str = "f") -> str:
    """``value`` as text that every CPU prints the same, for outputs that nbval compares.

    The same computation gives different low-order bits on different CPU kernel sets
    (AVX-512, AVX2, generic, ARM). Printed with ``digits`` decimals, such a value reads the
    same everywhere unless it sits near a rounding boundary or is zero up to rounding. So,
    with ``style="f"`` (fixed point) and ``spread`` how far the value may move between
    machines (absolute; the default 1e-9 suits closed forms and converged fits in float64):

    * a value within ``spread`` of zero prints as an unsigned zero (``0.0000``, never
      ``-0.0000``), and so does any value that rounds to zero;
    * a value within ``spread`` of a rounding boundary (e.g. 0.12345 at 4 decimals) raises
      ValueError: print it with one digit more or one less, so that the text is stable.

    With ``style="e"`` (``digits`` decimals of the mantissa) ``spread`` is relative to the
    value, and only an exact zero prints as zero (unsigned). A tensor, array or list of
    several numbers prints as ``[a, b, ...]``, each element formatted alike.
    """
    digits = check_nonnegative_int(digits, "digits")
    spread = check_real(spread, "spread", low=0.0)
    style = check_choice(style, "style", ("f", "e"))
    t = as_float_tensor(value, "value").detach().to("cpu", torch.float64)
    check_finite(t, "value")
    if t.dim() > 0 and t.numel() != 1:
        items = (_format_one(float(v), digits, spread, style) for v in t.flatten())
        return "[" + ", ".join(items) + "]"
    return _format_one(float(t.reshape(())), digits, spread, style)


def _format_one(x: float, digits: int, spread: float, style: str) -> str:
    if style == "f" and abs(x) <= spread:
        x = 0.0
    if x != 0.0:
        exponent = math.floor(math.log10(abs(x))) if style == "e" else 0
        scale = 10.0 ** (digits - exponent)
        scaled = abs(x) * scale
        distance = abs(scaled - math.floor(scaled) - 0.5) / scale
        if distance < (spread * abs(x) if style == "e" else spread):
            raise ValueError(
                f"value {x!r} lies within {spread!r} of a rounding boundary at {digits} "
                f"digits, so CPUs may print it differently; print {digits + 1} or "
                f"{max(digits - 1, 0)} digits instead"
            )
    text = format(x, f".{digits}{style}")
    if float(text) == 0.0:
        text = text.lstrip("-")
    return text
