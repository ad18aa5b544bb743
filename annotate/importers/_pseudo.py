"""Keyed pseudonymisation at import: the same person, email, phone or handle always becomes the
same placeholder (``[PERSON_3]``, ``[EMAIL_1]``, ``[PHONE_2]``, ``[HANDLE_4]``).

The key file (JSON, kept **outside** the corpus folder; E120 otherwise) holds a random 256-bit
key and the numbers already given out, indexed by HMAC-SHA256(key, class + normalised value):
it never holds the values themselves. The same key file gives the same placeholders across
imports (every donor of a study), so a person mentioned by two participants gets one
placeholder; without the key the placeholders cannot be linked back to values by anyone who
holds only the corpus.

What is found: emails, phone numbers (7+ digits, with separators), @handles (as in
:func:`annotate.nlp.mask_text`), and person names given in ``names`` (whole words, any case).
Person names not given are not found: no name recogniser runs at import (use
``annotate corpus mask --names`` with a spaCy NER pipeline afterwards, and review by hand).
Texts, speakers and every string in turn and conversation meta are pseudonymised.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotate.durable import write_file
from annotate.errors import CorpusError, Errors, StorageError

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
_PHONE = r"(?<![\w+])\+?\d[\d\s().-]{5,}\d(?!\w)"
_HANDLE = r"(?<![\w@])@[A-Za-z0-9_]{2,30}\b"
_CLASSES = ("EMAIL", "PHONE", "HANDLE")
KEY_FORMAT = "annotate-pseudonym-key/1"


class Pseudonymiser:
    """Replace identifying values with numbered placeholders, keyed and consistent."""

    def __init__(self, path: Path, key: bytes, numbers: dict[str, int], names: Sequence[str]):
        self.path = path
        self.key = key
        self.numbers = numbers  # hmac hex -> number (per class, in the placeholder)
        self.next: Counter[str] = Counter()
        for tag in numbers:
            cls = tag.split(":", 1)[0]
            self.next[cls] = max(self.next[cls], numbers[tag])
        self.counts: Counter[str] = Counter()
        self.changed = 0
        alts = [f"(?P<{c}>{p})" for c, p in zip(_CLASSES, (_EMAIL, _PHONE, _HANDLE), strict=True)]
        clean = sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True)
        if clean:
            alts.insert(0, "(?P<PERSON>\\b(?:" + "|".join(map(re.escape, clean)) + ")\\b)")
        self.pattern = re.compile("|".join(alts), re.IGNORECASE if clean else 0)

    @classmethod
    def open(cls, path: Any, *, names: Sequence[str] = (), corpus: Path) -> Pseudonymiser:
        """Read the key file (or make a new key when it does not exist yet)."""
        path = Path(path).expanduser()
        try:
            resolved, inside = path.resolve(), corpus.resolve()
        except OSError as exc:
            raise CorpusError(Errors.E120.format(path=path, problem=exc)) from exc
        if resolved == inside or inside in resolved.parents:
            raise CorpusError(
                Errors.E120.format(path=path, problem="it is inside the corpus folder")
            )
        if not path.exists():
            return cls(path, os.urandom(32), {}, names)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != KEY_FORMAT:
                raise ValueError("not an annotate pseudonymisation key file")
            return cls(path, bytes.fromhex(doc["key"]), dict(doc["numbers"]), names)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorpusError(Errors.E120.format(path=path, problem=exc)) from exc

    def _placeholder(self, cls: str, value: str) -> str:
        norm = re.sub(r"[\s().-]", "", value) if cls == "PHONE" else value.casefold()
        digest = hmac.new(self.key, f"{cls}\x00{norm}".encode(), hashlib.sha256).hexdigest()
        tag = f"{cls}:{digest}"
        n = self.numbers.get(tag)
        if n is None:
            self.next[cls] += 1
            n = self.numbers[tag] = self.next[cls]
        self.counts[cls] += 1
        return f"[{cls}_{n}]"

    def text(self, value: str) -> str:
        """``value`` with every identifying span replaced."""
        out = self.pattern.sub(lambda m: self._placeholder(m.lastgroup or "X", m.group()), value)
        if out != value:
            self.changed += 1
        return out

    def value(self, value: Any) -> Any:
        """Strings anywhere inside ``value`` (dicts, lists) pseudonymised."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def save(self) -> None:
        """Write the key file (durably; it never holds the values, only their HMACs)."""
        doc = {"format": KEY_FORMAT, "key": self.key.hex(), "numbers": self.numbers}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_file(self.path, json.dumps(doc, indent=1).encode(), mode=0o600)
        except (OSError, StorageError) as exc:
            raise CorpusError(Errors.E120.format(path=self.path, problem=exc)) from exc

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the method and a fingerprint of the key (not the key)."""
        return {
            "method": "keyed placeholders (HMAC-SHA256)",
            "key_fingerprint": hashlib.sha256(self.key).hexdigest()[:12],
        }

    def manifest(self) -> dict[str, Any]:
        return {
            **self.describe(),
            "classes": ["PERSON", *_CLASSES],
            "counts": dict(sorted(self.counts.items())),
            "turns_changed": self.changed,
        }
