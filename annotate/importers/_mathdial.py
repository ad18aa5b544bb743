"""MathDial: one JSON object per dialogue, turns in one ``|EOM|``-separated string.

The human side is the teacher, so ``Teacher`` turns are ``user`` and every other speaker (the
LLM student, labelled ``Student`` or by the student's first name) is ``assistant``; the label is
kept in ``speaker`` (first names counted as ``observed.student_named_speaker``). A teacher's
dialogue-act tag (``(probing)``) is moved from the text into the turn's ``meta.act``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from annotate.importers._base import Context, Importer, text_id
from annotate.importers._jsonio import iter_records

_TURN = re.compile(r"^\s*([^:\n]{1,40}):\s?(.*)\Z", re.S)
_ACT = re.compile(r"^\s*\((\w[\w\s-]*)\)\s*")


def read_mathdial(paths: Sequence[Path], ctx: Context) -> None:
    """Import MathDial JSONL (``conversation`` string per record)."""
    for path in paths:
        for where, rec in iter_records(path, ctx.tally):
            text = rec.get("conversation") if isinstance(rec, dict) else None
            if not isinstance(text, str):
                ctx.tally.skip("invalid_record", f"{where}: no 'conversation' string")
                continue
            turns = []
            for i, piece in enumerate(text.split("|EOM|")):
                w = f"{where} turn {i}"
                m = _TURN.match(piece)
                if m is None:
                    ctx.tally.skip("turn_without_speaker", w)
                    continue
                speaker, body = m.group(1).strip(), m.group(2)
                meta = None
                if speaker == "Teacher":
                    role = "user"
                    act = _ACT.match(body)
                    if act:
                        meta = {"act": act.group(1).strip()}
                        body = body[act.end() :]
                else:
                    role = "assistant"
                    if speaker != "Student":
                        ctx.tally.observe("student_named_speaker", w)
                t = ctx.turn(role, body, w, speaker=speaker, meta=meta)
                if t is not None:
                    turns.append(t)
            meta = {k: v for k, v in rec.items() if k != "conversation"}
            ctx.add(turns, where, source_id=text_id(rec.get("qid")), meta=meta)


MATHDIAL = Importer(
    name="mathdial.v1",
    format="mathdial",
    reader=read_mathdial,
    description="MathDial JSONL: |EOM|-separated 'Speaker: text' turns, teacher = user",
)
