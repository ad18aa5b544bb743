"""What every importer shares: the registry entry, options, role normalisation, the context."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from annotate.corpus import CorpusBuilder, Tally
from annotate.errors import CorpusError, Errors
from annotate.types import ROLES

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
    read: Callable[[Sequence[Path], Context], None]
    description: str
    options: Mapping[str, Option] = field(default_factory=dict)
    expects: str = "file"


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


_COERCE: dict[str, Callable[[Any, Option, Callable[[str], Exception]], Any]] = {
    "bool": _bool,
    "choice": _choice,
    "mapping": _mapping,
    "list": _list,
    "str": _str,
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


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or unix seconds as an aware UTC datetime; None when not a time.

    Raises ValueError for a value that is present but not a valid time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(value)
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

    def time(self, value: Any, where: str) -> datetime | None:
        """:func:`parse_time`, counting a bad value as repaired (``invalid_timestamp`` -> null)."""
        try:
            return parse_time(value)
        except (ValueError, OverflowError, OSError):
            self.tally.repair("invalid_timestamp", f"{where}: {str(value)[:40]!r}")
            return None

    def turn(
        self, label: Any, text: Any, where: str | tuple[str, int], **extra: Any
    ) -> dict[str, Any] | None:
        """A normalised turn dict, or None (counted) for an unknown role or empty/invalid text.

        ``where`` may be ``(record, i)`` for ``"<record> turn <i>"``, formatted only when needed.
        """
        role = self.roles(label)
        if role is None:
            self.tally.skip("unknown_role", f"{_where(where)}: {str(label)[:40]!r}")
            return None
        if not isinstance(text, str):
            self.tally.skip("invalid_turn", f"{_where(where)}: text is {type(text).__name__}")
            return None
        if not text or text.isspace():
            self.tally.skip("empty_turn", _where(where))
            return None
        if not extra:
            return {"role": role, "text": text, "speaker": label}
        speaker = extra.pop("speaker", label)
        return {"role": role, "text": text, "speaker": speaker, **extra}

    def add(self, turns: list[dict[str, Any]], where: str, **conversation: Any) -> str | None:
        """Add a conversation, counting consecutive same-role turns (observed, per conversation)."""
        if any(a["role"] == b["role"] for a, b in pairwise(turns)):
            self.tally.observe("consecutive_same_role", where)
        return self.builder.add(turns, where=where, **conversation)


def _where(where: str | tuple[str, int]) -> str:
    return where if isinstance(where, str) else f"{where[0]} turn {where[1]}"
