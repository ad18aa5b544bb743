"""The agreement report at scale: the same table as :func:`annotate.agreement.report`, from
unit patterns that DuckDB counts over a unit-labels view, never holding every label in memory.

Every coefficient of a report row is a function of the row's reliability data through the
*distinct rows* of its (units × coders) matrix and how often each occurs (its multiplicity):
value counts, their sums per number of values (:class:`~annotate.agreement._matrix.CountSums`,
whole numbers, hence exact in any order), the coders who coded a pairable unit, and Cohen's
two-coder contingency table. DuckDB reduces the labels to one *pattern* per unit (which coder
gave which value: one integer with the digit value + 1 at the coder's place in base Q + 1, or
the sorted list of ``coder * Q + value`` past :data:`PACK_BITS`) and counts the patterns per
row, so memory grows
with the number of distinct patterns, not of labels. The conversation bootstrap needs each
conversation's coincidence sums: patterns are counted per conversation, and the resamples are
drawn in blocks from the same generator stream as :class:`~annotate.agreement.bootstrap.
Resampler` (the same draws, block by block).

Point estimates equal the in-memory path's exactly; bootstrap bounds up to the rounding of
sums of the per-unit coincidences in another order (about 1e-15 relative).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from annotate.agreement._build import (
    NOT_CODERS,
    POOLED,
    RowData,
    _empty,
    _encode_values,
    _row_roles,
    select_codes,
)
from annotate.agreement._matrix import CountSums, unit_coincidences
from annotate.agreement._report import AgreementReport, report_settings, with_intervals
from annotate.agreement._row import (
    METRIC,
    WEIGHTS,
    _coefficients,
    _row_record,
)
from annotate.agreement.bootstrap import _alphas, percentile_interval, resample_multiplicities
from annotate.agreement.distances import SET_DISTANCES
from annotate.agreement.evidence import evidence_table
from annotate.agreement.kappa import _chance_corrected
from annotate.errors import AgreementError, Errors

#: a unit's pattern is packed into one integer while coders × log2(values + 1) stays below this
PACK_BITS = 62
#: cells of a block of bootstrap multiplicities (resamples × conversations)
BLOCK_CELLS = 20_000_000


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def report_at_scale(
    con: Any,
    view: str,
    codebook: Any,
    *,
    codes: str | Sequence[str] | None = None,
    unit: str | None = None,
    role: str | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
    set_distance: str = "masi",
    evidence: pd.DataFrame | None = None,
) -> AgreementReport:
    """:func:`annotate.agreement.report` over the unit-labels view ``view`` of a DuckDB
    connection (:func:`annotate.project._scale.unit_labels_view`): the same table.

    The report's diagnostics that need every unit (``pairwise``, ``leave_one_out``,
    ``disagreements``) raise E409; compute the report in memory for them.
    """
    if set_distance not in SET_DISTANCES:
        raise AgreementError(
            Errors.E404.format(option="set_distance", value=set_distance, allowed=SET_DISTANCES)
        )
    chosen = select_codes(codebook, codes, unit, role)
    not_coders = ", ".join(_q(c) for c in NOT_CODERS)
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW agr_labels AS
        SELECT * FROM {view}
        WHERE value IS NOT NULL AND NOT starts_with(code_id, '_')
          AND annotator_id NOT IN ({not_coders})
    """)
    distinct = (
        con.sql("SELECT code_id, unit, value, count(*) AS n FROM agr_labels GROUP BY ALL")
        .to_arrow_table()
        .to_pandas()
    )
    known = set(codebook.code_ids)
    unknown = sorted({str(c) for c in distinct["code_id"]} - known)
    if unknown:
        raise AgreementError(Errors.E402.format(codes=", ".join(unknown), codebook_id=codebook.id))
    coders = sorted(
        str(a)
        for a in con.sql("SELECT DISTINCT annotator_id FROM agr_labels").fetchnumpy()[
            "annotator_id"
        ]
    )
    mapping, domains = _value_map(chosen, distinct)
    q_max = max([len(d) for d in domains.values()] + [1])
    con.register("agr_map", mapping)
    base = q_max + 1
    # a unit's pattern as one integer, digit (value + 1) at its coder's place in base q + 1
    # (a sum: cheap to group), while it fits in 62 bits; else the sorted list itself
    packed = len(coders) * np.log2(base) < PACK_BITS
    con.register(
        "agr_coders",
        pa.table(
            {
                "annotator_id": pa.array(coders, pa.string()),
                "cidx": pa.array(range(len(coders)), pa.int64()),
                "place": pa.array(
                    [base**j if packed else 0 for j in range(len(coders))], pa.int64()
                ),
            }
        ),
    )
    unit_pat = (
        "sum(c.place * (m.vidx + 1))" if packed else f"list_sort(list(c.cidx * {q_max} + m.vidx))"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE agr_units AS
        SELECT l.code_id, l.role, l.conversation_id, l.turn_index,
               {unit_pat} AS pat, count(*) AS m
        FROM agr_labels l JOIN agr_map m ON l.code_id = m.code_id AND l.value = m.value
                          JOIN agr_coders c ON l.annotator_id = c.annotator_id
        GROUP BY l.code_id, l.role, l.conversation_id, l.turn_index
    """)
    roles_seen = _roles_seen(con)
    plans = _plan_rows(chosen, roles_seen, role)
    pooled = [c.id for c, r, _ in plans if r == POOLED]
    if pooled:
        pooled_pat = "sum(pat)" if packed else "list_sort(flatten(list(pat)))"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE agr_pooled AS
            SELECT code_id, conversation_id, turn_index, {pooled_pat} AS pat, sum(m) AS m
            FROM agr_units WHERE code_id IN ({", ".join(_q(c) for c in pooled)})
            GROUP BY code_id, conversation_id, turn_index
        """)

    def unpack(pat: Any) -> tuple[int, ...]:
        """A pattern as the sorted tuple of ``coder * Q + value``."""
        if not packed:
            return tuple(pat)
        out, c, x = [], 0, int(pat)
        while x:
            x, digit = divmod(x, base)
            if digit:
                out.append(c * q_max + digit - 1)
            c += 1
        return tuple(out)

    patterns = _patterns(con, bool(pooled), unpack)
    rows: list[RowData] = []
    records: list[dict[str, Any]] = []
    boot: list[tuple[RowData, Any]] = []
    for code, r, reason in plans:
        if reason is not None:
            row = _empty(code, r, reason)
            rows.append(row)
            records.append(_record_empty(row))
            continue
        pats, weights = patterns.get((code.id, r), ([], np.zeros(0)))
        row = _pattern_row(code, r, domains[code.id], pats, weights, coders, q_max)
        rows.append(row)
        rec, ctx = _record(row, set_distance)
        records.append(rec)
        if bootstrap and ctx is not None:
            boot.append((row, ctx))
    table = pd.DataFrame(records)
    if bootstrap:
        found = {row.key: _interval(con, row, ctx, unpack, bootstrap, seed) for row, ctx in boot}
        table = with_intervals(table, [found.get(r.key) for r in rows])
    if evidence is not None:
        table = evidence_table(table, evidence)
    return ScaleReport(table, rows, report_settings(codebook, bootstrap, seed, set_distance))


class ScaleReport(AgreementReport):
    """An :class:`AgreementReport` computed at scale: the table, without per-unit diagnostics."""

    def _unavailable(self, what: str) -> AgreementError:
        return AgreementError(Errors.E409.format(what=what))

    def pairwise(self, code_id: str, *, role: str | None = None, coefficient: str = "alpha") -> Any:
        raise self._unavailable("AgreementReport.pairwise")

    def leave_one_out(self) -> pd.DataFrame:
        raise self._unavailable("AgreementReport.leave_one_out")

    def disagreements(self, corpus: Any = None) -> pd.DataFrame:
        raise self._unavailable("AgreementReport.disagreements")


def _value_map(
    chosen: list[Any], distinct: pd.DataFrame
) -> tuple[pa.Table, dict[str, tuple[Any, ...]]]:
    """Each chosen code's (code_id, value) -> index into its domain (E401, E408 as in
    :func:`annotate.agreement._build.build_rows`)."""
    codes, values, vidx = [], [], []
    domains: dict[str, tuple[Any, ...]] = {}
    for code in chosen:
        mine = distinct[distinct["code_id"] == code.id]
        wrong = mine[mine["unit"] != code.unit]
        if len(wrong):
            got = ", ".join(sorted(map(str, set(wrong["unit"].dropna()))) or ["<NA>"])
            raise AgreementError(
                Errors.E408.format(
                    code_id=code.id, expected=code.unit, n=int(wrong["n"].sum()), got=got
                )
            )
        names = np.asarray(sorted(set(mine["value"].tolist())), dtype=object)
        if not len(names):
            domains[code.id] = tuple(code.value_ids)
            continue
        lut, domain = _encode_values(code, np.arange(len(names)), names)
        domains[code.id] = domain
        codes += [code.id] * len(names)
        values += names.tolist()
        vidx += lut.tolist()
    table = pa.table(
        {
            "code_id": pa.array(codes, pa.string()),
            "value": pa.array(values, pa.string()),
            "vidx": pa.array(vidx, pa.int64()),
        }
    )
    return table, domains


def _roles_seen(con: Any) -> dict[str, list[Any]]:
    got = con.sql("SELECT DISTINCT code_id, role FROM agr_units").fetchall()
    out: dict[str, list[Any]] = {}
    for code_id, r in got:
        out.setdefault(code_id, []).append(r)
    return out


def _plan_rows(
    chosen: list[Any], seen: dict[str, list[Any]], role: str | None
) -> list[tuple[Any, str | None, str | None]]:
    """(code, role, reason of an empty row or None) of each report row, in report order."""
    plans: list[tuple[Any, str | None, str | None]] = []
    for code in chosen:
        present = seen.get(code.id)
        if not present:
            plans += [(code, r, "no labels for this code") for r in _row_roles(code, None, role)]
            continue
        if code.unit == "conversation":
            plans.append((code, None, None))
            continue
        observed = np.asarray([r for r in present if r is not None], dtype=object)
        parts = [r for r in _row_roles(code, observed, role) if r != POOLED]
        for r in parts:
            plans.append((code, r, None if r in present else f"no labels on {r} turns"))
        if role is None and len(parts) > 1:
            plans.append((code, POOLED, None))
    return plans


def _patterns(
    con: Any, pooled: bool, unpack: Any
) -> dict[tuple[str, Any], tuple[list[Any], np.ndarray]]:
    """{(code_id, role): (distinct patterns, how many units each)}; conversation codes under
    role None, pooled rows under :data:`POOLED`."""
    sql = "SELECT code_id, role, pat, count(*) AS n FROM agr_units GROUP BY ALL"
    if pooled:
        sql += (
            f" UNION ALL SELECT code_id, '{POOLED}' AS role, pat, count(*) AS n"
            " FROM agr_pooled GROUP BY ALL"
        )
    got = con.sql(sql).to_arrow_table().to_pydict()
    out: dict[tuple[str, Any], tuple[list[Any], list[int]]] = {}
    for code_id, r, pat, n in zip(got["code_id"], got["role"], got["pat"], got["n"], strict=True):
        pats, ns = out.setdefault((code_id, r), ([], []))
        pats.append(unpack(pat))
        ns.append(int(n))
    return {k: (p, np.asarray(n, dtype=np.int64)) for k, (p, n) in out.items()}


def _pattern_row(
    code: Any,
    role: str | None,
    domain: tuple[Any, ...],
    pats: list[Any],
    weights: np.ndarray,
    coders: list[str],
    q_max: int,
) -> RowData:
    """A RowData whose ``codes`` are the distinct rows of the reliability data (each once),
    with their multiplicities in ``extra["weights"]``."""
    used = sorted({p // q_max for pat in pats for p in pat})
    column = {c: j for j, c in enumerate(used)}
    codes = np.full((len(pats), len(used)), -1, dtype=np.int64)
    for i, pat in enumerate(pats):
        for p in pat:
            c, v = divmod(p, q_max)
            if codes[i, column[c]] >= 0:
                raise AgreementError(
                    Errors.E405.format(n=1, example=f"{coders[c]} / ? / ? / {code.id}")
                )
            codes[i, column[c]] = v
    return RowData(
        code=code,
        unit=code.unit,
        role=role,
        codes=codes,
        domain=domain,
        coders=tuple(coders[c] for c in used),
        unit_keys=None,
        clusters=np.zeros(0, dtype=np.int64),
        extra={"weights": weights, "patterns": pats},
    )


def _record_empty(row: RowData) -> dict[str, Any]:
    from annotate.agreement._row import compute_row

    return compute_row(row)


def _counts(codes: np.ndarray, q: int) -> np.ndarray:
    """Value counts (n_rows, q) of distinct reliability-data rows."""
    out = np.zeros((codes.shape[0], q))
    for j in range(codes.shape[1]):
        ok = codes[:, j] >= 0
        np.add.at(out, (np.flatnonzero(ok), codes[ok, j]), 1.0)
    return out


def _sums(counts: np.ndarray, w: np.ndarray) -> CountSums:
    """CountSums of the units the weighted distinct rows stand for (whole numbers: exact)."""
    q = counts.shape[1]
    m = counts.sum(axis=1)
    groups = np.unique(m[m > 0])
    totals, grams = np.zeros((len(groups), q)), np.zeros((len(groups), q, q))
    n_units = np.zeros(len(groups), dtype=np.int64)
    wf = w.astype(float)
    for i, g in enumerate(groups):
        sel = m == g
        x, wx = counts[sel], wf[sel]
        n_units[i] = int(w[sel].sum())
        totals[i] = wx @ x
        grams[i] = (x * wx[:, None]).T @ x
    return CountSums(groups.astype(float), n_units, totals, grams)


def _record(row: RowData, set_distance: str) -> tuple[dict[str, Any], Any]:
    """:func:`annotate.agreement._row.compute_row` over weighted distinct rows; also what the
    bootstrap needs (None when alpha is undefined)."""
    code = row.code
    w: np.ndarray = row.extra["weights"]
    out: dict[str, Any] = {
        "code_id": code.id,
        "unit": row.unit,
        "role": row.role,
        "level": code.level,
        "metric": set_distance if code.level == "set" else METRIC[code.level],
        "weights": WEIGHTS[code.level],
    }
    nan = float("nan")
    stats = dict.fromkeys(
        ("alpha", "alpha_low", "alpha_high", "percent_agreement", "gwet_ac"), nan
    ) | dict.fromkeys(("brennan_prediger", "fleiss_kappa", "cohen_kappa", "prevalence"), nan)
    stats |= dict.fromkeys(("positive_agreement", "negative_agreement"), nan)
    q = len(row.domain)
    counts = _counts(row.codes, q)
    m = counts.sum(axis=1)
    pair = m >= 2
    coded_pairable = np.asarray((row.codes[pair] >= 0).any(axis=0))
    sums = _sums(counts, w)
    _, n_c, d, reasons = _coefficients(
        row, counts, sums, coded_pairable, set_distance, stats,
        lambda two, wm, q: _cohen(two, w, wm, q),  # units are weighted distinct patterns
    )  # fmt: skip
    ctx = None
    if stats["alpha"] == stats["alpha"]:
        ctx = (counts, d)
    n_units = int(w[pair].sum())
    sizes = {
        "n_units": n_units,
        "n_coders": int(coded_pairable.sum()),
        "n_pairable": int((m[pair] * w[pair]).sum()),
    }
    rec = _row_record(out, sizes, stats, row, n_c, reasons)
    return rec, ctx


def _cohen(two: np.ndarray, w: np.ndarray, wm: np.ndarray, q: int) -> float:
    """Cohen's kappa of two coders from weighted distinct rows (as
    :func:`annotate.agreement.kappa.cohen_kappa`: proportions over units coded by both)."""
    both = (two >= 0).all(axis=1)
    n = int(w[both].sum())
    if n == 0:
        raise AgreementError(
            Errors.E400.format(coefficient="Cohen's kappa", reason="no unit was coded by both")
        )
    cells = np.bincount(two[both, 0] * q + two[both, 1], weights=w[both], minlength=q * q)
    p = cells.astype(np.int64).reshape(q, q) / n
    pa_ = float((wm * p).sum())
    pe = float(p.sum(axis=1) @ wm @ p.sum(axis=0))
    value: float = _chance_corrected(pa_, pe, "Cohen's kappa", False)  # type: ignore[assignment]
    return value


def _interval(con: Any, row: RowData, ctx: Any, unpack: Any, n_boot: int, seed: int | None) -> Any:
    """The conversation-bootstrap interval of one row (the draws of
    :class:`~annotate.agreement.bootstrap.Resampler`, in blocks of resamples)."""
    counts, d = ctx
    pats: list[Any] = row.extra["patterns"]
    index = {p: i for i, p in enumerate(pats)}
    source = "agr_pooled" if row.role == POOLED else "agr_units"
    where = f"code_id = {_q(row.code.id)}"
    if row.role is not None and row.role != POOLED:
        where += f" AND role = {_q(row.role)}"
    got = (
        con.sql(
            f"SELECT conversation_id, pat, count(*) AS n FROM {source} WHERE {where} "
            "AND m >= 2 GROUP BY ALL"
        )
        .to_arrow_table()
        .to_pydict()
    )
    conv = np.asarray(got["conversation_id"], dtype=object)
    pid = np.fromiter((index[unpack(p)] for p in got["pat"]), np.int64, len(conv))
    n = np.asarray(got["n"], dtype=float)
    names, cluster = np.unique(conv.astype(str), return_inverse=True)
    q = counts.shape[1]
    per_pattern = unit_coincidences(counts)  # (n_patterns, q*q)
    per_cluster = np.zeros((len(names), q * q))
    np.add.at(per_cluster, cluster.ravel(), per_pattern[pid] * n[:, None])
    entropy = None
    if seed is not None:
        digest = zlib.crc32("\n".join(str(x) for x in names).encode("utf-8"))
        entropy = [int(seed) & 0xFFFFFFFF, digest]
    rng = np.random.default_rng(np.random.SeedSequence(entropy))
    g = len(names)
    block = max(1, BLOCK_CELLS // max(g, 1))
    level = METRIC[row.code.level]
    dm = None if level == "ordinal" else np.asarray(d, dtype=float)
    alphas = []
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        mult = resample_multiplicities(g, b, rng).astype(float)
        o = (mult @ per_cluster).reshape(b, q, q)
        alphas.append(_alphas(o, level, dm))
    return percentile_interval(np.concatenate(alphas))
