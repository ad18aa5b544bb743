"""Shared test fixtures. Area fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: the third-party corpus samples, in the team's shared folder beside the clone (CI has it). They
#: are not ours to redistribute, so they are read in place and never copied into the project.
SHARED_CORPORA = REPO.parent / "shared" / "corpora"
#: the one reason every test that needs them is skipped with on a clone without the folder
NEEDS_SHARED_CORPORA = "needs the third-party corpus samples in ../shared/corpora (present in CI)"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    """The third-party corpus samples (../shared/corpora); the test is skipped without them."""
    if not SHARED_CORPORA.is_dir():
        pytest.skip(NEEDS_SHARED_CORPORA)
    return SHARED_CORPORA


class LLMAnswers:
    """A folder for the test session that keeps the real test model's answers (audit logs)
    between runs of a notebook that re-creates its project on every run: the tests point
    ``ANNOTATE_LLM_CACHE_FROM`` at it, so the first run asks the model and the runs after it
    read the same answers from the cache (docs/llm.md, section Runs)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._kept = itertools.count()

    def keep(self, work: Path) -> int:
        """Copy the audit logs of every project under ``work``; how many files."""
        import shutil

        dest = self.path / f"run-{next(self._kept)}"
        n = 0
        for log in Path(work).rglob("llm/*/**/*.jsonl"):
            if log.parent.name == "audit":
                target = dest / log.relative_to(work)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(log, target)
                n += 1
        return n


@pytest.fixture(scope="session")
def llm_answers(tmp_path_factory) -> LLMAnswers:
    return LLMAnswers(tmp_path_factory.mktemp("llm-answers"))


def _drawn(fig):
    """Draw ``fig`` on an Agg canvas (a figure closed by pyplot has none) and return the
    renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _in_view(label, axis, ax) -> bool:
    """Whether a tick label belongs to a tick inside the axis's view (others are not drawn)."""
    if not label.get_visible() or not label.get_text():
        return False
    pos = label.get_position()[0 if axis == "x" else 1]
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    return lo - 1e-9 <= pos <= hi + 1e-9


def figure_texts(fig) -> list:
    """(what, Text) for every drawn text of a figure: tick labels in view, titles, axis labels,
    legend texts, figure-level texts."""
    out = []
    axes = list(fig.axes)
    for ax in list(axes):
        axes += [c for c in getattr(ax, "child_axes", []) if c not in axes]
    for ax in axes:
        for axis in ("x", "y"):
            labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
            out += [(f"{axis}tick", t) for t in labels if _in_view(t, axis, ax)]
        out += [("title", ax.title), ("xlabel", ax.xaxis.label), ("ylabel", ax.yaxis.label)]
        if ax.get_legend() is not None:
            out += [("legend", t) for t in ax.get_legend().get_texts()]
    for legend in fig.legends:
        out += [("legend", t) for t in legend.get_texts()]
    out += [("figtext", t) for t in fig.texts]
    for name in ("_suptitle", "_supxlabel", "_supylabel"):
        if getattr(fig, name, None) is not None:
            out.append((name, getattr(fig, name)))
    return [(w, t) for w, t in out if t.get_visible() and t.get_text()]


def texts_outside(fig, *, tol: float = 1.0) -> list[str]:
    """The texts of ``fig`` that reach beyond the figure's edge after drawing (empty: none)."""
    renderer = _drawn(fig)
    box = fig.bbox
    bad = []
    for what, t in figure_texts(fig):
        b = t.get_window_extent(renderer)
        if b.x0 < box.x0 - tol or b.y0 < box.y0 - tol or b.x1 > box.x1 + tol or b.y1 > box.y1 + tol:
            bad.append(f"{what} {t.get_text()!r} at {b.bounds} outside {box.bounds}")
    return bad


def overlapping_ticks(fig, axis: str = "y") -> list[str]:
    """Pairs of neighbouring tick labels of one axis whose boxes overlap (labels collide)."""
    renderer = _drawn(fig)
    bad = []
    for ax in fig.axes:
        labels = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
        boxes = [
            (t.get_window_extent(renderer), t.get_text()) for t in labels if _in_view(t, axis, ax)
        ]
        for (b1, t1), (b2, t2) in itertools.pairwise(boxes):
            if b1.overlaps(b2):
                bad.append(f"{t1!r} overlaps {t2!r}")
    return bad


@pytest.fixture(scope="session")
def figure_checks():
    """Checks on drawn matplotlib figures: ``texts_outside(fig)``, ``overlapping_ticks(fig)``."""
    import types

    return types.SimpleNamespace(
        texts_outside=texts_outside, overlapping_ticks=overlapping_ticks, figure_texts=figure_texts
    )
