"""Project settings that are not the plan: whether coders see an LLM coder's suggestions.

Settings are versioned like the plan, in ``<project>/settings/vNNNNNN.json``: a change reads
the latest version N and publishes N + 1 with ``durable.write_file(..., exclusive=True)``
(a link: never replaces, so two sessions changing a setting at once both land, one after the
other). Every version says what changed and when, so a paper can state which setting was in
force while the labels were made (each label event also records its own ``exposure``).

**Suggestions** (README, "LLM coders", section Suggestions): ``mode`` is

* ``off``: no suggestion is shown (the default);
* ``after``: an LLM coder's value on a unit is revealed only once the coder has saved their own
  label for it (and for a whole conversation once it is done or skipped);
* ``before``: shown as a hint before the coder labels, except on the reliability sample, where
  ``after`` applies whatever the setting, so the sample that measures agreement stays blind.

``coder`` is the LLM coder whose labels are shown (required unless ``off``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from annotate.clock import CLOCK
from annotate.durable import check_real_path, fsync_dir, storage_error, write_file
from annotate.errors import Errors, ProjectError

SETTINGS_DIR = "settings"
FORMAT = "annotate-settings/1"
#: what a coder may see of an LLM coder's labels (module docstring)
SUGGESTION_MODES: tuple[str, ...] = ("off", "after", "before")
DEFAULTS: dict[str, Any] = {"suggestions": {"mode": "off", "coder": None}}
_NAME = re.compile(r"v(\d{6,})\.json")
_TRIES = 64


def settings_dir(project: Path) -> Path:
    return Path(project) / SETTINGS_DIR


def latest_version(project: Path) -> int:
    """The number of the latest settings version (0: never changed)."""
    try:
        names = os.listdir(settings_dir(project))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    found = [int(m.group(1)) for n in names if (m := _NAME.fullmatch(n))]
    return max(found, default=0)


def read_settings(project: Path) -> dict[str, Any]:
    """The settings in force: the latest version, else the defaults (a copy).

    A damaged settings file is refused (E713 names it) rather than silently read as the
    defaults: showing suggestions that were switched off would contaminate the labels.
    """
    n = latest_version(project)
    if n == 0:
        return json.loads(json.dumps(DEFAULTS)) | {"version": 0}
    path = settings_dir(project) / f"v{n:06d}.json"
    check_real_path(path, Path(project))
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {FORMAT}")
        sug = doc["suggestions"]
        if sug.get("mode") not in SUGGESTION_MODES:
            raise ValueError(f"suggestions.mode {sug.get('mode')!r}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProjectError(
            Errors.E713.format(
                option="settings file",
                value=str(path),
                problem=f"it cannot be read ({exc}); restore it from a backup or remove it "
                "(the previous version then applies)",
            )
        ) from exc
    out = json.loads(json.dumps(DEFAULTS)) | {k: v for k, v in doc.items() if k in DEFAULTS}
    out["version"] = n
    return out


def settings_history(project: Path) -> list[dict[str, Any]]:
    """Every settings version (version, at, what, suggestions), oldest first."""
    out = []
    folder = settings_dir(project)
    for n in range(1, latest_version(project) + 1):
        path = folder / f"v{n:06d}.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out.append({"version": n, **{k: doc.get(k) for k in ("at", "what", "suggestions")}})
    return out


def check_suggestions(mode: Any, coder: Any, coder_kinds: dict[str, str]) -> dict[str, Any]:
    """The suggestions setting, checked: E713 for an unknown mode, a missing coder or a coder
    that is not an LLM coder of the project."""
    if mode not in SUGGESTION_MODES:
        problem = f"use one of {', '.join(SUGGESTION_MODES)}"
        raise ProjectError(Errors.E713.format(option="suggestions", value=mode, problem=problem))
    if mode == "off":
        return {"mode": "off", "coder": coder if coder in coder_kinds else None}
    llms = [c for c, kind in coder_kinds.items() if kind == "llm"]
    if coder is None:
        problem = (
            f"name the LLM coder whose labels are shown (suggest_from=...; "
            f"LLM coders: {', '.join(llms) or 'none yet'})"
        )
        raise ProjectError(Errors.E713.format(option="suggest_from", value=None, problem=problem))
    if coder_kinds.get(coder) != "llm":
        what = "a human coder" if coder in coder_kinds else "not a coder of the project"
        problem = f"it is {what}; LLM coders: {', '.join(llms) or 'none yet'}"
        raise ProjectError(Errors.E713.format(option="suggest_from", value=coder, problem=problem))
    return {"mode": mode, "coder": coder}


def change_suggestions(project: Path, suggestions: dict[str, Any]) -> dict[str, Any]:
    """Publish a new settings version with ``suggestions`` (already checked); returns it."""
    folder = settings_dir(project)
    check_real_path(folder, Path(project))
    if not folder.is_dir():
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, folder, "create") from exc
        fsync_dir(Path(project))
    for _ in range(_TRIES):
        current = read_settings(project)
        n = current.pop("version") + 1
        doc = {
            "format": FORMAT,
            "version": n,
            "at": CLOCK.now().isoformat(timespec="seconds"),
            "what": f"suggestions {suggestions['mode']}"
            + (f" from {suggestions['coder']}" if suggestions.get("coder") else ""),
            **current,
            "suggestions": dict(suggestions),
        }
        data = json.dumps(doc, indent=2, ensure_ascii=False).encode() + b"\n"
        try:
            write_file(folder / f"v{n:06d}.json", data, exclusive=True)
        except FileExistsError:
            continue  # another session published version n first: start again from it
        return doc | {"version": n}
    raise ProjectError(
        Errors.E713.format(
            option="settings",
            value=str(folder),
            problem=f"{_TRIES} other changes landed while this one was tried; try again",
        )
    )
