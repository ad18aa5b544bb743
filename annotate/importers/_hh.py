"""Anthropic HH-RLHF: ``{"chosen", "rejected"}`` transcripts (``Human:`` / ``Assistant:``).

Policy: a turn starts at ``\\n\\nHuman:`` or ``\\n\\nAssistant:``; a bare ``Human:`` or
``Assistant:`` inside a turn (no blank line before it, e.g. the model role-playing the user) stays
part of that turn's text and is counted (``observed.role_marker_inside_turn``, one per
transcript). Empty turns (e.g. the empty final ``Assistant:`` turn) are skipped and counted
(``skipped.empty_turn``); consecutive same-role turns are kept and counted per transcript.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from annotate.importers._base import Context, Importer, Option, show
from annotate.importers._jsonio import iter_records

_MARKER = re.compile(r"\n\n(Human|Assistant): ?")
_INSIDE = re.compile(r"(?<!\n\n)\b(Human|Assistant):")
_ROLE = {"Human": "user", "Assistant": "assistant"}


def split_transcript(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``(text before the first marker, [(speaker, text), ...])`` of one transcript."""
    parts = _MARKER.split(text)
    return parts[0], [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def read_hh(paths: Sequence[Path], ctx: Context) -> None:
    """Import the ``chosen`` transcripts (option ``variant``: chosen, rejected or both)."""
    variant = ctx.options["variant"]
    wanted = ("chosen", "rejected") if variant == "both" else (variant,)
    for path in paths:
        for where, rec in iter_records(path, ctx.tally):
            if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) for k in wanted):
                ctx.tally.skip("invalid_record", f"{where}: no {' and '.join(wanted)} text")
                continue
            pair = hashlib.sha256(
                f"{_text(rec.get('chosen'))}\x00{_text(rec.get('rejected'))}".encode(
                    "utf-8", "surrogatepass"
                )
            ).hexdigest()[:16]
            for which in wanted:
                w = f"{where} {which}"
                head, pieces = split_transcript(rec[which])
                if head.strip():
                    ctx.tally.skip("text_before_first_marker", w)
                if any(_INSIDE.search(t) for _, t in pieces):
                    ctx.tally.observe("role_marker_inside_turn", w)
                turns = []
                for i, (speaker, text) in enumerate(pieces):
                    t = ctx.turn(_ROLE[speaker], text, f"{w} turn {i}", speaker=speaker)
                    if t is not None:
                        turns.append(t)
                ctx.add(
                    turns,
                    w,
                    conversation_id=f"hh-{pair}-{which}",
                    meta={"variant": which, "pair_id": f"hh-{pair}", "record": where},
                )


def _text(value: object) -> str:
    """``str(value)`` as before (the pair id depends on it), or a short form for a value nested
    too deeply to be shown."""
    try:
        return str(value)
    except RecursionError:
        return show(value)


HH_RLHF = Importer(
    name="hh-rlhf.v1",
    format="hh-rlhf",
    reader=read_hh,
    description="gzip or plain JSONL of {chosen, rejected} Human:/Assistant: transcripts",
    options={
        "variant": Option(
            "chosen",
            "choice",
            "which transcript of each pair: chosen (default), rejected, or both",
            ("chosen", "rejected", "both"),
        )
    },
)
