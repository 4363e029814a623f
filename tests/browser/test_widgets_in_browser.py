"""The chapters' explorers in a real browser: JupyterLab + headless Chromium (playwright).

nbval executes the notebooks but never moves a control, and the unit tests of the
explorers call their Python callbacks directly. These tests do what a learner does: open
the notebook in JupyterLab, clear the stored outputs, run all cells from the Run menu,
move a control of the explorer (an arrow key on a focused slider handle, or another option
of a dropdown) and check that the readout settles on the RIGHT numbers for the new control
values and that the plot is redrawn (the PNG in the ``<img>`` changes); after moving back,
the readout and the PNG are exactly the ones from the start.

Where the right numbers come from, per chapter:

- 01, 02, 03 (``CASES``, sliders): computed here with ``course_vae.kl`` from the values the
  sliders SHOW after the move. Chapter 03's readout (log p(z) and the KL of N(z, σ²I)) does
  not depend on the trained model, only on z and σ, so it is recomputed exactly.
- 04 (dropdowns over trained runs): the test cannot retrain 8 models. The notebook prints
  each run's test ELBO, KL, active units and I(x; z) (3 decimals) in its tables; the
  readout (2 decimals) must show the row of the run now chosen, and its change against the
  baseline row, as printed by the SAME kernel run in the same page.
- 05 (β dropdown, z_j and value sliders over trained β-VAEs): the per-dimension KL, the
  I(z_j; v_k)/H(v_k) of every dimension and the model's MIG are read from the package's
  report of the seed-0 model in the running kernel (a silent user expression).

Without playwright or Chromium the tests skip, except when ``CI`` is set: then they fail
(see ``conftest.py``).
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
import torch

from course_vae.kl import kl_normal, kl_normal_std
from course_vae.models import VAE
from course_vae.widgets import (
    BetaTraversalExplorer,
    ClosedFormExplorer,
    GaussianPairExplorer,
    LatentPlaneExplorer,
)

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
    run_timeout_ms: int = RUN_ALL_TIMEOUT_MS  # Run All up to the explorer's cell


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


def _latent_point_expected(values: dict[str, float]) -> dict[str, str]:
    """Chapter 03: for z = (z1, z2) and sigma of the sliders (no model needed),
    log p(z) = -|z|^2/2 - log(2 pi), KL(N(z, sigma^2 I) || N(0, I)) by kl_normal_std, its
    position part |z|^2/2 and its width part KL - |z|^2/2."""
    z = [values["z₁"], values["z₂"]]
    sigma = values["σ"]
    sq = z[0] ** 2 + z[1] ** 2
    kl = float(kl_normal_std(z, [2.0 * math.log(sigma)] * 2))
    return {
        "z1": f"{z[0]:.2f}", "z2": f"{z[1]:.2f}",
        "log_prior": f"{-0.5 * sq - math.log(2.0 * math.pi):.4f}",
        "kl": f"{kl:.4f}", "kl_mean": f"{0.5 * sq:.4f}",
        "sigma": f"{sigma:.2f}", "kl_width": f"{kl - 0.5 * sq:.4f}",
    }  # fmt: skip


def _latent_plane_step() -> float:
    """The z1 slider's step, from an explorer over an untrained 2-D VAE."""
    model = VAE(input_dim=4, hidden=(3,), latent_dim=2, seed=0)
    return LatentPlaneExplorer(model, torch.zeros(1, 2), torch.zeros(1), (2, 2)).z1.step


_NUM = r"[-+]?\d+\.\d{4}"
_NUM2 = r"[-+]?\d+\.\d{2}"
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
    ExplorerCase(
        notebook="03_elbo.ipynb",
        readout_marker="KL(N(z, σ²I) || N(0, I)) =",
        readout_pattern=(
            rf"z = \((?P<z1>{_NUM2}), (?P<z2>{_NUM2})\): log p\(z\) = (?P<log_prior>{_NUM}) "
            rf"nats; KL\(N\(z, σ²I\) \|\| N\(0, I\)\) = (?P<kl>{_NUM}) nats \(position "
            rf"\|z\|²/2 = (?P<kl_mean>{_NUM}), width σ = (?P<sigma>{_NUM2}): "
            rf"(?P<kl_width>{_NUM})\)"
        ),
        slider="z₁",
        key="ArrowRight",
        presses=4,
        step=_latent_plane_step(),
        expected=_latent_point_expected,
        run_timeout_ms=240_000,
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


def _snap(explorer, name: str) -> None:
    """Save a screenshot of the explorer as ``<dir>/<name>.png`` when the environment
    variable ``BROWSER_TEST_SCREENSHOTS`` names a directory (for looking at it by eye)."""
    directory = os.environ.get("BROWSER_TEST_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        explorer.screenshot(path=str(Path(directory) / f"{name}.png"))


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


def _new_png(img, old: list[str] | tuple[str, ...], what: str, quiet_s: float = 1.5) -> str:
    """Wait until ``img`` shows a PNG that is none of ``old`` and stays the same for
    ``quiet_s`` seconds (several key presses send several redraws: wait for the LAST one,
    not the first change); return its digest."""
    seen: dict[str, float] = {}

    def settled() -> str | None:
        digest = _png_digest(img)
        if digest in old:
            seen.clear()
            return None
        if digest not in seen:
            seen.clear()
            seen[digest] = time.monotonic()
        return digest if time.monotonic() - seen[digest] >= quiet_s else None

    return _poll(settled, SETTLE_TIMEOUT_S, what)


def _case_id(notebook: str) -> str:
    return notebook.split("_")[0]


def _open_and_run_all(page, lab_server, notebook: str, readout_marker: str, control: str,
                      timeout_ms: int):
    """Open ``notebook`` in a fresh JupyterLab workspace, clear its outputs, Run All Cells,
    and return the output (locator) that holds the explorer: the one whose text contains
    ``readout_marker`` and that has a ``control`` (CSS selector) and an ``<img>``."""
    assert (NOTEBOOKS / notebook).exists(), f"{notebook} is listed but missing"
    # A dialog (e.g. the kernel chooser) is accepted whenever it blocks an action.
    page.add_locator_handler(
        page.locator(".jp-Dialog"),
        lambda dialog: dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click(),
    )
    # A workspace of its own, reset: no tabs restored from an earlier test.
    workspace = f"browser-test-{_case_id(notebook)}"
    page.goto(f"{lab_server.url}/lab/workspaces/{workspace}/tree/{notebook}?reset")
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
        has_text=readout_marker, has=page.locator(control)
    ).filter(has=page.locator("img"))
    # Wait for the explorer; stop early if a cell raised (Run All stops there).
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')

    def tracebacks() -> list[str]:
        texts = errors.evaluate_all("(els) => els.map((el) => el.textContent)")
        return [t for t in texts if "Traceback" in t]

    _poll(lambda: explorer.count() > 0 or tracebacks(), timeout_ms / 1000,
          f"Run All of {notebook} to show the explorer")
    assert not tracebacks(), f"a cell of {notebook} raised:\n" + "\n".join(tracebacks())
    assert explorer.count() == 1, f"expected one explorer, found {explorer.count()}"
    explorer = explorer.first
    explorer.scroll_into_view_if_needed()
    return explorer


def _choose(page, explorer, label: str, option: str) -> None:
    """Choose ``option`` (its visible text) in the explorer's dropdown labelled ``label``."""
    dropdown = explorer.locator(".widget-dropdown").filter(
        has=page.locator(".widget-label", has_text=re.compile(rf"^{re.escape(label)}$"))
    )
    assert dropdown.count() == 1, f"no dropdown {label!r} in the explorer"
    select = dropdown.locator("select")
    texts = [_text(t) for t in select.locator("option").all_text_contents()]
    assert option in texts, f"{label!r} offers {texts}, not {option!r}"
    select.select_option(index=texts.index(option))


def _text(text: str) -> str:
    """Text as shown, with the no-break spaces ipywidgets puts in option labels as spaces."""
    return text.replace("\xa0", " ")


def _dropdown_state(explorer) -> dict[str, tuple[str, list[str]]]:
    """label -> (the option shown as selected, all option texts) for every dropdown."""
    rows = explorer.locator(".widget-dropdown").evaluate_all(
        """(els) => els.map((el) => {
            const sel = el.querySelector('select');
            return [el.querySelector('.widget-label').textContent,
                    sel.options[sel.selectedIndex] ? sel.options[sel.selectedIndex].text : null,
                    [...sel.options].map((o) => o.text)];
        })"""
    )
    return {
        label.strip(): (selected and _text(selected), [_text(o) for o in options])
        for label, selected, options in rows
    }


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c.notebook) for c in CASES])
def test_explorer_follows_slider_in_jupyterlab(page, lab_server, case: ExplorerCase):
    with _screenshot_on_failure(page, _case_id(case.notebook), lab_server):
        explorer = _open_and_run_all(page, lab_server, case.notebook, case.readout_marker,
                                     ".widget-slider", case.run_timeout_ms)
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
        start_numbers = _poll(shown_numbers, SETTLE_TIMEOUT_S, "the explorer's readout",
                              now=readout.inner_text)
        assert start_numbers == case.expected(start_values), readout.inner_text()
        start_png = _png_digest(img)
        _snap(explorer, f"{_case_id(case.notebook)}-start")

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
        _new_png(img, [start_png], "the plot to be redrawn")
        _snap(explorer, f"{_case_id(case.notebook)}-moved")

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


def _slider_values(explorer) -> dict[str, float]:
    """label -> the value every slider of the explorer SHOWS (its readout)."""
    pairs = explorer.locator(".widget-slider").evaluate_all(
        """(els) => els.map((el) => [el.querySelector('.widget-label').textContent,
                                       el.querySelector('.widget-readout').textContent])"""
    )
    return {label.strip(): _number(text) for label, text in pairs}


def _press(page, explorer, label: str, key: str, presses: int) -> None:
    """Focus the handle of the slider labelled ``label`` and press ``key`` ``presses`` times."""
    slider = explorer.locator(".widget-slider").filter(
        has=page.locator(".widget-label", has_text=re.compile(rf"^{re.escape(label)}$"))
    )
    assert slider.count() == 1, f"no slider {label!r} in the explorer"
    slider.locator(".noUi-handle").focus()
    for _ in range(presses):
        page.keyboard.press(key)


# --- Chapter 04: CollapseExplorer (dropdowns over the runs trained in the notebook) ---------

CH04 = "04_posterior_collapse.ipynb"
CH04_BASELINE = "text VAE, word dropout 0, seed 0"  # the notebook's collapsed baseline run
CH04_REMEDY = "text: free bits 0.1"  # a remedy family with several runs (seeds)
_F3 = r"-?\d+\.\d{3}"
_CH04_READOUT = re.compile(
    rf"^(?P<label>.+?): test ELBO (?P<elbo>{_NUM2}) nats, KL (?P<kl>{_NUM2}) nats, "
    rf"active units (?P<active>\d+) of (?P<n>\d+), I\(x; z\) (?P<mi>{_NUM2}) nats"
    rf"(?: \(± (?P<mi_se>{_NUM2}), standard error\))?"
    rf"(?:, log p\(x\) \(IWAE\) (?P<log_px>{_NUM2}) nats)?"
    rf"(?:\s*vs (?P<base>.+?): ELBO (?P<d_elbo>{_NUM2}), KL (?P<d_kl>{_NUM2}), "
    rf"active units (?P<d_active>[-+]\d+), I\(x; z\) (?P<d_mi>{_NUM2}))?\s*$",
    re.S,
)


def _ch04_kernel_rows(lab_server) -> dict[str, dict[str, float]]:
    """Every run of the notebook's ``runs`` as "remedy, parameter" -> its test ELBO, KL,
    active units and I(x; z), read from the notebook's running kernel (the very summaries
    the chapter computed; the test cannot retrain the models)."""
    got = lab_server.kernel_values(CH04, {"rows": (
        '{f"{k[0]}, {k[1]}": [float(v["test_elbo"]), float(v["kl"]), int(v["n_active"]), '
        'float(v["mutual_info"])] for k, v in runs.items()}')}, timeout_s=120.0)
    return {label: dict(zip(("elbo", "kl", "active", "mi"), row, strict=True))
            for label, row in got["rows"].items()}


def _ch04_printed_row(rows: dict, label: str) -> dict[str, float]:
    """The run ``label`` ("remedy, parameter") among the kernel's ``rows``."""
    assert label in rows, f"the notebook has no run {label!r}"
    return rows[label]


def _ch04_mismatches(text: str, printed: str, label: str) -> list[str]:
    """What the readout ``text`` gets wrong for the run ``label``, against the printed rows
    (3 decimals) of that run and of the baseline; empty when it is right. The readout
    rounds to 2 decimals, so a value may differ from the printed one by 0.005 + 0.0005
    (a difference of two printed values by 0.005 + 0.001)."""
    m = _CH04_READOUT.search(text)
    if m is None:
        return [f"the readout does not have the expected form: {text!r}"]
    got = m.groupdict()
    if got["label"] != label:
        return [f"the readout names the run {got['label']!r}, not {label!r}"]
    row, base = _ch04_printed_row(printed, label), _ch04_printed_row(printed, CH04_BASELINE)
    wrong = []
    for key in ("elbo", "kl", "mi"):
        if abs(_number(got[key]) - row[key]) > 0.0055 + 1e-9:
            wrong.append(f"{key} {got[key]} but the notebook printed {row[key]:.3f}")
    if int(got["active"]) != row["active"]:
        wrong.append(f"active units {got['active']} but printed {row['active']:.0f}")
    if got["base"] is None and not label.startswith("text"):
        return wrong  # digits runs are not compared with the text baseline
    if got["base"] != CH04_BASELINE:
        return wrong + [f"the change is against {got['base']!r}, not {CH04_BASELINE!r}"]
    for key in ("elbo", "kl", "mi"):
        want = row[key] - base[key]
        if abs(_number(got[f"d_{key}"]) - want) > 0.006 + 1e-9:
            wrong.append(f"change of {key} {got[f'd_{key}']}, printed rows give {want:+.3f}")
    if int(got["d_active"]) != row["active"] - base["active"]:
        wrong.append(f"change of active units {got['d_active']}")
    return wrong


def test_collapse_explorer_follows_dropdowns_in_jupyterlab(page, lab_server):
    """Chapter 04: choosing another remedy resets the parameter dropdown to that remedy's
    first parameter, and the readout shows the printed row of that run (test ELBO, KL,
    active units, I(x; z)) and its change against the printed baseline row; choosing the
    other parameter switches to its row; each choice redraws the plot; going back to the
    first remedy restores the first readout and the very same PNG. The rows are the run
    summaries of the same kernel (the test cannot retrain the models)."""
    with _screenshot_on_failure(page, "04", lab_server):
        explorer = _open_and_run_all(page, lab_server, CH04, "active units",
                                     ".widget-dropdown", timeout_ms=300_000)
        readout = explorer.locator(".widget-html-content")
        img = explorer.locator("img")
        printed = _ch04_kernel_rows(lab_server)

        def settle(label: str) -> None:
            _poll(lambda: not _ch04_mismatches(readout.inner_text(), printed, label),
                  SETTLE_TIMEOUT_S, f"the readout to show the run {label!r}",
                  now=lambda: _ch04_mismatches(readout.inner_text(), printed, label))

        start = _dropdown_state(explorer)
        assert set(start) == {"remedy", "parameter"}, start
        first_remedy, first_parameter = start["remedy"][0], start["parameter"][0]
        settle(f"{first_remedy}, {first_parameter}")
        start_text, start_png = readout.inner_text(), _png_digest(img)
        _snap(explorer, "04-start")

        # Another remedy: its parameters replace the old ones, the first one is chosen.
        remedy = CH04_REMEDY
        assert remedy in start["remedy"][1] and remedy != first_remedy, start
        _choose(page, explorer, "remedy", remedy)
        state = _poll(
            lambda: (s := _dropdown_state(explorer))["remedy"][0] == remedy
            and s["parameter"][1] != start["parameter"][1] and s,
            SETTLE_TIMEOUT_S, f"the parameter dropdown to offer the {remedy!r} runs",
            now=lambda: _dropdown_state(explorer),
        )
        parameters = state["parameter"][1]
        assert state["parameter"][0] == parameters[0] and len(parameters) >= 2, state
        for p in parameters:  # every offered run was trained by the notebook
            _ch04_printed_row(printed, f"{remedy}, {p}")
        settle(f"{remedy}, {parameters[0]}")
        png = _new_png(img, [start_png], "the plot to be redrawn")
        _snap(explorer, "04-remedy")

        # The other parameter of that remedy: its row.
        _choose(page, explorer, "parameter", parameters[1])
        settle(f"{remedy}, {parameters[1]}")
        _new_png(img, [png, start_png], "the plot to be redrawn for the other parameter")
        _snap(explorer, "04-parameter")

        # Back to the first remedy: its first parameter, the first readout and PNG.
        _choose(page, explorer, "remedy", first_remedy)
        _poll(lambda: _dropdown_state(explorer) == start, SETTLE_TIMEOUT_S,
              f"the dropdowns to return to {start}", now=lambda: _dropdown_state(explorer))
        _poll(lambda: readout.inner_text() == start_text, SETTLE_TIMEOUT_S,
              "the readout to return to its first text", now=readout.inner_text)
        _poll(lambda: _png_digest(img) == start_png, SETTLE_TIMEOUT_S,
              "the plot to return to its first drawing")


# --- Chapter 05: BetaTraversalExplorer (β dropdown, z_j and value sliders) -----------------

CH05 = "05_beta_vae.ipynb"
_F3P = r"\d+\.\d{3}"
_CH05_READOUT = re.compile(
    rf"β = (?P<beta>\S+), z_(?P<j>\d+) = (?P<value>[-+]\d+\.\d\d): "
    rf"KL of z_(?P<j2>\d+) = (?P<kl>{_F3P}) nats; "
    rf"(?:it is off \(KL below 0\.1 nats\): it can carry at most {_F3P} nats about any "
    rf"factor, so it names none \(best: (?P<ctop>\w+), I/H = (?P<cscore>{_F3P})\)"
    rf"|it moves mostly (?P<top>\w+) \(I/H = (?P<score>{_F3P})\)"
    rf"(?:, then (?P<second>\w+) \((?P<score2>{_F3P})\))?)"
    rf"\. MIG of this model: (?P<mig>{_F3P})\."
)


def _ch05_steps() -> tuple[int, float]:
    """The steps of the z_j and value sliders, from an explorer over a tiny untrained VAE."""
    from course_vae.sprites import make_sprites

    sprites = make_sprites(size=8, shapes=("square",), n_scales=1, n_orientations=1, n_x=2, n_y=2)
    model = VAE(input_dim=sprites.images.shape[1], hidden=(3,), latent_dim=2, seed=0)
    explorer = BetaTraversalExplorer({1.0: model}, sprites)
    return explorer.dim.step, explorer.value.step


def _ch05_kernel_report(lab_server, beta: str) -> tuple[list[float], dict[str, list[float]], float]:
    """For the seed-0 model of ``beta`` (its dropdown text), what the explorer must show,
    computed in the notebook's running kernel by the package (``runs.latent_report`` of the
    held-out sprites, as the chapter builds the explorer): each dimension's KL, its
    I(z_j; v)/H(v) per factor, and the model's MIG."""
    report = f"cv.runs.latent_report(models[float('{beta}'), 0], held_out, base_index=base)"
    got = lab_server.kernel_values(CH05, {
        "kl": f"[float(v) for v in {report}['kl']]",
        "scores": f"{{f: [float(v) for v in col] for f, col in zip({report}['factor_names'], "
                  f"{report}['scores'].T)}}",
        "mig": f"float({report}['mig'])",
    }, timeout_s=120.0)
    return got["kl"], got["scores"], got["mig"]


def _ch05_mismatches(text: str, beta: str, j: int, value: float, kl: float,
                     scores: dict[str, list[float]], mig: float) -> list[str]:
    """What the readout ``text`` gets wrong for model ``beta``, dimension z_j set to
    ``value``, given that dimension's KL and the printed scores and MIG; empty when right.
    Scores and MIG are printed to 3 decimals like the readout (they may differ by 0.001);
    the KL comes unrounded from the kernel (the readout may differ by 0.0005)."""
    m = _CH05_READOUT.search(text)
    if m is None:
        return [f"the readout does not have the expected form: {text!r}"]
    got = m.groupdict()
    if (got["beta"], got["j"], got["j2"], got["value"]) != (beta, str(j), str(j), f"{value:+.2f}"):
        return [f"the readout is for β = {got['beta']}, z_{got['j']} = {got['value']}, not "
                f"β = {beta}, z_{j} = {value:+.2f}"]
    wrong = []
    if abs(float(got["kl"]) - kl) > 0.0005 + 1e-9:
        wrong.append(f"KL of z_{j} {got['kl']} but the kernel's report gives {kl:.5f}")
    mine = {factor: values[j - 1] for factor, values in scores.items()}
    ranking = sorted(mine, key=lambda f: -mine[f])  # stable: ties keep the printed order
    if kl < 0.1:
        if got["ctop"] is None:
            wrong.append(f"KL {kl:.4f} < 0.1 but the readout does not say z_{j} is off")
        shown = [(got["ctop"], got["cscore"])]
    else:
        if got["top"] is None:
            wrong.append(f"KL {kl:.4f} >= 0.1 but the readout says z_{j} is off")
        shown = [(got["top"], got["score"]), (got["second"], got["score2"])][: len(ranking)]
    for (factor, score), want in zip(shown, ranking, strict=False):
        if factor != want or abs(float(score) - mine[want]) > 0.001 + 1e-9:
            wrong.append(f"factor {factor} ({score}), printed scores rank {want} "
                         f"({mine[want]:.3f}) there")
    if abs(float(got["mig"]) - mig) > 0.001 + 1e-9:
        wrong.append(f"MIG {got['mig']} but the notebook printed {mig:.3f} for seed 0")
    return wrong


def test_beta_traversal_explorer_follows_controls_in_jupyterlab(page, lab_server):
    """Chapter 05: choose β = 4 in the dropdown, slide the value of z_1 up by three steps,
    then move to z_2. After each move the readout shows β, z_j and its value as set, the KL
    of z_j, the factor that z_j informs most and the next one (ranked by I(z_j; v)/H(v)) and
    the seed-0 model's MIG -- each as the package computes it in the notebook's running
    kernel for that model -- and the plot is redrawn; moving every control back restores
    the first readout and the very same PNG."""
    dim_step, value_step = _ch05_steps()
    with _screenshot_on_failure(page, "05", lab_server):
        explorer = _open_and_run_all(page, lab_server, CH05, "MIG of this model",
                                     ".widget-dropdown", timeout_ms=300_000)
        readout = explorer.locator(".widget-html-content")
        img = explorer.locator("img")
        start_dropdown = _dropdown_state(explorer)
        first = start_dropdown["β"][0]  # the smallest beta of the sweep
        reports = {b: _ch05_kernel_report(lab_server, b) for b in (first, "4")}

        def settle(beta: str, j: int, value: float) -> None:
            kl, scores, mig = reports[beta]

            def wrong() -> list[str]:
                return _ch05_mismatches(readout.inner_text(), beta, j, value,
                                        kl[j - 1], scores, mig)

            _poll(lambda: not wrong(), SETTLE_TIMEOUT_S,
                  f"the readout to show β = {beta}, z_{j} = {value:+.2f}", now=wrong)

        start_sliders = _slider_values(explorer)
        assert first != "4" and "4" in start_dropdown["β"][1], start_dropdown
        assert set(start_sliders) == {"z_j", "value"}, start_sliders
        j0, v0 = int(start_sliders["z_j"]), start_sliders["value"]
        settle(first, j0, v0)
        start_text, pngs = readout.inner_text(), [_png_digest(img)]
        _snap(explorer, "05-0")

        def redrawn(what: str) -> None:
            pngs.append(_new_png(img, pngs, f"the plot to be redrawn after {what}"))
            _snap(explorer, f"05-{len(pngs) - 1}")

        _choose(page, explorer, "β", "4")
        settle("4", j0, v0)
        redrawn("choosing β = 4")

        _press(page, explorer, "value", "ArrowRight", 3)
        v1 = v0 + 3 * value_step
        _poll(lambda: abs(_slider_values(explorer)["value"] - v1) < 1e-9, SETTLE_TIMEOUT_S,
              f"the value slider to show {v1:.2f}", now=lambda: _slider_values(explorer))
        settle("4", j0, v1)
        redrawn(f"moving z_{j0} to {v1:+.2f}")

        _press(page, explorer, "z_j", "ArrowRight", 1)
        j1 = j0 + dim_step
        _poll(lambda: _slider_values(explorer) == {"z_j": j1, "value": v1}, SETTLE_TIMEOUT_S,
              f"the sliders to show z_{j1}, {v1:.2f}", now=lambda: _slider_values(explorer))
        settle("4", j1, v1)
        redrawn(f"choosing z_{j1}")

        # Everything back: the first readout and the very same PNG.
        _press(page, explorer, "z_j", "ArrowLeft", 1)
        _press(page, explorer, "value", "ArrowLeft", 3)
        _choose(page, explorer, "β", first)
        _poll(lambda: _slider_values(explorer) == start_sliders
              and _dropdown_state(explorer) == start_dropdown, SETTLE_TIMEOUT_S,
              "the controls to return to their start", now=lambda: _slider_values(explorer))
        _poll(lambda: readout.inner_text() == start_text, SETTLE_TIMEOUT_S,
              "the readout to return to its first text", now=readout.inner_text)
        _poll(lambda: _png_digest(img) == pngs[0], SETTLE_TIMEOUT_S,
              "the plot to return to its first drawing")
