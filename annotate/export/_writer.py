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
        "labels_long": long_labels(coders if labels == "all" else coders.iloc[0:0], gold),
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

    def write_into(tmp: Path) -> None:
        files: list[tuple[str, int | None]] = []
        for name, df in tables.items():
            path = _write_table(df, tmp / name, format)
            files.append((path.name, len(df)))
        shutil.copyfile(project.path / CODEBOOK_FILE, tmp / "codebook.yaml")
        files.append(("codebook.yaml", None))
        facts = _facts(project, labels, format, redact, bootstrap, unit, coders, gold, turns,
                       convs, agreement_table, agreement_note, files)  # fmt: skip
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
    return out


def _check_events(project: Project, events: pd.DataFrame, codebook: Codebook) -> None:
    """Refuse an empty project, labels with unknown codes, or another codebook version."""
    if events.empty:
        raise ExportError(Errors.E503.format(path=project.path))
    known = set(codebook.code_ids) | set(SYSTEM_CODES)
    unknown = sorted(set(events["code_id"]) - known)
    if unknown:
        raise ExportError(
            Errors.E504.format(
                codebook=codebook.id, version=codebook.version, codes=", ".join(unknown)
            )
        )
    made = events[["codebook_id", "codebook_version"]].dropna().astype(str).drop_duplicates()
    found = sorted(f"{i} v{v}" for i, v in made.itertuples(index=False))
    if found and found != [f"{codebook.id} v{codebook.version}"]:
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
    return report.table.reset_index(drop=True), None


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
    coder_table = (
        coders.groupby("annotator_id")
        .agg(units=("code_id", "size"), conversations=("conversation_id", "nunique"))
        .reset_index()
        if not coders.empty
        else pd.DataFrame(columns=["annotator_id", "units", "conversations"])
    )
    resolved = gold[gold["value"].notna()]
    counts = (
        resolved.groupby(["code_id", "value"]).size().rename("n_units").reset_index()
        if not resolved.empty
        else pd.DataFrame(columns=["code_id", "value", "n_units"])
    )
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
        },
        "design": {
            "coders": list(project.coders),
            "per_item": plan.get("per_item"),
            "reliability": plan.get("reliability"),
            "n_rel": plan.get("reliability_coders") or "all",
            "seed": plan.get("seed"),
            "blind": plan.get("blind", True),
            "sampling": plan.get("sampling"),
        },
        "coder_table": coder_table,
        "agreement": agreement_table,
        "agreement_note": agreement_note,
        "gold_text": gold_text,
        "gold_table": gold_summary(gold),
        "counts": counts,
        "masking_text": " ".join(masking),
        "files": pd.DataFrame(
            [(n, "" if r is None else r) for n, r in files]
            + [("README.md", ""), ("export.json", "")],
            columns=["file", "rows"],
        ),
    }
