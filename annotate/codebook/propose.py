"""Propose a migration map from the differences between two codebook versions.

``annotate codebook diff OLD NEW --map MAP.yaml`` writes the proposal with a comment on every
entry saying why it was proposed. It is a starting point: only the people who changed the
codebook know whether a removed code was dropped, merged into another or split, so the
proposal marks those entries for checking.

* a code whose id changed but whose definition or label stayed (:func:`diff_codebooks`'
  renames): ``rename``;
* a removed code: ``drop`` (check: merged or split?);
* a code whose definition changed: ``redefine`` (its labelled units are recoded);
* a code whose values were removed, or whose level changed: ``recode`` with a values table
  (kept values map to themselves, the others to ``null``: recode);
* ordinal values reordered: ``recode`` with the identity table (check the order);
* an added code: ``uncoded`` under ``added``.
"""

from __future__ import annotations

import json

from annotate.codebook.diff import CodebookDiff, diff_codebooks
from annotate.codebook.migration import AddedRule, CodebookMap, CodeRule
from annotate.codebook.model import Codebook


def propose_map(old: Codebook, new: Codebook) -> tuple[CodebookMap, dict[str, str]]:
    """A proposed map from ``old`` to ``new`` and, per entry (``codes.ID`` / ``added.ID``),
    why it was proposed. Load both codebooks with ``modules="all"`` to cover whole files."""
    d = diff_codebooks(old, new)
    olds = {c.id: c for c in old.codes}
    news = {c.id: c for c in new.codes}
    rules: dict[str, CodeRule] = {}
    why: dict[str, str] = {}
    for a, b in d.renamed:
        rules[a] = CodeRule(a, "rename", (b,), _values(olds[a].value_ids, news[b].value_ids))
        why[f"codes.{a}"] = f"renamed: {b} has the same definition or label"
    for a in d.removed:
        rules[a] = CodeRule(a, "drop")
        why[f"codes.{a}"] = (
            "CHECK: removed in the new version; if it was merged into or split into new codes, "
            "use action: merge (into: NEW) or split (into: [NEW, ...])"
        )
    changed_values = set(d.values_changed)
    levels = {c.target for c in d.changes if c.kind == "level_changed"}
    reordered = {c.target for c in d.changes if c.kind == "values_reordered"}
    for cid in olds:
        if cid not in news or cid in rules:
            continue
        o, n = olds[cid], news[cid]
        removed_values = [v for v in o.value_ids if v not in n.value_ids]
        if cid in levels or removed_values or cid in reordered:
            rules[cid] = CodeRule(cid, "recode", (cid,), _values(o.value_ids, n.value_ids))
            why[f"codes.{cid}"] = (
                "CHECK: level changed" if cid in levels
                else "CHECK: ordinal values reordered" if cid in reordered
                else "values removed: " + ", ".join(removed_values) + " (null = recode)"
            )  # fmt: skip
        elif cid in d.definitions_changed:
            rules[cid] = CodeRule(cid, "redefine", (cid,))
            why[f"codes.{cid}"] = (
                "definition changed: units with a value are recoded (use recode: all if the "
                "definition broadened, so that absences are reviewed too)"
            )
        elif cid in changed_values:
            why[f"codes.{cid}"] = "values added or reworded only: kept"
    added = {}
    for cid in d.added:
        added[cid] = AddedRule(cid)
        why[f"added.{cid}"] = (
            "new code: not coded in conversations finished before (use recode to queue every "
            "finished conversation, or recode_where: {OLD_CODE: [values]})"
        )
    proposal = CodebookMap(
        old.id, str(old.version), new.id, str(new.version), rules, added, "<proposal>"
    )
    return proposal, why


def _values(old: tuple[str, ...], new: tuple[str, ...]) -> dict[str, str | None] | None:
    """Identity for the values both have, null for the others; None when all are kept."""
    if all(v in new for v in old):
        return None
    return {v: (v if v in new else None) for v in old}


def map_yaml(proposal: CodebookMap, why: dict[str, str], diff: CodebookDiff | None = None) -> str:
    """The proposal as commented YAML, ready to edit."""
    doc = proposal.to_dict()
    head = [
        "# Migration map proposed by `annotate codebook diff`. CHECK every entry: only you know",
        "# whether a removed code was dropped, merged or split (README, 'Codebook versions').",
        "# Apply it with `annotate project migrate PROJECT --codebook NEW.yaml --map THIS.yaml`.",
    ]
    if diff is not None:
        head.append(f"# required version bump: {diff.required_bump}")
    lines = [*head, f"from: {_flow(doc['from'])}", f"to: {_flow(doc['to'])}"]
    lines.append("codes:" + ("" if doc["codes"] else " {}"))
    for cid, entry in doc["codes"].items():
        if f"codes.{cid}" in why:
            lines.append(f"  # {why[f'codes.{cid}']}")
        lines.append(f"  {cid}: {_flow(entry)}")
    lines.append("added:" + ("" if doc["added"] else " {}"))
    for cid, entry in doc["added"].items():
        if f"added.{cid}" in why:
            lines.append(f"  # {why[f'added.{cid}']}")
        lines.append(f"  {cid}: {_flow(entry)}")
    return "\n".join(lines) + "\n"


def _flow(value: object) -> str:
    """A YAML flow value (JSON is valid YAML; strings quoted so that '1' stays text)."""
    return json.dumps(value, ensure_ascii=False)
