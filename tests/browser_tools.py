"""What the real-browser tests share (tests/browser: the explorers in JupyterLab; tests/site:
the website): skip-or-fail when a tool is missing, and one headless Chromium per session.

A missing playwright or Chromium skips these tests on a developer machine but FAILS them
when the environment variable ``CI`` is set: in CI the browser checks are real checks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing(what: str) -> None:
    """Skip locally, fail in CI (``CI`` set), because ``what`` is not available."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{what} (CI is set, so the browser tests must run, not skip)")
    pytest.skip(what)


def launch_chromium() -> Iterator[Any]:
    """Yield a headless Chromium driven by playwright (Debian's, else playwright's own).

    One playwright instance per process: its sync API cannot run two at a time, so the
    session fixture ``chromium`` (tests/conftest.py) is the only caller.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install playwright)")
    candidates = [os.environ.get("CHROMIUM")] + [
        shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
    ]
    executable = next((c for c in candidates if c and Path(c).exists()), None)
    with sync_playwright() as pw:
        if executable is None and not Path(pw.chromium.executable_path).exists():
            missing("no Chromium found (apt-get install chromium, or playwright install chromium)")
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
