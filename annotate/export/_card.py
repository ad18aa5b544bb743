"""The data card (README.md) of an export: how the dataset was made, in one readable page."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from annotate.agreement._display import FEW_CASES, verdicts


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


#: a table of more rows than this becomes a summary in the card; the full table is a file
CARD_ROWS = 15


def _name(row: pd.Series) -> str:
    role = row.get("role")
    return f"`{row['code_id']}`" + (f" ({role})" if isinstance(role, str) and role else "")


def agreement_section(
    table: pd.DataFrame | None, bootstrap: int, note: str | None, file: str | None = None
) -> str:
    """The agreement per code with intervals and verdicts (or why there is none); more than
    CARD_ROWS rows become counts per verdict with the codes named, the table being ``file``."""
    if note:
        return note
    if table is None or table.empty:
        return "_No unit was coded by two or more coders, so agreement is undefined._"
    v = verdicts(table)
    view = pd.DataFrame(
        {
            "code": table["code_id"],
            "role": table["role"].astype(object).where(table["role"].notna(), ""),
            "units": table["n_units"],
            "alpha": table["alpha"],
            "95% CI" if bootstrap else "CI": table.apply(_fmt_ci, axis=1),
            "verdict": v["verdict"],
        }
    )
    see = f"Every coefficient of every code: `{file}`." if file else ""
    if len(view) <= CARD_ROWS:
        return md_table(view) + (f"\n\n{see}" if see else "")
    lines = [f"{len(table)} rows (codes, and roles of turn codes):", ""]
    for cat in ("reliable", "tentative", "not established", "undefined"):
        rows = table[v["category"] == cat]
        if len(rows):
            names = ", ".join(_name(r) for _, r in rows.iterrows())
            lines.append(f"- **{cat}** ({len(rows)}): {names}")
    few = table[v["few_cases"]]
    if len(few):
        lines += [
            "",
            f"{len(few)} of them rest on **few cases** (fewer than {FEW_CASES:.1f} units with a "
            "value other than the most common one; too few to show alpha ≥ .667): "
            + ", ".join(_name(r) for _, r in few.iterrows())
            + ".",
        ]
    if see:
        lines += ["", see]
    return "\n".join(lines)


def coders_section(table: pd.DataFrame, file: str | None) -> str:
    """Units and conversations per coder: the table, or a summary of a long one."""
    see = f" Per coder: `{file}`." if file else ""
    if len(table) <= CARD_ROWS:
        return md_table(table) + (f"\n\n{see.strip()}" if see else "")
    units = table["units"]
    return (
        f"{len(table)} coders labelled {int(units.min())}–{int(units.max())} units each "
        f"(median {units.median():.0f}).{see}"
    )


def sources_section(table: pd.DataFrame, file: str | None) -> str:
    """How many gold values each source gave: totals, the per-code table in ``file``."""
    if table.empty:
        return "_(no labels)_"
    if len(table) <= CARD_ROWS:
        return md_table(table)
    totals = table.groupby("source", sort=False)["n_units"].sum().sort_values(ascending=False)
    view = pd.DataFrame(
        {
            "source": totals.index,
            "units": totals.to_numpy(),
            "share": [f"{v / totals.sum():.1%}" for v in totals.to_numpy()],
        }
    )
    codes = table["code_id"].nunique()
    return f"Over all {codes} codes:\n\n{md_table(view)}" + (
        f"\n\nPer code: `{file}`." if file else ""
    )


def counts_section(table: pd.DataFrame, file: str | None) -> str:
    """Labelled units per code and value: the table, or a summary with the rarest values."""
    if table.empty:
        return "_(no labels)_"
    if len(table) <= CARD_ROWS:
        return md_table(table)
    per_code = table.groupby("code_id")["n_units"].sum()
    rare = table[table["n_units"] < 10].sort_values(["n_units", "code_id"], kind="stable")
    lines = [
        f"{table['code_id'].nunique()} codes, {len(table)} code values with labels, "
        f"{int(per_code.max())} labelled units for the most labelled code.",
    ]
    if len(rare):
        shown = rare.head(CARD_ROWS)
        listed = ", ".join(
            f"`{c}` = {v} ({n})"
            for c, v, n in shown[["code_id", "value", "n_units"]].itertuples(index=False)
        )
        more = f" and {len(rare) - len(shown)} more" if len(rare) > len(shown) else ""
        lines += ["", f"Values on fewer than 10 units: {listed}{more}."]
    if file:
        lines += ["", f"Every code and value: `{file}`."]
    return "\n".join(lines)


#: strata shown in the card's sample table; more are summarised (all are in the plan)
CARD_STRATA = 20


def sampling_section(sampling: dict[str, Any] | None, file: str | None = None) -> str:
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
            f"(median {p.median():.4g}). The {CARD_STRATA} largest strata (every stratum: "
            + (f"`{file}`" if file else "the project's plan, `annotate project status DIR --json`")
            + "):"
        )
        lines.append("")
        strata = strata.head(CARD_STRATA)
    lines.append(md_table(strata.reset_index(drop=True), floatfmt="{:.4g}"))
    return "\n".join(lines)


def reliability_line(design: dict[str, Any]) -> str:
    """ "reliability sample: 20 conversations (10 %) of the project's 200, each coded by ..."."""
    n_rel, n_all = design.get("n_reliability"), design.get("n_conversations")
    coders = design.get("n_rel") or "all"
    who = "every coder" if coders == "all" else f"{coders} coders"
    if n_rel is None or not n_all:
        return f"reliability sample: {design.get('reliability')} of conversations, coded by {who}"
    if n_rel == 0:
        return (
            "reliability sample: none (no conversation was assigned to several coders, so "
            "agreement could not be planned)"
        )
    return (
        f"reliability sample: {n_rel} conversations ({100 * n_rel / n_all:.0f} %) of the "
        f"project's {n_all}, each coded independently by {who}"
    )


def versions_section(versions: list[dict[str, Any]]) -> str:
    """The codebook versions of a project that migrated, and what each migration did."""
    if len(versions) < 2:
        return ""
    rows = pd.DataFrame(
        [
            {
                "version": v["version"],
                "sha256": str(v["hash"])[:12],
                "since": v["since"],
                "migration": v.get("migration") or "",
            }
            for v in versions
        ]
    )
    lines = [
        "## Codebook versions",
        "",
        "The project moved to a new codebook version while it ran. Each label event records the "
        "version it was made under; the labels of this dataset are the current version's. "
        "Older versions are included as `codebook-VERSION.yaml`.",
        "",
        md_table(rows),
    ]
    for v in versions[1:]:
        done = v.get("summary") or {}
        actions = (v.get("map") or {}).get("codes") or {}
        added = (v.get("map") or {}).get("added") or {}
        lines += [
            "",
            f"**{v['migration']}: {v.get('from')} → {v['version']}** "
            + ("" if v.get("finished") else "(did not finish) ")
            + f"— {done.get('events_written', 0)} label event(s) carried as new events (the "
            "old ones stay in the history), "
            f"{done.get('recode_items', 0)} unit(s) queued for recoding in "
            f"{done.get('reopened', 0)} reopened conversation(s).",
        ]
        changed = [
            {"code": k, "action": a.get("action"), "into": _into(a)} for k, a in actions.items()
        ]
        if changed:
            lines += ["", md_table(pd.DataFrame(changed))]
        if added:
            lines += [
                "",
                "Codes added: "
                + ", ".join(
                    f"`{k}` ({a if isinstance(a, str) else 'recoded where ' + str(a)})"
                    for k, a in added.items()
                )
                + ". `uncoded` means the code has no value (not an absence) in conversations "
                "finished before the migration.",
            ]
    return "\n".join(lines) + "\n\n"


def _into(action: dict[str, Any]) -> str:
    into = action.get("into")
    if isinstance(into, list):
        return ", ".join(into)
    return str(into or "")


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
    files: dict[str, str] = facts.get("table_files") or {}
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
        sampling_section(design.get("sampling"), files.get("sample_strata")),
        "",
        "## Codebook",
        "",
        f"- `{cb['id']}` version **{cb['version']}**, content hash `{cb['hash']}`",
        f"- {cb['n_codes']} codes; the exact file is `codebook.yaml` in this folder.",
        "- Cite as: " + f"{cb['title']} ({cb['id']} v{cb['version']}, sha256 {cb['hash'][:12]}…).",
        "",
        *([versions_section(cb["versions"])] if len(cb.get("versions") or []) > 1 else []),
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
        f"- each conversation outside the reliability sample assigned to "
        f"{design.get('per_item')} coder(s); seed {design.get('seed')}",
        f"- {reliability_line(design)}",
        f"- blind coding on the reliability sample: {'yes' if design.get('blind') else 'no'}",
        "",
        coders_section(facts["coder_table"], files.get("coders")),
        "",
        "## Agreement",
        "",
        f"Krippendorff's alpha per code with a {facts['bootstrap']}-resample bootstrap interval "
        "(conversations resampled, seed recorded in export.json)"
        + (
            f", on the {facts['n_agreement_conversations']} conversations coded by two or more "
            "coders"
            if facts.get("n_agreement_conversations")
            else ""
        )
        + ". Verdict by where the interval lies (Krippendorff 2004, 2019): lower bound ≥ .800 "
        "reliable, ≥ .667 tentative, else not established.",
        "",
        agreement_section(
            facts["agreement"],
            facts["bootstrap"],
            facts.get("agreement_note"),
            files.get("agreement"),
        ),
        "",
        "## How the labels were obtained",
        "",
        facts["gold_text"],
        "",
        sources_section(facts["gold_table"], files.get("label_sources")),
        "",
        "## Counts per code",
        "",
        counts_section(facts["counts"], files.get("code_counts")),
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
