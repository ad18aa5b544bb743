"""One reliability table with people and language models: every row partitioned by ``raters``.

When some coders are language models (declared LLM coders), a code's agreement row is split by
who is compared:

* ``human``: the human coders only. This is the headline: the codebook's reliability.
* ``human-llm``: each LLM coder against the humans, one row per LLM coder (column ``coder``).
* ``llm``: the LLM coders among themselves (with two or more of them).
* ``all``: everyone together.

``human``, ``llm`` and ``all`` rows are the agreement report's own rows, computed on those
coders' labels (alpha with the conversation-bootstrap interval and every companion
coefficient). A ``human-llm`` row is Krippendorff's alpha over the pairs that join the LLM coder
with a human: on each unit the LLM's value is paired with the humans' values, each pair
weighted ``1 / (number of humans on the unit)``, so every unit counts like one two-coder unit
(the LLM against a human drawn at random). With one human this is exactly the two-coder alpha
of that human and the LLM; human-human pairs never enter, so agreement among the humans cannot
hide a poor model. Its interval resamples conversations like the report's (Davison & Hinkley
1997, §3.8): the percentile interval of ``bootstrap`` resamples.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import numpy as np
import pandas as pd

from annotate.agreement._report import report
from annotate.agreement.distances import delta, set_delta
from annotate.errors import AgreementError, Errors

RATERS = ("human", "human-llm", "llm", "all")
#: annotator ids that are not coders
NOT_CODERS = ("gold",)
#: Krippendorff (2004, 2019): rely on alpha >= .800; .667 <= alpha < .800 for tentative
#: conclusions only (the report's thresholds)
RELIABLE, TENTATIVE = 0.800, 0.667
_METRIC = {"binary": "nominal", "nominal": "nominal", "ordinal": "ordinal", "interval": "interval"}
COLUMNS = (
    "raters",
    "coder",
    "code_id",
    "unit",
    "role",
    "level",
    "n_units",
    "n_coders",
    "alpha",
    "alpha_low",
    "alpha_high",
    "percent_agreement",
    "flag",
    "reason",
)


def _flag(value: float) -> str:
    if value != value:
        return "undefined"
    if value >= RELIABLE:
        return "reliable"
    return "tentative" if value >= TENTATIVE else "unreliable"


class RatersReport:
    """Agreement per code, partitioned by ``raters`` (see the module docstring).

    Attributes
    ----------
    table : DataFrame
        One row per (raters, coder, code_id, unit, role): :data:`COLUMNS` first, then the
        report's other columns (NaN on ``human-llm`` rows, which have alpha and percent
        agreement only).
    humans, llms : list of str
        The coders of each kind found in the labels.
    settings : dict
        Bootstrap resamples, seed, set distance, and notes (e.g. why there is no ``llm`` row).
    """

    def __init__(
        self, table: pd.DataFrame, humans: list[str], llms: list[str], settings: dict[str, Any]
    ) -> None:
        self.table = table
        self.humans = humans
        self.llms = llms
        self.settings = settings

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return f"<RatersReport: {len(self.table)} rows>\n{self.to_text()}"

    def gating(self, *, threshold: float = 0.667, margin: float = 0.05) -> pd.DataFrame:
        """May an LLM coder stand in for a person, per code? See
        :func:`annotate.agreement.validity.gating`."""
        from annotate.agreement.validity import gating

        return gating(self.table, threshold=threshold, margin=margin)

    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings, "rows": self.table.to_dict(orient="records")}

    def to_text(self) -> str:
        """The table as plain text (the CLI's output)."""
        t = self.table
        if t.empty:
            return "(no codes)"
        ci = [
            f"[{lo:.3f}, {hi:.3f}]" if lo == lo else ""
            for lo, hi in zip(t["alpha_low"], t["alpha_high"], strict=True)
        ]
        view = pd.DataFrame(
            {
                "raters": t["raters"],
                "coder": t["coder"].fillna("-"),
                "code": t["code_id"],
                "role": t["role"].fillna("-"),
                "units": t["n_units"],
                "coders": t["n_coders"],
                "alpha": t["alpha"],
                "95% CI": ci,
                "%agree": t["percent_agreement"],
                "flag": t["flag"],
            }
        )
        text = view.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-")
        lines = [
            text,
            f"raters: human = {', '.join(self.humans) or '-'}; llm = {', '.join(self.llms) or '-'}"
            "; human-llm = each LLM coder paired with the humans (human-human pairs left out)",
        ]
        lines += [f"note: {n}" for n in self.settings.get("notes", [])]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        shown = self.table[list(COLUMNS)]
        return shown.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="–", border=0)


def rater_agreement(
    labels: pd.DataFrame,
    codebook: Any,
    llm_coders: Any,
    *,
    codes: Any = None,
    unit: str | None = None,
    role: str | None = None,
    bootstrap: int = 1000,
    seed: int | None = 0,
    set_distance: str = "masi",
) -> RatersReport:
    """Agreement of every code, partitioned by who is compared (``raters``).

    Parameters
    ----------
    labels : DataFrame
        The unit-labels table (``Project.unit_labels()``).
    codebook : Codebook
    llm_coders : iterable of str
        The coder ids that are language models (``annotate.llm.llm_coder_ids(project)``);
        every other coder (but ``gold``) is human.
    codes, unit, role, set_distance
        As in the agreement report.
    bootstrap : int
        Conversation-bootstrap resamples of every interval (0: no intervals).
    seed : int, optional
        Seed of the resamples.

    Returns
    -------
    RatersReport
    """
    llm_set = {str(c) for c in llm_coders}
    coders = [str(c) for c in pd.unique(labels["annotator_id"]) if str(c) not in NOT_CODERS]
    humans = sorted(c for c in coders if c not in llm_set)
    llms = [c for c in sorted(llm_set) if c in coders]
    kwargs = {
        "codes": codes,
        "unit": unit,
        "role": role,
        "bootstrap": bootstrap,
        "seed": seed,
        "set_distance": set_distance,
    }
    notes: list[str] = []
    frames = []
    parts = {"human": humans, "llm": llms, "all": humans + llms}
    for raters in ("human", "llm", "all"):
        who = parts[raters]
        if raters == "llm" and len(llms) < 2:
            notes.append(f"no 'llm' rows: {len(llms)} LLM coder(s); they need two or more")
            continue
        if raters == "all" and not llms:
            continue  # the same as the human rows
        sub = labels[labels["annotator_id"].isin(who)]
        table = report(sub, codebook, **kwargs).table.copy()
        table.insert(0, "coder", None)
        table.insert(0, "raters", raters)
        frames.append(table)
    template = frames[0] if frames else None
    for llm in llms:
        frames.append(_cross_table(labels, codebook, llm, humans, template, kwargs))
    if not frames:
        return RatersReport(pd.DataFrame(columns=list(COLUMNS)), humans, llms, {"notes": notes})
    table = pd.concat(frames, ignore_index=True)
    table["raters"] = pd.Categorical(table["raters"], categories=list(RATERS), ordered=True)
    keys = table[["code_id", "unit", "role"]].drop_duplicates().reset_index(drop=True)
    keys["_order"] = np.arange(len(keys))
    table = table.merge(keys, on=["code_id", "unit", "role"], how="left")
    table = table.sort_values(["_order", "raters", "coder"], kind="stable", na_position="first")
    table = table.drop(columns="_order").reset_index(drop=True)
    table["raters"] = table["raters"].astype(str)
    rest = [c for c in table.columns if c not in COLUMNS]
    settings = {
        "bootstrap": int(bootstrap),
        "seed": seed,
        "set_distance": set_distance,
        "humans": humans,
        "llm_coders": llms,
        "notes": notes,
    }
    return RatersReport(table[list(COLUMNS) + rest], humans, llms, settings)


# --- human-llm rows --------------------------------------------------------------------------


def _row_keys(
    template: pd.DataFrame | None, labels: pd.DataFrame, codebook: Any, kwargs: dict[str, Any]
) -> list[tuple[Any, str, str | None]]:
    """The (code, unit, role) rows to compute: those of the other partitions."""
    if template is not None:
        seen = template[["code_id", "unit", "role"]].drop_duplicates()
        return [
            (codebook.code(c), u, None if r is None or r != r else r)
            for c, u, r in seen.itertuples(index=False)
        ]
    table = report(labels.iloc[0:0], codebook, **(kwargs | {"bootstrap": 0})).table
    return [
        (codebook.code(c), u, None if r is None or r != r else r)
        for c, u, r in table[["code_id", "unit", "role"]].itertuples(index=False)
    ]


def _encode(code: Any, values: pd.Series, domain: tuple | None = None) -> tuple[np.ndarray, tuple]:
    """Values -> indices into the code's domain (sets: the observed sets); E401 outside it."""
    ids = tuple(code.value_ids)
    if code.level == "set":
        sets = [frozenset(json.loads(v)) if isinstance(v, str) else frozenset(v) for v in values]
        if domain is None:
            domain = tuple(
                sorted(set(sets), key=lambda s: (len(s), sorted(ids.index(x) for x in s)))
            )
        lookup = {s: i for i, s in enumerate(domain)}
        return np.array([lookup[s] for s in sets], dtype=np.int64), domain
    idx = pd.Index(list(ids)).get_indexer(values.astype(str)).astype(np.int64)
    if code.level == "interval" and (idx < 0).any():
        numeric = np.array([float(v) for v in ids])
        as_float = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        match = as_float[:, None] == numeric[None, :]
        idx = np.where(match.any(axis=1), match.argmax(axis=1), -1)
    if (idx < 0).any():
        bad = sorted(values[idx < 0].astype(str).unique())[:10]
        raise AgreementError(
            Errors.E401.format(values=", ".join(bad), code_id=code.id, allowed=", ".join(ids))
        )
    return idx, ids


def cross_coincidences(llm: np.ndarray, human_counts: np.ndarray) -> np.ndarray:
    """Per-unit coincidences of the LLM-human pairs, shape (n_units, q, q).

    Parameters
    ----------
    llm : ndarray of int, shape (n_units,)
        The LLM's value (domain index) on each unit.
    human_counts : ndarray, shape (n_units, q)
        How many humans gave each value on each unit (at least one human per unit).

    Each ordered pair (LLM, human) and (human, LLM) is weighted ``1 / n_humans``, so a unit
    adds 2 pairable values, like a two-coder unit.

    >>> cross_coincidences(np.array([0]), np.array([[1, 1]])).tolist()
    [[[1.0, 0.5], [0.5, 0.0]]]
    """
    n, q = human_counts.shape
    share = human_counts / human_counts.sum(axis=1, keepdims=True)
    onehot = np.zeros((n, q))
    onehot[np.arange(n), llm] = 1.0
    return onehot[:, :, None] * share[:, None, :] + share[:, :, None] * onehot[:, None, :]


def alpha_of(o: np.ndarray, d: np.ndarray) -> float:
    """Krippendorff's alpha of a coincidence matrix (Krippendorff 2011, eq. for α with
    ``D_o / D_e``); NaN when the values do not vary."""
    n = o.sum()
    n_c = o.sum(axis=1)
    expected = float(n_c @ d @ n_c)
    if n <= 1 or expected <= 0:
        return float("nan")
    return 1.0 - (n - 1) * float((o * d).sum()) / expected


def _delta(code: Any, domain: tuple, o: np.ndarray, set_distance: str) -> np.ndarray:
    if code.level == "set":
        return set_delta(domain, set_distance)
    scores = [float(v) for v in domain] if code.level == "interval" else None
    return delta(_METRIC[code.level], len(domain), marginals=o.sum(axis=1), scores=scores)


def _bootstrap(
    code: Any,
    domain: tuple,
    per_conv: np.ndarray,
    names: list[str],
    n_boot: int,
    seed: int | None,
    set_distance: str,
) -> tuple[float, float]:
    """Percentile 95 % interval of the cross alpha over conversation resamples."""
    g, q, _ = per_conv.shape
    entropy = None
    if seed is not None:
        entropy = [int(seed) & 0xFFFFFFFF, zlib.crc32("\n".join(names).encode("utf-8"))]
    rng = np.random.default_rng(np.random.SeedSequence(entropy))
    draws = rng.integers(0, g, size=(n_boot, g))
    mult = np.zeros((n_boot, g))
    np.add.at(mult, (np.repeat(np.arange(n_boot), g), draws.ravel()), 1.0)
    o_b = (mult @ per_conv.reshape(g, q * q)).reshape(n_boot, q, q)
    if code.level == "ordinal":
        alphas = np.array([alpha_of(o, _delta(code, domain, o, set_distance)) for o in o_b])
    else:
        d = _delta(code, domain, per_conv.sum(axis=0), set_distance)
        n = o_b.sum(axis=(1, 2))
        n_c = o_b.sum(axis=2)
        expected = np.einsum("bc,ck,bk->b", n_c, d, n_c)
        observed = (o_b * d).sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            alphas = np.where(expected > 0, 1.0 - (n - 1) * observed / expected, np.nan)
    ok = alphas[np.isfinite(alphas)]
    if not len(ok):
        return float("nan"), float("nan")
    lo, hi = np.percentile(ok, [2.5, 97.5])
    return float(lo), float(hi)


def _cross_row(
    code: Any,
    unit: str,
    role: str | None,
    sub: pd.DataFrame,
    llm: str,
    humans: list[str],
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """The human-llm row of one LLM coder for one (code, unit, role)."""
    nan = float("nan")
    row: dict[str, Any] = {
        "raters": "human-llm",
        "coder": llm,
        "code_id": code.id,
        "unit": unit,
        "role": role,
        "level": code.level,
        "n_units": 0,
        "n_coders": 0,
        "alpha": nan,
        "alpha_low": nan,
        "alpha_high": nan,
        "percent_agreement": nan,
        "flag": "undefined",
        "reason": None,
    }
    keys = ["conversation_id", "turn_index"]
    mine = sub[sub["annotator_id"] == llm][[*keys, "value"]].drop_duplicates(keys)
    theirs = sub[sub["annotator_id"].isin(humans)]
    both = theirs.merge(mine, on=keys, suffixes=("", "_llm"))
    if both.empty:
        row["reason"] = "no unit coded by this LLM coder and a human"
        return row
    _, domain = _encode(code, pd.concat([both["value"], both["value_llm"]], ignore_index=True))
    h_idx, _ = _encode(code, both["value"], domain if code.level == "set" else None)
    l_idx, _ = _encode(code, both["value_llm"], domain if code.level == "set" else None)
    unit_id, first = pd.factorize(pd.MultiIndex.from_frame(both[keys].astype(str)))[0], None
    n_units = int(unit_id.max()) + 1
    q = len(domain)
    counts = np.zeros((n_units, q))
    np.add.at(counts, (unit_id, h_idx), 1.0)
    first = pd.Series(np.arange(len(both))).groupby(unit_id).first().to_numpy()
    o_units = cross_coincidences(l_idx[first], counts)
    o = o_units.sum(axis=0)
    d = _delta(code, domain, o, kwargs["set_distance"])
    row["n_units"] = n_units
    row["n_coders"] = int(both["annotator_id"].nunique()) + 1
    agree = counts[np.arange(n_units), l_idx[first]] / counts.sum(axis=1)
    row["percent_agreement"] = float(agree.mean())
    value = alpha_of(o, d)
    if value != value:
        used = np.flatnonzero(o.sum(axis=1))
        only = str(domain[used[0]]) if len(used) == 1 else "?"
        row["reason"] = f"alpha: no variation, every pairable value is '{only}'"
    row["alpha"], row["flag"] = value, _flag(value)
    if kwargs["bootstrap"] and value == value:
        conv = both["conversation_id"].astype(str).to_numpy()[first]
        names, cluster = np.unique(conv, return_inverse=True)
        per_conv = np.zeros((len(names), q, q))
        np.add.at(per_conv, cluster, o_units)
        row["alpha_low"], row["alpha_high"] = _bootstrap(
            code,
            domain,
            per_conv,
            [str(n) for n in names],
            int(kwargs["bootstrap"]),
            kwargs["seed"],
            kwargs["set_distance"],
        )
    return row


def _cross_table(
    labels: pd.DataFrame,
    codebook: Any,
    llm: str,
    humans: list[str],
    template: pd.DataFrame | None,
    kwargs: dict[str, Any],
) -> pd.DataFrame:
    """The human-llm rows of one LLM coder (one per row of the other partitions)."""
    rows = []
    for code, unit, role in _row_keys(template, labels, codebook, kwargs):
        sub = labels[(labels["code_id"] == code.id) & labels["value"].notna()]
        if unit == "turn" and role not in (None, "all"):
            sub = sub[sub["role"] == role]
        rows.append(_cross_row(code, unit, role, sub, llm, humans, kwargs))
    return pd.DataFrame(rows)


# --- agreement by exposure to a suggestion -----------------------------------------------------

#: exposure groups of :func:`by_exposure`, in order (``not recorded``: events without exposure,
#: e.g. labels appended by hand or by release 0.1)
EXPOSURE_GROUPS = ("none", "before", "after", "not recorded")
EXPOSURE_COLUMNS = (
    "coder",
    "code_id",
    "unit",
    "role",
    "level",
    "exposure",
    "n_units",
    "n_coders",
    "alpha",
    "alpha_low",
    "alpha_high",
    "percent_agreement",
    "flag",
    "reason",
)
_KEY = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id"]


def _key_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df[_KEY].copy()
    out["turn_index"] = pd.to_numeric(df["turn_index"], errors="coerce").astype("Int64")
    for c in ("annotator_id", "unit", "conversation_id", "code_id"):
        out[c] = out[c].astype(str)
    return out


def label_exposure(labels: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The unit-labels table with an ``exposure`` column: what the coder had seen of an LLM
    suggestion when making each label.

    Parameters
    ----------
    labels : DataFrame
        The unit-labels table (``Project.unit_labels()``).
    events : DataFrame
        Every label event (``Project.labels(history=True)``), with ``exposure``.

    Returns
    -------
    DataFrame
        ``labels`` plus ``exposure``: an explicit label takes the exposure of its current event;
        an implicit absence that of the latest event on its key (a ``clear``) when there is one,
        else that of the coder's latest ``_status`` event of the conversation (the event that
        completed it). ``not recorded`` where the event carries none.
    """
    ev = events.sort_values(["created_at", "event_id"], kind="stable")
    exposure = ev["exposure"] if "exposure" in ev.columns else pd.Series(None, index=ev.index)
    keyed = _key_frame(ev).assign(exposure=exposure.astype(object).to_numpy())
    last = keyed.drop_duplicates(_KEY, keep="last")
    status = last[last["code_id"] == "_status"][["annotator_id", "conversation_id", "exposure"]]
    out = labels.copy()
    k = _key_frame(out)
    merged = k.merge(last, on=_KEY, how="left")
    by_status = k[["annotator_id", "conversation_id"]].merge(
        status, on=["annotator_id", "conversation_id"], how="left"
    )
    found = merged["exposure"].where(merged["exposure"].notna(), by_status["exposure"])
    out["exposure"] = [
        str(v) if v is not None and v == v else "not recorded" for v in found.tolist()
    ]
    return out


def by_exposure(
    labels: pd.DataFrame,
    codebook: Any,
    llm_coders: Any,
    *,
    events: pd.DataFrame | None = None,
    codes: Any = None,
    unit: str | None = None,
    role: str | None = None,
    bootstrap: int = 1000,
    seed: int | None = 0,
    set_distance: str = "masi",
) -> pd.DataFrame:
    """Human-llm agreement split by what the humans saw of an LLM suggestion.

    A coder who saw the model's value before labelling (``before``) may have copied it: its
    human-llm alpha then measures anchoring as much as agreement. This gives, per LLM coder and
    code, the human-llm alpha (as in :func:`rater_agreement`) over the human labels of each
    exposure group: ``none`` (no suggestion visible), ``before``, ``after`` (the label was
    changed after the suggestion was revealed) and ``not recorded``. Compare ``before`` with
    ``none``; report the human-llm agreement of the ``none`` rows as the model's validity.

    Parameters
    ----------
    labels : DataFrame
        The unit-labels table, with an ``exposure`` column (:func:`label_exposure`) or with
        ``events`` given to compute it.
    codebook : Codebook
    llm_coders : iterable of str
        The LLM coder ids (their own labels are used whatever their exposure).
    events : DataFrame, optional
        Every label event (``Project.labels(history=True)``), when ``labels`` has no exposure.
    codes, unit, role, bootstrap, seed, set_distance
        As in :func:`rater_agreement`.

    Returns
    -------
    DataFrame
        :data:`EXPOSURE_COLUMNS`, one row per (LLM coder, code, unit, role, exposure group
        present in the human labels).
    """
    if "exposure" not in labels.columns:
        if events is None:
            raise AgreementError(
                Errors.E460.format(
                    option="events",
                    value=None,
                    problem="the labels have no 'exposure' column: pass events="
                    "project.labels(history=True), or labels from label_exposure()",
                )
            )
        labels = label_exposure(labels, events)
    llm_set = {str(c) for c in llm_coders}
    coders = [str(c) for c in pd.unique(labels["annotator_id"]) if str(c) not in NOT_CODERS]
    humans = sorted(c for c in coders if c not in llm_set)
    llms = [c for c in sorted(llm_set) if c in coders]
    kwargs = {
        "codes": codes,
        "unit": unit,
        "role": role,
        "bootstrap": bootstrap,
        "seed": seed,
        "set_distance": set_distance,
    }
    template = report(labels, codebook, **(kwargs | {"bootstrap": 0})).table
    keys = _row_keys(template, labels, codebook, kwargs)
    is_llm = labels["annotator_id"].astype(str).isin(llms).to_numpy()
    exposure = labels["exposure"].astype(str).to_numpy()
    rows = []
    for group in EXPOSURE_GROUPS:
        human_rows = ~is_llm & (exposure == group)
        if not human_rows.any():
            continue
        sub_all = labels[is_llm | human_rows]
        for llm in llms:
            for code, u, r in keys:
                sub = sub_all[(sub_all["code_id"] == code.id) & sub_all["value"].notna()]
                if u == "turn" and r not in (None, "all"):
                    sub = sub[sub["role"] == r]
                row = _cross_row(code, u, r, sub, llm, humans, kwargs)
                row["exposure"] = group
                rows.append(row)
    if not rows:
        return pd.DataFrame(columns=list(EXPOSURE_COLUMNS))
    return pd.DataFrame(rows)[list(EXPOSURE_COLUMNS)]
