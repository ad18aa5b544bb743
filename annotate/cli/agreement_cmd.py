"""CLI command of the agreement area: ``annotate agreement DIR`` (registered by annotate.cli)."""

from __future__ import annotations

from pathlib import Path

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
    evidence = None
    if any(c.evidence != "none" for c in project.codebook.codes):
        from annotate.agreement.evidence import evidence_agreement, non_human

        evidence = evidence_agreement(
            project.labels(), project.codebook, project.corpus, exclude=non_human(path)
        )
    report = agreement_report(
        project.unit_labels(),
        project.codebook,
        codes=_codes(codes),
        unit=unit,
        role=role,
        bootstrap=bootstrap,
        seed=seed,
        evidence=evidence,
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
    def agreement_command(directory, codes, unit, role, bootstrap, seed, as_json, plot):
        """Inter-rater agreement of a project: alpha per code, unit and role.

        DIR is a project folder (annotate project init). Prints one row per code (and role)
        with Krippendorff's alpha, its bootstrap interval, percent agreement, Gwet's AC1/AC2,
        Brennan-Prediger, Fleiss' and Cohen's kappa, and a flag (alpha >= .800 reliable,
        .667-.800 tentative, below unreliable). Codes that take evidence spans also get the
        coders' span agreement where they agree on the code (token F1 and Jaccard,
        Krippendorff's unitizing alpha).
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
        )
