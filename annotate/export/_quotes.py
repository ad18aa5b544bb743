"""The quote bank: per code, the words that two or more coders (or gold) marked as its evidence.

``quote_bank(project, codes=None, min_agreement=2, context=1, mask=True)`` returns one row per
quote; ``render(bank, format)`` writes it as CSV, Markdown or HTML, ready to paste into a paper.

A quote is a stretch of a turn's text that at least ``min_agreement`` human coders marked as
evidence of the same code with the same value (where their spans overlap, every character
covered by that many coders; whitespace at its ends left out), or a span of gold's evidence
(adjudicated: gold's spans are the quotes of that turn and code, whoever marked them). Each
quote keeps its offsets into ``turns.text`` (``start``, ``end``) and their sha256, so it can be
found again; spans whose hash no longer matches the corpus text are left out (W410). Spans of
LLM coders are never human evidence (:func:`annotate.agreement.evidence.non_human`).

Masking (default on) applies :func:`annotate.nlp.mask_text` to the whole turn and cuts the quote
from the masked turn, so that an e-mail address cut in half by a span is still masked; a quote
whose text masking changed has ``masked`` True (and is then no longer verbatim).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import html
import io
import json
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from annotate.agreement.evidence import TurnTexts, applies, current_spans, non_human
from annotate.errors import Errors, ExportError, Warnings

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.project import Project

QUOTE_FORMATS = ("csv", "md", "html")
QUOTE_COLUMNS = (
    "code_id", "code_label", "value", "value_label", "quote", "context", "conversation_id",
    "user_id", "turn_index", "role", "start", "end", "sha256", "source", "n_coders", "coders",
    "masked", "codebook_id", "codebook_version",
)  # fmt: skip

Span = tuple[int, int]


def quote_bank(
    project: Project,
    *,
    codes: str | Sequence[str] | None = None,
    min_agreement: int = 2,
    context: int = 1,
    mask: bool = True,
) -> pd.DataFrame:
    """The quote bank of a project (see the module doc).

    Parameters
    ----------
    project : Project
        An open project (all coders' labels are read).
    codes : str or list of str, optional
        Only these codes (default: every turn code that takes evidence).
    min_agreement : int
        How many human coders must have marked the words (gold's spans always count).
    context : int
        How many turns before the quoted one to give as context (0: none).
    mask : bool
        Mask personal data in quotes and context (:func:`annotate.nlp.mask_text`).

    Returns
    -------
    DataFrame
        Columns :data:`QUOTE_COLUMNS`, ordered by code (codebook order), conversation, turn and
        offset.
    """
    codebook = project.codebook
    chosen = _codes(codebook, codes)
    if min_agreement < 1:
        raise ExportError(Errors.E510.format(option="min_agreement", value=min_agreement))
    if context < 0:
        raise ExportError(Errors.E510.format(option="context", value=context))
    texts = TurnTexts(project.corpus)
    frame, stale = current_spans(
        project.labels(), codebook, texts, exclude=non_human(project.path), gold=True
    )
    if stale:
        shown = ", ".join(f"{k} ({v})" for k, v in sorted(stale.items()))
        warnings.warn(Warnings.W410.format(n=sum(stale.values()), codes=shown), stacklevel=2)
    frame = frame[frame["code_id"].isin(chosen)]
    masker = _Masker(mask)
    users = _users(project)
    rows: list[dict[str, Any]] = []
    for (cid, ti, code_id), unit in frame.groupby(["conversation_id", "turn_index", "code_id"]):
        code = codebook.code(str(code_id))
        found = texts.get(str(cid), int(ti))
        if found is None:
            continue
        text, role = found
        for value, s, e, source, coders in _quotes(code, unit, min_agreement):
            start, end = _trim(text, s, e)
            if start >= end:
                continue
            quote, changed = masker.slice(text, start, end)
            rows.append({
                "code_id": code.id, "code_label": code.label, "value": value,
                "value_label": _value_label(code, value), "quote": quote,
                "context": _context(texts, str(cid), int(ti), context, masker),
                "conversation_id": str(cid), "user_id": users.get(str(cid)),
                "turn_index": int(ti), "role": role, "start": start, "end": end,
                "sha256": _sha(text[start:end]), "source": source, "n_coders": len(coders),
                "coders": ", ".join(coders), "masked": changed,
                "codebook_id": codebook.id, "codebook_version": str(codebook.version),
            })  # fmt: skip
    bank = pd.DataFrame(rows, columns=list(QUOTE_COLUMNS))
    order = {c: i for i, c in enumerate(codebook.code_ids)}
    bank = bank.assign(_o=bank["code_id"].map(order)).sort_values(
        ["_o", "conversation_id", "turn_index", "start", "end"], kind="mergesort"
    )
    return bank.drop(columns="_o").reset_index(drop=True)


def _codes(codebook: Codebook, codes: str | Sequence[str] | None) -> list[str]:
    takes = [c.id for c in codebook.codes if c.evidence != "none" and c.unit == "turn"]
    if not takes:
        raise ExportError(Errors.E512.format(codebook=codebook.id, version=codebook.version))
    if codes is None:
        return takes
    wanted = [codes] if isinstance(codes, str) else list(codes)
    bad = [c for c in wanted if c not in takes]
    if bad:
        raise ExportError(
            Errors.E511.format(codes=", ".join(bad), available=", ".join(takes) or "(none)")
        )
    return wanted


def _quotes(
    code: Any, unit: pd.DataFrame, min_agreement: int
) -> Iterable[tuple[str, int, int, str, list[str]]]:
    """(value, start, end, source, coders) of one turn and code: gold's spans where gold
    marked any, else the stretches enough coders marked for the same value."""
    gold = unit[unit["annotator_id"] == "gold"]
    people = unit[unit["annotator_id"] != "gold"]
    gold_spans = [s for spans in gold["spans"] for s in spans]
    if gold_spans:
        value = str(gold["value"].iloc[0])
        for start, end in _merge(gold_spans):
            rows = people[["annotator_id", "value", "spans"]].itertuples(index=False)
            who = sorted(
                {
                    a
                    for a, v, spans in rows
                    if v == value and any(s < end and e > start for s, e in spans)
                }
            )
            yield value, start, end, "gold", who
        return
    for value, same in people.groupby("value"):
        if not applies(code, str(value)):
            continue
        marks = {
            str(a): list(spans)
            for a, spans in zip(same["annotator_id"], same["spans"], strict=True)
            if spans
        }
        for start, end in _covered(marks, min_agreement):
            who = sorted(
                a for a, spans in marks.items() if any(s < end and e > start for s, e in spans)
            )
            yield str(value), start, end, "coders", who


def _trim(text: str, start: int, end: int) -> Span:
    """A stretch without the whitespace at its ends."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _covered(marks: dict[str, list[Span]], k: int) -> list[Span]:
    """The maximal stretches covered by the spans of at least ``k`` different coders."""
    events: list[tuple[int, int]] = []
    for spans in marks.values():
        for s, e in _merge(spans):  # one coder counts once, however many spans overlap
            events += [(s, 1), (e, -1)]
    out: list[Span] = []
    depth, start = 0, None
    for pos, step in sorted(events):
        depth += step
        if depth >= k and start is None:
            start = pos
        elif depth < k and start is not None:
            if pos > start:
                out.append((start, pos))
            start = None
    return _merge(out)


class _Masker:
    """Masks whole turns once (cached), and cuts quotes from the masked text."""

    def __init__(self, on: bool) -> None:
        self.on = on
        self._cache: dict[str, str] = {}

    def text(self, text: str) -> str:
        if not self.on:
            return text
        if text not in self._cache:
            from annotate.nlp import mask_text

            self._cache[text] = mask_text(text)
        return self._cache[text]

    def slice(self, text: str, start: int, end: int) -> tuple[str, bool]:
        """The quote ``text[start:end]`` as masked, and whether masking changed it: the turn
        is masked whole and aligned with its text; a masked stretch the span cuts is taken
        whole (its placeholder)."""
        masked = self.text(text)
        if masked == text:
            return text[start:end], False
        lo = hi = len(masked)
        ops = difflib.SequenceMatcher(None, text, masked, autojunk=False).get_opcodes()
        for tag, i1, i2, j1, j2 in ops:
            if i1 <= start < i2:
                lo = j1 + (start - i1) if tag == "equal" else j1
            if i1 < end <= i2:
                hi = j1 + (end - i1) if tag == "equal" else j2
        quote = masked[lo:hi]
        return quote, quote != text[start:end]


def _context(texts: TurnTexts, cid: str, ti: int, n: int, masker: _Masker) -> str:
    lines = []
    for k in range(max(0, ti - n), ti):
        found = texts.get(cid, k)
        if found is not None:
            lines.append(f"{found[1]}: {masker.text(found[0])}")
    return "\n".join(lines)


def _users(project: Project) -> dict[str, str | None]:
    conv = project.corpus.conversations
    return {
        str(c): (None if pd.isna(u) else str(u))
        for c, u in zip(conv["conversation_id"], conv["user_id"], strict=True)
    }


def _value_label(code: Any, value: str) -> str:
    if code.level == "set":
        return ", ".join(code.value(v).label for v in json.loads(value))
    return str(code.value(value).label)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- counts for the data card ------------------------------------------------------------------
def evidence_counts(project: Project, *, min_agreement: int = 2) -> pd.DataFrame | None:
    """Per code that takes evidence: spans marked by people, turns with evidence, quotes of
    the quote bank at ``min_agreement``, spans of LLM coders (not counted as evidence) and
    stale spans. None when the codebook has no code that takes evidence."""
    codebook = project.codebook
    takes = [c.id for c in codebook.codes if c.evidence != "none" and c.unit == "turn"]
    if not takes:
        return None
    texts = TurnTexts(project.corpus)
    labels = project.labels()
    llm = non_human(project.path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        people, stale = current_spans(labels, codebook, texts, exclude=llm)
        bank = quote_bank(project, min_agreement=min_agreement, context=0, mask=False)
    machine = labels[labels["annotator_id"].isin(llm) & labels["code_id"].isin(takes)]
    rows = []
    for code_id in takes:
        mine = people[people["code_id"] == code_id]
        with_spans = mine[mine["spans"].map(len) > 0][["conversation_id", "turn_index"]]
        rows.append({
            "code_id": code_id,
            "spans (people)": int(mine["spans"].map(len).sum()),
            "turns with evidence": len(with_spans.drop_duplicates()),
            f"quotes (>= {min_agreement} coders or gold)": int((bank["code_id"] == code_id).sum()),
            "spans (LLM, not counted)": int(sum(
                0 if ev is None or isinstance(ev, float) else len(ev)
                for ev in machine.loc[machine["code_id"] == code_id, "evidence"]
            )),
            "stale spans": int(stale.get(code_id, 0)),
        })  # fmt: skip
    return pd.DataFrame(rows)


# --- output -------------------------------------------------------------------------------------
def render(bank: pd.DataFrame, format: str, *, title: str = "Quote bank", note: str = "") -> str:
    """The quote bank as CSV, Markdown or a self-contained HTML page (every text escaped)."""
    if format not in QUOTE_FORMATS:
        raise ExportError(
            Errors.E501.format(option="format", value=format, allowed=", ".join(QUOTE_FORMATS))
        )
    if format == "csv":
        buf = io.StringIO()
        bank.to_csv(buf, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        return buf.getvalue()
    return (_markdown if format == "md" else _html)(bank, title, note)


def _caption(r: Any) -> str:
    who = f"{r.n_coders} coder{'s' if r.n_coders != 1 else ''}"
    who += f" ({r.coders})" if r.coders else ""
    source = (
        "gold (adjudicated)" + (f"; marked by {who}" if r.n_coders else "")
        if r.source == "gold"
        else who
    )
    user = f", user {r.user_id}" if isinstance(r.user_id, str) and r.user_id else ""
    return (
        f"conversation {r.conversation_id}{user}, turn {r.turn_index} ({r.role}); {source}; "
        f"value {r.value_label}; {r.codebook_id} v{r.codebook_version}; "
        f"characters {r.start}–{r.end}" + ("; masked" if r.masked else "")
    )


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|&~"})


def _md(text: str) -> str:
    """Text shown as it is in Markdown (its markup and HTML escaped)."""
    return text.translate(_MD_SPECIAL)


def _by_code(bank: pd.DataFrame) -> Iterable[tuple[str, str, pd.DataFrame]]:
    for code_id, rows in bank.groupby("code_id", sort=False):
        yield str(code_id), str(rows["code_label"].iloc[0]), rows


def _markdown(bank: pd.DataFrame, title: str, note: str) -> str:
    out = [f"# {_md(title)}", ""]
    if note:
        out += [_md(note), ""]
    if bank.empty:
        return "\n".join([*out, "_No quote: no words were marked by enough coders._", ""])
    for code_id, label, rows in _by_code(bank):
        out += [f"## {_md(label)} (`{code_id}`)", "", f"{len(rows)} quote(s).", ""]
        for r in rows.itertuples(index=False):
            if r.context:
                for line in str(r.context).split("\n"):
                    out.append(f"_{_md(line)}_  ")
                out.append("")
            out += [*(f"> {_md(line)}" if line else ">" for line in str(r.quote).split("\n")), ""]
            out += [f"— {_md(_caption(r))}", ""]
    return "\n".join(out)


_CSS = """body { font: 11pt/1.45 Georgia, serif; max-width: 46em; margin: 2em auto; }
h1, h2 { font-family: Helvetica, Arial, sans-serif; } blockquote { margin: .4em 0 .2em 1em;
padding-left: .8em; border-left: 3px solid #999; white-space: pre-wrap; }
.context { color: #555; font-style: italic; white-space: pre-wrap; margin: 1.2em 0 0; }
figcaption { font: 9pt Helvetica, Arial, sans-serif; color: #555; } figure { margin: 0 0 1em; }"""


def _html(bank: pd.DataFrame, title: str, note: str) -> str:
    e = lambda t: html.escape(str(t), quote=True)  # noqa: E731
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if note:
        out.append(f"<p>{e(note)}</p>")
    if bank.empty:
        out.append("<p>No quote: no words were marked by enough coders.</p>")
    for code_id, label, rows in _by_code(bank):
        out.append(f'<h2 id="{e(code_id)}">{e(label)} <code>{e(code_id)}</code></h2>')
        for r in rows.itertuples(index=False):
            out.append("<figure>")
            if r.context:
                out.append(f'<p class="context">{e(r.context)}</p>')
            out.append(f"<blockquote>{e(r.quote)}</blockquote>")
            out.append(f"<figcaption>{e(_caption(r))}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def bank_note(
    project: Project, bank: pd.DataFrame, min_agreement: int, context: int, mask: bool
) -> str:
    """One line saying how the bank was made (the header of the Markdown and HTML outputs)."""
    cb = project.codebook
    return (
        f"{len(bank)} quote(s) from project {project.path.name}, codebook {cb.id} v{cb.version} "
        f"(sha256 {cb.hash[:12]}); words marked by at least {min_agreement} coder(s) for the same "
        f"code and value, or by gold; {context} turn(s) of context; personal data "
        + ("masked." if mask else "not masked.")
    )
