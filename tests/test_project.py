"""The project's promises about itself: dependencies, README commands, CI script."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]

# conda-forge names of PyPI packages whose names differ
CONDA_NAMES = {"torch": "pytorch"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_deps() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = meta["dependencies"] + meta["optional-dependencies"]["test"]
    return {CONDA_NAMES.get(_name(d), _name(d)) for d in deps}


def _environment_deps() -> set[str]:
    names = set()
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        if in_deps and re.match(r"^\s+-\s+[A-Za-z]", line):
            item = line.split("-", 1)[1].strip()
            if item.startswith("pip"):
                continue
            names.add(_name(item))
    return names


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    env = _environment_deps() - {"python", "pip"}
    extra_env_only = {
        "jupytext",
        "ipykernel",
    }  # jupytext is also a test dep; ipykernel runs notebooks
    assert _pyproject_deps() <= env, f"missing from environment.yml: {_pyproject_deps() - env}"
    assert env - _pyproject_deps() <= extra_env_only, (
        f"only in environment.yml: {env - _pyproject_deps()}"
    )


def test_environment_yml_uses_cpu_pytorch_and_installs_the_package():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"-\s+pytorch=\*=cpu\*", text)
    assert re.search(r"-\s+-e \.", text)


def _readme_command(label: str) -> str:
    readme = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {label} -->\s*```(?:bash|sh)?\n(.+?)\n```", readme, re.S)
    assert m, f"README has no command block marked <!-- {label} -->"
    return m.group(1).strip()


def test_ci_runs_the_readme_test_command_after_the_cpu_torch_wheel():
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = _readme_command("test-command")
    assert test_cmd in ci, "`.ci/run` must run exactly the README test command"
    assert "pip install torch==2.13.0" in ci
    assert ci.index("pip install torch==2.13.0") < ci.index(test_cmd)


def test_readme_open_command_installs_and_opens_jupyterlab():
    cmd = _readme_command("open-command")
    assert "pip install" in cmd and "jupyter lab" in cmd


def test_readme_chapter_list_matches_the_notebooks():
    readme = (ROOT / "README.md").read_text()
    listed = re.findall(r"notebooks/(\d\d_[a-z0-9_]+)\.ipynb", readme)
    present = sorted(p.stem for p in (ROOT / "python_scripts").glob("[0-9][0-9]_*.py"))
    assert sorted(set(listed)) == present


def test_ci_executes_the_notebooks_again_under_other_cpu_kernels():
    """Issue 10: the stored outputs must also hold under PyTorch's generic CPU kernels."""
    ci = (ROOT / ".ci" / "run").read_text()
    rerun = "ATEN_CPU_CAPABILITY=default python -m pytest -p no:cacheprovider notebooks"
    assert rerun in ci
    assert ci.index(_readme_command("test-command")) < ci.index(rerun)


# A printed zero with a sign: -0, -0., -0.0000, -0.00e+00 (not -0.0001, 1e-05 or x-0.5).
NEGATIVE_ZERO = re.compile(r"(?<![\w.])-0(?:\.0*)?(?:e[+-]?\d+)?(?![\d.])")


def _compared_texts(path: Path):
    """(cell index, text) of every output nbval compares in the notebook at ``path``."""
    import json

    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []):
            texts = [out.get("text", "")] + [
                v for k, v in out.get("data", {}).items() if k.startswith("text/")
            ]
            for text in texts:
                yield i, "".join(text) if isinstance(text, list) else text


def test_the_negative_zero_pattern():
    for text in ("m = -0.0000", "tensor([-0.0000, 1.0])", "-0.", "x: -0", "-0.00e+00", "(-0.0)"):
        assert NEGATIVE_ZERO.search(text), text
    for text in ("-0.0001", "1e-05", "x-0.5", "0.0000", "-0.5", "step-0", "-10.0", "2e-0"):
        assert not NEGATIVE_ZERO.search(text), text


def _negative_zeros(path: Path) -> list[str]:
    found = []
    for i, text in _compared_texts(path):
        for m in NEGATIVE_ZERO.finditer(text):
            found.append(f"{path.name} cell {i}: ...{text[max(0, m.start() - 40):m.end()]}")
    return found


def test_negative_zeros_are_found_in_compared_cells_only(tmp_path: Path):
    import json

    def cell(text: str, tags: list[str]) -> dict:
        return {"cell_type": "code", "metadata": {"tags": tags}, "source": "",
                "outputs": [{"output_type": "stream", "name": "stdout", "text": [text]}]}

    nb = {"cells": [cell("m = -0.0000\n", []), cell("KL -0.000\n", ["nbval-ignore-output"]),
                    cell("m = 0.0000\n", [])]}
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert _negative_zeros(path) == ["01_x.ipynb cell 0: ...m = -0.0000"]


def test_no_compared_output_prints_a_negative_zero():
    """Issue 19: a value that is zero up to rounding printed its sign, and the sign depends
    on the CPU (-0.0000 on an Intel Xeon with AVX-512, 0.0000 on AMD EPYC and with the
    generic kernels). Print such values with course_vae.notebook.format_stable."""
    found = [f for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
             for f in _negative_zeros(path)]
    assert not found, "negative zeros in compared outputs:\n" + "\n".join(found)
