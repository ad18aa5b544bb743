"""Prompts from the codebook: the guidance of every code for the unit being coded.

A prompt has two messages. The **system** message depends only on the kind of unit (a user
turn, an assistant turn, a whole conversation): the codebook's guidance for each code that
applies to it (definition, when and when not to use it, examples, near misses, the values and
what they mean) and the answer format. The **user** message shows the conversation as the
context policy allows and names the unit to code. Keeping everything unit-specific in the user
message lets llama.cpp reuse the evaluated system prompt from one unit to the next (its prompt
cache matches the longest common prefix).

A template is plain text with a ``[system]`` line and a ``[user]`` line; ``$name`` variables
(:data:`VARIABLES`) are filled per unit (``$$`` is a literal dollar sign). The default template
is :data:`DEFAULT_TEMPLATE`; ``--prompt FILE`` replaces it, and the template text and its hash
are part of the coder's record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from annotate.errors import Errors, LLMError
from annotate.types import FilePath

#: variables a template may use, each filled per unit
VARIABLES: tuple[str, ...] = (
    "codebook_id",
    "codebook_version",
    "codebook_title",
    "codebook_description",
    "unit_kind",
    "codes",
    "answer_format",
    "conversation",
    "task",
)

DEFAULT_TEMPLATE = """\
[system]
You are a careful coder in a research study of conversations between a person (the "user") and \
an AI system (the "assistant"). You code with the codebook "$codebook_title" \
($codebook_id v$codebook_version). Code only what the words of the marked unit do; do not guess \
about the speaker.

You code one $unit_kind. Its codes:

$codes

Answer with one JSON object and nothing else, in this form:
$answer_format
[user]
$conversation

$task
"""

_MARK = ">>>"


@dataclass(frozen=True)
class WorkUnit:
    """One unit an LLM coder labels: a turn (with its role) or a whole conversation."""

    unit: str  #: "turn" or "conversation"
    conversation_id: str
    turn_index: int | None
    role: str | None  #: the turn's role; None for a conversation

    @property
    def kind(self) -> str:
        """``turn/user``, ``turn/assistant`` or ``conversation``: what the prompt is for."""
        return f"turn/{self.role}" if self.unit == "turn" else "conversation"

    @property
    def key(self) -> tuple[str, str, int | None]:
        return (self.unit, self.conversation_id, self.turn_index)

    def label(self) -> str:
        if self.unit == "turn":
            return f"{self.conversation_id}/{self.turn_index}"
        return self.conversation_id


def template_hash(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def read_template(source: FilePath | None) -> tuple[str, str]:
    """The template text and where it came from (``default`` or the file's name); checked."""
    if source is None:
        return DEFAULT_TEMPLATE, "default"
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LLMError(_template_error(path, f"cannot be read ({exc})")) from exc
    split_template(text, path)
    return text, path.name


def _template_error(path: Any, problem: str) -> str:
    variables = ", ".join(f"${v}" for v in VARIABLES)
    return Errors.E708.format(path=path, problem=problem, variables=variables)


def split_template(text: str, where: Any = "<template>") -> tuple[Template, Template]:
    """The system and user parts of a template (E708 when malformed or a variable is unknown)."""
    lines = text.splitlines()
    heads = [i for i, line in enumerate(lines) if line.strip() in ("[system]", "[user]")]
    names = [lines[i].strip() for i in heads]
    if names != ["[system]", "[user]"]:
        raise LLMError(_template_error(where, "it needs one '[system]' line, then one '[user]'"))
    system = "\n".join(lines[heads[0] + 1 : heads[1]]).strip("\n")
    user = "\n".join(lines[heads[1] + 1 :]).strip("\n")
    parts = (Template(system), Template(user))
    for part in parts:
        if not part.is_valid():
            raise LLMError(_template_error(where, "a '$' is not followed by a variable name"))
        unknown = sorted(set(part.get_identifiers()) - set(VARIABLES))
        if unknown:
            raise LLMError(_template_error(where, f"unknown variable(s) {unknown}"))
    return parts


# --- the codebook's guidance -----------------------------------------------------------------


def _q(text: str) -> str:
    return json.dumps(" ".join(str(text).split()), ensure_ascii=False)


def render_code(code: Any) -> str:
    """One code's guidance, as the model reads it."""
    out = [f"## {code.id}: {code.label}", f"Definition: {' '.join(code.definition.split())}"]
    if code.when_to_use:
        out.append(f"Use it when: {' '.join(code.when_to_use.split())}")
    if code.when_not_to_use:
        out.append(f"Do not use it when: {' '.join(code.when_not_to_use.split())}")
    if code.level == "set":
        out.append("Values (a list of any number of them, [] for none):")
    elif code.level == "binary":
        out.append("Values (exactly one):")
    else:
        out.append(f"Values ({code.level}, exactly one):")
    for v in code.values:
        meaning = v.label if not v.definition else f"{v.label}: {' '.join(v.definition.split())}"
        out.append(f"- {_q(v.value)} = {meaning}")
    if code.examples:
        out.append("Examples where it applies:")
        for ex in code.examples:
            after = f" (in reply to: {_q(ex.context)})" if ex.context else ""
            out.append(f"- {_q(ex.text)}{after}")
    if code.near_misses:
        out.append("Near misses, where it does not apply:")
        for nm in code.near_misses:
            out.append(f"- {_q(nm.text)}: {' '.join(nm.why.split())}")
    return "\n".join(out)


def _answer_value(code: Any) -> str:
    values = " | ".join(_q(v) for v in code.value_ids)
    return f"[zero or more of {values}]" if code.level == "set" else values


def answer_format(codes: list[Any], rationale: bool) -> str:
    """The JSON skeleton of an answer (the schema, said in words the model reads)."""
    if rationale:
        items = [
            f'  "{c.id}": {{"rationale": "<one short sentence>", "value": {_answer_value(c)}}}'
            for c in codes
        ]
    else:
        items = [f'  "{c.id}": {_answer_value(c)}' for c in codes]
    return "{\n" + ",\n".join(items) + "\n}"


# --- the conversation ------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f" [... {len(text) - limit} characters cut]"


def render_conversation(
    turns: list[tuple[int, str, str]], target: int | None, policy: str, budget: int
) -> tuple[str, int]:
    """The transcript a prompt shows, and how many turns were left out for the budget.

    Parameters
    ----------
    turns : list of (turn_index, role, text)
        The conversation, in order.
    target : int or None
        The turn being coded (marked ``>>>``); None for a conversation unit.
    policy : {"full", "upto"}
        ``upto`` shows only the turns up to the target.
    budget : int
        Characters of turn text at most; the target turn first, then the turns nearest to it.
    """
    if target is not None and policy == "upto":
        turns = [t for t in turns if t[0] <= target]
    pos = next((i for i, t in enumerate(turns) if t[0] == target), len(turns) - 1)
    if target is None:
        pos = 0
    texts = [str(t[2] or "") for t in turns]
    keep: dict[int, str] = {}
    left = budget
    if target is not None:
        keep[pos] = _cut(texts[pos], max(budget // 2, 200))
        left -= len(keep[pos])
    order = sorted(range(len(turns)), key=lambda i: (abs(i - pos), i))
    for i in order:
        if i in keep:
            continue
        if left <= 0:
            break
        keep[i] = _cut(texts[i], max(left, 80))
        left -= len(keep[i])
    lines, omitted, gap = [], 0, 0
    for i, (index, role, _) in enumerate(turns):
        if i not in keep:
            omitted += 1
            gap += 1
            continue
        if gap:
            lines.append(f"[... {gap} turn(s) left out ...]")
            gap = 0
        mark = f"{_MARK} " if index == target else ""
        lines.append(f"{mark}[{index}] {role.upper()}: {keep[i]}")
    if gap:
        lines.append(f"[... {gap} turn(s) left out ...]")
    return "\n".join(lines), omitted


# --- the prompt builder ----------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """The messages of one request and what went into them."""

    messages: list[dict[str, str]]
    omitted_turns: int

    @property
    def hash(self) -> str:
        """sha256 of the messages (the prompt hash of the audit log and the cache key)."""
        data = json.dumps(self.messages, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


#: variables whose value changes from unit to unit (the rest depend on the kind of unit only)
PER_UNIT = frozenset({"conversation", "task"})
_KINDS = {"turn/user": "user turn", "turn/assistant": "assistant turn"}
_KINDS["conversation"] = "whole conversation"


class PromptBuilder:
    """Builds the prompt of every unit for one coder (per-kind parts rendered once)."""

    def __init__(
        self,
        codebook: Any,
        template: str,
        *,
        context: str,
        budget: int,
        rationale: bool,
        codes: Any = None,
    ):
        self.codebook = codebook
        #: the codes this coder codes (None: every code of the codebook)
        self.only = None if codes is None else frozenset(codes)
        self.context = context
        self.budget = budget
        self.rationale = rationale
        self._system_t, self._user_t = split_template(template)
        self._system_static = not (set(self._system_t.get_identifiers()) & PER_UNIT)
        self._static: dict[str, dict[str, str]] = {}
        self._system: dict[str, str] = {}

    def codes_for(self, unit: WorkUnit) -> list[Any]:
        """The codes a unit is coded with (none for system/tool turns)."""
        if unit.unit == "conversation":
            codes = list(self.codebook.codes_for("conversation"))
        elif unit.role not in ("user", "assistant"):
            return []
        else:
            codes = list(self.codebook.codes_for("turn", unit.role))
        return codes if self.only is None else [c for c in codes if c.id in self.only]

    def _static_fields(self, unit: WorkUnit) -> dict[str, str]:
        """The variables that depend on the kind of unit only (cached)."""
        if unit.kind not in self._static:
            cb, codes = self.codebook, self.codes_for(unit)
            self._static[unit.kind] = {
                "codebook_id": cb.id,
                "codebook_version": str(cb.version),
                "codebook_title": cb.title,
                "codebook_description": " ".join((cb.description or "").split()),
                "unit_kind": _KINDS.get(unit.kind, unit.kind),
                "codes": "\n\n".join(render_code(c) for c in codes),
                "answer_format": answer_format(codes, self.rationale),
            }
        return self._static[unit.kind]

    def _unit_fields(self, unit: WorkUnit, turns: list[tuple[int, str, str]]) -> tuple[dict, int]:
        codes = self.codes_for(unit)
        target = unit.turn_index if unit.unit == "turn" else None
        text, omitted = render_conversation(turns, target, self.context, self.budget)
        ids = ", ".join(c.id for c in codes)
        if unit.unit == "turn":
            shown = "the conversation so far" if self.context == "upto" else "the conversation"
            head = f"Here is {shown}; the turn to code is marked {_MARK}."
            task = (
                f"Code turn [{target}] ({unit.role}), the one marked {_MARK}, with each code: "
                f"{ids}. Answer with the JSON object only."
            )
        else:
            head = "Here is the conversation."
            task = f"Code the whole conversation with each code: {ids}. Answer with the JSON only."
        return {"conversation": f"{head}\n\n{text}", "task": task}, omitted

    def build(self, unit: WorkUnit, turns: list[tuple[int, str, str]]) -> Prompt:
        """The prompt of one unit, given its conversation's turns (index, role, text)."""
        per_unit, omitted = self._unit_fields(unit, turns)
        fields = self._static_fields(unit) | per_unit
        if not self._system_static:
            system = self._system_t.substitute(fields)
        elif unit.kind in self._system:
            system = self._system[unit.kind]
        else:
            system = self._system[unit.kind] = self._system_t.substitute(fields)
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": self._user_t.substitute(fields)},
        ]
        return Prompt(messages, omitted)
