"""CLI command of the agreement area: ``annotate agreement DIR`` (registered by annotate.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from annotate.cli._printer import emit_json, good, info
from annotate.errors import AgreementError, Errors


def _codes(values: tuple[str, ...]) -> list[str] | None:
    """``--codes a,b --codes c`` → ["a", "b", "c"] (None: every code)."""
    out = [c.strip() for v in values for c in v.split(",") if c.strip()]
    return out or None


def agreement_cli(
    directory: str,
    *,
    codes: tuple[str, ...] = (),
    unit: str | None = None,
    role: str | None = None,
    bootstrap: int | None = 0,
    seed: int | None = None,
    as_json: bool = False,
    plot: str | None = None,
    all_columns: bool = False,
    codebook_version: str | None = None,
    design: bool = False,
    plan: float | None = None,
) -> None:
    """Open the project, compute the report, print it (text or JSON), save the plot."""
    from annotate.agreement import report as agreement_report
    from annotate.project import Project

    path = Path(directory)
    if not path.exists():
        raise AgreementError(
            Errors.E901.format(path=path, hint="annotate project init DIR --corpus ... ")
        )
    if bootstrap is not None and bootstrap < 0:
        raise AgreementError(Errors.E902.format(option="--bootstrap", problem="must be >= 0"))
    if plot is not None and not Path(plot).parent.exists():
        parent = Path(plot).parent
        raise AgreementError(Errors.E901.format(path=parent, hint=f"mkdir -p {parent}"))
    project = Project.open(path)
    if design or plan is not None:
        _design_cli(project, codes, codebook_version, design, plan, bootstrap or 0, seed, as_json)
        return
    llm_coders = [c for c, kind in project.coder_kinds.items() if kind == "llm"]
    if llm_coders:  # rows partitioned by raters (human, human-llm, llm, all) and gating
        from annotate.cli.llm_cmd import agreement_with_llm

        boot = 1000 if bootstrap is None else bootstrap
        return agreement_with_llm(
            project, llm_coders, codes=_codes(codes), unit=unit, role=role, seed=seed,
            bootstrap=boot, as_json=as_json,
        )  # fmt: skip
    book = project.codebook_for(codebook_version)
    evidence = None
    if any(c.evidence != "none" for c in book.codes):
        from annotate.agreement.evidence import evidence_agreement, non_human

        evidence = evidence_agreement(
            project.labels(), book, project.corpus, exclude=non_human(path)
        )
    report = agreement_report(
        project.unit_labels(version=codebook_version),
        book,
        codes=_codes(codes),
        unit=unit,
        role=role,
        bootstrap=bootstrap or 0,
        seed=seed,
        evidence=evidence,
    )
    if plot is not None:
        # tight: nothing of the labels or the legend is cut at the figure's edge
        report.plot().savefig(plot, dpi=150, bbox_inches="tight", pad_inches=0.1)
    if as_json:
        doc = report.to_dict()
        doc["project"] = str(path)
        if plot is not None:
            doc["plot"] = str(plot)
        emit_json(doc)
        return
    info(report.to_text(full=all_columns))
    if plot is not None:
        good(f"forest plot written to {plot}")


def _design_cli(
    project: Any,
    codes: tuple[str, ...],
    version: str | None,
    design: bool,
    plan: float | None,
    bootstrap: int,
    seed: int | None,
    as_json: bool,
) -> None:
    """``--design``: alpha of the (enriched) reliability sample as drawn and design-weighted;
    ``--plan ALPHA_MIN``: whether each code has enough values for alpha to be assessable."""
    from annotate.agreement import design_report, plan_sample
    from annotate.cli._printer import emit_table

    units = project.unit_labels(version=version)
    cb = project.codebook_for(version)
    doc: dict[str, Any] = {"project": str(project.path)}
    if design:
        table = design_report(units, cb, project.reliability_weights(), codes=_codes(codes),
                              bootstrap=bootstrap, seed=seed)  # fmt: skip
        doc["design"] = project.reliability_design
        doc["rows"] = table.astype(object).where(table.notna(), None).to_dict("records")
        if not as_json:
            info("sample_alpha: the sample as drawn (its mix of flagged conversations); "
                 "design_alpha: weighted by 1 / inclusion probability, an estimate for the "
                 "whole project")  # fmt: skip
            emit_table(table.round(3), title="alpha of the reliability sample and its design")
    if plan is not None:
        table = plan_sample(units, cb, alpha_min=plan, codes=_codes(codes), seed=seed)
        doc["plan"] = table.astype(object).where(table.notna(), None).to_dict("records")
        if not as_json:
            emit_table(table.round(3), title=f"can alpha be shown above {plan}? (simulation)")
    if as_json:
        emit_json(doc)


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""

    @main.command("agreement")
    @click.argument("directory", metavar="DIR")
    @click.option(
        "--codes",
        multiple=True,
        help="Only these codes (comma-separated, or repeat the option). Default: every code.",
    )
    @click.option("--unit", type=click.Choice(["turn", "conversation"]), help="Only this unit.")
    @click.option(
        "--role",
        type=click.Choice(["user", "assistant"]),
        help="Only turn-level codes of this speaker role.",
    )
    @click.option(
        "--bootstrap",
        type=int,
        default=None,
        help="Resamples of conversations for alpha's 95% interval (0: no interval). "
        "Default 0; 1000 when the project has LLM coders.",
    )
    @click.option("--seed", type=int, default=None, help="Seed of the bootstrap.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    @click.option("--plot", metavar="OUT.png", help="Save the forest plot (PNG or SVG).")
    @click.option(
        "--all-columns",
        is_flag=True,
        help="Print every column (companion coefficients, prevalence, the point-estimate flag), "
        "not only code, role, units, alpha, its interval and the verdict.",
    )
    @click.option(
        "--codebook-version",
        default=None,
        help="Labels of this codebook version (after a migration; default: the current one).",
    )
    @click.option(
        "--design",
        is_flag=True,
        help="Alpha of an enriched reliability sample as drawn and weighted by its design.",
    )
    @click.option(
        "--plan",
        type=float,
        default=None,
        metavar="ALPHA_MIN",
        help="Per code: are there enough values for alpha to be shown above ALPHA_MIN?",
    )
    def agreement_command(
        directory, codes, unit, role, bootstrap, seed, as_json, plot, all_columns,
        codebook_version, design, plan,
    ):  # fmt: skip
        """Inter-rater agreement of a project: alpha per code, unit and role.

        DIR is a project folder (annotate project init). Prints one row per code (and role)
        with the units coded twice or more, Krippendorff's alpha, its bootstrap interval and a
        verdict by where the interval lies (lower bound >= .800 reliable, >= .667 tentative,
        else not established; "few cases" when too few units differ from the most common
        value). --all-columns adds percent agreement, Gwet's AC1/AC2, Brennan-Prediger,
        Fleiss' and Cohen's kappa. Codes that take evidence spans also get the coders' span
        agreement where they agree on the code (token F1 and Jaccard, Krippendorff's
        unitizing alpha).
        """
        agreement_cli(
            directory,
            codes=codes,
            unit=unit,
            role=role,
            bootstrap=bootstrap,
            seed=seed,
            as_json=as_json,
            plot=plot,
            all_columns=all_columns,
            codebook_version=codebook_version,
            design=design,
            plan=plan,
        )
