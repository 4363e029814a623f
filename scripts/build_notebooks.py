"""Re-execute the course notebooks from their jupytext sources and write the .ipynb files.

    python scripts/build_notebooks.py            # every python_scripts/NN_*.py
    python scripts/build_notebooks.py 02 03_elbo # only the named ones (prefix match)

The percent-format ``python_scripts/NN_name.py`` is the source of truth; the executed
``notebooks/NN_name.ipynb`` (outputs included, which nbval compares) is written
atomically, so an interrupted build never leaves a half-written notebook.  The pairing
of the two folders is declared once, in ``jupytext.toml``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = ROOT / "python_scripts"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def sources(names: list[str]) -> list[Path]:
    """The notebook sources matching ``names`` (prefixes like ``02``), or all of them."""
    all_sources = sorted(p for p in SOURCES.glob("[0-9][0-9]_*.py"))
    if not names:
        return all_sources
    chosen = [p for p in all_sources if any(p.stem.startswith(n) for n in names)]
    missing = [n for n in names if not any(p.stem.startswith(n) for p in all_sources)]
    if missing:
        raise SystemExit(
            f"no notebook source matches {missing}; have {[p.stem for p in all_sources]}"
        )
    return chosen


def notebook_of(source: Path) -> Path:
    """``python_scripts/NN_name.py`` -> ``notebooks/NN_name.ipynb``."""
    return NOTEBOOKS / f"{source.stem}.ipynb"


def build(source: Path, timeout: int = 900) -> float:
    """Execute ``source`` in a fresh kernel and write its notebook (see :func:`notebook_of`)."""
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata.pop("jupytext", None)
    start = time.perf_counter()
    env_backup = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        ).execute()
    finally:
        if env_backup is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = env_backup
    elapsed = time.perf_counter() - start
    target = notebook_of(source)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            nbformat.write(nb, fh)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    for src in sources(args.names):
        print(f"executing {src.relative_to(ROOT)} ...", flush=True)
        print(
            f"  wrote notebooks/{notebook_of(src).name} in {build(src, args.timeout):.1f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
