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
    bootstrap: int = 0,
    seed: int | None = None,
    as_json: bool = False,
    plot: str | None = None,
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
    if bootstrap < 0:
        raise AgreementError(Errors.E902.format(option="--bootstrap", problem="must be >= 0"))
    if plot is not None and not Path(plot).parent.exists():
        parent = Path(plot).parent
        raise AgreementError(Errors.E901.format(path=parent, hint=f"mkdir -p {parent}"))
    project = Project.open(path)
    if design or plan is not None:
        _design_cli(project, codes, codebook_version, design, plan, bootstrap, seed, as_json)
        return
    report = agreement_report(
        project.unit_labels(version=codebook_version),
        project.codebook_for(codebook_version),
        codes=_codes(codes),
        unit=unit,
        role=role,
        bootstrap=bootstrap,
        seed=seed,
    )
    if plot is not None:
        report.plot().savefig(plot)
    if as_json:
        doc = report.to_dict()
        doc["project"] = str(path)
        if plot is not None:
            doc["plot"] = str(plot)
        emit_json(doc)
        return
    info(report.to_text())
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
        default=0,
        show_default=True,
        help="Resamples of conversations for alpha's 95% interval (0: no interval).",
    )
    @click.option("--seed", type=int, default=None, help="Seed of the bootstrap.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    @click.option("--plot", metavar="OUT.png", help="Save the forest plot (PNG or SVG).")
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
        directory, codes, unit, role, bootstrap, seed, as_json, plot, codebook_version, design,
        plan,
    ):  # fmt: skip
        """Inter-rater agreement of a project: alpha per code, unit and role.

        DIR is a project folder (annotate project init). Prints one row per code (and role)
        with Krippendorff's alpha, its bootstrap interval, percent agreement, Gwet's AC1/AC2,
        Brennan-Prediger, Fleiss' and Cohen's kappa, and a flag (alpha >= .800 reliable,
        .667-.800 tentative, below unreliable).
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
            codebook_version=codebook_version,
            design=design,
            plan=plan,
        )
