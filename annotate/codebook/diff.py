"""What changed between two versions of a codebook, and the semver bump that change needs.

* **major**: codes removed or renamed, values removed or reordered (ordinal), a level or unit
  changed, a role removed from ``applies_to``, a group or module removed, a code's evidence
  spans taken away (``evidence`` back to ``none``: spans saved under the old version cannot be
  carried): labels coded under the old version no longer mean the same thing;
* **minor**: codes, values, roles, groups or modules added, group tags or module of a code
  changed, a code's ``evidence`` switched on or between ``optional`` and ``required``: old labels
  stay valid;
* **patch**: wording only (labels, definitions, guidance, examples, near misses, cues, keys,
  descriptions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from annotate.codebook.model import Code, Codebook, Version

BUMPS = ("none", "patch", "minor", "major")

WORDING = ("label", "definition", "when_to_use", "when_not_to_use", "examples", "near_misses")


@dataclass(frozen=True, slots=True)
class Change:
    """One change: ``kind`` (e.g. ``code_removed``), the code or part it concerns, the bump."""

    kind: str
    target: str
    detail: str
    bump: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "target": self.target, "detail": self.detail, "bump": self.bump}


@dataclass(frozen=True, slots=True)
class CodebookDiff:
    """The differences between ``old`` and ``new`` and the version bump they need."""

    old_id: str
    old_version: str
    new_id: str
    new_version: str
    changes: tuple[Change, ...]

    def _ids(self, kind: str) -> tuple[str, ...]:
        return tuple(c.target for c in self.changes if c.kind == kind)

    @property
    def added(self) -> tuple[str, ...]:
        """Ids of codes added."""
        return self._ids("code_added")

    @property
    def removed(self) -> tuple[str, ...]:
        """Ids of codes removed (renamed codes are not counted here)."""
        return self._ids("code_removed")

    @property
    def renamed(self) -> tuple[tuple[str, str], ...]:
        """(old id, new id) of codes whose id changed (same definition or same label)."""
        return tuple(
            (c.target, c.detail.split("'")[1]) for c in self.changes if c.kind == "code_renamed"
        )

    @property
    def definitions_changed(self) -> tuple[str, ...]:
        """Ids (new) of codes whose definition text changed."""
        return tuple(
            dict.fromkeys(
                c.target
                for c in self.changes
                if c.kind == "wording_changed" and c.detail.startswith("definition")
            )
        )

    @property
    def values_changed(self) -> tuple[str, ...]:
        """Ids (new) of codes whose values were added, removed, reordered or reworded."""
        return tuple(dict.fromkeys(c.target for c in self.changes if c.kind.startswith("value")))

    @property
    def required_bump(self) -> str:
        """``major``, ``minor``, ``patch`` or ``none``."""
        return max((c.bump for c in self.changes), key=BUMPS.index, default="none")

    @property
    def minimum_version(self) -> str:
        """The lowest version number that records the required bump."""
        old = Version(self.old_version)
        bump = self.required_bump
        if bump == "major":
            return f"{old.major + 1}.0.0"
        if bump == "minor":
            return f"{old.major}.{old.minor + 1}.0"
        if bump == "patch":
            return f"{old.major}.{old.minor}.{old.patch + 1}"
        return str(old)

    @property
    def version_ok(self) -> bool:
        """Whether the new version number is at least :attr:`minimum_version`."""
        new = Version(self.new_version)
        need = Version(self.minimum_version)
        return (new.major, new.minor, new.patch) >= (need.major, need.minor, need.patch)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (for ``annotate codebook diff --json``)."""
        return {
            "old": {"id": self.old_id, "version": self.old_version},
            "new": {"id": self.new_id, "version": self.new_version},
            "same_id": self.old_id == self.new_id,
            "added": list(self.added),
            "removed": list(self.removed),
            "renamed": [list(p) for p in self.renamed],
            "definitions_changed": list(self.definitions_changed),
            "values_changed": list(self.values_changed),
            "required_bump": self.required_bump,
            "minimum_version": self.minimum_version,
            "version_ok": self.version_ok,
            "changes": [c.to_dict() for c in self.changes],
        }


def diff_codebooks(old: Codebook, new: Codebook) -> CodebookDiff:
    """Compare two codebooks (load both with ``modules="all"`` to compare whole files)."""
    changes: list[Change] = []
    old_codes = {c.id: c for c in old.codes}
    new_codes = {c.id: c for c in new.codes}
    removed = [i for i in old_codes if i not in new_codes]
    added = [i for i in new_codes if i not in old_codes]
    pairs = [(i, i) for i in old_codes if i in new_codes]
    for old_id, new_id in _renames(removed, added, old_codes, new_codes):
        removed.remove(old_id)
        added.remove(new_id)
        pairs.append((old_id, new_id))
        changes.append(Change("code_renamed", old_id, f"now '{new_id}'", "major"))
    changes += [Change("code_removed", i, "code removed", "major") for i in removed]
    changes += [Change("code_added", i, "new code", "minor") for i in added]
    for old_id, new_id in pairs:
        changes += _code_changes(old_codes[old_id], new_codes[new_id])
    changes += _declared_changes("group", old.groups, new.groups)
    changes += _declared_changes("module", old.modules, new.modules)
    for field in ("title", "description"):
        if getattr(old, field) != getattr(new, field):
            changes.append(Change("wording_changed", "codebook", field, "patch"))
    return CodebookDiff(old.id, str(old.version), new.id, str(new.version), tuple(changes))


def _renames(
    removed: list[str], added: list[str], old: dict[str, Code], new: dict[str, Code]
) -> list[tuple[str, str]]:
    """Pair removed and added codes with the same definition, else the same label."""
    pairs: list[tuple[str, str]] = []
    free = list(added)
    for attr in ("definition", "label"):
        for old_id in removed:
            if any(p[0] == old_id for p in pairs):
                continue
            match = [a for a in free if getattr(new[a], attr) == getattr(old[old_id], attr)]
            if len(match) == 1:
                pairs.append((old_id, match[0]))
                free.remove(match[0])
    return pairs


def _code_changes(old: Code, new: Code) -> list[Change]:
    out: list[Change] = []
    t = new.id
    for field in ("level", "unit"):
        if getattr(old, field) != getattr(new, field):
            detail = f"{field} {getattr(old, field)} -> {getattr(new, field)}"
            out.append(Change(f"{field}_changed", t, detail, "major"))
    lost = [r for r in old.applies_to if r not in new.applies_to]
    gained = [r for r in new.applies_to if r not in old.applies_to]
    if lost:
        out.append(Change("roles_changed", t, "no longer applies to " + ", ".join(lost), "major"))
    if gained:
        out.append(Change("roles_changed", t, "now also applies to " + ", ".join(gained), "minor"))
    out += _value_changes(old, new)
    if set(old.groups) != set(new.groups):
        detail = f"group tags {list(old.groups)} -> {list(new.groups)}"
        out.append(Change("groups_changed", t, detail, "minor"))
    if old.module != new.module:
        detail = f"module {old.module or '(core)'} -> {new.module or '(core)'}"
        out.append(Change("module_changed", t, detail, "minor"))
    if old.evidence != new.evidence:
        detail = f"evidence {old.evidence} -> {new.evidence}"
        bump = "major" if new.evidence == "none" else "minor"
        out.append(Change("evidence_changed", t, detail, bump))
    for field in WORDING:
        if getattr(old, field) != getattr(new, field):
            out.append(Change("wording_changed", t, f"{field} changed", "patch"))
    if old.cues != new.cues:
        out.append(Change("wording_changed", t, "cues changed", "patch"))
    if old.key != new.key:
        out.append(Change("key_changed", t, f"key {old.key} -> {new.key}", "patch"))
    return out


def _value_changes(old: Code, new: Code) -> list[Change]:
    out: list[Change] = []
    t = new.id
    old_ids, new_ids = old.value_ids, new.value_ids
    gone = [v for v in old_ids if v not in new_ids]
    came = [v for v in new_ids if v not in old_ids]
    if gone:
        out.append(Change("values_removed", t, "values removed: " + ", ".join(gone), "major"))
    if came:
        out.append(Change("values_added", t, "values added: " + ", ".join(came), "minor"))
    kept_old = [v for v in old_ids if v in new_ids]
    kept_new = [v for v in new_ids if v in old_ids]
    if kept_old != kept_new and old.level == new.level == "ordinal":
        out.append(Change("values_reordered", t, "ordinal values reordered", "major"))
    for v in kept_old:
        if old.value(v) != new.value(v):
            out.append(Change("values_reworded", t, f"value '{v}' label/definition", "patch"))
    return out


def _declared_changes(kind: str, old: tuple[Any, ...], new: tuple[Any, ...]) -> list[Change]:
    before = {x.id: x for x in old}
    after = {x.id: x for x in new}
    out = [
        Change(f"{kind}_removed", i, f"{kind} removed", "major") for i in before if i not in after
    ]
    out += [Change(f"{kind}_added", i, f"{kind} added", "minor") for i in after if i not in before]
    for i in sorted(before.keys() & after.keys()):
        if before[i] != after[i]:
            meaning = [a for a in ("kind", "default") if _get(before[i], a) != _get(after[i], a)]
            bump = "minor" if meaning else "patch"
            what = ", ".join(meaning) if meaning else "label or description"
            out.append(Change(f"{kind}_changed", i, f"{kind} {what} changed", bump))
    return out


def _get(obj: Any, attr: str) -> Any:
    return getattr(obj, attr, None)
