"""What every importer shares: the registry entry, options, role normalisation, the context.

After a reader has run, :meth:`Context.finish` checks the result as a whole: an import that
leaves the user or the assistant side without a single turn while the source had turns that
could have been that side (turns of that role, all skipped, or turns with role labels annotate
does not know) fails with E117; unknown role labels are named, with the ``--role`` fix, in W105.
"""

from __future__ import annotations

import shlex
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from annotate.corpus import CorpusBuilder, Tally
from annotate.errors import CorpusError, Errors, Warnings, hint
from annotate.types import ROLES

#: a meta value nested deeper than this many levels (the meta object itself is level 1) is
#: dropped on import and counted (``repaired.meta_too_deep``): a deeper one could not be written
#: or read back as JSON by Python's recursive encoder and decoder
MAX_META_DEPTH = 100
#: distinct unknown role labels remembered (a role column mapped to the wrong column would
#: otherwise keep every cell)
_MAX_LABELS = 1000

#: source role labels (lower-cased) -> normalised role; extend per import with ``roles=``
BASE_ROLES: dict[str, str] = {
    **dict.fromkeys(("user", "human", "prompter", "customer", "person", "me"), "user"),
    **dict.fromkeys(
        (
            "assistant",
            "gpt",
            "chatgpt",
            "gpt-4",
            "gpt4",
            "bing",
            "bard",
            "bot",
            "ai",
            "model",
            "claude",
            "gemini",
            "llm",
            "chatbot",
            "copilot",
            "character",
        ),
        "assistant",
    ),
    **dict.fromkeys(("system", "developer", "system_prompt"), "system"),
    **dict.fromkeys(("tool", "function", "ipython", "observation", "tool_result"), "tool"),
}


@dataclass(frozen=True)
class Option:
    """One format option: its kind (``bool``, ``str``, ``choice``, ``mapping``, ``list``)."""

    default: Any
    kind: str
    help: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Importer:
    """A registered importer: versioned name, CLI format name, reader and options."""

    name: str
    format: str
    reader: Callable[[Sequence[Path], Context], None]
    description: str
    options: Mapping[str, Option] = field(default_factory=dict)
    expects: str = "file"

    def read(self, paths: Sequence[Path], ctx: Context) -> None:
        """Run the reader on ``paths``, then check the result as a whole (E117, W105)."""
        self.reader(paths, ctx)
        ctx.finish(paths)


def coerce_option(importer: Importer, key: str, value: Any) -> Any:
    """Check (and for CLI strings, convert) one option value; E103/E104 on a bad one."""
    spec = importer.options.get(key)
    if spec is None:
        available = ", ".join(sorted(importer.options)) or "none"
        raise CorpusError(
            Errors.E103.format(option=key, format=importer.format, available=available)
        )

    def bad(problem: str) -> CorpusError:
        return CorpusError(
            Errors.E104.format(option=key, format=importer.format, value=value, problem=problem)
        )

    return _COERCE[spec.kind](value, spec, bad)


def _bool(value: Any, spec: Option, bad: Callable[[str], Exception]) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise bad("expected true or false")


def _choice(value: Any, spec: Option, bad: Callable[[str], Exception]) -> str:
    if value not in spec.choices:
        raise bad(f"expected one of {', '.join(spec.choices)}")
    return str(value)


def _mapping(value: Any, spec: Option, bad: Callable[[str], Exception]) -> dict[str, str]:
    if isinstance(value, str):
        value = parse_pairs(value, bad)
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise bad("expected a mapping of names to names, e.g. text=message,role=sender")
    return dict(value)


def _list(value: Any, spec: Option, bad: Callable[[str], Exception]) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise bad("expected a list of names, e.g. a,b,c")
    return list(value)


def _str(value: Any, spec: Option, bad: Callable[[str], Exception]) -> str:
    if not isinstance(value, str):
        raise bad("expected a text value")
    return value


#: names a shell user can type for characters that are hard to type
_CHAR_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "space": " ", "pipe": "|"}


def _char(value: Any, spec: Option, bad: Callable[[str], Exception]) -> str:
    """One character (``""`` = the default); ``tab``, ``\\t``, ``comma``, ... by name."""
    if not isinstance(value, str):
        raise bad("expected one character")
    value = _CHAR_NAMES.get(value.lower(), value) if len(value) > 1 else value
    if len(value) > 1:
        raise bad(f"a cell separator is one character, e.g. ; or | (a tab: tab), not {len(value)}")
    if value in ('"', "\n", "\r"):
        raise bad("a quote or a line break cannot separate cells")
    return value


_COERCE: dict[str, Callable[[Any, Option, Callable[[str], Exception]], Any]] = {
    "bool": _bool,
    "choice": _choice,
    "mapping": _mapping,
    "list": _list,
    "str": _str,
    "char": _char,
}


def parse_pairs(text: str, bad: Callable[[str], Exception]) -> dict[str, str]:
    """``"a=b,c=d"`` -> ``{"a": "b", "c": "d"}``."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise bad(f"'{part}' is not KEY=VALUE")
        out[key.strip()] = val.strip()
    return out


class RoleMap:
    """Normalise source role labels to user/assistant/system/tool (unknown -> None)."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self.map = dict(BASE_ROLES)
        self._seen: dict[str, str] = {}  # exact labels already normalised
        for label, role in (extra or {}).items():
            if role not in ROLES:
                raise CorpusError(Errors.E113.format(label=label, role=role))
            self.map[str(label).strip().lower()] = role

    def __call__(self, label: Any) -> str | None:
        role = self._seen.get(label) if isinstance(label, str) else None
        if role is not None or not isinstance(label, str):
            return role
        role = self.map.get(label.strip().lower())
        if role is not None and len(self._seen) < 10_000:
            self._seen[label] = role
        return role


def text_id(value: Any) -> str | None:
    """A source id as text: a non-empty string, or an integer; None for anything else."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or unix seconds as an aware UTC datetime; None when not a time.

    Raises ValueError for a value that is present but not a valid time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, datetime):  # parquet timestamps; naive ones are UTC
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        dt = datetime.fromisoformat(value.strip())
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    raise ValueError(value)


class Context:
    """What a reader gets: the builder, the tally, the role map and the checked options."""

    def __init__(self, importer: Importer, options: dict[str, Any], roles: RoleMap) -> None:
        self.importer = importer
        self.options = options
        self.roles = roles
        self.tally = Tally()
        self.builder = CorpusBuilder(importer.name, self.tally)
        self.source_meta: dict[str, Any] = {}
        #: turns in the corpus by role; turns of a known role skipped, by role and reason
        self.kept: Counter[str] = Counter()
        self.dropped: dict[str, Counter[str]] = {}
        self.dropped_at: dict[str, str] = {}  # role -> where its first turn was skipped
        #: unknown role labels -> turns skipped: text labels as they are, others by :func:`show`
        self.unknown: Counter[str] = Counter()
        self.unknown_other: Counter[str] = Counter()
        #: the user table (user_id -> fields), e.g. PRISM's survey
        self.users: dict[str, dict[str, Any]] = {}
        #: a participant id given at import: every conversation gets it (data donation)
        self.user_id: str | None = None
        #: keyed pseudonymisation of texts and meta (annotate.importers._pseudo), or None
        self.pseudo: Any = None

    def time(self, value: Any, where: str) -> datetime | None:
        """:func:`parse_time`, counting a bad value as repaired (``invalid_timestamp`` -> null)."""
        try:
            return parse_time(value)
        except (ValueError, OverflowError, OSError):
            self.tally.repair("invalid_timestamp", f"{where}: {show(value)}")
            return None

    def bounded_meta(self, meta: Any, where: str | tuple[str, int]) -> Any:
        """``meta`` without the keys whose values nest deeper than :data:`MAX_META_DEPTH`
        (each counted as ``repaired.meta_too_deep``); the same object when none does."""
        if not isinstance(meta, dict) or not meta:
            return meta
        out = None
        for key, value in meta.items():
            if isinstance(value, dict | list) and _deeper_than(value, MAX_META_DEPTH - 1):
                if out is None:
                    out = dict(meta)
                del out[key]
                self.tally.repair("meta_too_deep", f"{_where(where)}: meta key {show(key)}")
        return meta if out is None else out

    def _drop(self, role: str, reason: str, where: str) -> None:
        self.tally.skip(reason, where)
        self.dropped.setdefault(role, Counter())[reason] += 1
        self.dropped_at.setdefault(role, where)

    def turn(
        self, label: Any, text: Any, where: str | tuple[str, int], **extra: Any
    ) -> dict[str, Any] | None:
        """A normalised turn dict, or None (counted) for an unknown role or empty/invalid text.

        ``where`` may be ``(record, i)`` for ``"<record> turn <i>"``, formatted only when needed.
        """
        role = self.roles(label)
        if role is None:
            self.tally.skip("unknown_role", f"{_where(where)}: {show(label)}")
            text = isinstance(label, str) and 0 < len(label.strip()) <= 100
            counter = self.unknown if text else self.unknown_other
            key = label.strip() if text else show(label)
            if key in counter or len(counter) < _MAX_LABELS:
                counter[key] += 1
            else:
                self.unknown_other["(more labels)"] += 1
            return None
        if not isinstance(text, str):
            self._drop(role, "invalid_turn", f"{_where(where)}: text is {type(text).__name__}")
            return None
        if not text or text.isspace():
            self._drop(role, "empty_turn", _where(where))
            return None
        if not extra:
            return {"role": role, "text": text, "speaker": label}
        speaker = extra.pop("speaker", label)
        if extra.get("meta"):
            extra["meta"] = self.bounded_meta(extra["meta"], where)
        return {"role": role, "text": text, "speaker": speaker, **extra}

    def add(self, turns: list[dict[str, Any]], where: str, **conversation: Any) -> str | None:
        """Add a conversation, counting consecutive same-role turns (observed, per conversation)."""
        if any(a["role"] == b["role"] for a, b in pairwise(turns)):
            self.tally.observe("consecutive_same_role", where)
        if conversation.get("meta"):
            conversation["meta"] = self.bounded_meta(conversation["meta"], where)
        if self.user_id is not None:
            conversation["user_id"] = self.user_id
        if self.pseudo is not None:
            turns, conversation = self._pseudonymise(turns, conversation)
        cid = self.builder.add(turns, where=where, **conversation)
        if cid is not None:
            self.kept.update(t["role"] for t in turns)
        return cid

    def _pseudonymise(self, turns, conversation):
        p = self.pseudo
        out = []
        for t in turns:
            t = dict(t)
            t["text"] = p.text(t["text"])
            if isinstance(t.get("speaker"), str):
                t["speaker"] = p.text(t["speaker"])
            if t.get("meta"):
                t["meta"] = p.value(t["meta"])
            out.append(t)
        if conversation.get("meta"):
            conversation = {**conversation, "meta": p.value(conversation["meta"])}
        return out, conversation

    def finish(self, paths: Sequence[Path]) -> None:
        """After the reader: E117 when the user or the assistant side lost every turn it had
        in the source; W105 naming the unknown role labels (with the fix) otherwise."""
        sources = ", ".join(p.name for p in paths)
        missing = [r for r in ("user", "assistant") if not self.kept[r]]
        why = [
            _dropped_text(r, self.dropped[r], self.dropped_at[r])
            for r in missing
            if self.dropped.get(r)
        ]
        n_unknown = self.unknown.total() + self.unknown_other.total()
        if missing and (why or n_unknown):
            if n_unknown:
                why.append(
                    f"{n_unknown} turn(s) with unknown role labels were skipped: {self._labels()}"
                )
                fix = (
                    "Map each unknown label to user, assistant, system or tool "
                    f"({self._fix(missing[0])}) and import again."
                )
            else:
                fix = (
                    "Look at that turn in the source: is the text in another field, or the "
                    "file in another format (see docs/corpora.md)?"
                )
            raise CorpusError(
                Errors.E117.format(
                    sources=sources,
                    format=self.importer.format,
                    roles=" or ".join(missing),
                    why="; ".join(why),
                    fix=fix,
                )
            )
        if n_unknown:
            warnings.warn(
                Warnings.W105.format(n=n_unknown, labels=self._labels(), fix=self._fix("user")),
                stacklevel=4,
            )

    def _labels(self, n: int = 8) -> str:
        items = [(show(lb), k) for lb, k in self.unknown.most_common()]
        items += self.unknown_other.most_common()
        text = ", ".join(f"{label} ({k})" for label, k in items[:n])
        return text + (f" and {len(items) - n} more" if len(items) > n else "")

    def _fix(self, role: str) -> str:
        """The roles fix for the most frequent unknown text label (Python or CLI form)."""
        if not self.unknown:  # no text label (numbers, lists, missing): nothing to map
            return "the role labels must be text: check the role field or column"
        label = self.unknown.most_common(1)[0][0]
        return hint(
            f"e.g. roles={{{label!r}: {role!r}}}",
            f"e.g. --role {shlex.quote(f'{label}={role}')}",
        )


def _dropped_text(role: str, reasons: Counter[str], first: str) -> str:
    n = sum(reasons.values())
    detail = ", ".join(f"{k} {v}" for k, v in reasons.most_common())
    return f"all {n} {role} turn(s) were skipped ({detail}; the first: {first})"


def show(value: Any, width: int = 40) -> str:
    """A short readable form of any source value, never recursing into containers."""
    if isinstance(value, str):
        return repr(value[:width])
    if isinstance(value, dict | list):
        return f"<a {type(value).__name__} of {len(value)}>"
    text = repr(value)
    return text if len(text) <= width else text[:width] + "…"


def _deeper_than(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels deep in ``value`` (itself level 1)."""
    stack = [(value, 1)]
    while stack:
        cur, depth = stack.pop()
        if depth > limit:
            return True
        for child in cur.values() if isinstance(cur, dict) else cur:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def _where(where: str | tuple[str, int]) -> str:
    return where if isinstance(where, str) else f"{where[0]} turn {where[1]}"
