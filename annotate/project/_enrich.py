"""An enriched reliability sample: stratified by a pre-score so that rare codes get positives.

``Project.enrich_reliability(n, codes=[...], prescore="cues")`` adds ``n`` conversations of
the project to the reliability sample, drawn from two strata of a **pre-score** computed
before any coding:

* ``"cues"``: the number of turns (of the roles the codes apply to) holding one of the codes'
  cue phrases (the codebook's ``cues``; spaCy token patterns are not matched here);
* ``"labels:ID"``: the number of the codes' labels (other than a binary absence) by annotator
  ``ID``, e.g. an LLM coder whose labels were appended to the project;
* a conversation column or ``meta.KEY``: numeric (a score), or a filter such as
  ``meta.flagged=true`` / ``model=companion-1`` (1 where it holds, else 0).

Stratum ``high`` holds the conversations with a pre-score above 0, ``low`` the rest; ``share``
of the ``n`` (default half) comes from ``high`` (all of it if it is smaller), the rest from
``low``, each a seeded simple random sample without replacement of the conversations not yet
in the reliability sample.

**Inclusion probabilities.** The reliability sample before the enrichment (if any) was an
equal-probability draw with fraction ``pi_1``; the enrichment draws a fraction ``f_h`` of the
remaining conversations of stratum ``h``. A conversation of stratum ``h`` is therefore in the
final sample with probability ``pi_1 + (1 - pi_1) * f_h`` (the second phase's fractions taken
as fixed), whichever phase drew it. The design (pre-score, strata with population, pool and
drawn counts, fractions, inclusion probabilities, and each reliability conversation's
stratum) is recorded in the plan version that makes the change (``plan_history``), read back
by ``Project.reliability_design`` and ``Project.reliability_weights()`` for
:func:`annotate.agreement.design_report`. One enrichment per project: a later
``add_reliability`` draws outside the recorded design (its conversations get no inclusion
probability, and the design report says so).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.errors import Errors, ProjectError
from annotate.project import _plan, _sample

if TYPE_CHECKING:
    from annotate.project import Project

_SALT = 0xE11  # keeps the enrichment's draws apart from the other draws of one seed
METHOD = "two strata of a pre-score (high: > 0, low: 0), simple random sample in each"


def prescore(project: Project, codes: list[str], source: str) -> pd.Series:
    """The pre-score of every conversation of the project (index: conversation id)."""
    ids = sorted(set(project.assignments["conversation_id"]))
    if source == "cues":
        return _cue_score(project, codes, ids)
    if source.startswith("labels:"):
        return _label_score(project, codes, source[len("labels:") :], ids)
    return _column_score(project, source, ids)


def _cue_score(project: Project, codes: list[str], ids: list[str]) -> pd.Series:
    cb = project.codebook
    turns = project.corpus.turns
    turns = turns[turns["conversation_id"].isin(ids)]
    hit = np.zeros(len(turns), dtype=bool)
    for cid in codes:
        code = cb.code(cid)
        phrases = [c for c in code.cues if isinstance(c, str)]
        if not phrases:
            continue
        pattern = r"(?i)\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b"
        roles = turns["role"].isin(list(code.applies_to)).to_numpy(dtype=bool, na_value=False)
        found = turns["text"].str.contains(pattern, regex=True).to_numpy(dtype=bool, na_value=False)
        hit |= roles & found
    per = pd.Series(hit.astype(int), index=turns["conversation_id"].to_numpy())
    return per.groupby(level=0).sum().reindex(ids, fill_value=0).astype(float)


def _label_score(project: Project, codes: list[str], annotator: str, ids: list[str]) -> pd.Series:
    cur = project.labels(annotator=annotator)
    cur = cur[cur["code_id"].isin(codes)]
    absent = {c.id: c.absent_value for c in project.codebook.codes if c.level == "binary"}
    keep = np.array(
        [absent.get(c) != v for c, v in zip(cur["code_id"], cur["value"], strict=True)], dtype=bool
    )
    per = cur.loc[keep, "conversation_id"].value_counts()
    if per.empty:
        raise ProjectError(
            Errors.E360.format(source=f"labels:{annotator}", problem="no label of the codes")
        )
    return per.reindex(ids, fill_value=0).astype(float)


def _column_score(project: Project, source: str, ids: list[str]) -> pd.Series:
    convs = project.corpus.conversations
    convs = convs[convs["conversation_id"].isin(ids)].set_index("conversation_id", drop=False)
    if "=" in source:
        filters = _sample.parse_where([source])
        mask = _sample.frame_mask(convs.reset_index(drop=True), filters)
        return pd.Series(mask.astype(float), index=convs.index).reindex(ids, fill_value=0.0)
    key = source
    if key not in (*_sample.COLUMNS, "n_turns") and not key.startswith("meta."):
        problem = "use cues, labels:ID, a column, meta.KEY or a filter such as meta.KEY=VALUE"
        raise ProjectError(Errors.E360.format(source=source, problem=problem))
    text = _sample.column(convs.reset_index(drop=True), key)
    low = text.str.lower()
    mapped = low.map({"true": "1", "false": "0"}).fillna(low)
    values = pd.to_numeric(mapped, errors="coerce")
    if values.notna().sum() == 0:
        problem = "no numeric value; give a filter such as meta.KEY=VALUE instead"
        raise ProjectError(Errors.E360.format(source=source, problem=problem))
    return pd.Series(values.fillna(0.0).to_numpy(), index=convs.index).reindex(ids, fill_value=0.0)


def enrich(
    project: Project,
    n: int,
    *,
    codes: list[str],
    source: str = "cues",
    share: float = 0.5,
    reliability_coders: int | None = None,
) -> pd.DataFrame:
    """Add ``n`` pre-score-stratified conversations to the reliability sample (see the module
    docstring). Returns the new assignment rows."""
    _check(project, n, codes, share)
    scores = prescore(project, codes, source)
    stratum = pd.Series(np.where(scores > 0, "high", "low"), index=scores.index)

    def compute(state: Any) -> tuple[Any, pd.DataFrame]:
        if design_of(project) is not None:
            raise ProjectError(Errors.E361.format(path=project.path))
        a = state.assignments
        coders = state.coders
        rel = set(a.loc[a["is_reliability"], "conversation_id"])
        population = sorted(set(a["conversation_id"]))
        pi1 = len(rel) / len(population)
        pool = [c for c in population if c not in rel]
        n_take = min(n, len(pool))
        high = [c for c in pool if stratum[c] == "high"]
        low = [c for c in pool if stratum[c] == "low"]
        n_high = min(len(high), round(share * n_take))
        n_low = min(len(low), n_take - n_high)
        n_high = min(len(high), n_take - n_low)
        rng = np.random.default_rng([int(state.plan["seed"]), _SALT, state.version])
        chosen = {
            "high": [high[i] for i in sorted(rng.permutation(len(high))[:n_high])],
            "low": [low[i] for i in sorted(rng.permutation(len(low))[:n_low])],
        }
        strata = []
        for h, members, drawn in (("high", high, n_high), ("low", low, n_low)):
            f = drawn / len(members) if members else 0.0
            strata.append({
                "stratum": h,
                "population": int((stratum.loc[population] == h).sum()),
                "pool": len(members),
                "drawn": drawn,
                "fraction": f,
                "inclusion_probability": pi1 + (1 - pi1) * f,
            })  # fmt: skip
        picked = chosen["high"] + chosen["low"]
        k = reliability_coders or state.plan["reliability_coders"] or len(coders)
        _plan.check_plan(coders, state.plan["per_item"], 1.0, k)
        rows = _rows(a, picked, coders, k, rng)
        members = sorted(rel | set(picked))
        design = {
            "method": METHOD,
            "prescore": source,
            "codes": list(codes),
            "share": share,
            "population": len(population),
            "first_stage": {"sample": len(rel), "fraction": pi1},
            "strata": strata,
            "conversations": {c: str(stratum[c]) for c in members},
        }
        table = a.copy()
        table.loc[table["conversation_id"].isin(picked), "is_reliability"] = True
        plan = {**state.plan, "reliability": len(members) / len(population)}
        if state.plan["reliability_coders"] is None and k != len(coders):
            plan["reliability_coders"] = k
        nxt = state.next(
            f"enrich_reliability {len(picked)} ({source})",
            assignments=pd.concat([table, rows], ignore_index=True),
            plan=plan,
        )
        return replace(nxt, change={**nxt.change, "design": design}), rows

    result: pd.DataFrame = project._change(compute)
    return result


def _rows(
    a: pd.DataFrame, picked: list[str], coders: list[str], k: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Assignment rows giving each picked conversation ``k`` coders (least loaded first)."""
    order = [coders[i] for i in rng.permutation(len(coders))]
    loads = a["annotator_id"].value_counts().to_dict()
    has = a.groupby("conversation_id")["annotator_id"].agg(set).to_dict()
    pairs = []
    for cid in picked:
        extra = k - len(has.get(cid, set()))
        pick = sorted((c for c in order if c not in has.get(cid, set())),
                      key=lambda c: loads.get(c, 0))[: max(extra, 0)]  # fmt: skip
        for c in pick:
            loads[c] = loads.get(c, 0) + 1
            pairs.append((cid, c))
    return _plan.queue_rows([], pairs, a)


def _check(project: Project, n: Any, codes: list[str], share: Any) -> None:
    def bad(option: str, value: Any, problem: str) -> ProjectError:
        return ProjectError(Errors.E312.format(option=option, value=value, problem=problem))

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise bad("n", n, "use a whole number >= 1")
    if not codes:
        raise bad("codes", codes, "name the rare codes to enrich for")
    for c in codes:
        project.codebook.code(c)  # E203 naming the codes when unknown
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise bad("share", share, "use a fraction above 0, up to 1")
    if len(project.coders) < 2:
        raise bad("coders", project.coders, "a reliability sample needs two coders")


def design_of(project: Project) -> dict[str, Any] | None:
    """The recorded enrichment design, or None."""
    for v in reversed(project.plan_history):
        if "design" in v:
            design: dict[str, Any] = v["design"]
            return design
    return None


def weights(project: Project) -> pd.DataFrame:
    """conversation_id, stratum, inclusion_probability, weight of every reliability
    conversation the design drew (equal probabilities when there was no enrichment)."""
    a = project.assignments
    rel = sorted(set(a.loc[a["is_reliability"], "conversation_id"]))
    design = design_of(project)
    if design is None:
        n = a["conversation_id"].nunique()
        p = len(rel) / n if n else 0.0
        rows = [(c, "all", p) for c in rel]
    else:
        pi = {s["stratum"]: s["inclusion_probability"] for s in design["strata"]}
        rows = [(c, h, pi[h]) for c, h in design["conversations"].items() if c in set(rel)]
    frame = pd.DataFrame(rows, columns=["conversation_id", "stratum", "inclusion_probability"])
    frame["weight"] = 1.0 / frame["inclusion_probability"]
    return frame
