"""The data card (README.md) of an export: how the dataset was made, in one readable page."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd


def md_table(df: pd.DataFrame, *, floatfmt: str = "{:.3f}") -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    if df is None or df.empty:
        return "_(none)_"

    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, float):
            return floatfmt.format(v)
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def _fmt_ci(row: pd.Series) -> str:
    lo, hi = row.get("alpha_low"), row.get("alpha_high")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return ""
    return f"[{lo:.3f}, {hi:.3f}]"


def agreement_section(table: pd.DataFrame | None, bootstrap: int, note: str | None) -> str:
    """The agreement table with intervals (or why there is none)."""
    if note:
        return note
    if table is None or table.empty:
        return "_No unit was coded by two or more coders, so agreement is undefined._"
    cols = [c for c in ("code_id", "unit", "role", "level", "n_units", "n_coders") if c in table]
    view = table[cols].copy()
    if "alpha" in table:
        view["alpha"] = table["alpha"]
        view[f"{bootstrap}-resample 95% CI" if bootstrap else "CI"] = table.apply(_fmt_ci, axis=1)
    for c in ("flag", "reason"):
        if c in table:
            view[c] = table[c]
    return md_table(view)


#: strata shown in the card's sample table; more are summarised (all are in the plan)
CARD_STRATA = 20


def sampling_section(sampling: dict[str, Any] | None) -> str:
    """What population the project's conversations represent: the sampling frame, its size,
    the strata with their sample sizes and inclusion probabilities, the seed and the draws."""
    if not sampling:
        return "The project codes every conversation of the corpus (no sampling)."
    where = "; ".join(f"`{w}`" for w in sampling.get("where") or []) or "none (the whole corpus)"
    draws = sampling.get("draws") or []
    lines = [
        f"- design: {sampling['method']}, seed {sampling['seed']}"
        + (f", stratified by `{sampling['stratify']}`" if sampling.get("stratify") else ""),
        f"- sampling frame: the corpus's {sampling['corpus_size']} conversations filtered by "
        f"{where}: **{sampling['frame_size']}** conversations",
        f"- sample: **{sampling['sample_size']}** conversations in {len(draws)} draw(s)"
        + "".join(
            f"; draw {d['draw']} of {d['sample_size']} from a frame of {d['frame_size']}"
            for d in draws
        ),
    ]
    if sampling.get("added_outside_design"):
        lines.append(
            f"- {sampling['added_outside_design']} further conversation(s) were added by id, "
            "outside the sampling design (their inclusion probability is unknown)"
        )
    if sampling.get("note"):
        lines.append(f"- note: {sampling['note']}")
    strata = pd.DataFrame(sampling.get("strata") or [])
    if strata.empty:
        return "\n".join(lines)
    strata = strata.rename(columns={"frame": "frame_size", "sample": "sample_size"})
    strata = strata[["stratum", "frame_size", "sample_size", "inclusion_probability"]]
    strata = strata.sort_values(["frame_size", "stratum"], ascending=[False, True], kind="stable")
    lines += [
        "",
        "Each conversation of a stratum had the same chance to be drawn (its inclusion "
        "probability); weight by its inverse to generalise to the frame.",
        "",
    ]
    empty = int((strata["sample_size"] == 0).sum())
    if empty:
        lines += [
            f"**{empty} of {len(strata)} strata got no conversation** (inclusion probability "
            "0): the sample says nothing about them.",
            "",
        ]
    if len(strata) > CARD_STRATA:
        p = strata["inclusion_probability"]
        lines.append(
            f"{len(strata)} strata; inclusion probabilities from {p.min():.4g} to {p.max():.4g} "
            f"(median {p.median():.4g}). The {CARD_STRATA} largest strata (the full table is in "
            "the project's plan: `annotate project status DIR --json`):"
        )
        lines.append("")
        strata = strata.head(CARD_STRATA)
    lines.append(md_table(strata.reset_index(drop=True), floatfmt="{:.4g}"))
    return "\n".join(lines)


def evidence_section(counts: pd.DataFrame | None) -> list[str]:
    """Evidence spans and the quote bank, per code that takes evidence (none: no section)."""
    if counts is None:
        return []
    return [
        "## Evidence and quotes",
        "",
        "Coders marked the words of a turn that justify some codes (evidence spans, offsets "
        "into `turns.text` with their sha256, in the label events). Quotes are the words at "
        "least two coders marked for the same code and value, or gold's spans "
        "(`annotate quotes DIR`); spans of LLM coders are never counted as human evidence; "
        "stale spans no longer match the corpus text and are left out.",
        "",
        md_table(counts),
        "",
    ]


def render_card(facts: dict[str, Any]) -> str:
    """The data card text from the facts gathered by :func:`annotate.export.write`."""
    cb = facts["codebook"]
    corpus = facts["corpus"]
    design = facts["design"]
    lines = [
        f"# {facts['title']}",
        "",
        f"A labelled dialogue dataset exported by annotate {facts['toolkit_version']} from the "
        f"project `{facts['project_name']}`. Labels: **{facts['labels']}**"
        f" (format: {facts['format']}).",
        "",
        "## Corpus",
        "",
        f"- name: `{corpus.get('name')}`; source format: `{corpus.get('format')}`;"
        f" importer: `{corpus.get('importer')}`",
        f"- conversations in this export: {facts['n_conversations']}; turns: {facts['n_turns']}",
        f"- licence: {corpus.get('licence') or 'not stated in the corpus manifest'}",
    ]
    for src in corpus.get("sources") or []:
        # the file's name only: an absolute path would publish the exporter's folder layout
        name = Path(str(src.get("path") or src.get("name") or "")).name
        lines.append(f"- source file `{name}` sha256 `{src.get('sha256')}`")
    skipped = corpus.get("skipped") or {}
    if skipped:
        lines.append(
            "- skipped or repaired at import: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items()))
        )
    lines += [
        "",
        "## Sample",
        "",
        sampling_section(design.get("sampling")),
        "",
        "## Codebook",
        "",
        f"- `{cb['id']}` version **{cb['version']}**, content hash `{cb['hash']}`",
        f"- {cb['n_codes']} codes; the exact file is `codebook.yaml` in this folder.",
        "- Cite as: " + f"{cb['title']} ({cb['id']} v{cb['version']}, sha256 {cb['hash'][:12]}…).",
        "",
        "## Coders and design",
        "",
        f"- coders (pseudonymous ids): {', '.join(f'`{c}`' for c in design['coders'])}",
        f"- each conversation assigned to {design.get('per_item')} coder(s); reliability sample:"
        f" {design.get('reliability')} of conversations, coded by {design.get('n_rel')}"
        f" coders each; seed {design.get('seed')}; blind coding on the reliability sample:"
        f" {design.get('blind')}",
        "",
        md_table(facts["coder_table"]),
        "",
        "## Agreement",
        "",
        f"Krippendorff's alpha per code with a {facts['bootstrap']}-resample bootstrap interval "
        "(conversations resampled, seed recorded in export.json). Thresholds: ≥ .800 reliable, "
        ".667–.800 tentative (Krippendorff 2004).",
        "",
        agreement_section(facts["agreement"], facts["bootstrap"], facts.get("agreement_note")),
        "",
        "## How the labels were obtained",
        "",
        facts["gold_text"],
        "",
        md_table(facts["gold_table"]),
        "",
        "## Counts per code",
        "",
        md_table(facts["counts"]),
        "",
        *evidence_section(facts.get("evidence")),
        "## Personal data",
        "",
        facts["masking_text"],
        "",
        "## Files",
        "",
        md_table(facts["files"]),
        "",
        "Every file is sorted (conversation, turn, code, annotator); exporting the same project"
        " twice gives identical files. Label times (`created_at` in the events) are the only"
        " timestamps.",
        "",
    ]
    return "\n".join(lines)
