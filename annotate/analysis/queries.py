"""Ready-made sequence questions (docs/methods.md) over the default codebook's ids.

Each :class:`SequenceQuery` asks how often an antecedent on a given turn (any of its items:
``CODE`` for a binary code, ``CODE=VALUE`` for one value of a nominal code) is followed, at
``lag`` turns, by each consequent item, using the statistics of
:mod:`annotate.analysis.sequences` (cluster-robust score test, within-conversation
permutation test).

**Three-step patterns.** A query with ``then`` items asks about a chain A → B → C, e.g.
rupture → repair → re-engagement: among the antecedent turns t (A present) whose next turns
were coded, how often the consequent B follows at t + lag, and whether the user comes back
(C, any of the ``then`` items, at t + lag + then_lag) more often after B than without it:
P(C | A, B) against P(C | A, not B), with the odds ratio of a logistic GEE ``C ~ B`` on the
antecedent turns (exchangeable within users, bias-reduced robust errors, t with G − 1 df).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis import _models
from annotate.analysis._frame import LabelFrame, prepare
from annotate.analysis._intervals import interval as _interval
from annotate.analysis._intervals import warn
from annotate.analysis._nesting import Nesting, nesting_of
from annotate.analysis.sequences import _table, transitions
from annotate.errors import AnalysisError, Errors, Warnings, hint

if TYPE_CHECKING:
    from annotate.analysis._family import Family
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus


@dataclass(frozen=True)
class SequenceQuery:
    """(antecedent items) at a ``given_role`` turn -> (consequent items) ``lag`` turns later."""

    name: str
    antecedent: tuple[str, ...]
    consequent: tuple[str, ...]
    question: str = ""
    given_role: str | None = "user"
    target_role: str | None = "assistant"
    lag: int = 1
    #: three-step patterns: the items of step C (any of them), its role and distance from B
    then: tuple[str, ...] = ()
    then_role: str | None = "user"
    then_lag: int = 1


#: The default questions, over the ids of codebooks/sdt-socioaffective.yaml (core codes and the
#: trust, sycophancy and companionship modules).
DEFAULT_QUERIES: tuple[SequenceQuery, ...] = (
    SequenceQuery(
        "support_bid",
        ("user_support_seeking",),
        ("ai_empathy", "ai_bridge", "ai_primary_move=refer"),
        "After a bid for support, does the AI reply with empathy or point to other help?",
    ),
    SequenceQuery(
        "pushback_move",
        ("user_primary_move=pushback",),
        ("ai_primary_move=challenge", "ai_primary_move=validate"),
        "After user pushback, does the AI hold its ground (challenge) or cave (validate)?",
    ),
    SequenceQuery(
        "pushback_hold_or_cave",
        ("user_challenge",),
        ("ai_pushback", "ai_capitulation", "ai_sycophancy"),
        "After the user challenges the AI, does it hold (pushback) or cave (capitulation)?",
    ),
    SequenceQuery(
        "goodbye_manipulation",
        ("user_goodbye", "user_primary_move=exit"),
        ("ai_exit_pressure",),
        "When the user says goodbye, does the AI reply with exit pressure (manipulation)?",
    ),
    SequenceQuery(
        "challenge_repair",
        ("user_challenge",),
        ("ai_repair",),
        "After a challenge (rupture marker), does the AI repair?",
    ),
    SequenceQuery(
        "rupture_repair_reengagement",
        ("user_challenge", "user_primary_move=pushback"),
        ("ai_repair",),
        "After a rupture, does the AI repair, and does the user re-engage more after a repair?",
        then=(
            "user_agency",
            "user_primary_move=disclose",
            "user_primary_move=agency",
            "user_primary_move=ack",
        ),
    ),
)


def _missing(items: Sequence[str], codebook: Codebook) -> list[str]:
    out = []
    for item in items:
        code_id, _, value = item.partition("=")
        if code_id not in codebook.code_ids:
            out.append(item)
        elif value and value not in codebook.code(code_id).value_ids:
            out.append(item)
    return out


def _module_of(codebook: Any) -> dict[str, str]:
    """code id -> module, for the codes of every module the codebook file declares (also
    those not loaded); empty when the codebook has no file to read them from."""
    path = getattr(codebook, "path", None)
    if path is None or not getattr(codebook, "modules", ()):
        return {}
    from annotate.codebook import load_codebook

    try:
        full = load_codebook(path, modules="all")
    except Exception:  # the file moved or changed: fall back to "not in the codebook"
        return {}
    return {c.id: c.module for c in full.codes if c.module}


def explain_missing(missing: Sequence[str], codebook: Any) -> str:
    """Why items are missing: codes of a module this codebook (project) did not load, with
    how to load it, and codes that are in no module of the codebook."""
    modules = _module_of(codebook)
    not_loaded: dict[str, list[str]] = {}
    unknown: list[str] = []
    for item in missing:
        module = modules.get(item.partition("=")[0])
        if module is not None and module not in codebook.active_modules:
            not_loaded.setdefault(module, []).append(item)
        else:
            unknown.append(item)
    parts = []
    if not_loaded:
        names = ",".join(sorted(not_loaded))
        codes = ", ".join(i for m in sorted(not_loaded) for i in not_loaded[m])
        how = hint(
            f"Project.create(..., modules=[{', '.join(repr(m) for m in sorted(not_loaded))}])"
            f" or load_codebook(path, modules=...)",
            f"`annotate project init ... --modules {names}`",
        )
        parts.append(
            f"{codes} belong to module(s) {names} of codebook {codebook.id!r}, not loaded in "
            f"this project (add --modules {names}: create the project with {how})"
        )
    if unknown:
        parts.append(f"{', '.join(unknown)} are not in codebook {codebook.id!r}")
    return "; ".join(parts)


def _annotated(missing: Sequence[str], codebook: Any) -> str:
    """The missing items, each code of a module that is not loaded marked as such."""
    modules = _module_of(codebook)
    out = []
    for item in missing:
        module = modules.get(item.partition("=")[0])
        if module is not None and module not in codebook.active_modules:
            item += f" (module {module}, not loaded in this project: add --modules {module})"
        out.append(item)
    return ", ".join(out)


def check_query(query: SequenceQuery, codebook: Codebook) -> None:
    """Raise E456 (listing the codebook's ids) if the query uses codes the codebook lacks."""
    missing = _missing((*query.antecedent, *query.consequent, *query.then), codebook)
    if missing:
        raise AnalysisError(
            Errors.E456.format(
                query=query.name,
                missing=_annotated(missing, codebook),
                codebook=codebook.id,
                available=", ".join(codebook.code_ids),
            )
        )


def sequence_queries(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    queries: Sequence[SequenceQuery] | None = None,
    corpus: Corpus | None = None,
    annotator: str | None = None,
    permutations: int = 1000,
    seed: int | None = None,
    correction: str = "bh",
    nesting: str = "auto",
    level: float = 0.95,
    bootstrap: int = 1000,
    family: Family | None = None,
) -> pd.DataFrame:
    """Run sequence questions: one row per (query, consequent).

    Parameters
    ----------
    labels, codebook, corpus, annotator
        As in :func:`annotate.analysis.prevalence`.
    queries
        :class:`SequenceQuery` objects. Every code they name must be in the codebook (E456
        lists the available ids otherwise). Default :data:`DEFAULT_QUERIES`: items the codebook
        lacks (e.g. a module that is switched off) are left out of a query, and a query with no
        antecedent or no consequent left is skipped with warning W450.
    permutations, seed
        Within-conversation permutation test (see :mod:`annotate.analysis.sequences`).
    correction
        Correction across all rows of the result: ``bh``, ``holm`` or ``none``.
    nesting, level
        Clusters of the score tests and models (``auto``: users when known), confidence level.
    bootstrap
        Replicates of the cluster bootstrap of the three-step risk difference (BCa).
    family
        A :class:`~annotate.analysis.Family` the tests join.

    Returns
    -------
    pandas.DataFrame
        ``query``, ``question``, ``antecedent`` (items joined by " | "), ``consequent`` and
        the statistics of :func:`annotate.analysis.lag_sequential` (``given``/``target``
        renamed to ``antecedent``/``consequent``). The antecedent is present on a turn if any
        of its items is; it is coded if any of its codes is. Three-step queries add ``then``,
        ``then_n`` (chains A → B with C coded), ``then_count``, ``p_then_after``
        (P(C | A, B)), ``p_then_without`` (P(C | A, not B)), their difference
        ``then_difference`` with a BCa interval (``then_ci_low``/``then_ci_high``; always
        finite, unlike the odds ratio when C always or never follows), ``odds_ratio`` with
        ``ci_low``/``ci_high``, ``model_p`` (the test of C after B) and the model columns;
        their ``p_value`` stays the test of A → B.
    """
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    nest = nesting_of(frame, nesting)
    chosen = _usable(queries, codebook)
    parts = []
    for k, query in enumerate(chosen):
        part = _one(frame, query, permutations, None if seed is None else seed + k, nest)
        if part is not None and query.then:
            rng = np.random.default_rng(None if seed is None else seed + 1000 + k)
            part = _three_step(frame, query, part, nest, level, bootstrap, rng)
        if part is not None:
            parts.append(part)
    if not parts:
        return pd.DataFrame(
            columns=["query", "question", "antecedent", "consequent", "n", "count", "p_value"]
        )
    out = pd.concat(parts, ignore_index=True)
    from annotate.analysis._stats import p_adjust

    out["p_adjusted"] = p_adjust(out["p_value"].to_numpy(), correction)
    if "p_permutation" in out:
        out["p_permutation_adjusted"] = p_adjust(out["p_permutation"].to_numpy(), correction)
    out["correction"] = correction
    out["test_label"] = [
        f"{q}: {a} -> {c}"
        for q, a, c in zip(out["query"], out["antecedent"], out["consequent"], strict=True)
    ]
    if family is not None:
        out = family.add("sequence_queries", out)
    return out


def _three_step(
    frame: LabelFrame,
    query: SequenceQuery,
    part: pd.DataFrame,
    nest: Nesting,
    level: float,
    bootstrap: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Add the A -> B -> C statistics to the rows (one per consequent B) of a query."""
    t_rows, u_rows = transitions(frame, query.lag, query.given_role, query.target_role)
    v_from, v_to = transitions(frame, query.then_lag, query.target_role, query.then_role)
    nxt = np.full(len(frame.X), -1, dtype=np.int64)
    nxt[v_from] = v_to
    gp, _, _ = _indicator(frame, query.antecedent)
    cp, cc, _ = _indicator(frame, query.then)
    a_rows = t_rows[gp[t_rows, 0]]
    b_rows = u_rows[gp[t_rows, 0]]
    c_rows = nxt[b_rows]
    ok_c = c_rows >= 0
    extra: dict[str, list[Any]] = {
        k: []
        for k in (
            "then",
            "then_n",
            "then_count",
            "p_then_after",
            "p_then_without",
            "odds_ratio",
            "ci_low",
            "ci_high",
            "model_p",
            "then_difference",
            "then_ci_low",
            "then_ci_high",
        )
    }
    meta = []
    W = nest.weights(bootstrap, rng)
    notes = []
    for item in part["consequent"]:
        bp, bc, _ = _indicator(frame, (item,))
        ok = ok_c & bc[b_rows, 0]
        ok[ok] &= cc[c_rows[ok], 0]
        b = bp[b_rows[ok], 0].astype(float)
        c = cp[c_rows[ok], 0].astype(float)
        conv = frame.conv[a_rows[ok]]
        X = pd.DataFrame({"Intercept": np.ones(len(b)), f"{item}[t+{query.lag}]": b})
        then = " | ".join(query.then)
        fit = _models.gee(
            c,
            X,
            nest.cluster[conv],
            formula=f"({then})[t+{query.lag + query.then_lag}] ~ {item}[t+{query.lag}]"
            f" | antecedent at t",
            clusters=nest.level,
            level=level,
        )
        term = fit.term(f"{item}[t+{query.lag}]")
        extra["then"].append(then)
        extra["then_n"].append(int(b.sum()))
        extra["then_count"].append(int((b * c).sum()))
        with np.errstate(invalid="ignore", divide="ignore"):
            extra["p_then_after"].append(float(c[b == 1].mean()) if (b == 1).any() else np.nan)
            extra["p_then_without"].append(float(c[b == 0].mean()) if (b == 0).any() else np.nan)
        extra["odds_ratio"].append(float(np.exp(term["estimate"])))
        extra["ci_low"].append(float(np.exp(term["ci_low"])))
        extra["ci_high"].append(float(np.exp(term["ci_high"])))
        extra["model_p"].append(float(term["p_value"]))
        d, lo, hi = _difference(frame, conv, b, c, nest, W, level)
        extra["then_difference"].append(d)
        extra["then_ci_low"].append(lo)
        extra["then_ci_high"].append(hi)
        if fit.note:
            notes.append(f"{query.name} ({item}): {fit.note}")
        meta.append(fit.fields())
    if notes:
        warn(
            Warnings.W453.format(
                analysis="sequence_queries",
                model="the GEE of",
                problem="; ".join(notes),
                what="use then_difference and its interval",
            )
        )
    out = part.assign(**extra)
    meta_df = pd.DataFrame(meta, index=out.index)
    return pd.concat([out, meta_df.drop(columns=[c for c in meta_df if c in out])], axis=1)


def _difference(
    frame: LabelFrame,
    conv: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    nest: Nesting,
    W: np.ndarray,
    level: float,
) -> tuple[float, float, float]:
    """P(C | B) - P(C | not B) with a BCa interval from the cluster bootstrap."""
    n = frame.n_conversations
    A = np.column_stack(
        [
            np.bincount(conv, weights=b * c, minlength=n),
            np.bincount(conv, weights=b, minlength=n),
            np.bincount(conv, weights=(1 - b) * c, minlength=n),
            np.bincount(conv, weights=1 - b, minlength=n),
        ]
    )

    def stat(s: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return s[..., 0] / s[..., 1] - s[..., 2] / s[..., 3]

    est = stat(A.sum(axis=0))
    if not len(W) or not np.isfinite(est):
        return float(est), np.nan, np.nan
    lo, hi = _interval(
        np.array([est]), stat(W @ A)[:, None], stat(nest.jackknife(A))[:, None], level
    )
    return float(est), float(lo[0]), float(hi[0])


def _usable(queries: Sequence[SequenceQuery] | None, codebook: Codebook) -> list[SequenceQuery]:
    if queries is not None:
        for q in queries:
            check_query(q, codebook)
        return list(queries)
    usable, skipped, lacking = [], [], set()
    for q in DEFAULT_QUERIES:
        ante = tuple(i for i in q.antecedent if not _missing([i], codebook))
        cons = tuple(i for i in q.consequent if not _missing([i], codebook))
        then = tuple(i for i in q.then if not _missing([i], codebook))
        lacking |= set(_missing((*q.antecedent, *q.consequent, *q.then), codebook))
        if ante and cons and (then or not q.then):
            usable.append(replace(q, antecedent=ante, consequent=cons, then=then))
        else:
            skipped.append(q.name)
    if skipped:
        reasons = explain_missing(sorted(lacking), codebook)
        reasons += "; pass queries= (CLI: --queries FILE) with codes of your codebook"
        warn(Warnings.W450.format(queries=", ".join(skipped), reasons=reasons))
    return usable


def _indicator(frame: LabelFrame, items: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(present-any, coded-any) over all turn rows for a union of items; items not coded skip."""
    names = [it.name for it in frame.items]
    idx = [names.index(i) for i in items if i in names]
    block = frame.X[:, idx]
    if idx:
        present = np.asarray((block == 1).any(axis=1, keepdims=True))
        coded = np.asarray((block >= 0).any(axis=1, keepdims=True))
    else:
        present = np.zeros((len(frame.X), 1), bool)
        coded = np.zeros((len(frame.X), 1), bool)
    return present, coded, [names[k] for k in idx]


def _one(
    frame: LabelFrame, query: SequenceQuery, permutations: int, seed: int | None, nest: Nesting
) -> pd.DataFrame | None:
    t_rows, u_rows = transitions(frame, query.lag, query.given_role, query.target_role)
    gp, gc, _ = _indicator(frame, query.antecedent)
    tps, tcs, names = [], [], []
    for item in query.consequent:
        p, c, found = _indicator(frame, (item,))
        if found:
            tps.append(p[u_rows])
            tcs.append(c[u_rows])
            names.append(item)
    if not names:
        return None
    table = _table(
        frame,
        t_rows,
        gp,
        gc,
        np.hstack(tps),
        np.hstack(tcs),
        [" | ".join(query.antecedent)],
        names,
        lag=query.lag,
        given_role=query.given_role,
        target_role=query.target_role,
        permutations=permutations,
        seed=seed,
        correction="none",
        nest=nest,
    )
    table = table.rename(columns={"given": "antecedent", "target": "consequent"})
    table.insert(0, "query", query.name)
    table.insert(1, "question", query.question)
    return table.drop(
        columns=["p_adjusted", "p_permutation_adjusted", "correction"], errors="ignore"
    )
