"""Label-free behavioural checks of an LLM coder, before a run (Halterman & Keith 2025).

A model that codes by the codebook should not care in which order a code's values are listed,
and should follow a code's definition rather than its name. Both can be checked without a
single human label, on a few units, by coding them again with the prompt changed:

* ``shuffle_values``: every code's values listed in another order (in the prompt and in the
  answer schema). Labels that change measure **order sensitivity**: low is good.
* ``swap_definitions``: the guidance (definition, when and when not to use it, examples, near
  misses) of pairs of codes of the same kind of unit swapped, names and values kept. A model
  that reads the definitions changes its labels, and where the two codes share their values
  (two binary codes) its label of A under the swap should be its original label of B:
  ``follows_definition`` (on the units where the two originals differ). High is good; a model
  that keeps its labels codes by the code names.
* ``repeat`` (added when the coder samples, temperature > 0): the original prompt with another
  seed, the noise floor the two checks above should be read against.

Nothing is stored as a label. Every request and answer goes to
``llm/<id>/checks/audit/<run_id>.jsonl`` (the audit records of a run), and answers are cached,
so the checks of a project cost nothing the second time; the ``original`` condition reuses the
coder's own run when it coded the unit already.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from annotate.clock import CLOCK
from annotate.errors import Errors, LLMError
from annotate.llm import audit as _audit
from annotate.llm.coder import LLMCoder, coder_dir, load_coder
from annotate.llm.prompt import WorkUnit
from annotate.llm.run import (
    UnitCoder,
    _check_model,
    _Conversations,
    plan_units,
    select_conversations,
)
from annotate.llm.schema import coder_schemas

CHECKS = ("shuffle_values", "swap_definitions")
#: the guidance a swap exchanges between two codes
GUIDANCE = ("definition", "when_to_use", "when_not_to_use", "examples", "near_misses")


class _Code:
    """A code with some attributes replaced (everything else is the original's)."""

    def __init__(self, code: Any, **overrides: Any) -> None:
        self._code = code
        self._over = overrides

    def __getattr__(self, name: str) -> Any:
        over = self.__dict__.get("_over", {})
        if name in over:
            return over[name]
        return getattr(self.__dict__["_code"], name)


class _Codebook:
    """A codebook whose codes are replaced by variants (same id, version and hash: the prompt
    is what changes, and the record's codebook check still holds)."""

    def __init__(self, codebook: Any, codes: dict[str, _Code]) -> None:
        self._cb = codebook
        self._codes = codes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_cb"], name)

    def code(self, code_id: str) -> Any:
        return self._codes.get(code_id) or self._cb.code(code_id)

    @property
    def codes(self) -> tuple[Any, ...]:
        return tuple(self.code(c.id) for c in self._cb.codes)

    def codes_for(self, unit: str, role: str | None = None) -> list[Any]:
        found = self._cb.codes_for(unit, role) if role else self._cb.codes_for(unit)
        return [self.code(c.id) for c in found]


def shuffled_values(codebook: Any, seed: int = 0) -> _Codebook:
    """Every code's values in another order (never the original one)."""
    rng = np.random.default_rng([seed, 0x5F1])
    out = {}
    for code in codebook.codes:
        n = len(code.values)
        order = np.arange(n)
        while n > 1 and (order == np.arange(n)).all():
            order = rng.permutation(n)
        values = tuple(code.values[i] for i in order)
        out[code.id] = _Code(code, values=values, value_ids=tuple(v.value for v in values))
    return _Codebook(codebook, out)


def definition_pairs(codebook: Any, codes: Any = None) -> list[tuple[str, str]]:
    """Pairs of codes whose guidance a swap exchanges: codes of the same kind of unit (the same
    role), codes with the same values paired first (their labels can then be compared)."""
    only = None if codes is None else set(codes)
    pairs: list[tuple[str, str]] = []
    used: set[str] = set()
    kinds = [("turn", "user"), ("turn", "assistant"), ("conversation", None)]
    for unit, role in kinds:
        found = codebook.codes_for(unit, role) if role else codebook.codes_for(unit)
        found = [c for c in found if (only is None or c.id in only) and c.id not in used]
        by_values: dict[tuple, list[Any]] = {}
        for c in found:
            by_values.setdefault((c.level, tuple(c.value_ids)), []).append(c)
        rest: list[Any] = []
        for group in by_values.values():
            for a, b in zip(group[0::2], group[1::2], strict=False):
                pairs.append((a.id, b.id))
                used.update((a.id, b.id))
            if len(group) % 2:
                rest.append(group[-1])
        for a, b in zip(rest[0::2], rest[1::2], strict=False):
            pairs.append((a.id, b.id))
            used.update((a.id, b.id))
    return pairs


def swapped_definitions(codebook: Any, pairs: list[tuple[str, str]]) -> _Codebook:
    out = {}
    for a, b in pairs:
        ca, cb = codebook.code(a), codebook.code(b)
        out[a] = _Code(ca, **{f: getattr(cb, f) for f in GUIDANCE})
        out[b] = _Code(cb, **{f: getattr(ca, f) for f in GUIDANCE})
    return _Codebook(codebook, out)


class ChecksReport:
    """How often an LLM coder's labels change when its prompt changes (module docstring).

    Attributes
    ----------
    table : DataFrame
        One row per (check, code): ``check``, ``code_id``, ``partner`` (swap: the code whose
        guidance it got), ``n_units`` (units with a valid answer in both conditions),
        ``changed``, ``change_rate``, ``informative_units`` and ``follows_definition`` (swap,
        codes with the same values: on units where the two original labels differ, the share
        whose label under the swap is the partner's original label), ``expected``.
    labels : DataFrame
        Every unit's value per condition (``unit, conversation_id, turn_index, code_id``, one
        column per condition).
    """

    def __init__(self, table: pd.DataFrame, labels: pd.DataFrame, settings: dict[str, Any]):
        self.table = table
        self.labels = labels
        self.settings = settings

    def to_text(self) -> str:
        if self.table.empty:
            return "(no units checked)"
        t = self.table.copy()
        text = t.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-")
        lines = [
            text,
            "shuffle_values: labels that change with the order of the values (low is good); "
            "swap_definitions: labels that follow the definitions, not the code names (high "
            "is good); repeat: the same prompt with another seed (the noise floor)",
        ]
        lines += [f"note: {n}" for n in self.settings.get("notes", [])]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ChecksReport: {len(self.table)} rows>\n{self.to_text()}"

    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings, "rows": self.table.to_dict(orient="records")}


def behaviour_checks(
    project: Any,
    coder_id: str,
    *,
    conversations: Any = "reliability",
    limit: int | None = 20,
    checks: Any = CHECKS,
    seed: int = 0,
    progress: bool = True,
    backend: Any = None,
) -> ChecksReport:
    """Code a few units under each check's changed prompt and report how often labels change.

    Parameters
    ----------
    project : Project
    coder_id : str
        An LLM coder (its model, template and settings are used).
    conversations : {"reliability", "queue", "all"} or list of str
        Where the units come from (as in :func:`~annotate.llm.run_llm_coder`).
    limit : int or None
        At most this many units (each coded once per condition).
    checks : iterable of str
        Of :data:`CHECKS`.
    seed : int
        Seed of the value shuffle.
    progress : bool
        Show a progress bar.
    backend : Backend, optional
        A loaded backend to use.
    """
    from tqdm.auto import tqdm

    from annotate.llm.backends import make_backend

    spec = load_coder(project, coder_id)
    checks = [checks] if isinstance(checks, str) else list(checks)
    bad = [c for c in checks if c not in CHECKS]
    if bad or not checks:
        problem = f"checks {bad or checks}: use one or more of {', '.join(CHECKS)}"
        raise LLMError(Errors.E701.format(option="checks", value=checks, problem=problem))
    notes: list[str] = []
    variants, pairs = _variants(spec, project.codebook, checks, seed, notes)
    run_id = CLOCK.event_id()
    kinds = (_audit.AUDIT_DIR, _audit.CHECKS_DIR)
    cache = _audit.ResponseCache(project.path, kinds=kinds, also=_audit.cache_roots())
    coders = {k: UnitCoder(s, vcb, cache, run_id) for k, (vcb, s) in variants.items()}
    conv_ids = select_conversations(project, coder_id, conversations)
    units = plan_units(project.turns, conv_ids, coders["original"].builder)
    if limit is not None:
        units = units[:limit]
    texts = _Conversations(project.corpus)
    results: dict[str, dict[tuple, dict[str, str]]] = {k: {} for k in variants}
    own = backend is None and bool(units)
    if own:
        _check_model(spec, Path(project.path), coder_dir(project.path, coder_id))
        backend = make_backend(spec, Path(project.path))
    log = _audit.AuditLog(coder_dir(project.path, coder_id) / _audit.CHECKS_DIR, run_id)
    bar = tqdm(
        total=len(units) * len(variants),
        desc=f"checks {coder_id}",
        unit="request",
        disable=not progress,
    )
    try:
        for unit in units:
            turns = texts(unit.conversation_id)
            for name, coder in coders.items():
                result = coder.code(unit, turns, backend)
                records = coder.audit_records(result, log)
                for r in records:
                    if r.get("type") == "request":
                        r["check"] = name
                log.write(records)
                for att in result.attempts:
                    if not att.cached:
                        cache.add(
                            att.key,
                            {**att.completion.__dict__, "run_id": run_id, "coder_id": coder_id},
                        )
                if result.answer is not None:
                    results[name][unit.key] = dict(result.answer.values)
                bar.update(1)
    finally:
        bar.close()
        log.close()
        if own and backend is not None:
            backend.close()
    labels = _labels_table(units, results)
    table = _table(results, pairs, list(variants))
    settings = {
        "coder": coder_id,
        "checks": checks,
        "units": len(units),
        "seed": seed,
        "pairs": pairs,
        "run_id": run_id,
        "notes": notes,
        "audit_log": str(log.path.relative_to(project.path)),
    }
    return ChecksReport(table, labels, settings)


def _variants(
    spec: LLMCoder, cb: Any, checks: list[str], seed: int, notes: list[str]
) -> tuple[dict[str, tuple[Any, LLMCoder]], list[tuple[str, str]]]:
    """The codebook and record of every condition, and the swapped pairs."""
    variants: dict[str, tuple[Any, LLMCoder]] = {"original": (cb, spec)}
    if "shuffle_values" in checks:
        vcb = shuffled_values(cb, seed)
        schemas = coder_schemas(vcb, rationale=spec.rationale, codes=spec.codes)
        variants["shuffle_values"] = (vcb, replace(spec, schemas=schemas))
    pairs: list[tuple[str, str]] = []
    if "swap_definitions" in checks:
        pairs = definition_pairs(cb, spec.codes)
        if pairs:
            variants["swap_definitions"] = (swapped_definitions(cb, pairs), spec)
        else:
            notes.append("swap_definitions: no two codes of the same kind of unit to swap")
    if spec.temperature > 0:
        variants["repeat"] = (cb, replace(spec, seed=spec.seed + 7919))
    return variants, pairs


def _labels_table(units: list[WorkUnit], results: dict[str, dict]) -> pd.DataFrame:
    rows = []
    for u in units:
        codes = sorted({c for r in results.values() for c in r.get(u.key, {})})
        for c in codes:
            row = {
                "unit": u.unit,
                "conversation_id": u.conversation_id,
                "turn_index": u.turn_index,
                "code_id": c,
            }
            for name, r in results.items():
                row[name] = r.get(u.key, {}).get(c)
            rows.append(row)
    return pd.DataFrame(rows)


def _table(
    results: dict[str, dict], pairs: list[tuple[str, str]], names: list[str]
) -> pd.DataFrame:
    partner = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    orig = results["original"]
    rows = []
    expected = {"shuffle_values": "low", "swap_definitions": "high", "repeat": "low"}
    for name in names:
        if name == "original":
            continue
        other = results[name]
        codes = sorted({c for v in orig.values() for c in v})
        for code in codes:
            if name == "swap_definitions" and code not in partner:
                continue
            both = [k for k in orig if k in other and code in orig[k] and code in other[k]]
            changed = sum(orig[k][code] != other[k][code] for k in both)
            row: dict[str, Any] = {
                "check": name,
                "code_id": code,
                "partner": partner.get(code) if name == "swap_definitions" else None,
                "n_units": len(both),
                "changed": changed,
                "change_rate": changed / len(both) if both else float("nan"),
                "informative_units": None,
                "follows_definition": float("nan"),
                "expected": expected[name],
            }
            p = partner.get(code)
            if name == "swap_definitions" and p is not None:
                info = [k for k in both if p in orig[k] and orig[k][p] != orig[k][code]]
                row["informative_units"] = len(info)
                if info:
                    row["follows_definition"] = sum(
                        other[k][code] == orig[k][p] for k in info
                    ) / len(info)
            rows.append(row)
    return pd.DataFrame(rows)
