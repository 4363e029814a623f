"""Build the course website from the executed notebooks, without re-executing them.

    python scripts/build_site.py                  # writes build/site/ (entry: index.html)
    python scripts/build_site.py --out /tmp/site  # somewhere else

The stored outputs of ``notebooks/NN_name.ipynb`` are the truth: myst-nb renders them with
execution off. This script stages a Sphinx source folder in a temporary directory and runs
Sphinx on it with the configuration in ``docs/conf.py``:

* one page per chapter: a copy of its notebook in which each ipywidgets explorer's live
  view (which needs a kernel) is replaced by its stored picture, its control values and
  readout, and a note on how to run it live; and in which the exercises' solutions (cells
  tagged ``solution``) and optional asides (``aside``) sit behind a click-to-show toggle;
* ``index.md``, the landing page: the README's introduction, one card per chapter (its
  title, its line from the README's chapter table, one of its stored figures) and how to
  run the course locally (the README's ``open-command`` and ``test-command``);
* ``glossary.md`` and ``benchmarks.md``: the README's Glossary section and the table
  between its ``benchmarks:start``/``benchmarks:end`` markers, so neither is duplicated.

Maths is typeset by a MathJax bundled into the site; nothing is fetched from the network.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
CONF_DIR = ROOT / "docs"
DEFAULT_OUT = ROOT / "build" / "site"

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# The landing page shows the first stored figure of each chapter whose cell source contains
# this text (the first figure of the chapter when there is none).
LANDING_FIGURE = {
    "01": "plot_kl_fits",
    "02": "plot_kl_terms_curves",
    "03": "plot_latent_scatter",
    "04": "avg_digit",
    "05": "plot_rate_distortion",
}
RUN_LIVE = "pip install -e . && jupyter lab notebooks/"


# ---------------------------------------------------------------------------- README


def readme_section(readme: str, title: str) -> tuple[str, str]:
    """The heading line and body of the README's ``## title...`` section."""
    m = re.search(rf"^## ({re.escape(title)}[^\n]*)\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    if not m:
        raise SystemExit(f"README.md has no '## {title}' section")
    return m.group(1).strip(), m.group(2).strip()


def readme_command(readme: str, label: str) -> str:
    m = re.search(rf"<!-- {label} -->\s*```(?:bash|sh)?\n(.+?)\n```", readme, re.S)
    if not m:
        raise SystemExit(f"README.md has no command block marked <!-- {label} -->")
    return m.group(1).strip()


def table_cells(row: str) -> list[str]:
    """The cells of a markdown table row (a ``\\|`` inside maths is not a separator)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def chapter_lines(readme: str) -> dict[str, str]:
    """Chapter stem -> its 'what you learn' cell in the README's chapter table."""
    _, body = readme_section(readme, "The chapters")
    lines = {}
    for row in body.splitlines():
        m = re.match(r"\|\s*\[`notebooks/(\d\d_\w+)\.ipynb`\]", row)
        if m:
            lines[m.group(1)] = table_cells(row)[1]
    return lines


# ------------------------------------------------------------------------- notebooks


def chapter_title(nb: dict, stem: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            m = re.match(r"#\s+(.+)", "".join(cell["source"]).lstrip())
            if m:
                return m.group(1).strip()
    return stem


def landing_figure(nb: dict, stem: str) -> bytes | None:
    """The stored PNG shown for this chapter on the landing page (see LANDING_FIGURE)."""
    want = LANDING_FIGURE.get(stem[:2], "")
    found = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png:
                found.append((want and want in "".join(cell["source"]), png))
    if not found:
        return None
    png = next((p for hit, p in found if hit), found[0][1])
    return base64.b64decode("".join(png) if isinstance(png, list) else png)


def _widget_parts(state: dict, model_id: str) -> tuple[list[str], list[str], list[str]]:
    """Controls ('name = value'), HTML readouts and base64 PNGs under one widget, in order."""
    controls, readouts, pictures = [], [], []

    def walk(mid: str) -> None:
        model = state.get(mid)
        if model is None:
            return
        name, s = model.get("model_name", ""), model.get("state", {})
        if name == "ImageModel":
            for buf in model.get("buffers", []):
                if buf.get("path") == ["value"] and s.get("format", "png") == "png":
                    pictures.append(buf["data"])
        elif name in ("HTMLModel", "HTMLMathModel", "LabelModel") and s.get("value"):
            readouts.append(s["value"] if name != "LabelModel" else html.escape(s["value"]))
        elif "_options_labels" in s and s.get("index") is not None:
            controls.append(f"{s.get('description', '')} = {s['_options_labels'][s['index']]}")
        elif "Slider" in name or name.endswith("TextModel") or name == "CheckboxModel":
            value = s.get("value")
            fmt = s.get("readout_format", "")
            if isinstance(value, int | float) and fmt and not isinstance(value, bool):
                try:
                    value = format(value, fmt)
                except ValueError:
                    pass
            controls.append(f"{s.get('description', '')} = {value}")
        for child in s.get("children", []):
            walk(str(child).removeprefix("IPY_MODEL_"))

    walk(model_id)
    return controls, readouts, pictures


def snapshot_outputs(state: dict, model_id: str) -> list[dict]:
    """Static outputs that stand in for a live explorer: a note, its state, its picture."""
    controls, readouts, pictures = _widget_parts(state, model_id)
    note = (
        '<div class="admonition note explorer-note"><p class="admonition-title">'
        "Explorer: a stored picture</p><p>In JupyterLab this explorer is live: its controls "
        "recompute the numbers and redraw the picture. Here you see it as it was saved. "
        f"To move it yourself, run the course locally (<code>{html.escape(RUN_LIVE)}</code>), "
        "open this chapter and run its cells.</p></div>"
    )
    parts = [note]
    if controls:
        items = " · ".join(f"<code>{html.escape(c)}</code>" for c in controls)
        parts.append(f'<p class="explorer-controls">Controls as saved: {items}</p>')
    parts += [f'<p class="explorer-readout">{r}</p>' for r in readouts]
    outputs = [_display({"text/html": "\n".join(parts)})]
    outputs += [_display({"image/png": p}) for p in pictures]
    return outputs


def _display(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def staged_notebook(nb: dict) -> dict:
    """A copy of ``nb`` whose widget views are replaced by :func:`snapshot_outputs` and
    whose solutions and asides are folded away (:func:`fold_tagged_cells`)."""
    nb = json.loads(json.dumps(nb))
    state = nb["metadata"].pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb["cells"]:
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            outputs += snapshot_outputs(state, view["model_id"]) if view else [out]
        if cell["cell_type"] == "code":
            cell["outputs"] = outputs
    nb["cells"] = fold_tagged_cells(nb["cells"])
    return nb


# Cell tag -> the label of the click-to-show toggle that hides a run of such cells. In
# JupyterLab the same cells are collapsed by their metadata (jupyter.source_hidden).
FOLDED = {"solution": "Solution (click to show)", "aside": "Aside, optional (click to show)"}


def fold_tagged_cells(cells: list[dict]) -> list[dict]:
    """``cells`` with each run of cells tagged ``solution`` (or ``aside``) wrapped in an HTML
    ``<details class="solution">`` element: closed, it shows only its summary line; a click
    opens it. Plain HTML, so it needs no JavaScript and reads offline."""
    out: list[dict] = []
    open_tag = None
    for cell in cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        tag = next((t for t in FOLDED if t in tags), None)
        if tag != open_tag:
            if open_tag is not None:
                out.append(_html_cell("</details>", len(out)))
            if tag is not None:
                out.append(_html_cell(
                    f'<details class="{tag}">\n<summary>{FOLDED[tag]}</summary>', len(out)
                ))
            open_tag = tag
        out.append(cell)
    if open_tag is not None:
        out.append(_html_cell("</details>", len(out)))
    return out


def _html_cell(html_block: str, n: int) -> dict:
    return {"cell_type": "markdown", "id": f"folded-{n}", "metadata": {}, "source": html_block}


# ------------------------------------------------------------------------- the pages


def landing_page(readme: str, chapters: list[tuple[str, str]]) -> str:
    title = re.search(r"^# (.+)$", readme, re.M).group(1).strip()
    intro = readme.split("\n", 1)[1].split("\n## ", 1)[0].strip()
    lines = chapter_lines(readme)
    cards = []
    for stem, ch_title in chapters:
        figure = (
            f":::{{image}} figures/{stem}.png\n:alt: a figure from {ch_title}\n"
            f":target: {stem}.html\n:class: chapter-figure\n:::\n\n"
        )
        cards.append(
            f"::::{{container}} chapter-card\n**[{ch_title}]({stem}.ipynb)**\n\n"
            f"{lines.get(stem, '')}\n\n{figure}::::"
        )
    toc = "\n".join(stem for stem, _ in chapters)
    return f"""# {title}

{intro}

## The chapters

:::::{{container}} chapter-cards
{chr(10).join(cards)}
:::::

Each chapter: learning objectives, the narrative and the maths, short code cells calling
`course_vae` with their printed outputs and figures, an explorer, check cells, exercises
and a summary. Words in two languages: the [glossary (English — 中文)](glossary.md);
how fast it all runs: the [benchmarks](benchmarks.md).

## Run it on your machine

This website shows the notebooks as they were executed and committed; nothing here runs.
To run them yourself, change the code and move the explorers, install the course and open
it in JupyterLab (Python ≥ 3.10):

```bash
{readme_command(readme, "open-command")}
```

To run every test as well:

```bash
{readme_command(readme, "test-command")}
```

The README has the details (a CPU-only torch, conda and Binder). This website is built by

```bash
{readme_command(readme, "site-command")}
```

```{{toctree}}
:hidden:
:caption: Chapters

{toc}
```

```{{toctree}}
:hidden:
:caption: Reference

glossary
benchmarks
```
"""


def glossary_page(readme: str, stems: list[str]) -> str:
    heading, body = readme_section(readme, "Glossary")
    by_number = {s[:2]: s for s in stems}

    def link_chapters(row: str) -> str:
        cells = table_cells(row)
        if not re.fullmatch(r"[\d, ]+", cells[-1]):
            return row
        where = re.sub(
            r"\d\d",
            lambda m: f"[{m[0]}]({by_number[m[0]]}.ipynb)" if m[0] in by_number else m[0],
            cells[-1],
        )
        return row[: row.rstrip().rstrip("|").rstrip().rfind("|") + 1] + f" {where} |"

    rows = [link_chapters(r) if r.startswith("|") else r for r in body.splitlines()]
    # in a table a Markdown parser reads the README's ``\|`` (LaTeX's double bar) as an
    # escaped pipe: spell it ``\Vert`` for MathJax
    rows = [r.replace("\\|", "\\Vert ") for r in rows]
    return f"# {heading}\n\nThe terms of the course and the chapters that introduce them.\n\n" + (
        "\n".join(rows) + "\n"
    )


def benchmarks_page(readme: str) -> str:
    m = re.search(r"<!-- benchmarks:start -->\n(.*?)<!-- benchmarks:end -->", readme, re.S)
    if not m:
        raise SystemExit("README.md has no <!-- benchmarks:start --> ... end --> block")
    return (
        "# Benchmarks\n\nThe course's speed and quality targets, measured by "
        "`python benchmarks/run.py` (targets live there).\n\n" + m.group(1).strip() + "\n"
    )


# ----------------------------------------------------------------------------- build


def stage(src: Path) -> None:
    """Write the Sphinx sources of the site into ``src``."""
    readme = README.read_text(encoding="utf-8")
    chapters = []
    (src / "figures").mkdir(parents=True)
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        (src / path.name).write_text(json.dumps(staged_notebook(nb)), encoding="utf-8")
        figure = landing_figure(nb, path.stem)
        if figure is None:
            raise SystemExit(f"{path.name} has no stored figure (is it executed?)")
        (src / "figures" / f"{path.stem}.png").write_bytes(figure)
        chapters.append((path.stem, chapter_title(nb, path.stem)))
    if not chapters:
        raise SystemExit(f"no notebooks in {NOTEBOOKS}")
    stems = [s for s, _ in chapters]
    (src / "index.md").write_text(landing_page(readme, chapters), encoding="utf-8")
    (src / "glossary.md").write_text(glossary_page(readme, stems), encoding="utf-8")
    (src / "benchmarks.md").write_text(benchmarks_page(readme), encoding="utf-8")


def build(out: Path, quiet: bool = False) -> float:
    """Build the site into ``out`` (replaced); return the seconds it took."""
    from sphinx.cmd.build import build_main

    start = time.perf_counter()
    out = out.resolve()
    with tempfile.TemporaryDirectory(prefix="course_site_") as tmp:
        work = Path(tmp)
        stage(work / "src")
        # myst-nb writes output images next to the output folder: build in ``work``
        args = ["-b", "html", "-c", str(CONF_DIR), "-d", str(work / "doctrees"),
                "-W", "--keep-going"]  # fmt: skip
        if quiet:
            args.append("-q")
        status = build_main([*args, str(work / "src"), str(work / "html")])
        if status:
            raise SystemExit(f"sphinx-build failed (exit {status})")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(work / "html", out)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="site folder")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only warnings")
    args = parser.parse_args(argv)
    seconds = build(args.out, quiet=args.quiet)
    print(f"site built in {seconds:.0f} s: {args.out.resolve() / 'index.html'}")


if __name__ == "__main__":
    sys.exit(main())
