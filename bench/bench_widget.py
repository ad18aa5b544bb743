"""Benchmark: the annotation widget in a real JupyterLab + headless Chromium.

Measured in the page with performance.now():

* key press -> ``saved`` shown: a keydown dispatched on the widget, until a MutationObserver
  sees the save indicator say ``saved`` (the label event is durable on disk by then);
* opening a conversation of 50 and of 300 turns: the jump, until the widget marks itself
  ready (DOM built, one animation frame later);
* baseline, in the same run: a bare anywidget round trip (keydown -> model.send -> Python
  handler -> send back -> DOM text), so the ratios are comparable on a noisy machine.

Prints ONE JSON object. Run: ``.venv/bin/python bench/bench_widget.py``.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "e2e"), str(REPO / "tests" / "widgets")]

import nbformat  # noqa: E402
from jlab import CHROMIUM, CHROMIUM_ARGS, open_notebook, run_all, start_lab, stop_lab  # noqa: E402
from widget_data import conversations, make_project  # noqa: E402

N_PRESSES = 40
N_OPENS = 5

ECHO = '''
import anywidget
class Echo(anywidget.AnyWidget):
    _esm = """
    export default { render({ model, el }) {
      const b = document.createElement("div");
      b.className = "bench-echo"; b.tabIndex = 0; b.textContent = "0";
      b.addEventListener("keydown", (e) => {
        e.stopPropagation();
        model.send({ n: Number(b.textContent) + 1 });
      });
      model.on("msg:custom", (m) => { b.textContent = String(m.n); });
      el.append(b);
    } };
    """
    def __init__(self):
        super().__init__()
        self.on_msg(lambda w, content, buffers: self.send({"n": content["n"]}))
Echo()
'''

# in-page loops: each returns a list of milliseconds
JS_ECHO = """async (n) => {
  const b = document.querySelector('.bench-echo');
  const out = [];
  for (let i = 0; i < n; i++) {
    const want = String(Number(b.textContent) + 1);
    const done = new Promise((res) => {
      const ob = new MutationObserver(() => {
        if (b.textContent === want) { ob.disconnect(); res(); }
      });
      ob.observe(b, { childList: true, characterData: true, subtree: true });
    });
    const t0 = performance.now();
    b.dispatchEvent(new KeyboardEvent('keydown', { key: 'x', bubbles: true }));
    await done;
    out.push(performance.now() - t0);
  }
  return out;
}"""

JS_KEYS = """async (n) => {
  const root = document.querySelector('.annotate-annotator');
  const ind = root.querySelector('[data-save-status]');
  // the key of the focused turn's first binary code (a toggle: one save per press)
  const key = root.querySelector('[data-unit="turn"] .aa-binary[data-key]').dataset.key;
  const out = [];
  for (let i = 0; i < n; i++) {
    let sawSaving = false;
    const done = new Promise((res) => {
      const ob = new MutationObserver(() => {
        if (ind.textContent === 'saving') sawSaving = true;
        else if (sawSaving && ind.textContent === 'saved') { ob.disconnect(); res(); }
      });
      ob.observe(ind, { childList: true, characterData: true, subtree: true });
    });
    const t0 = performance.now();
    root.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
    await done;
    out.push(performance.now() - t0);
  }
  return out;
}"""

JS_OPEN = """async ([index, cid]) => {
  const root = document.querySelector('.annotate-annotator');
  const jump = root.querySelector('.aa-jump');
  const done = new Promise((res) => {
    const ob = new MutationObserver(() => {
      if ((root.dataset.ready || '').startsWith(cid + '#')) { ob.disconnect(); res(); }
    });
    ob.observe(root, { attributes: true, attributeFilter: ['data-ready'] });
  });
  const t0 = performance.now();
  jump.value = String(index);
  jump.dispatchEvent(new Event('change', { bubbles: true }));
  await done;
  return [performance.now() - t0, root.querySelectorAll('.aa-chat [data-turn-index]').length];
}"""


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1), "p95_ms": round(p95, 1)}


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    home = Path(tempfile.mkdtemp(prefix="bench-widget-"))
    lab = start_lab(home)
    try:
        convs = conversations()
        for n in (50, 300):
            convs.update({k: v for k, v in conversations(n_long=n).items() if k.startswith("long")})
        project = make_project(lab.root / "bench", coders=("alice",), convs=convs)
        queue = project.queue("alice")
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nb.cells = [
            nbformat.v4.new_code_cell(
                "import annotate\nproject = annotate.Project.open('bench/project')\n"
                "annotate.Annotator(project, annotator='alice', break_after_minutes=0)"
            ),
            nbformat.v4.new_code_cell(ECHO),
        ]
        nbformat.write(nb, lab.root / "bench.ipynb")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            open_notebook(page, lab, "bench.ipynb")
            run_all(page)
            root = page.locator(".annotate-annotator")
            expect(root).to_be_visible()
            expect(page.locator(".bench-echo")).to_be_visible()
            page.evaluate(JS_ECHO, 5)  # warm-up
            echo = page.evaluate(JS_ECHO, N_PRESSES)
            first = queue.index("c4")  # starts with a user turn: key 1 toggles a user code
            page.evaluate(JS_OPEN, [first, "c4"])
            page.evaluate(JS_KEYS, 4)  # warm-up
            keys = page.evaluate(JS_KEYS, N_PRESSES)
            opens: dict[int, list[float]] = {50: [], 300: []}
            for _ in range(N_OPENS):
                for n in (50, 300):
                    cid = f"long{n:04d}"
                    ms, rendered = page.evaluate(JS_OPEN, [queue.index(cid), cid])
                    if rendered != n:  # the figure must be for the whole conversation
                        raise RuntimeError(f"{cid}: {rendered} turns rendered, expected {n}")
                    opens[n].append(ms)
                    page.evaluate(JS_OPEN, [first, "c4"])
            browser.close()
        base = summary(echo)
        key = summary(keys)
        o50, o300 = summary(opens[50]), summary(opens[300])
        result = {
            "benchmark": "widget",
            "baseline": {"name": "bare anywidget round trip (keydown -> Python -> DOM)", **base},
            "key_to_saved": {
                **key,
                "ratio_median_to_baseline": round(key["median_ms"] / base["median_ms"], 2),
                "target": "median <= 100 ms, p95 <= 250 ms",
                "ok": key["median_ms"] <= 100 and key["p95_ms"] <= 250,
            },
            "open_50_turns": {
                **o50,
                "ratio_median_to_baseline": round(o50["median_ms"] / base["median_ms"], 2),
                "target": "<= 300 ms",
                "ok": o50["median_ms"] <= 300,
            },
            "open_300_turns": {
                **o300,
                "ratio_median_to_baseline": round(o300["median_ms"] / base["median_ms"], 2),
                "target": "<= 1000 ms",
                "ok": o300["median_ms"] <= 1000,
            },
        }
        print(json.dumps(result))
    finally:
        stop_lab(lab)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
