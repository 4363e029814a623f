"""Fixtures of the real-browser tests: a throw-away JupyterLab server and headless Chromium.

The server serves a temporary COPY of ``notebooks/`` (the committed notebooks are never
touched by the browser session), with its own config, data, runtime, settings and
workspace directories, no token, no news and no update checks. It is stopped in teardown
whatever happens (its kernels run in the server's process group, which is killed if the
server does not stop on its own).

The headless Chromium is the session fixture ``chromium`` of tests/conftest.py (shared with
the website tests): a missing playwright or Chromium skips locally and fails in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SERVER_START_TIMEOUT_S = 60.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: drives the notebooks' widgets in JupyterLab with headless Chromium "
        "(needs playwright and a Chromium; fails instead of skipping when CI is set)",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab: its base URL, the served root (a copy), its log file and the
    runtime directory that holds its kernels' connection files."""

    url: str
    root_dir: Path
    log: Path
    runtime_dir: Path

    def kernel_values(self, notebook: str, expressions: dict[str, str],
                      timeout_s: float = 60.0) -> dict[str, object]:
        """Evaluate ``expressions`` (name -> Python expression) in the kernel of ``notebook``.

        Connects a second client to the notebook's running kernel and sends an empty,
        silent execute request with the expressions as ``user_expressions``: nothing is
        printed, the execution count does not move, and the request waits in the kernel's
        queue until the cells already running are done. Each value must be a Python
        literal (its repr is read back with ``ast.literal_eval``).
        """
        import ast

        from jupyter_client import BlockingKernelClient

        with urllib.request.urlopen(f"{self.url}/api/sessions", timeout=10) as resp:
            sessions = json.load(resp)
        ids = [s["kernel"]["id"] for s in sessions if s.get("path") == notebook and s.get("kernel")]
        if len(ids) != 1:
            raise AssertionError(f"expected one kernel session for {notebook}, got {sessions}")
        client = BlockingKernelClient()
        client.load_connection_file(str(self.runtime_dir / f"kernel-{ids[0]}.json"))
        client.start_channels()
        try:
            msg_id = client.execute("", silent=True, store_history=False,
                                    user_expressions=expressions)
            deadline = time.monotonic() + timeout_s
            while True:
                reply = client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
        finally:
            client.stop_channels()
        values = {}
        for name, result in reply["content"]["user_expressions"].items():
            if result.get("status") != "ok":
                raise AssertionError(f"{expressions[name]!r} failed in the kernel: {result}")
            values[name] = ast.literal_eval(result["data"]["text/plain"])
        return values


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server (it shuts its kernels down); SIGKILL its process group if stuck."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:  # the kernels are in the server's process group (start_new_session=True)
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=15)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """Start ``jupyter lab`` on 127.0.0.1 serving a temp copy of ``notebooks/``."""
    base = tmp_path_factory.mktemp("jupyterlab")
    root_dir = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root_dir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = base / "user-settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel uses the inline backend, as for a learner
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
    )
    port = _free_port()
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=", "--ServerApp.password=",
        f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.disable_check_xsrf=True",
        "--ServerApp.allow_root=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
    ]  # fmt: skip
    log = base / "jupyterlab.log"
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            cmd, cwd=root_dir, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}; log:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/api", timeout=2) as resp:
                    if resp.status == 200 and "version" in json.load(resp):
                        break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer {url}/api within "
                            f"{SERVER_START_TIMEOUT_S:.0f} s; log:\n{log.read_text()}")
            time.sleep(0.2)
        yield LabServer(url=url, root_dir=root_dir, log=log, runtime_dir=base / "runtime")
    finally:
        _stop(proc)


@pytest.fixture
def page(chromium, lab_server: LabServer):
    """A fresh browser context (no cookies, no storage) and page for one test."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()
