"""One call at the top of every notebook: seeds, deterministic torch, print options, style."""

from __future__ import annotations

import ast
import inspect
import os
import random
import textwrap
from collections.abc import Callable

import numpy as np
import torch

from course_vae._validate import check_device
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
