"""The whole-codebook agreement report: :func:`report` → :class:`AgreementReport`."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.agreement._build import POOLED, RowData, build_rows, prepare, select_codes
from annotate.agreement._row import (
    RELIABLE,
    TENTATIVE,
    WEIGHTS,
    compute_row,
    row_alpha,
    scores_of,
)
from annotate.agreement.bootstrap import Resampler
from annotate.agreement.distances import SET_DISTANCES
from annotate.agreement.evidence import evidence_table
from annotate.agreement.kappa import cohen_kappa
from annotate.errors import AgreementError, Errors

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from annotate.codebook import Codebook
    from annotate.corpus import Corpus


def report(
    labels: pd.DataFrame,
    codebook: Codebook,
    *,
    codes: str | Sequence[str] | None = None,
    unit: str | None = None,
    role: str | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
    set_distance: str = "masi",
    evidence: pd.DataFrame | None = None,
) -> AgreementReport:
    """Inter-rater agreement for every code of a codebook.

    Parameters
    ----------
    labels : DataFrame
        The unit-labels table of ``Project.unit_labels()``: columns ``annotator_id, unit,
        conversation_id, turn_index, role, code_id, value`` (one row per coder, unit and code;
        implicit absences made explicit). Labels by ``gold`` (adjudication) and system codes
        (``_status`` …) are left out; codes not in the codebook are refused (E402).
    codebook : Codebook
        Gives each code's level, value domain, unit and roles.
    codes : str or list of str, optional
        Only these codes (default: every code of the codebook).
    unit : {"turn", "conversation"}, optional
        Only codes of this unit.
    role : {"user", "assistant"}, optional
        Only turn-level codes that apply to this role, and only that role's turns.
    bootstrap : int
        Number of conversation-bootstrap resamples for alpha's 95 % interval (0 = none).
    seed : int, optional
        Seed of the bootstrap; the same seed gives the same intervals.
    set_distance : {"masi", "jaccard"}
        Distance between label sets for set-valued codes.
    evidence : DataFrame, optional
        Agreement on evidence spans (:func:`annotate.agreement.evidence.evidence_agreement`):
        its columns (``ev_f1``, ``ev_jaccard``, ``ev_alpha_u``, ...) join the table beside each
        code's alpha.

    Returns
    -------
    AgreementReport
        ``report.table`` has one row per (code, unit, role). Undefined coefficients are NaN
        with the reason in column ``reason``; the other rows are still reported.
    """
    if set_distance not in SET_DISTANCES:
        raise AgreementError(
            Errors.E404.format(option="set_distance", value=set_distance, allowed=SET_DISTANCES)
        )
    df = prepare(labels, codebook)
    chosen = select_codes(codebook, codes, unit, role)
    rows = build_rows(df, chosen, role)
    resampler = Resampler(int(bootstrap), seed)
    table = pd.DataFrame(
        [compute_row(r, resampler=resampler, set_distance=set_distance) for r in rows]
    )
    if bootstrap:
        intervals = resampler.run()
        table = with_intervals(table, [intervals.get(r.key) for r in rows])
    if evidence is not None:
        table = evidence_table(table, evidence)
    return AgreementReport(table, rows, report_settings(codebook, bootstrap, seed, set_distance))


def with_intervals(table: pd.DataFrame, cis: Sequence[Any]) -> pd.DataFrame:
    """The table with each row's bootstrap interval (None: undefined, NaN bounds)."""
    table["alpha_low"] = [ci.low if ci else np.nan for ci in cis]
    table["alpha_high"] = [ci.high if ci else np.nan for ci in cis]
    table["n_boot_undefined"] = [ci.n_undefined if ci else 0 for ci in cis]
    return table


def report_settings(
    codebook: Any, bootstrap: int, seed: int | None, set_distance: str
) -> dict[str, Any]:
    """The settings a report records beside its table."""
    return {
        "codebook_id": getattr(codebook, "id", None),
        "codebook_version": str(getattr(codebook, "version", "")),
        "bootstrap": int(bootstrap),
        "seed": seed,
        "set_distance": set_distance,
        "thresholds": {"reliable": RELIABLE, "tentative": TENTATIVE},
    }


class AgreementReport:
    """Agreement per code, unit and role, with coder diagnostics.

    Attributes
    ----------
    table : DataFrame
        One row per (code_id, unit, role); see docs/agreement.md for the columns.
    settings : dict
        Codebook id/version, bootstrap resamples, seed, set distance, thresholds.
    """

    def __init__(self, table: pd.DataFrame, rows: list[RowData], settings: dict[str, Any]) -> None:
        self.table = table
        self.settings = settings
        self._rows = rows

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return f"<AgreementReport: {len(self.table)} rows>\n{self.to_text()}"

    # -- diagnostics ------------------------------------------------------------------------
    def _row(self, code_id: str, role: str | None = None) -> RowData:
        found = [r for r in self._rows if r.code.id == code_id]
        if role is not None:
            found = [r for r in found if r.role == role]
        elif len(found) > 1:
            found = [r for r in found if r.role == POOLED] or found[:1]
        if not found:
            available = ", ".join(f"{r.code.id}/{r.role}" for r in self._rows)
            raise AgreementError(
                Errors.E407.format(code_id=code_id, role=role, available=available)
            )
        return found[0]

    def pairwise(
        self, code_id: str, *, role: str | None = None, coefficient: str = "alpha"
    ) -> pd.DataFrame:
        """Coder × coder matrix of alpha (or Cohen's kappa) on the units both coded.

        Parameters
        ----------
        code_id : str
        role : str, optional
            Which row of a code coded on several roles (default: the pooled row).
        coefficient : {"alpha", "kappa"}
            Kappa uses the row's weights (unweighted, linear or quadratic).

        Returns
        -------
        DataFrame (n_coders, n_coders); NaN on the diagonal and where undefined.
        """
        if coefficient not in ("alpha", "kappa"):
            raise AgreementError(
                Errors.E404.format(option="coefficient", value=coefficient, allowed="alpha, kappa")
            )
        row = self._row(code_id, role)
        k = len(row.coders)
        out = np.full((k, k), np.nan)
        for a, b in itertools.combinations(range(k), 2):
            sub = row.codes[:, [a, b]]
            out[a, b] = out[b, a] = self._pair_value(row, sub, coefficient)
        names = pd.Index(row.coders, name="coder")
        return pd.DataFrame(out, index=names, columns=list(row.coders))

    def _pair_value(self, row: RowData, sub: np.ndarray, coefficient: str) -> float:
        try:
            if coefficient == "alpha":
                return row_alpha(row, sub, self.settings["set_distance"])
            wname = WEIGHTS[row.code.level]
            if wname is None:
                return float("nan")
            data = np.where(sub >= 0, sub, np.nan)
            q = len(row.domain)
            return float(
                cohen_kappa(data, weights=wname, values=np.arange(q), scores=scores_of(row))
            )
        except AgreementError:
            return float("nan")

    def leave_one_out(self) -> pd.DataFrame:
        """Alpha of every row (pooled rows aside) without each coder in turn: who drifts?

        Returns
        -------
        DataFrame with columns code_id, unit, role, coder, alpha (all coders),
        alpha_without (this coder left out), change (alpha_without - alpha). A large positive
        change means the others agree better without this coder.
        """
        recs = []
        for row, (_, tab) in zip(self._rows, self.table.iterrows(), strict=True):
            if row.reason or row.role == POOLED:
                continue
            for j, coder in enumerate(row.coders):
                rest = np.delete(row.codes, j, axis=1)
                try:
                    value = row_alpha(row, rest, self.settings["set_distance"])
                except AgreementError:
                    value = float("nan")
                recs.append(
                    {
                        "code_id": row.code.id,
                        "unit": row.unit,
                        "role": row.role,
                        "coder": coder,
                        "alpha": tab["alpha"],
                        "alpha_without": value,
                        "change": value - tab["alpha"],
                    }
                )
        cols = ["code_id", "unit", "role", "coder", "alpha", "alpha_without", "change"]
        return pd.DataFrame(recs, columns=cols)

    def disagreements(self, corpus: Corpus | None = None) -> pd.DataFrame:
        """Units where coders gave different values, one row per (code, unit).

        Parameters
        ----------
        corpus : Corpus, optional (any object with ``.conversation(id)`` → DataFrame)
            When given, turn units get ``text`` (the turn) and ``previous_text`` /
            ``previous_role`` (the turn before it) for context.

        Returns
        -------
        DataFrame: code_id, unit, role, conversation_id, turn_index, one column per coder
        (their value; NaN where they did not code the unit) [, text, previous_role,
        previous_text].
        """
        frames = []
        for row in self._rows:
            if row.reason or row.role == POOLED:
                continue
            present = row.codes >= 0
            pairable = present.sum(axis=1) >= 2
            lo = np.where(present, row.codes, np.iinfo(np.int64).max).min(axis=1)
            hi = np.where(present, row.codes, -1).max(axis=1)
            differ = pairable & (lo != hi)
            if not differ.any():
                continue
            keys = row.keys[differ].reset_index(drop=True)
            vals = pd.DataFrame(
                {
                    coder: [_label(row.domain[v]) if v >= 0 else None for v in col]
                    for coder, col in zip(row.coders, row.codes[differ].T, strict=True)
                }
            )
            head = pd.DataFrame(
                {
                    "code_id": row.code.id,
                    "unit": row.unit,
                    "role": keys["role"] if row.unit == "turn" else None,
                    "conversation_id": keys["conversation_id"],
                    "turn_index": keys["turn_index"],
                },
                index=keys.index,
            )
            frames.append(pd.concat([head, vals], axis=1))
        cols = ["code_id", "unit", "role", "conversation_id", "turn_index"]
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
        if corpus is not None and len(out):
            out = _with_context(out, corpus)
        return out

    # -- output -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings and the table's rows (NaN stays NaN; the CLI prints null)."""
        return {"settings": self.settings, "rows": self.table.to_dict(orient="records")}

    def to_text(self, *, columns: Sequence[str] | None = None, full: bool = False) -> str:
        """A plain-text table (the CLI's output): code, role, units, alpha, its interval and the
        verdict; ``full=True`` (CLI ``--all-columns``) or ``columns=[...]`` for more. See
        :func:`annotate.agreement._display.render_text`."""
        from annotate.agreement._display import render_text

        return render_text(self.table, columns=columns, full=full)

    def to_html(self, *, columns: Sequence[str] | None = None, full: bool = False) -> str:
        """The notebook table (the same columns as :meth:`to_text`), verdicts coloured."""
        from annotate.agreement._display import render_html

        return render_html(self.table, self.settings, columns=columns, full=full)

    def _repr_html_(self) -> str:
        return self.to_html()

    def plot(self, **kwargs: Any) -> Figure:
        """Forest plot of alpha with its interval per row, coloured by verdict; see
        :func:`annotate.agreement.plot.forest_plot`."""
        from annotate.agreement.plot import forest_plot

        return forest_plot(self.table, **kwargs)


def _label(value: Any) -> str:
    if isinstance(value, frozenset):
        return "[" + ",".join(sorted(map(str, value))) + "]"
    return str(value)


def _with_context(out: pd.DataFrame, corpus: Corpus) -> pd.DataFrame:
    """Add the turn's text and the previous turn (duck-typed corpus.conversation(id))."""
    text: list[Any] = []
    prev_role: list[Any] = []
    prev_text: list[Any] = []
    cache: dict[str, pd.DataFrame] = {}
    for conv, turn in zip(out["conversation_id"], out["turn_index"], strict=True):
        if conv not in cache:
            cache[conv] = corpus.conversation(conv).set_index("turn_index")
        turns = cache[conv]
        if turn is pd.NA or turn is None or turn != turn:
            text.append(None)
            prev_role.append(None)
            prev_text.append(None)
            continue
        t = int(turn)
        text.append(turns["text"].get(t))
        prev_role.append(turns["role"].get(t - 1))
        prev_text.append(turns["text"].get(t - 1))
    return out.assign(text=text, previous_role=prev_role, previous_text=prev_text)
