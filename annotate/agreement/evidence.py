"""Agreement on evidence spans: do coders who agree on a code point at the same words?

For every turn code that takes evidence (codebook ``evidence: required | optional``), each pair
of coders who gave a turn the same value of the code (and not its absence: a binary code's
absent value, a set code's ``[]``), and who both marked evidence there, is compared:

* **token F1 and Jaccard**: the turn's tokens (runs of word characters, and single symbols
  such as an emoji; punctuation left out) a coder marked (any character of the token inside one
  of the coder's spans). Per code, pooled over all compared pairs (micro averages):
  ``F1 = 2 Σ|A ∩ B| / Σ(|A| + |B|)`` and ``Jaccard = Σ|A ∩ B| / Σ|A ∪ B|``;
* **Krippendorff's unitizing alpha** (alpha_u; Krippendorff 1995, 2004 ch. 12) on characters:
  each compared pair's turn is a section of one continuum of two observers (the pair's turns
  joined), the pair's spans its units. With two coders this is Krippendorff's alpha_u over the
  turns both coded; with more, every pair's sections are pooled. :func:`unitizing_alpha` is
  the general core (any number of observers and categories), checked against Krippendorff's
  published examples (tests/agreement/test_evidence_agreement.py).

Pairs where only one coder marked evidence are counted (``ev_one_sided``), not compared: an
optional span left out says nothing about which words justify the code. Spans whose sha256 no
longer matches the corpus text (the corpus changed since they were made) are left out and
counted (``ev_stale``, warning W410), never compared on other text. Coders whose kind is not
``human`` (LLM coders, see :func:`coder_kinds`) and gold are never counted as human evidence.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import re
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.errors import Warnings

if TYPE_CHECKING:
    from annotate.codebook import Code, Codebook
    from annotate.corpus import Corpus

#: the columns :func:`evidence_agreement` adds to the agreement report (beside alpha)
EVIDENCE_COLUMNS = (
    "ev_units", "ev_pairs", "ev_one_sided", "ev_stale", "ev_f1", "ev_jaccard", "ev_alpha_u",
)  # fmt: skip
#: annotator ids that are never coders of evidence (adjudication)
NOT_CODERS = ("gold",)
_TOKEN = re.compile(r"\w+|[^\w\s]")
#: the columns of :func:`current_spans`
SPAN_COLUMNS = [
    "annotator_id", "conversation_id", "turn_index", "role", "code_id", "value", "spans", "n_given",
]  # fmt: skip

Span = tuple[int, int]


# --- who is a human coder ---------------------------------------------------------------------
def coder_kinds(project_dir: str | Path) -> dict[str, str]:
    """The kind of each non-human coder of a project: ``{coder_id: kind}``.

    An LLM coder lives in ``<project>/llm/<id>/coder.json``; its ``kind`` field (default
    ``"llm"``) is its kind. Coders not listed are people (``"human"``). This is the one place
    that reads coder kinds, so that it can follow the LLM coders' own API when it exists.
    """
    out: dict[str, str] = {}
    folder = Path(project_dir) / "llm"
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*/coder.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
        kind = doc.get("kind") if isinstance(doc, dict) else None
        out[path.parent.name] = str(kind or "llm")
    return out


def non_human(project_dir: str | Path) -> set[str]:
    """Coder ids whose spans are never counted as human evidence (LLM coders)."""
    return {c for c, kind in coder_kinds(project_dir).items() if kind != "human"}


# --- Krippendorff's unitizing alpha ----------------------------------------------------------
@dataclass(frozen=True)
class UnitizingAlpha:
    """alpha_u of a unitizing study: per category and overall, with their disagreements."""

    alpha: float
    observed: float
    expected: float
    categories: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    """category -> (alpha, observed disagreement, expected disagreement)"""


def unitizing_alpha(
    units: Iterable[tuple[int, str, int, int]], begin: int, length: int, observers: int
) -> UnitizingAlpha:
    """Krippendorff's alpha_u for ``observers`` observers unitizing ``[begin, begin+length)``.

    Parameters
    ----------
    units : iterable of (observer, category, start, end)
        The units each observer marked (observers ``0 .. observers-1``); units of one observer
        and category must not overlap.
    begin, length : int
        The continuum.
    observers : int
        How many observers unitized the whole continuum (at least 2).

    Returns
    -------
    UnitizingAlpha
        Per category ``alpha_c = 1 - D_o,c / D_e,c``; overall ``1 - mean D_o / mean D_e``
        (Krippendorff 2004, section 12.4). NaN where the expected disagreement is 0.

    Notes
    -----
    Observed disagreement of category c, over the segments (units and gaps) of each pair of
    observers that intersect: ``D_o,c = 2 / (m (m-1) L^2) * sum delta^2(g, h)``, with
    ``delta^2`` the sum of the squared differences of the two units' beginnings and ends when
    both are units, the length squared of a unit lying inside a gap of the other, else 0.
    Expected disagreement: ``D_e,c = 2/L * sum_units [(N_c - 1)(2l^3 - 3l^2 + l)/3 + l^2
    sum_{gaps h, l_h >= l} (l_h - l + 1)] / (mL(mL - 1) - sum_units l(l - 1))``.
    Computed in exact rational arithmetic, rounded once.
    """
    m, L = int(observers), int(length)
    by_cat: dict[str, list[list[Span]]] = defaultdict(lambda: [[] for _ in range(m)])
    for obs, cat, start, end in units:
        by_cat[str(cat)][int(obs)].append((int(start) - begin, int(end) - begin))
    cats: dict[str, tuple[float, float, float]] = {}
    sums = [Fraction(0), Fraction(0)]
    for cat in sorted(by_cat):
        per = [sorted(u) for u in by_cat[cat]]
        d_o, d_e = _observed(per, L, m), _expected(per, L, m)
        sums[0] += d_o
        sums[1] += d_e
        cats[cat] = (_alpha(d_o, d_e), float(d_o), float(d_e))
    n = len(cats) or 1
    return UnitizingAlpha(_alpha(sums[0], sums[1]), float(sums[0] / n), float(sums[1] / n), cats)


def _alpha(d_o: Fraction, d_e: Fraction) -> float:
    return float(1 - d_o / d_e) if d_e else float("nan")


def _segments(units: list[Span], L: int) -> list[tuple[int, int, bool]]:
    """The partition of [0, L) into (begin, length, is_unit) segments of one observer."""
    out, pos = [], 0
    for start, end in units:
        if start > pos:
            out.append((pos, start - pos, False))
        out.append((start, end - start, True))
        pos = end
    if pos < L:
        out.append((pos, L - pos, False))
    return out


def _delta2(g: tuple[int, int, bool], h: tuple[int, int, bool]) -> int:
    (bg, lg, ug), (bh, lh, uh) = g, h
    if ug and uh and -lg < bg - bh < lh:
        return (bg - bh) ** 2 + (bg + lg - bh - lh) ** 2
    if ug and not uh and bh <= bg and bg + lg <= bh + lh:
        return lg * lg
    if uh and not ug and bg <= bh and bh + lh <= bg + lg:
        return lh * lh
    return 0


def _observed(per: list[list[Span]], L: int, m: int) -> Fraction:
    total = 0
    for i, j in itertools.combinations(range(m), 2):
        a, b = _segments(per[i], L), _segments(per[j], L)
        x = y = 0
        while x < len(a) and y < len(b):  # every intersecting pair of segments, once
            total += _delta2(a[x], b[y])
            end_a, end_b = a[x][0] + a[x][1], b[y][0] + b[y][1]
            if end_a <= end_b:
                x += 1
            if end_b <= end_a:
                y += 1
    return Fraction(2 * total, m * (m - 1) * L * L)


def _expected(per: list[list[Span]], L: int, m: int) -> Fraction:
    lengths = [e - s for u in per for s, e in u]
    gaps = sorted(seg[1] for u in per for seg in _segments(u, L) if not seg[2])
    after = [0] * (len(gaps) + 1)  # after[k] = sum of gaps[k:]
    for k in range(len(gaps) - 1, -1, -1):
        after[k] = after[k + 1] + gaps[k]
    n_c = len(lengths)
    total = 0  # three times the sum, in whole numbers
    for lg in lengths:
        k = bisect.bisect_left(gaps, lg)  # the gaps at least as long as the unit
        inner = after[k] - (lg - 1) * (len(gaps) - k)  # sum of (l_h - l + 1) over them
        total += (n_c - 1) * (2 * lg**3 - 3 * lg**2 + lg) + 3 * lg * lg * inner
    denominator = m * L * (m * L - 1) - sum(lg * (lg - 1) for lg in lengths)
    return Fraction(2 * total, 3 * L * denominator) if denominator else Fraction(0)


# --- tokens -------------------------------------------------------------------------------------
def tokens(text: str) -> list[Span]:
    """The tokens of a text as [start, end) offsets: runs of word characters and single
    non-space symbols (an emoji), punctuation left out."""
    return [
        m.span()
        for m in _TOKEN.finditer(text)
        if not (len(m.group()) == 1 and unicodedata.category(m.group()).startswith("P"))
    ]


def marked_tokens(toks: Sequence[Span], spans: Sequence[Span]) -> set[int]:
    """Indexes of the tokens with a character inside one of the spans."""
    return {i for i, (ts, te) in enumerate(toks) if any(s < te and e > ts for s, e in spans)}


# --- the spans of the labels --------------------------------------------------------------------
def span_list(value: Any) -> list[dict[str, Any]]:
    """A label's ``evidence`` cell (None, NaN, a list or array of mappings) as a list of dicts."""
    if value is None or isinstance(value, float) or value is pd.NA:
        return []
    return [dict(x) for x in value]


def is_current(span: Mapping[str, Any], text: str | None) -> bool:
    """Whether a span still points at the text it was made on (bounds and sha256)."""
    if text is None or not 0 <= span["start"] < span["end"] <= len(text):
        return False
    quoted = text[span["start"] : span["end"]].encode("utf-8", "surrogatepass")
    return hashlib.sha256(quoted).hexdigest() == span["sha256"]


def applies(code: Code, value: str) -> bool:
    """Whether a value says the code applies (not a binary absent value, not an empty set)."""
    if code.level == "binary":
        return value != code.values[0].value
    return not (code.level == "set" and value == "[]")


class TurnTexts:
    """Text and role of corpus turns, read one conversation at a time (any object with
    ``.conversation(id)`` giving a turns frame)."""

    def __init__(self, corpus: Any) -> None:
        self.corpus = corpus
        self._cache: dict[str, dict[int, tuple[str, str]]] = {}

    def get(self, cid: str, ti: int) -> tuple[str, str] | None:
        """(text, role) of a turn, or None when the corpus has no such turn."""
        if cid not in self._cache:
            try:
                frame = self.corpus.conversation(cid)
            except (KeyError, ValueError):
                frame = None
            rows = {} if frame is None else {
                int(i): (t if isinstance(t, str) else "", str(r))
                for i, t, r in zip(frame["turn_index"], frame["text"], frame["role"], strict=True)
            }  # fmt: skip
            self._cache[cid] = rows
        return self._cache[cid].get(int(ti))


def current_spans(
    labels: pd.DataFrame,
    codebook: Codebook,
    texts: TurnTexts,
    *,
    exclude: Iterable[str] = (),
    gold: bool = False,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The human coders' turn labels of codes that take evidence, one row each, with their
    spans checked against the corpus text (with ``gold``, gold's labels too).

    Returns (frame, stale): the frame has ``annotator_id, conversation_id, turn_index, role,
    code_id, value, spans`` (list of (start, end) still current), ``n_given`` (spans in the
    label); ``stale`` counts per code the spans left out because the text changed.
    """
    codes = {c.id for c in codebook.codes if c.evidence != "none" and c.unit == "turn"}
    skip = set(exclude) | (set() if gold else set(NOT_CODERS))
    cols = ["annotator_id", "conversation_id", "turn_index", "code_id", "value", "evidence"]
    if labels is None or labels.empty or not codes:
        return pd.DataFrame(columns=SPAN_COLUMNS), {}
    df = labels[labels["code_id"].isin(codes) & labels["unit"].eq("turn")]
    df = df[~df["annotator_id"].isin(skip)]
    if "op" in df:
        df = df[df["op"].eq("set")]
    rows, stale = [], dict.fromkeys(sorted(codes), 0)
    for ann, cid, ti, code_id, value, ev in df[cols].itertuples(index=False):
        found = texts.get(str(cid), int(ti))
        text, role = found if found else (None, None)
        given = span_list(ev)
        ok = [(s["start"], s["end"]) for s in given if is_current(s, text)]
        stale[code_id] += len(given) - len(ok)
        rows.append((str(ann), str(cid), int(ti), role, str(code_id), str(value), ok, len(given)))
    return pd.DataFrame(rows, columns=SPAN_COLUMNS), {k: v for k, v in stale.items() if v}


# --- the agreement ------------------------------------------------------------------------------
def evidence_agreement(
    labels: pd.DataFrame,
    codebook: Codebook,
    corpus: Corpus | Any,
    *,
    codes: str | Sequence[str] | None = None,
    exclude: Iterable[str] = (),
) -> pd.DataFrame:
    """Span agreement per code (and role) where coders agree on the code.

    Parameters
    ----------
    labels : DataFrame
        Current label events with their ``evidence`` (``Project.labels()``).
    codebook : Codebook
        Gives the codes that take evidence, their levels and absent values.
    corpus : Corpus
        The turns' texts (any object with ``.conversation(id)``), to tokenize the turns and to
        check that each span still points at the text it was made on.
    codes : str or list of str, optional
        Only these codes (default: every turn code that takes evidence).
    exclude : iterable of str
        Coder ids whose spans are not human evidence (LLM coders: :func:`non_human`).

    Returns
    -------
    DataFrame
        One row per (code_id, role), plus a pooled row (role ``all``) for a code coded on
        several roles: ``code_id, unit, role``, then :data:`EVIDENCE_COLUMNS`: ``ev_units``
        (turns with a compared pair), ``ev_pairs`` (coder pairs compared), ``ev_one_sided``
        (agreeing pairs where one coder alone marked evidence), ``ev_stale`` (spans left out:
        the corpus text changed), ``ev_f1``, ``ev_jaccard`` (tokens, pooled over pairs) and
        ``ev_alpha_u`` (Krippendorff's unitizing alpha on characters). NaN where no pair was
        compared.
    """
    wanted = [codes] if isinstance(codes, str) else codes
    texts = TurnTexts(corpus)
    frame, stale = current_spans(labels, codebook, texts, exclude=exclude)
    chosen = [
        c for c in codebook.codes
        if c.evidence != "none" and c.unit == "turn" and (wanted is None or c.id in wanted)
    ]  # fmt: skip
    stats: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for (cid, ti, code_id), unit in frame.groupby(["conversation_id", "turn_index", "code_id"]):
        code = next((c for c in chosen if c.id == code_id), None)
        found = texts.get(str(cid), int(ti))
        if code is None or found is None:
            continue
        text, role = found
        tally = stats[(code.id, role)]
        toks = tokens(text)
        compared = False
        for value, same in unit.groupby("value"):
            if not applies(code, str(value)) or len(same) < 2:
                continue
            marks = [list(s) for s in same["spans"]]
            for a, b in itertools.combinations(range(len(marks)), 2):
                if not marks[a] and not marks[b]:
                    continue
                if not marks[a] or not marks[b]:
                    tally.one_sided += 1
                    continue
                tally.add(text, toks, marks[a], marks[b])
                compared = True
        tally.units += compared
    rows = []
    for code in chosen:
        n_stale = stale.get(code.id, 0)
        roles = [r for r in code.applies_to if (code.id, r) in stats] or [code.applies_to[0]]
        rows += [stats[(code.id, role)].row(code.id, role, n_stale) for role in roles]
        if len(code.applies_to) > 1:
            parts = [stats[(code.id, r)] for r in code.applies_to if (code.id, r) in stats]
            rows.append(_Tally.pool(parts).row(code.id, "all", n_stale))
    if stale:
        shown = ", ".join(f"{k} ({v})" for k, v in sorted(stale.items()))
        warnings.warn(Warnings.W410.format(n=sum(stale.values()), codes=shown), stacklevel=2)
    return pd.DataFrame(rows, columns=["code_id", "unit", "role", *EVIDENCE_COLUMNS])


@dataclass
class _Tally:
    """Sums of one code (and role): tokens of the compared pairs and their unitizing sections."""

    units: int = 0
    pairs: int = 0
    one_sided: int = 0
    both: int = 0
    either: int = 0
    sizes: int = 0
    sections: list[tuple[int, list[Span], list[Span]]] = field(default_factory=list)

    def add(self, text: str, toks: Sequence[Span], a: list[Span], b: list[Span]) -> None:
        ta, tb = marked_tokens(toks, a), marked_tokens(toks, b)
        self.pairs += 1
        self.both += len(ta & tb)
        self.either += len(ta | tb)
        self.sizes += len(ta) + len(tb)
        self.sections.append((len(text), _merged(a), _merged(b)))

    @classmethod
    def pool(cls, parts: list[_Tally]) -> _Tally:
        out = cls()
        for p in parts:
            out.units += p.units
            out.pairs += p.pairs
            out.one_sided += p.one_sided
            out.both += p.both
            out.either += p.either
            out.sizes += p.sizes
            out.sections += p.sections
        return out

    def row(self, code_id: str, role: str, stale: int) -> dict[str, Any]:
        nan = float("nan")
        return {
            "code_id": code_id, "unit": "turn", "role": role,
            "ev_units": self.units, "ev_pairs": self.pairs, "ev_one_sided": self.one_sided,
            "ev_stale": stale,
            "ev_f1": 2 * self.both / self.sizes if self.sizes else nan,
            "ev_jaccard": self.both / self.either if self.either else nan,
            "ev_alpha_u": self.alpha_u(),
        }  # fmt: skip

    def alpha_u(self) -> float:
        """alpha_u of the compared pairs' turns joined into one two-observer continuum."""
        if not self.sections:
            return float("nan")
        units, pos = [], 0
        for length, a, b in self.sections:
            units += [(0, "c", pos + s, pos + e) for s, e in a]
            units += [(1, "c", pos + s, pos + e) for s, e in b]
            pos += length
        return unitizing_alpha(units, 0, pos, 2).alpha if pos else float("nan")


def _merged(spans: Iterable[Span]) -> list[Span]:
    """Overlapping spans of one coder joined (alpha_u's units of an observer do not overlap)."""
    out: list[Span] = []
    for s, e in sorted(spans):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def evidence_table(report_table: pd.DataFrame, evidence: pd.DataFrame) -> pd.DataFrame:
    """The agreement report's table with the evidence columns beside each code's alpha
    (NaN / 0 for rows of codes that take no evidence)."""
    if evidence is None or evidence.empty or report_table.empty:
        return report_table
    keyed = evidence.drop(columns=["unit"]).drop_duplicates(["code_id", "role"])
    out = report_table.merge(keyed, on=["code_id", "role"], how="left")
    out.index = report_table.index
    for col in ("ev_units", "ev_pairs", "ev_one_sided", "ev_stale"):
        out[col] = out[col].astype("Int64")
    for col in ("ev_f1", "ev_jaccard", "ev_alpha_u"):
        out[col] = out[col].astype(np.float64)
    return out
