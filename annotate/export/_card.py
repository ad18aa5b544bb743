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


def render_card(facts: dict[str, Any]) -> str:
    """The data card text from the facts gathered by :func:`annotate.export.export`."""
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
        "## Codebook",
        "",
        f"- `{cb['id']}` version **{cb['version']}**, content hash `{cb['hash']}`",
        f"- {cb['n_codes']} codes; the exact file is `codebook.yaml` in this folder.",
        "- Cite as: " + f"{cb['title']} ({cb['id']} v{cb['version']}, sha256 {cb['hash'][:12]}…).",
        "",
        "## Coders and design",
        "",
        f"- coders (pseudonymous ids): {', '.join(f'`{c}`' for c in design['coders'])}",
        *(
            [
                f"- language models declared as coders (kind `llm`; their record, prompt and audit "
                f"log are in the project's `llm/` folder): "
                f"{', '.join(f'`{c}`' for c in design['llm_coders'])}"
            ]
            if design.get("llm_coders")
            else []
        ),
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
