"""The chapters' explorers in a real browser: JupyterLab + headless Chromium (playwright).

nbval executes the notebooks but never moves a slider, and the unit tests of the explorers
call their Python callbacks directly. This test does what a learner does: opens the
notebook in JupyterLab, clears the stored outputs, runs all cells from the Run menu, moves
one slider of the explorer with the keyboard (focus the handle, press an arrow key a few
times) and checks that

- the slider shows its start value plus the number of key presses times its step;
- the readout settles on the numbers that ``course_vae`` computes for the values that all
  the sliders SHOW after the move (so the readout really follows the sliders);
- the plot is redrawn: the PNG in the ``<img>`` changes, and after moving the slider back
  the readout and the PNG are exactly the ones from the start.

Each chapter is one ``ExplorerCase`` in ``CASES``; add later chapters there. Without
playwright or Chromium the tests skip, except when ``CI`` is set: then they fail (see
``conftest.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from course_vae.kl import kl_normal, kl_normal_std
from course_vae.widgets import ClosedFormExplorer, GaussianPairExplorer

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

RUN_ALL_TIMEOUT_MS = 120_000  # the whole notebook runs before the explorer cell
SETTLE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ExplorerCase:
    """How to find one notebook's explorer, which slider to move and what it must show.

    ``expected`` maps the values shown by ALL the explorer's sliders (label -> value) to the
    readout's numbers as text (group name of ``readout_pattern`` -> formatted number).
    """

    notebook: str
    readout_marker: str  # text only this explorer's readout contains
    readout_pattern: str  # regex with named groups for the numbers of the readout
    slider: str  # the label (description) of the slider to move
    key: str  # "ArrowRight" or "ArrowLeft"
    presses: int
    step: float  # the slider's step (from a constructed explorer, not hard-coded)
    expected: Callable[[dict[str, float]], dict[str, str]]


def _closed_form_expected(values: dict[str, float]) -> dict[str, str]:
    """Chapter 02: KL(N(mu, diag sigma^2) || N(0, I)) summed over the dimensions."""
    n = sum(1 for label in values if label.startswith("μ"))
    mu = [values[f"μ{j}"] for j in range(1, n + 1)]
    logvar = [2.0 * math.log(values[f"σ{j}"]) for j in range(1, n + 1)]
    return {"total": f"{float(kl_normal_std(mu, logvar)):.4f}"}


def _gaussian_pair_expected(values: dict[str, float]) -> dict[str, str]:
    """Chapter 01: KL(Q||P), KL(P||Q) and their difference for Q, P of the sliders."""
    mu_q, mu_p = [values["μ_q"]], [values["μ_p"]]
    lv_q, lv_p = [2.0 * math.log(values["σ_q"])], [2.0 * math.log(values["σ_p"])]
    kl_qp = float(kl_normal(mu_q, lv_q, mu_p, lv_p))
    kl_pq = float(kl_normal(mu_p, lv_p, mu_q, lv_q))
    return {"kl_qp": f"{kl_qp:.4f}", "kl_pq": f"{kl_pq:.4f}", "diff": f"{kl_qp - kl_pq:+.4f}"}


_NUM = r"[-+]?\d+\.\d{4}"
CASES = [
    ExplorerCase(
        notebook="01_kl_basics.ipynb",
        readout_marker="KL(Q||P) =",
        readout_pattern=(
            rf"KL\(Q\|\|P\) = (?P<kl_qp>{_NUM}) nats, KL\(P\|\|Q\) = (?P<kl_pq>{_NUM}) nats "
            rf"\(KL\(Q\|\|P\) - KL\(P\|\|Q\) = (?P<diff>{_NUM})\)"
        ),
        slider="σ_q",
        key="ArrowLeft",
        presses=4,
        step=GaussianPairExplorer().s_q.step,
        expected=_gaussian_pair_expected,
    ),
    ExplorerCase(
        notebook="02_gaussian_closed_form.ipynb",
        readout_marker="KL(q || N(0, I)) =",
        readout_pattern=rf"KL\(q \|\| N\(0, I\)\) = (?P<total>{_NUM}) nats",
        slider="μ2",
        key="ArrowRight",
        presses=3,
        step=ClosedFormExplorer().mu_sliders[1].step,
        expected=_closed_form_expected,
    ),
]


def _number(text: str) -> float:
    """A slider readout as a float (d3-format writes a Unicode minus sign)."""
    return float(text.strip().replace("\u2212", "-"))


@contextlib.contextmanager
def _screenshot_on_failure(page, name: str, lab) -> Iterator[None]:
    """On an error, save a screenshot of the page and name it in the assertion message."""
    try:
        yield
    except Exception as exc:
        fd, path = tempfile.mkstemp(prefix=f"browser-{name}-", suffix=".png")
        os.close(fd)
        try:
            page.screenshot(path=path)
            where = f"screenshot of the browser: {path}"
        except Exception as shot_exc:  # the page itself may be gone
            where = f"(no screenshot: {shot_exc})"
        raise AssertionError(f"{exc}\n{where}\nJupyterLab log: {lab.log}") from exc


def _dismiss_dialogs(page) -> None:
    """Accept any dialog JupyterLab shows (e.g. the kernel chooser: keep its default)."""
    dialogs = page.locator(".jp-Dialog")
    for _ in range(3):
        if dialogs.count() == 0:
            return
        page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").first.click()
        page.wait_for_timeout(300)


def _menu(page, menu: str, item: str) -> None:
    page.get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def _poll(fn: Callable[[], object], timeout_s: float, what: str,
          now: Callable[[], object] | None = None):
    """Call ``fn`` until it returns something truthy (the final state, not the first
    change); on timeout fail naming ``what`` and, if given, what ``now()`` shows then."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = fn()
        if result:
            return result
        time.sleep(0.1)
    seen = f"; it shows {now()!r}" if now is not None else ""
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{seen}")


def _png_digest(img) -> str:
    """SHA-256 of the PNG currently shown by ``img`` (fetched from its blob: URL)."""
    data = img.evaluate(
        """async (el) => {
            // a redraw revokes the old blob: URL; if it went away under us, read it again
            for (let attempt = 0; ; attempt++) {
                try {
                    const buf = await (await fetch(el.src)).arrayBuffer();
                    return Array.from(new Uint8Array(buf));
                } catch (err) {
                    if (attempt >= 20) throw err;
                    await new Promise((resolve) => setTimeout(resolve, 50));
                }
            }
        }"""
    )
    raw = bytes(data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "the explorer's <img> does not show a PNG"
    return hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("case", CASES, ids=[c.notebook.split("_")[0] for c in CASES])
def test_explorer_follows_slider_in_jupyterlab(page, lab_server, case: ExplorerCase):
    assert (NOTEBOOKS / case.notebook).exists(), f"{case.notebook} is listed but missing"
    with _screenshot_on_failure(page, case.notebook.split("_")[0], lab_server):
        # A dialog (e.g. the kernel chooser) is accepted whenever it blocks an action.
        page.add_locator_handler(
            page.locator(".jp-Dialog"),
            lambda dialog: dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click(),
        )
        # A workspace of its own, reset: no tabs restored from an earlier test.
        workspace = f"browser-test-{case.notebook.split('_')[0]}"
        page.goto(f"{lab_server.url}/lab/workspaces/{workspace}/tree/{case.notebook}?reset")
        page.locator(".jp-Notebook").first.wait_for()
        _dismiss_dialogs(page)
        assert page.locator(".jp-NotebookPanel").count() == 1, "more than one notebook open"
        # The status bar shows "<kernel name> | Idle" once a kernel is started AND
        # connected (the toolbar's indicator says "idle" before there is a kernel).
        page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\S \| Idle$")).wait_for(
            timeout=RUN_ALL_TIMEOUT_MS
        )

        # Drop the stored outputs (and their saved widget views), then run everything.
        _menu(page, "Edit", "Clear Outputs of All Cells")
        assert page.locator(".jp-OutputArea img").count() == 0, "outputs were not cleared"
        _menu(page, "Run", "Run All Cells")
        _dismiss_dialogs(page)

        explorer = page.locator(".jp-OutputArea-output").filter(
            has_text=case.readout_marker, has=page.locator(".widget-slider")
        ).filter(has=page.locator("img"))
        explorer.first.wait_for(state="attached", timeout=RUN_ALL_TIMEOUT_MS)
        assert explorer.count() == 1, f"expected one explorer, found {explorer.count()}"
        explorer = explorer.first
        explorer.scroll_into_view_if_needed()
        readout = explorer.locator(".widget-html-content")
        img = explorer.locator("img")
        pattern = re.compile(case.readout_pattern)

        def shown_values() -> dict[str, float]:
            pairs = explorer.locator(".widget-slider").evaluate_all(
                """(els) => els.map((el) => [el.querySelector('.widget-label').textContent,
                                               el.querySelector('.widget-readout').textContent])"""
            )
            return {label.strip(): _number(text) for label, text in pairs}

        def shown_numbers() -> dict[str, str] | None:
            match = pattern.search(readout.inner_text())
            return match.groupdict() if match else None

        # The explorer starts consistent with its sliders.
        start_values = shown_values()
        assert case.slider in start_values, f"no slider {case.slider!r} in {start_values}"
        start_numbers = _poll(shown_numbers, SETTLE_TIMEOUT_S, "the explorer's readout")
        assert start_numbers == case.expected(start_values), readout.inner_text()
        start_png = _png_digest(img)

        # Move the slider with the keyboard, as a learner can: one step per key press.
        slider = explorer.locator(".widget-slider").filter(
            has=page.locator(".widget-label", has_text=re.compile(rf"^{re.escape(case.slider)}$"))
        )
        handle = slider.locator(".noUi-handle")
        handle.focus()
        for _ in range(case.presses):
            page.keyboard.press(case.key)
        sign = 1 if case.key == "ArrowRight" else -1
        target = start_values[case.slider] + sign * case.presses * case.step
        moved = _poll(
            lambda: abs((v := shown_values())[case.slider] - target) < 1e-9 and v,
            SETTLE_TIMEOUT_S, f"{case.presses} x {case.key} to move {case.slider} from "
            f"{start_values[case.slider]} to {target:.2f}", now=shown_values,
        )
        assert {k: v for k, v in moved.items() if k != case.slider} == {
            k: v for k, v in start_values.items() if k != case.slider
        }, "another slider moved"

        # The readout settles on course_vae's numbers for the values the sliders show.
        want = case.expected(moved)
        assert want != start_numbers, "the move should change the readout; pick another move"
        _poll(lambda: shown_numbers() == want, SETTLE_TIMEOUT_S,
              f"the readout to show {want}", now=readout.inner_text)
        _poll(lambda: _png_digest(img) != start_png, SETTLE_TIMEOUT_S,
              "the plot to be redrawn")

        # Move back: the readout and the very same PNG as at the start come back.
        handle.focus()
        back = "ArrowLeft" if case.key == "ArrowRight" else "ArrowRight"
        for _ in range(case.presses):
            page.keyboard.press(back)
        _poll(lambda: shown_values() == start_values, SETTLE_TIMEOUT_S,
              f"the sliders to return to {start_values}", now=shown_values)
        _poll(lambda: shown_numbers() == start_numbers, SETTLE_TIMEOUT_S,
              f"the readout to return to {start_numbers}", now=readout.inner_text)
        _poll(lambda: _png_digest(img) == start_png, SETTLE_TIMEOUT_S,
              "the plot to return to its first drawing")
