"""Migration maps: what happened to each code between two versions of a codebook.

A map is a YAML file (docs/internals.md, "Codebook versions and migration")::

    from: {id: sdt-socioaffective, version: 1.0.0}
    to: {id: sdt-socioaffective, version: 2.0.0}
    codes:                      # one entry per old code that did not stay as it was
      old_name: {action: rename, into: new_name}
      a: {action: merge, into: ab}            # several codes merged into one
      b: {action: merge, into: ab}
      broad: {action: split, into: [narrow_1, narrow_2]}
      scale: {action: recode, values: {"1": "1", "2": "2", "3": null}, also: {...}}
      vague: {action: redefine, recode: labelled}
      gone: {action: drop}
    added:                      # codes new in the new version (default: uncoded)
      new_code: uncoded | recode | {recode_where: {old_code: ["1"]}}

What each action does to a label made under the old version (:meth:`CodebookMap.translate`):

* ``keep`` (every old code the map does not name that is in the new version), ``rename``,
  ``merge``, ``recode``: the value is carried to the target code through ``values`` (default:
  the same value; binary codes map absent to absent and present to present). A value mapped
  to ``null`` is ambiguous: the unit is queued for recoding. ``also`` derives further new
  codes from the old value the same way, for the old values its table lists (the others give
  nothing there).
* ``split``: a binary code's absence carries to every target (if the broad code was absent, so
  is each narrower one); any other value is queued for recoding in every target.
* ``redefine``: ``recode: labelled`` (default) queues every unit that carries a value other
  than a binary code's absence; ``recode: all`` queues the code in every conversation the coder
  finished (a broadened definition can turn absences into presences).
* ``drop``: the labels are not carried (they stay in the history).

Added codes: ``uncoded`` (their values are unknown in conversations coded before: analyses of
those conversations treat them as not coded), ``recode`` (every conversation a coder finished is
queued for them), ``recode_where`` (the units where an old code had one of the given values are
queued; the map asserts that the new code cannot be present anywhere else, so elsewhere it is
absent). A code that an ``also`` derives in part can be listed under ``added`` too (e.g.
``uncoded``: known where derived, not coded elsewhere).

This module is pure Python on codes and values; :mod:`annotate.project` applies a map to a
project's labels (as new label events) and queues the units to recode.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.codebook.model import Code, Codebook, Version
from annotate.codebook.yamlio import YamlSyntaxError, read_yaml
from annotate.errors import CodebookError, Errors
from annotate.types import FilePath

ACTIONS = ("keep", "rename", "merge", "split", "recode", "redefine", "drop")
ADDED_POLICIES = ("uncoded", "recode", "recode_where")
MAP_FORMAT = "annotate-codebook-map/1"


@dataclass(frozen=True)
class Recode:
    """A unit whose value in ``code_id`` (new version) is unknown and must be coded again."""

    code_id: str
    reason: str


@dataclass(frozen=True)
class CodeRule:
    """What happened to one old code (after :meth:`CodebookMap.resolve`: every old code)."""

    code_id: str
    action: str
    into: tuple[str, ...] = ()
    values: dict[str, str | None] | None = None
    also: dict[str, dict[str, str | None]] = field(default_factory=dict)
    recode: str = "labelled"
    exhaustive: bool = True
    note: str | None = None


@dataclass(frozen=True)
class AddedRule:
    """How a code new in the new version is treated in conversations coded before."""

    code_id: str
    policy: str = "uncoded"
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True)
class CodebookMap:
    """A validated migration map between two codebook versions (see the module docstring)."""

    from_id: str
    from_version: str
    to_id: str
    to_version: str
    rules: dict[str, CodeRule]
    added: dict[str, AddedRule]
    source: str = "<map>"
    #: levels of the codes of the old and the new version: id -> (level, value ids)
    _old: dict[str, tuple[str, tuple[str, ...]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _new: dict[str, tuple[str, tuple[str, ...]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    # --- reading -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The map as plain data (what the migration record stores and the hash is of)."""
        codes = {}
        for cid, r in sorted(self.rules.items()):
            entry: dict[str, Any] = {"action": r.action}
            if r.into and r.into != (cid,):
                entry["into"] = list(r.into) if r.action == "split" else r.into[0]
            if r.values is not None:
                entry["values"] = dict(r.values)
            if r.also:
                entry["also"] = {k: dict(v) for k, v in sorted(r.also.items())}
            if r.action == "redefine":
                entry["recode"] = r.recode
            if r.action == "merge" and not r.exhaustive:
                entry["exhaustive"] = False
            if r.note:
                entry["note"] = r.note
            codes[cid] = entry
        added: dict[str, Any] = {}
        for cid, a in sorted(self.added.items()):
            if a.policy == "recode_where":
                added[cid] = {"recode_where": {k: list(v) for k, v in a.where.items()}}
            else:
                added[cid] = a.policy
        return {
            "format": MAP_FORMAT,
            "from": {"id": self.from_id, "version": self.from_version},
            "to": {"id": self.to_id, "version": self.to_version},
            "codes": codes,
            "added": added,
        }

    @property
    def hash(self) -> str:
        """sha256 of the map's canonical JSON (names the map in migration records)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def targets(self) -> set[str]:
        """New codes that receive values or recodes from an old code."""
        out: set[str] = set()
        for r in self.rules.values():
            out.update(r.into)
            out.update(r.also)
        return out

    def not_coded(self) -> tuple[str, ...]:
        """New codes whose absence in a conversation finished under the old version is unknown:
        added codes left ``uncoded`` and targets of a merge that is not exhaustive."""
        out = [a.code_id for a in self.added.values() if a.policy == "uncoded"]
        out += [t for r in self.rules.values() if r.action == "merge" and not r.exhaustive
                for t in r.into]  # fmt: skip
        return tuple(sorted(set(out)))

    # --- applying ------------------------------------------------------------------------------
    def translate(self, code_id: str, value: str) -> list[tuple[str, str] | Recode]:
        """What one label (old code, old value) becomes: new (code, value) pairs and units to
        recode. An old code the map does not know (outside the versions compared) gives []."""
        rule = self.rules.get(code_id)
        if rule is None or rule.action == "drop":
            return []
        absent = self._absent(self._old, code_id)
        out: list[tuple[str, str] | Recode] = []
        if rule.action in ("split", "redefine"):
            why = (
                f"split of {code_id}"
                if rule.action == "split"
                else (f"definition of {rule.into[0]} changed")
            )
            for t in rule.into:
                t_absent = self._absent(self._new, t)
                if value == absent and t_absent is not None:
                    out.append((t, t_absent))
                else:
                    out.append(Recode(t, why))
        else:
            main = self._carry(code_id, rule.into[0], value, rule.values, rule.action)
            if main is not None:
                out.append(main)
        for derived, table in rule.also.items():
            got = self._carry(code_id, derived, value, table, "derive")
            if got is not None:
                out.append(got)
        return out

    @staticmethod
    def _absent(levels: dict[str, tuple[str, tuple[str, ...]]], code_id: str) -> str | None:
        level, values = levels.get(code_id, ("", ()))
        return values[0] if level == "binary" else None

    def _carry(
        self, old: str, new: str, value: str, table: dict[str, str | None] | None, how: str
    ) -> tuple[str, str] | Recode | None:
        old_level, old_values = self._old.get(old, ("", ()))
        new_level, new_values = self._new.get(new, ("", ()))
        if old_level == "set" and new_level == "set":
            return self._carry_set(old, new, value, table)
        if table is not None and value in table:
            got = table[value]
            if got is None:
                return Recode(new, f"value {value!r} of {old} is ambiguous in {new}")
            return (new, got)
        if table is not None and how == "derive":
            return None  # a derivation gives values only for the old values it lists
        if old_level == new_level == "binary" and value in old_values:
            return (new, new_values[old_values.index(value)])
        return (new, value)

    @staticmethod
    def _carry_set(
        old: str, new: str, value: str, table: dict[str, str | None] | None
    ) -> tuple[str, str] | Recode:
        """Set codes: each chosen value id goes through the table (null: recode the unit)."""
        items = json.loads(value)
        mapped = [table.get(i, i) if table is not None else i for i in items]
        if any(i is None for i in mapped):
            return Recode(new, f"a value of {old} is ambiguous in {new}")
        text = json.dumps(sorted({str(i) for i in mapped}), separators=(",", ":"),
                          ensure_ascii=False)  # fmt: skip
        return (new, text)

    def recode_where(self) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        """Old code -> [(added code, old values that queue it)] for ``recode_where``."""
        out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for a in self.added.values():
            for old, values in a.where.items():
                out.setdefault(old, []).append((a.code_id, values))
        return out

    def recode_everywhere(self) -> tuple[str, ...]:
        """New codes queued in every conversation a coder finished (added ``recode``,
        redefinitions with ``recode: all``)."""
        out = [a.code_id for a in self.added.values() if a.policy == "recode"]
        out += [r.into[0] for r in self.rules.values()
                if r.action == "redefine" and r.recode == "all"]  # fmt: skip
        return tuple(sorted(set(out)))

    # --- checking against the two codebooks ------------------------------------------------------
    def resolve(self, old: Codebook, new: Codebook) -> CodebookMap:
        """This map completed for two loaded codebooks (defaults filled in) and checked.

        Old codes the map does not name get ``keep`` when the new version has them; new codes
        nobody maps to are ``added`` (default ``uncoded``). Every problem is reported at once
        (CodebookError E231 listing them).
        """
        problems = self._check_ends(old, new)
        olds = {c.id: c for c in old.codes}
        news = {c.id: c for c in new.codes}
        rules = {k: v for k, v in self.rules.items() if k in olds}
        for cid in sorted(set(self.rules) - set(olds)):
            if not _declared(cid, old):
                problems.append(f"codes.{cid}: not a code of {old.id} {old.version}")
        for cid in olds:
            if cid not in rules:
                if cid in news:
                    rules[cid] = CodeRule(cid, "keep", (cid,))
                else:
                    problems.append(
                        f"codes.{cid}: not in {new.id} {new.version}; say what happened to it "
                        "(action: rename, merge, split or drop)"
                    )
        levels = (
            {c.id: (c.level, c.value_ids) for c in old.codes},
            {c.id: (c.level, c.value_ids) for c in new.codes},
        )
        resolved = CodebookMap(
            self.from_id, self.from_version, self.to_id, self.to_version, rules, {},
            self.source, *levels,
        )  # fmt: skip
        targets = resolved.targets()
        added = {k: v for k, v in self.added.items() if k in news}
        for cid in sorted(set(self.added) - set(news)):
            if not _declared(cid, new):  # a code of a module this project does not load: skip
                problems.append(f"added.{cid}: not a code of {new.id} {new.version}")
        for cid in news:
            if cid not in olds and cid not in targets and cid not in added:
                added[cid] = AddedRule(cid)
        for rule in rules.values():
            _check_rule(rule, olds[rule.code_id], news, new, problems)
        for a in added.values():
            _check_added(a, olds, news[a.code_id], old, problems)
        if problems:
            raise CodebookError(
                Errors.E231.format(
                    source=self.source, n=len(problems), problems="\n".join(problems)
                )
            )
        return CodebookMap(
            self.from_id, self.from_version, self.to_id, self.to_version, rules, added,
            self.source, *levels,
        )  # fmt: skip

    def _check_ends(self, old: Codebook, new: Codebook) -> list[str]:
        problems = []
        for key, cb, want in (("from", old, (self.from_id, self.from_version)),
                              ("to", new, (self.to_id, self.to_version))):  # fmt: skip
            if (cb.id, str(cb.version)) != want:
                which = "old" if key == "from" else "new"
                problems.append(
                    f"{key}: the map is for {want[0]} {want[1]}, the {which} codebook is "
                    f"{cb.id} {cb.version}"
                )
        return problems


def _declared(code_id: str, codebook: Codebook) -> bool:
    """Whether a code id is declared in the codebook's file with any module (a map written for
    the whole file may name codes of modules this project does not load)."""
    if codebook.path is None:
        return False
    from annotate.codebook.loader import load_codebook

    return code_id in load_codebook(codebook.path, modules="all")


def _check_rule(
    rule: CodeRule, old: Code, news: dict[str, Code], new_cb: Codebook, problems: list[str]
) -> None:
    where = f"codes.{rule.code_id}"
    missing = [t for t in (*rule.into, *rule.also) if t not in news]
    for t in missing:
        if _declared(t, new_cb):
            problems.append(
                f"{where}: target {t!r} is in a module this project does not load; migrate "
                "with that module switched on"
            )
        else:
            problems.append(f"{where}: target {t!r} is not a code of the new version")
    if missing:
        return
    for t in (*rule.into, *rule.also):
        target = news[t]
        if target.unit != old.unit:
            problems.append(
                f"{where}: {old.id} is a {old.unit} code but {t} is a {target.unit} code; a "
                "label cannot move between units (drop it and add the new code)"
            )
        lost = [r for r in old.applies_to if r not in target.applies_to]
        if lost:
            problems.append(
                f"{where}: {t} does not apply to {', '.join(lost)} turns as {old.id} did"
            )
    if rule.action in ("split", "redefine"):
        _need_binary_absence(rule, old, news, problems)
        return
    if rule.action == "drop":
        return
    target = news[rule.into[0]]
    _check_table(where, old, target, rule.values, problems, default_ok=True)
    for derived, table in rule.also.items():
        _check_table(f"{where}.also.{derived}", old, news[derived], table, problems)


def _need_binary_absence(
    rule: CodeRule, old: Code, news: dict[str, Code], problems: list[str]
) -> None:
    if old.level == "binary":
        bad = [t for t in rule.into if news[t].level != "binary"]
        if bad:
            problems.append(
                f"codes.{rule.code_id}: {rule.action} of a binary code into non-binary "
                f"{', '.join(bad)}; use action: recode with a values table"
            )


def _check_table(
    where: str,
    old: Code,
    target: Code,
    table: dict[str, str | None] | None,
    problems: list[str],
    *,
    default_ok: bool = False,
) -> None:
    """Every old value must land on a value of the target (or null = recode)."""
    to_set = target.level == "set" and old.level != "set"
    if (old.level == "set" and target.level != "set") or (to_set and table is None):
        problems.append(
            f"{where}: {old.id} is {old.level}, {target.id} {target.level}; give a values table "
            "(a set code's values are JSON lists such as '[\"a\"]'), or drop it and add the code"
        )
    elif to_set:  # the table's values are whole JSON lists
        assert table is not None
        for k, v in table.items():
            if v is not None and not _valid(target, v):
                problems.append(f"{where}: {k}: {v}: not a value of set code {target.id}")
    elif table is None:
        if default_ok:
            _check_default(where, old, target, problems)
        else:
            problems.append(f"{where}: give the values table")
    else:
        _check_given(where, old, target, table, problems, default_ok=default_ok)


def _check_default(where: str, old: Code, target: Code, problems: list[str]) -> None:
    """No table: the old values carry as they are (binary: absence to absence)."""
    if old.level == target.level == "binary":
        return
    if old.level != target.level:
        problems.append(
            f"{where}: level {old.level} -> {target.level}; give a values table (old value: "
            "new value, or null to recode)"
        )
        return
    missing = [v for v in old.value_ids if not _allowed(target, v)]
    if missing:
        problems.append(
            f"{where}: value(s) {', '.join(missing)} of {old.id} are not values of "
            f"{target.id}; give a values table (old value: new value, or null to recode)"
        )


def _check_given(
    where: str,
    old: Code,
    target: Code,
    table: dict[str, str | None],
    problems: list[str],
    *,
    default_ok: bool,
) -> None:
    unknown = [v for v in table if v not in old.value_ids]
    if unknown:
        problems.append(f"{where}: {', '.join(unknown)} are not values of {old.id}")
    if default_ok and not (old.level == target.level == "binary"):
        unmapped = [v for v in old.value_ids if v not in table and not _allowed(target, v)]
        if unmapped:
            problems.append(
                f"{where}: value(s) {', '.join(unmapped)} of {old.id} are neither in the table "
                f"nor values of {target.id}; map them (or to null: recode)"
            )
    bad = [f"{k}: {v}" for k, v in table.items() if v is not None and not _allowed(target, v)]
    if bad:
        problems.append(
            f"{where}: {'; '.join(bad)}: not values of {target.id} "
            f"(allowed: {', '.join(target.value_ids)})"
        )
    if old.level == "binary" and old.absent_value in table:
        got = table[old.absent_value]
        if got is not None and (target.level != "binary" or got != target.absent_value):
            problems.append(
                f"{where}: {old.id}'s absence ({old.absent_value}) is implicit on most units "
                "and cannot become a value; map it to the target's absence or null"
            )


def _valid(code: Code, value: str) -> bool:
    try:
        code.check_value(value)
    except CodebookError:
        return False
    return True


def _allowed(code: Code, value: str) -> bool:
    if code.level == "set":  # a value id of a set code (labels store lists of them)
        return value in code.value_ids
    try:
        code.check_value(value)
    except CodebookError:
        return False
    return True


def _check_added(
    a: AddedRule, olds: dict[str, Code], new: Code, old_cb: Codebook, problems: list[str]
) -> None:
    for old_id, values in a.where.items():
        where = f"added.{a.code_id}.recode_where.{old_id}"
        old = olds.get(old_id)
        if old is None:
            if not _declared(old_id, old_cb):  # a module this project did not load: no labels
                problems.append(f"{where}: not a code of the old version")
            continue
        if old.unit != new.unit:
            problems.append(f"{where}: {old_id} is a {old.unit} code, {new.id} a {new.unit} code")
        bad = [v for v in values if v not in old.value_ids]
        if bad:
            problems.append(f"{where}: {', '.join(bad)} are not values of {old_id}")


# --- reading a map file -------------------------------------------------------------------------


def load_map(path: FilePath) -> CodebookMap:
    """Read and check the shape of a migration map file (check it against the two codebooks
    with :meth:`CodebookMap.resolve`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CodebookError(
            Errors.E230.format(source=path, problem="no such file", line="-")
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise CodebookError(Errors.E230.format(source=path, problem=err, line="-")) from err
    return parse_map(text, source=str(path))


def parse_map(text: str, *, source: str = "<map>") -> CodebookMap:
    """A migration map from YAML text (``source`` names it in error messages)."""
    try:
        data, lines, read_problems = read_yaml(text)
    except YamlSyntaxError as err:
        raise CodebookError(Errors.E230.format(source=source, problem=err, line=err.line)) from err
    if read_problems:
        loc, problem = read_problems[0]
        raise CodebookError(
            Errors.E230.format(source=source, problem=problem, line=lines.get(loc, "-"))
        )
    return map_from_data(data, source=source, lines=lines)


def map_from_data(
    data: Any, *, source: str = "<map>", lines: dict[tuple[Any, ...], int] | None = None
) -> CodebookMap:
    """A migration map from plain data (a mapping as read from YAML or JSON)."""
    lines = lines or {}

    def bad(loc: tuple[Any, ...], problem: str) -> CodebookError:
        line = next((lines[loc[:k]] for k in range(len(loc), 0, -1) if loc[:k] in lines), "-")
        where = ".".join(str(p) for p in loc) or "(top level)"
        return CodebookError(Errors.E230.format(source=source, problem=f"{where}: {problem}",
                                                line=line))  # fmt: skip

    if not isinstance(data, dict):
        raise bad((), "a map is a mapping with from, to, codes and added")
    extra = set(data) - {"from", "to", "codes", "added", "format", "note"}
    if extra:
        raise bad((sorted(extra)[0],), "unknown key; allowed: from, to, codes, added, note")
    ends = []
    for key in ("from", "to"):
        end = data.get(key)
        if not isinstance(end, dict) or not {"id", "version"} <= set(end):
            raise bad((key,), "give the codebook id and version, e.g. {id: toy, version: 1.0.0}")
        try:
            Version(str(end["version"]))
        except ValueError as err:
            raise bad((key, "version"), str(err)) from err
        ends.append((str(end["id"]), str(end["version"])))
    rules = {}
    codes = data.get("codes") or {}
    if not isinstance(codes, dict):
        raise bad(("codes",), "a mapping of old code id -> what happened to it")
    for cid, entry in codes.items():
        rules[str(cid)] = _rule(str(cid), entry, lambda p, m, c=cid: bad(("codes", c, *p), m))
    added = {}
    raw_added = data.get("added") or {}
    if not isinstance(raw_added, dict):
        raise bad(("added",), "a mapping of new code id -> uncoded, recode or recode_where")
    for cid, entry in raw_added.items():
        added[str(cid)] = _added(str(cid), entry, lambda p, m, c=cid: bad(("added", c, *p), m))
    return CodebookMap(ends[0][0], ends[0][1], ends[1][0], ends[1][1], rules, added, source)


def _text(value: Any) -> str | None:
    """A value id as text: YAML numbers become their text; null stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"{value!r} is not a value id")
    return str(value)


def _table(raw: Any, fail: Any, where: tuple[Any, ...]) -> dict[str, str | None]:
    if not isinstance(raw, dict):
        raise fail(where, "a mapping of old value -> new value (or null: recode the unit)")
    try:
        return {str(_text(k)): _text(v) for k, v in raw.items()}
    except TypeError as err:
        raise fail(where, f"{err}; quote value ids, e.g. '1': '1'") from err


def _rule(cid: str, entry: Any, fail: Any) -> CodeRule:
    if isinstance(entry, str):
        entry = {"action": entry}
    if not isinstance(entry, dict):
        raise fail((), "give an action, e.g. {action: rename, into: new_id}")
    allowed = {"action", "into", "values", "also", "recode", "exhaustive", "note"}
    extra = set(entry) - allowed
    if extra:
        raise fail((sorted(extra)[0],), f"unknown key; allowed: {', '.join(sorted(allowed))}")
    action = entry.get("action")
    if action not in ACTIONS:
        raise fail(("action",), f"{action!r} is not an action; use one of {', '.join(ACTIONS)}")
    targets = _targets(cid, action, entry.get("into"), fail)
    values = entry.get("values")
    table = None if values is None else _table(values, fail, ("values",))
    if table is not None and action in ("split", "redefine", "drop"):
        raise fail(("values",), f"{action} takes no values table")
    also_raw = entry.get("also") or {}
    if not isinstance(also_raw, dict):
        raise fail(("also",), "a mapping of new code id -> values table")
    also = {str(k): _table(v, fail, ("also", k)) for k, v in also_raw.items()}
    recode = entry.get("recode", "labelled")
    if recode not in ("labelled", "all") or (action != "redefine" and "recode" in entry):
        raise fail(("recode",), "recode (labelled or all) is an option of action: redefine")
    exhaustive = entry.get("exhaustive", True)
    if not isinstance(exhaustive, bool) or (action != "merge" and "exhaustive" in entry):
        raise fail(("exhaustive",), "exhaustive (true or false) is an option of action: merge")
    note = entry.get("note")
    return CodeRule(cid, action, targets, table, also, recode, exhaustive,
                    None if note is None else str(note))  # fmt: skip


def _targets(cid: str, action: str, into: Any, fail: Any) -> tuple[str, ...]:
    """The new codes an action's labels go to."""
    if action in ("rename", "merge"):
        if not isinstance(into, str):
            raise fail(("into",), f"{action} needs into: the new code id")
        return (into,)
    if action == "split":
        ok = isinstance(into, list) and len(into) >= 2 and all(isinstance(t, str) for t in into)
        if not ok:
            raise fail(("into",), "split needs into: a list of two or more new code ids")
        return tuple(into)
    if action == "drop":
        if into is not None:
            raise fail(("into",), "drop has no into (use rename or merge)")
        return ()
    if into is not None and into != cid:
        raise fail(("into",), f"{action} keeps the code id; use rename to change it")
    return (cid,)


def _added(cid: str, entry: Any, fail: Any) -> AddedRule:
    if isinstance(entry, str):
        if entry not in ("uncoded", "recode"):
            raise fail((), f"{entry!r}: use uncoded, recode or {{recode_where: {{old: [values]}}}}")
        return AddedRule(cid, entry)
    if (
        not isinstance(entry, dict)
        or set(entry) - {"recode_where", "note"}
        or ("recode_where" not in entry)
    ):
        raise fail((), "use uncoded, recode or {recode_where: {old_code: [values]}}")
    where_raw = entry["recode_where"]
    if not isinstance(where_raw, dict) or not where_raw:
        raise fail(("recode_where",), "a mapping of old code id -> list of its values")
    where: dict[str, tuple[str, ...]] = {}
    for old, values in where_raw.items():
        if not isinstance(values, list) or not values:
            raise fail(("recode_where", old), "a list of values of the old code")
        try:
            where[str(old)] = tuple(str(_text(v)) for v in values)
        except TypeError as err:
            raise fail(("recode_where", old), str(err)) from err
    note = entry.get("note")
    return AddedRule(cid, "recode_where", where, None if note is None else str(note))
