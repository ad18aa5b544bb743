"""Shared type aliases and closed vocabularies (layer 0: imports nothing of annotate)."""

from __future__ import annotations

import os
import re
from typing import Literal, TypeAlias

FilePath: TypeAlias = str | os.PathLike[str]
ConversationId: TypeAlias = str
CodeId: TypeAlias = str
AnnotatorId: TypeAlias = str

Role = Literal["user", "assistant", "system", "tool"]
ROLES: tuple[str, ...] = ("user", "assistant", "system", "tool")

Unit = Literal["turn", "conversation"]
UNITS: tuple[str, ...] = ("turn", "conversation")

Level = Literal["binary", "nominal", "ordinal", "interval", "set"]
LEVELS: tuple[str, ...] = ("binary", "nominal", "ordinal", "interval", "set")

Op = Literal["set", "clear"]
OPS: tuple[str, ...] = ("set", "clear")

Context = Literal["full", "upto"]
CONTEXTS: tuple[str, ...] = ("full", "upto")

#: annotator ids: lower-case, no path separators, 1-64 characters (docs/internals.md, Tables)
ANNOTATOR_ID_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")

#: the reserved annotator id of adjudicated (gold) labels; never a coder's id
GOLD_ID = "gold"

#: reserved (system) code ids of the label store, not in any codebook; they start with "_".
#: ``_status`` (conversation unit): value ``done`` or ``skipped`` (note = reason).
#: ``_flag`` (turn or conversation): value ``1``, flagged for discussion (note = why).
#: ``_memo`` (turn or conversation): value = the memo text.
SYSTEM_CODES: tuple[str, ...] = ("_status", "_flag", "_memo")
