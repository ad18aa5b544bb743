"""Export a project as a citable labelled dataset with a data card.

``annotate.export.write(project, out, format="parquet", labels="gold", redact=False)``
writes::

    out/
      README.md                      the data card
      codebook.yaml                  the exact codebook the labels were made with
      turns.<ext>                    the coded conversations' turns (masked with redact=True)
      conversations.<ext>
      labels_long.<ext>              one row per unit × code × coder (or gold)
      labels_turns_wide.<ext>        one row per turn, a column per turn-level code
      labels_conversations_wide.<ext> one row per conversation, a column per conversation code
      unit_agreement.<ext>           labels="all" only: per-unit coders, values, pair agreement
      events.<ext>                   labels="all" only: the full label history (audit)
      agreement.<ext>                the agreement table with bootstrap intervals
      export.json                    settings and sha256 of every file (no timestamps)

The folder is written beside ``out`` under a temporary name and renamed into place at the end,
so an export never leaves a half-written folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from annotate import __version__
from annotate.adjudication.gold import GOLD_ID, gold_summary, resolve_gold
from annotate.agreement._display import informative_units, verdicts
from annotate.corpus import register_use
from annotate.durable import atomic_folder, recover_folder
from annotate.errors import AgreementError, Errors, ExportError
from annotate.export._card import render_card
from annotate.export._quotes import evidence_counts
from annotate.export._tables import long_labels, unit_agreement, wide_labels
from annotate.project.project import CODEBOOK_FILE
from annotate.store import ORDER_COLUMNS
from annotate.types import SYSTEM_CODES, FilePath

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.project import Project

FORMATS = ("parquet", "csv", "jsonl")
LABEL_MODES = ("gold", "majority", "all")

__all__ = ["FORMATS", "LABEL_MODES", "write"]

#: what each file of an export holds (the data card's file table)
FILE_CONTENT = {
    "turns": "the coded conversations' turns",
    "conversations": "one row per conversation",
    "labels_long": "one row per unit, code and coder (or gold)",
    "labels_turns_wide": "one row per turn, a column per turn-level code",
    "labels_conversations_wide": "one row per conversation, a column per conversation code",
    "unit_agreement": "per unit: its coders, their values, pairwise agreement",
    "events": "the full label history",
    "agreement": "alpha with its interval, verdict and every companion coefficient per code",
    "coders": "units and conversations per coder",
    "label_sources": "per code: how many gold values each source gave",
    "code_counts": "labelled units per code and value",
    "sample_strata": "the sampling strata: frame and sample sizes, inclusion probabilities",
    "codebook": "the exact codebook the labels were made with",
    "README": "this data card",
    "export": "the export's settings and the sha256 of every file",
}


def write(
    project: Project,
    out: FilePath,
    *,
    format: str = "parquet",
    labels: str = "gold",
    redact: bool = False,
    rule: str = "majority",
    tie: str = "none",
    bootstrap: int = 1000,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write the project's labelled dataset and its data card to ``out``.

    Parameters
    ----------
    project : Project
        An open project (``annotate.Project.open(dir)``).
    out : path
        The export folder to create.
    format : {"parquet", "csv", "jsonl"}
        File format of the tables.
    labels : {"gold", "majority", "all"}
        ``gold``: adjudicated values where adjudicated, else ``rule``; ``majority``: the coders'
        majority only (adjudications ignored); ``all``: every coder's label plus gold, with
        per-unit agreement and the full event history.
    redact : bool
        Mask personal data (emails, URLs, phone numbers, handles, IPs) in exported text.
    rule, tie : str
        Gold rule and tie policy, see :func:`annotate.adjudication.gold.resolve_gold`.
    bootstrap, seed : int
        Resamples and seed of the agreement intervals in the data card.
    overwrite : bool
        Replace an existing ``out`` folder.

    Returns
    -------
    Path
        The export folder.
    """
    if format not in FORMATS:
        raise ExportError(
            Errors.E501.format(option="format", value=format, allowed=", ".join(FORMATS))
        )
    if labels not in LABEL_MODES:
        raise ExportError(
            Errors.E501.format(option="labels", value=labels, allowed=", ".join(LABEL_MODES))
        )
    out = Path(out)
    recover_folder(out.parent.resolve() / out.name)
    if out.exists() and not overwrite:
        raise ExportError(Errors.E502.format(path=out))

    codebook = project.codebook
    events = project.labels(history=True)
    _check_events(project, events, codebook)
    unit = project.unit_labels()
    coders = unit[unit["annotator_id"] != GOLD_ID]
    absent = {c.id: c.absent_value for c in codebook.codes if c.level == "binary"}
    source = unit if labels != "majority" else coders
    gold = resolve_gold(source, rule=rule, tie=tie, absent_values=absent)
    if labels == "gold" and gold["value"].notna().sum() == 0:
        raise ExportError(Errors.E506)

    conv_ids = sorted(set(unit["conversation_id"]))
    corpus = project.corpus
    turns = corpus.turns[corpus.turns["conversation_id"].isin(conv_ids)].copy()
    turns = turns.sort_values(["conversation_id", "turn_index"], kind="mergesort")
    convs = corpus.conversations[corpus.conversations["conversation_id"].isin(conv_ids)].copy()
    convs = convs.sort_values("conversation_id", kind="mergesort")
    if redact:
        from annotate.nlp import mask_text

        turns["text"] = [mask_text(t) if isinstance(t, str) else t for t in turns["text"]]

    resolved = gold[gold["value"].notna()]
    tables: dict[str, pd.DataFrame] = {
        "turns": turns.reset_index(drop=True),
        "conversations": convs.reset_index(drop=True),
        "labels_long": long_labels(
            coders if labels == "all" else coders.iloc[0:0], gold, project.coder_kinds
        ),
        "labels_turns_wide": wide_labels(
            resolved, turns, "turn", [c.id for c in codebook.codes if c.unit == "turn"]
        ),
        "labels_conversations_wide": wide_labels(
            resolved,
            convs,
            "conversation",
            [c.id for c in codebook.codes if c.unit == "conversation"],
        ),
    }
    if labels == "all":
        tables["unit_agreement"] = unit_agreement(coders)
        order = list(ORDER_COLUMNS)
        tables["events"] = events.sort_values(order, kind="mergesort").reset_index(drop=True)

    agreement_table, agreement_note = _agreement(coders, codebook, bootstrap, seed)
    if agreement_table is not None:
        tables["agreement"] = agreement_table
    # the data card's long tables, in full beside it (the card shows summaries)
    card_tables = _card_tables(
        coders, gold, getattr(project, "plan", {}) or {}, project.coder_kinds
    )
    tables.update(card_tables)

    def write_into(tmp: Path) -> None:
        files: list[tuple[str, int | None]] = []
        for name, df in tables.items():
            path = _write_table(df, tmp / name, format)
            files.append((path.name, len(df)))
        shutil.copyfile(Path(codebook.path or project.path / CODEBOOK_FILE), tmp / "codebook.yaml")
        files.append(("codebook.yaml", None))
        for older in tuple(getattr(project, "codebooks", ()))[:-1]:  # after migrations
            name = f"codebook-{older.version}.yaml"
            shutil.copyfile(Path(older.path or project.path / CODEBOOK_FILE), tmp / name)
            files.append((name, None))
        facts = _facts(project, labels, format, redact, bootstrap, unit, coders, gold, turns,
                       convs, agreement_table, agreement_note, files)  # fmt: skip
        written = {Path(f).stem: f for f, _ in files}
        facts["table_files"] = {n: written[n] for n in ("agreement", *card_tables) if n in written}
        facts["evidence"] = evidence_counts(project)  # codes that take evidence spans, if any
        (tmp / "README.md").write_text(render_card(facts), encoding="utf-8")
        manifest = {
            "toolkit": f"annotate {__version__}",
            "labels": labels, "format": format, "redact": redact, "rule": rule, "tie": tie,
            "bootstrap": bootstrap, "seed": seed,
            "codebook": {
                "id": codebook.id, "version": str(codebook.version), "hash": codebook.hash,
            },
            "files": {p.name: _sha256(p) for p in sorted(tmp.iterdir())},
        }  # fmt: skip
        (tmp / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    # temp folder, fsync of every file and folder, swap; a kill mid-swap is repaired on the
    # next export (annotate.durable.recover_folder)
    atomic_folder(out, write_into, replace=overwrite)
    # a withdrawal from the corpus cleans this export too (False: a read-only corpus)
    register_use(project.corpus_path, out, kind="export")
    return out


def _check_events(project: Project, events: pd.DataFrame, codebook: Codebook) -> None:
    """Refuse an empty project, labels with unknown codes, or a codebook version the project
    does not hold (after a migration it holds every version its labels were made under)."""
    if events.empty:
        raise ExportError(Errors.E503.format(path=project.path))
    books = tuple(getattr(project, "codebooks", ())) or (codebook,)
    known = {c for cb in books for c in cb.code_ids} | set(SYSTEM_CODES)
    unknown = sorted(set(events["code_id"]) - known)
    if unknown:
        raise ExportError(
            Errors.E504.format(
                codebook=codebook.id, version=codebook.version, codes=", ".join(unknown)
            )
        )
    made = events[["codebook_id", "codebook_version"]].dropna().astype(str).drop_duplicates()
    found = sorted(f"{i} v{v}" for i, v in made.itertuples(index=False))
    held = {f"{cb.id} v{cb.version}" for cb in books}
    if found and not set(found) <= held:
        raise ExportError(
            Errors.E505.format(
                found=", ".join(found), codebook=codebook.id, version=codebook.version
            )
        )


def _agreement(
    coders: pd.DataFrame, codebook: Codebook, bootstrap: int, seed: int
) -> tuple[pd.DataFrame | None, str | None]:
    """The agreement table for the card, or a note saying why there is none."""
    from annotate.agreement import report as agreement_report

    multi = coders.groupby(["conversation_id", "turn_index", "code_id"], dropna=False)[
        "annotator_id"
    ].nunique()
    if coders.empty or (multi < 2).all():
        return None, "_No unit was coded by two or more coders, so agreement is undefined._"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = agreement_report(coders, codebook, bootstrap=bootstrap, seed=seed)
    except AgreementError as exc:
        return None, f"_Agreement undefined: {exc}_"
    table = report.table.reset_index(drop=True)
    return pd.concat([table, verdicts(table)[["verdict", "few_cases"]]], axis=1).assign(
        informative_units=informative_units(table).round(2)
    ), None


def _card_tables(
    coders: pd.DataFrame, gold: pd.DataFrame, plan: dict[str, Any], kinds: dict[str, str]
) -> dict[str, Any]:
    """The data card's tables, written in full beside it: units and conversations per coder,
    how the gold values were obtained per code, labelled units per code and value, and the
    strata of a sampled project."""
    coder_table = (
        coders.groupby("annotator_id")
        .agg(units=("code_id", "size"), conversations=("conversation_id", "nunique"))
        .reset_index()
        if not coders.empty
        else pd.DataFrame(columns=["annotator_id", "units", "conversations"])
    )
    # human or llm (LLM coders: annotate.llm)
    coder_table.insert(1, "kind", coder_table["annotator_id"].map(kinds).fillna("human"))
    resolved = gold[gold["value"].notna()]
    counts = (
        resolved.groupby(["code_id", "value"]).size().rename("n_units").reset_index()
        if not resolved.empty
        else pd.DataFrame(columns=["code_id", "value", "n_units"])
    )
    out: dict[str, Any] = {
        "coders": coder_table,
        "label_sources": gold_summary(gold),
        "code_counts": counts,
    }
    strata = (plan.get("sampling") or {}).get("strata") or []
    if strata:
        out["sample_strata"] = pd.DataFrame(strata)
    return out


def _write_table(df: pd.DataFrame, stem: Path, format: str) -> Path:
    """Write one table; stable bytes for the same rows (no index, no timestamps added)."""
    df = df.reset_index(drop=True)
    if format == "parquet":
        path = stem.with_suffix(".parquet")
        df.to_parquet(path, index=False, compression="zstd")
    elif format == "csv":
        path = stem.with_suffix(".csv")
        df.to_csv(path, index=False, lineterminator="\n")
    else:
        path = stem.with_suffix(".jsonl")
        df.to_json(path, orient="records", lines=True, date_format="iso", force_ascii=False)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _facts(project, labels, format, redact, bootstrap, unit, coders, gold, turns, convs,
           agreement_table, agreement_note, files) -> dict[str, Any]:  # fmt: skip
    """Everything the data card says, gathered in one place."""
    codebook = project.codebook
    manifest = project.corpus.manifest or {}
    plan = getattr(project, "plan", {}) or {}
    kinds = project.coder_kinds
    card = _card_tables(coders, gold, plan, kinds)
    assigned = getattr(project, "assignments", None)
    n_conv = n_rel = None
    if isinstance(assigned, pd.DataFrame) and "is_reliability" in assigned:
        n_conv = int(assigned["conversation_id"].nunique())
        n_rel = int(assigned.loc[assigned["is_reliability"], "conversation_id"].nunique())
    multi = coders.groupby("conversation_id")["annotator_id"].nunique()
    masking = []
    if redact:
        masking.append(
            "Exported text was masked with annotate's rule-based masker (emails, URLs, phone "
            "numbers, @handles and IP addresses replaced by placeholders such as `[EMAIL]`)."
        )
    else:
        masking.append("Exported text is as in the corpus; no masking was applied at export.")
    if manifest.get("masking"):
        masking.append(f"The corpus itself records masking: `{json.dumps(manifest['masking'])}`.")
    gold_text = {
        "gold": "Gold values are adjudicated where an adjudicator decided, otherwise obtained "
        "by the rule below from the coders' labels; `unresolved` units have no gold value.",
        "majority": "Values are the coders' majority (adjudications ignored); `unresolved` "
        "units have no value.",
        "all": "Every coder's label is kept (`labels_long`, with `source = coder`), next to the "
        "gold values; `unit_agreement` gives the per-unit agreement.",
    }[labels]
    return {
        "title": f"{manifest.get('name') or project.path.name}: labelled with {codebook.id}",
        "toolkit_version": __version__,
        "project_name": project.path.name,
        "labels": labels,
        "format": format,
        "bootstrap": bootstrap,
        "n_conversations": len(convs),
        "n_turns": len(turns),
        "corpus": {
            "name": manifest.get("name"),
            "format": manifest.get("format"),
            "importer": manifest.get("importer") or manifest.get("importer_version"),
            "licence": manifest.get("licence") or manifest.get("license"),
            "sources": manifest.get("sources") or manifest.get("source_files") or [],
            "skipped": manifest.get("skipped") or {},
        },
        "codebook": {
            "id": codebook.id,
            "version": str(codebook.version),
            "hash": codebook.hash,
            "title": codebook.title,
            "n_codes": len(codebook.codes),
            "versions": getattr(project, "codebook_history", []),
        },
        "design": {
            "coders": list(project.coders),
            "llm_coders": [c for c, k in kinds.items() if k == "llm"],
            "per_item": plan.get("per_item"),
            "reliability": plan.get("reliability"),
            "n_rel": plan.get("reliability_coders") or "all",
            "seed": plan.get("seed"),
            "blind": plan.get("blind", True),
            "sampling": plan.get("sampling"),
            "n_conversations": n_conv,
            "n_reliability": n_rel,
        },
        "coder_table": card["coders"],
        "n_agreement_conversations": int((multi >= 2).sum()) if agreement_table is not None else 0,
        "agreement": agreement_table,
        "agreement_note": agreement_note,
        "gold_text": gold_text,
        "gold_table": card["label_sources"],
        "counts": card["code_counts"],
        "masking_text": " ".join(masking),
        "files": pd.DataFrame(
            [(n, "" if r is None else r, FILE_CONTENT.get(Path(n).stem, "")) for n, r in files]
            + [
                ("README.md", "", FILE_CONTENT["README"]),
                ("export.json", "", FILE_CONTENT["export"]),
            ],
            columns=["file", "rows", "content"],
        ),
    }
