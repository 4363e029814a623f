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
