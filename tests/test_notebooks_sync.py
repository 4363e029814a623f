"""Every notebook source (python_scripts/, jupytext percent) has an executed notebook (notebooks/)
with the same cells, and notebooks/ holds only what a learner opens."""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted((ROOT / "python_scripts").glob("[0-9][0-9]_*.py"))


def _cells(nb) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


def test_there_are_notebooks():
    assert SOURCES, "no python_scripts/NN_*.py sources found"
    assert len({p.stem[:2] for p in SOURCES}) == len(SOURCES), "two notebooks share a number"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_ipynb_matches_source(source: Path):
    target = NOTEBOOKS / f"{source.stem}.ipynb"
    assert target.exists(), (
        f"{target.name} missing: run python scripts/build_notebooks.py {source.stem[:2]}"
    )
    src_cells = _cells(jupytext.read(source))
    nb_cells = _cells(jupytext.read(target))
    assert src_cells == nb_cells, (
        f"{target.name} has drifted from {source.name}: "
        f"run python scripts/build_notebooks.py {source.stem[:2]}"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_ipynb_is_fully_executed_without_errors(source: Path):
    nb = json.loads((NOTEBOOKS / f"{source.stem}.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "a chapter without code cells"
    counts = [c["execution_count"] for c in code]
    assert all(isinstance(n, int) for n in counts), "some code cells were never executed"
    assert counts == list(range(1, len(code) + 1)), "cells were not executed top to bottom once"
    for c in code:
        tags = set(c.get("metadata", {}).get("tags", []))
        if "raises-exception" not in tags:
            assert not any(o["output_type"] == "error" for o in c["outputs"]), c["source"][:80]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_chapter_anatomy(source: Path):
    """Every chapter: learning objectives, an explorer, check cells, exercises, a summary."""
    text = source.read_text(encoding="utf-8")
    nb = jupytext.read(source)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "learning objectives" in markdown
    assert "summary" in markdown
    assert "exercise" in markdown
    assert "setup_notebook(" in code
    assert code.count("assert ") >= 5, "too few check cells"
    assert "check_" in code, "exercises must be checked by a course_vae function"
    assert "Explorer(" in code, "each chapter has an ipywidgets explorer"
    assert "nbval-skip" not in text


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_does_not_depend_on_the_working_directory(source: Path):
    """No relative file paths: a chapter runs from any folder (and from a fresh clone)."""
    code = "\n".join(c.source for c in jupytext.read(source).cells if c.cell_type == "code")
    for pattern in ("../", "./", "os.chdir", "open(", "Path(", "__file__", "/tmp/", "~/"):
        assert pattern not in code, f"{source.name} uses {pattern!r}; use tempfile or the package"


def test_notebooks_folder_holds_only_what_a_learner_opens():
    """No second copy of a chapter: the sources live in python_scripts/, paired by jupytext.toml."""
    names = {p.name for p in NOTEBOOKS.iterdir() if not p.name.startswith(".")}
    names -= {"checkpoints", "__pycache__"}
    chapters = {f"{p.stem}.ipynb" for p in SOURCES}
    assert names == chapters | {"sanitize.cfg"}, sorted(names ^ (chapters | {"sanitize.cfg"}))
    config = (ROOT / "jupytext.toml").read_text(encoding="utf-8")
    assert "notebooks///ipynb" in config and "python_scripts///py:percent" in config


def _solution_cells(nb) -> list:
    """Each markdown cell opening with '**Solution.**' and the code cells after it (up to
    the next markdown cell): the cells that give an exercise's answer away."""
    out, inside = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            inside = cell.source.lstrip().startswith("**Solution.**")
        if inside:
            out.append(cell)
    return out


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_solutions_are_tagged_and_collapsed(source: Path):
    """Issue 19: executed solutions sat, open, right under each exercise. Every solution cell
    is tagged 'solution' (the website folds those behind a toggle) and collapsed in
    JupyterLab (jupyter.source_hidden, and outputs_hidden for code), in the source and in
    the executed notebook; nothing else is tagged 'solution'."""
    for nb in (jupytext.read(source), jupytext.read(NOTEBOOKS / f"{source.stem}.ipynb")):
        solutions = _solution_cells(nb)
        assert len([c for c in solutions if c.cell_type == "markdown"]) >= 2
        for cell in solutions:
            meta = cell.metadata
            assert "solution" in meta.get("tags", []), cell.source[:60]
            assert meta.get("jupyter", {}).get("source_hidden") is True, cell.source[:60]
            if cell.cell_type == "code":
                assert meta["jupyter"].get("outputs_hidden") is True, cell.source[:60]
        tagged = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
        assert len(tagged) == len(solutions)
