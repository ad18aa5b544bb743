"""Prompt sensitivity as a facet of reliability: replicate coders and their stability report.

A model's labels depend on the sampling (temperature, seed) and on the wording of the prompt;
Baumann et al. (2025, "LLM hacking") found that a few paraphrases of a prompt could make almost
any conclusion significant. Following the Prompt Stability Score of Barrie, Palmer & Spirling
(2025), we measure both with Krippendorff's alpha, treating replicates as coders:

* **within a prompt**: the same prompt run several times at a temperature above 0 (different
  seeds): alpha among the runs is the model's intra-prompt stability;
* **across paraphrases**: the same task worded differently (a paraphrase file of templates),
  one run each: alpha among the wordings is its inter-prompt stability.

Replicates are LLM coders of their own, children of the original: ids derived from it
(``smol-v1.r1`` … for runs, ``smol-v1.p1`` … for paraphrases, ``smol-v1.p1.r2`` for both),
``parent`` in their record, every other setting the parent's (same model file, checked by
hash). Their labels are stored, audited and cached like any coder's, so a replicate run is
resumable and the report can be recomputed at any time. They are coders of the plan (records
are coders), so leave them out of later batches' coder lists if you add conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from annotate.clock import CLOCK
from annotate.errors import Errors, LLMError
from annotate.llm import prompt as _prompt
from annotate.llm.coder import LLMCoder, coder_dir, llm_coder_ids, load_coder, write_record
from annotate.llm.run import RunSummary, run_llm_coder
from annotate.types import ANNOTATOR_ID_RE, FilePath

#: facets of the stability report
FACETS = ("runs", "paraphrases")


def read_paraphrases(path: FilePath) -> list[str]:
    """The templates of a paraphrase file: one or more templates one after another, each
    starting at a ``[system]`` line (E715 when there is none, or one is malformed)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LLMError(Errors.E715.format(path=path, problem=f"it cannot be read ({exc})")) from exc
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "[system]"]
    if not starts:
        raise LLMError(Errors.E715.format(path=path, problem="no '[system]' line"))
    if any(line.strip() for line in lines[: starts[0]]):
        problem = f"text before the first '[system]' line (line 1 to {starts[0]})"
        raise LLMError(Errors.E715.format(path=path, problem=problem))
    out = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        template = "\n".join(lines[start:end]).strip("\n") + "\n"
        try:
            _prompt.split_template(template, f"{path}, template {k + 1} (line {start + 1})")
        except LLMError as exc:
            raise LLMError(Errors.E715.format(path=path, problem=str(exc))) from None
        out.append(template)
    if len({_prompt.template_hash(t) for t in out}) < len(out):
        raise LLMError(Errors.E715.format(path=path, problem="two templates are the same"))
    return out


@dataclass(frozen=True)
class Replicate:
    """One planned replicate: its id, prompt (None: the parent's), temperature, seed."""

    id: str
    prompt: str  #: "original" or "p<i>"
    run: int  #: 1, 2, ... (0: a paraphrase's single run)
    template: str | None
    temperature: float
    seed: int


def plan_replicates(
    parent: LLMCoder,
    *,
    runs: int | None = None,
    temperature: float | None = None,
    paraphrases: list[str] | None = None,
) -> list[Replicate]:
    """The replicates of ``parent`` (see the module docstring for the ids)."""
    if parent.parent:
        problem = f"it is itself a replicate of '{parent.parent}': replicate that coder instead"
        raise LLMError(Errors.E714.format(coder=parent.id, problem=problem))
    if runs is None and not paraphrases:
        problem = "give runs= (repeated runs of its prompt) or paraphrases= (other wordings)"
        raise LLMError(Errors.E714.format(coder=parent.id, problem=problem))
    n_runs = 1 if runs is None else runs
    if not isinstance(n_runs, int) or not 1 <= n_runs <= 100:
        problem = f"runs={runs!r}: use a whole number from 1 to 100"
        raise LLMError(Errors.E714.format(coder=parent.id, problem=problem))
    temp = parent.temperature if temperature is None else float(temperature)
    if not 0 <= temp <= 2:
        problem = f"temperature={temperature!r}: use a number from 0 to 2"
        raise LLMError(Errors.E714.format(coder=parent.id, problem=problem))
    prompts: list[tuple[str, str | None]] = (
        [(f"p{i}", t) for i, t in enumerate(paraphrases, 1)] if paraphrases else [("r", None)]
    )
    out = []
    for name, template in prompts:
        for k in range(1, n_runs + 1):
            if template is None:
                rid, label = f"{parent.id}.r{k}", "original"
            elif n_runs == 1:
                rid, label = f"{parent.id}.{name}", name
            else:
                rid, label = f"{parent.id}.{name}.r{k}", name
            seed = parent.seed + (k if (template is None or n_runs > 1) else 0)
            if not ANNOTATOR_ID_RE.fullmatch(rid):
                problem = f"the replicate id '{rid}' is too long: give the parent a shorter id"
                raise LLMError(Errors.E714.format(coder=parent.id, problem=problem))
            out.append(
                Replicate(rid, label, k if n_runs > 1 or not template else 0, template, temp, seed)
            )
    return out


def _child(parent: LLMCoder, rep: Replicate) -> LLMCoder:
    from annotate import __version__

    template = parent.prompt_template if rep.template is None else rep.template
    source = parent.prompt_source if rep.template is None else f"paraphrase {rep.prompt}"
    return replace(
        parent,
        id=rep.id,
        parent=parent.id,
        temperature=rep.temperature,
        seed=rep.seed,
        prompt_template=template,
        prompt_hash=_prompt.template_hash(template),
        prompt_source=source,
        created_at=CLOCK.now().isoformat(timespec="seconds"),
        annotate_version=__version__,
    )


def _same(a: LLMCoder, b: LLMCoder) -> bool:
    keys = (
        "parent",
        "model_id",
        "prompt_hash",
        "temperature",
        "seed",
        "top_p",
        "max_tokens",
        "context",
        "max_context_chars",
        "codes",
        "rationale",
        "codebook",
        "schemas",
    )
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def replicate_coder(
    project: Any,
    coder_id: str,
    *,
    runs: int | None = None,
    temperature: float | None = None,
    paraphrases: FilePath | list[str] | None = None,
) -> list[LLMCoder]:
    """Add the replicate coders of an LLM coder (idempotent: existing ones are reused).

    Parameters
    ----------
    project : Project
    coder_id : str
        The original LLM coder (the parent).
    runs : int, optional
        Runs of each prompt (ids ``.r1``, ``.r2``, …), each with its own seed (the parent's
        seed + k), at ``temperature``.
    temperature : float, optional
        Of the replicates (default: the parent's). At 0 a deterministic model gives the same
        labels every run; use e.g. 0.7 to measure sampling stability.
    paraphrases : path or list of str, optional
        A paraphrase file (:func:`read_paraphrases`) or template texts: one replicate (or
        ``runs``) per wording (ids ``.p1``, ``.p2``, …).

    Returns
    -------
    list of LLMCoder
        The replicates' records, in plan order.
    """
    parent = load_coder(project, coder_id)
    if isinstance(paraphrases, str | Path):
        paraphrases = read_paraphrases(paraphrases)
    elif paraphrases is not None:
        for k, t in enumerate(paraphrases, 1):
            _prompt.split_template(t, f"paraphrase {k}")
    planned = plan_replicates(
        parent,
        runs=runs,
        temperature=temperature,
        paraphrases=list(paraphrases) if paraphrases else None,
    )
    out = []
    for rep in planned:
        spec = _child(parent, rep)
        if rep.id in project.coders:
            existing = load_coder(project, rep.id)
            if not _same(existing, spec):
                problem = (
                    f"'{rep.id}' exists with other settings (prompt, temperature or seed); "
                    "remove it from the plan or use another parent id"
                )
                raise LLMError(Errors.E714.format(coder=coder_id, problem=problem))
            out.append(existing)
            continue
        write_record(project, spec)
        out.append(spec)
    return out


def replicates_of(project: Any, coder_id: str) -> list[LLMCoder]:
    """The replicate coders recorded as children of an LLM coder, in plan order."""
    out = []
    for cid in llm_coder_ids(project):
        if cid == coder_id:
            continue
        spec = load_coder(project, cid)
        if spec.parent == coder_id:
            out.append(spec)
    return out


def run_replicates(
    project: Any,
    coder_id: str,
    *,
    conversations: Any = None,
    limit: int | None = None,
    workers: int = 1,
    progress: bool = True,
    backend: Any = None,
) -> list[RunSummary]:
    """Run every replicate of an LLM coder (resumable, like any run).

    ``conversations``: default the conversations the parent has labels in (so that every
    replicate codes the same units), else the reliability sample. One backend (one loaded
    model) serves all replicates.
    """
    from annotate.llm.backends import make_backend

    parent = load_coder(project, coder_id)
    children = replicates_of(project, coder_id)
    if not children:
        problem = "it has no replicates yet: add them with replicate_coder(...) first"
        raise LLMError(Errors.E714.format(coder=coder_id, problem=problem))
    if conversations is None:
        mine = project.labels(annotator=coder_id)
        conversations = sorted(set(mine["conversation_id"].astype(str))) or "reliability"
    own = backend is None
    if own:
        from annotate.llm.run import _check_model

        _check_model(parent, Path(project.path), coder_dir(project.path, coder_id))
        backend = make_backend(parent, Path(project.path), workers=workers)
    try:
        return [
            run_llm_coder(
                project,
                c.id,
                conversations=conversations,
                limit=limit,
                workers=workers,
                progress=progress,
                backend=backend,
            )
            for c in children
        ]
    finally:
        if own and backend is not None:
            backend.close()


# --- the report --------------------------------------------------------------------------------


class StabilityReport:
    """Alpha among replicates: within a prompt (runs) and across paraphrases.

    Attributes
    ----------
    table : DataFrame
        One row per (facet, prompt, code, unit, role): ``facet`` (``runs`` or
        ``paraphrases``), ``prompt`` (``original``, ``p1``…; ``all`` across paraphrases),
        ``coders`` (the replicate ids compared), ``code_id``, ``unit``, ``role``, ``n_units``,
        ``n_coders``, ``alpha``, ``alpha_low``, ``alpha_high`` (conversation bootstrap) and
        ``flag`` (Krippendorff's thresholds on alpha).
    summary : DataFrame
        Per facet and prompt: the mean, the lowest alpha over codes, and the codes below .8.
    """

    def __init__(self, table: pd.DataFrame, settings: dict[str, Any]) -> None:
        self.table = table
        self.settings = settings

    @property
    def summary(self) -> pd.DataFrame:
        t = self.table
        if t.empty:
            return pd.DataFrame(columns=["facet", "prompt", "mean_alpha", "min_alpha", "below_800"])
        rows = []
        for (facet, prompt), g in t.groupby(["facet", "prompt"], sort=False):
            ok = g[g["alpha"].notna()]
            rows.append(
                {
                    "facet": facet,
                    "prompt": prompt,
                    "codes": int(g["code_id"].nunique()),
                    "mean_alpha": float(ok["alpha"].mean()) if len(ok) else float("nan"),
                    "min_alpha": float(ok["alpha"].min()) if len(ok) else float("nan"),
                    "below_800": ", ".join(sorted(set(ok.loc[ok["alpha"] < 0.8, "code_id"]))),
                }
            )
        return pd.DataFrame(rows)

    def to_text(self) -> str:
        if self.table.empty:
            return "(no replicates with labels on common units)"
        t = self.table
        ci = [
            f"[{lo:.3f}, {hi:.3f}]" if lo == lo else ""
            for lo, hi in zip(t["alpha_low"], t["alpha_high"], strict=True)
        ]
        view = pd.DataFrame(
            {
                "facet": t["facet"],
                "prompt": t["prompt"],
                "code": t["code_id"],
                "role": t["role"].fillna("-"),
                "units": t["n_units"],
                "coders": t["n_coders"],
                "alpha": t["alpha"],
                "95% CI": ci,
                "flag": t["flag"],
            }
        )
        text = view.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-")
        notes = [f"note: {n}" for n in self.settings.get("notes", [])]
        return "\n".join([text, *notes])

    def __repr__(self) -> str:
        return f"<StabilityReport: {len(self.table)} rows>\n{self.to_text()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "rows": self.table.to_dict(orient="records"),
            "summary": self.summary.to_dict(orient="records"),
        }


def prompt_stability(
    project: Any,
    coder_id: str,
    *,
    codes: Any = None,
    bootstrap: int = 1000,
    seed: int | None = 0,
) -> StabilityReport:
    """The prompt-stability report of an LLM coder's replicates (module docstring).

    Alpha is the agreement report's (Krippendorff's, the code's metric, conversation-bootstrap
    interval) over the replicates' labels on the units they all coded: within each prompt among
    its runs (two or more), and across the prompts (the original and each paraphrase) with one
    label set per prompt at the replicates' temperature: the parent when its decoding is that
    of the paraphrases, else the original prompt's first run.
    """
    from annotate.agreement import report

    parent = load_coder(project, coder_id)
    children = replicates_of(project, coder_id)
    notes: list[str] = []
    groups: list[tuple[str, str, list[str]]] = []
    by_prompt: dict[str, list[LLMCoder]] = {}
    for c in children:
        key = "original" if c.prompt_hash == parent.prompt_hash else c.prompt_source.split()[-1]
        by_prompt.setdefault(key, []).append(c)
    for prompt, members in by_prompt.items():
        if len(members) >= 2:
            groups.append(("runs", prompt, [m.id for m in members]))
    paraphrased = [p for p in by_prompt if p != "original"]
    if paraphrased:
        temp = by_prompt[paraphrased[0]][0].temperature
        same = [c for c in by_prompt.get("original", []) if c.temperature == temp]
        if parent.temperature == temp:
            first = parent
        elif same:
            first = same[0]
        else:
            first = by_prompt.get("original", [parent])[0]
            notes.append(
                f"the original prompt's labels ({first.id}) are at temperature "
                f"{first.temperature}, the paraphrases' at {temp}"
            )
        across = [first.id] + [by_prompt[p][0].id for p in paraphrased]
        groups.append(("paraphrases", "all", across))
    if any(c.temperature == 0 for c in children) and any(g[0] == "runs" for g in groups):
        notes.append("runs at temperature 0: a deterministic model repeats itself (alpha 1)")
    ids = sorted({i for _, _, g in groups for i in g})
    labels = project.unit_labels(annotators=ids) if ids else None
    frames = []
    for facet, prompt, members in groups:
        sub = labels[labels["annotator_id"].isin(members)]
        coded = [m for m in members if m in set(sub["annotator_id"].astype(str))]
        if len(coded) < 2:
            notes.append(f"{facet} {prompt}: fewer than two of {members} have labels; run them")
            continue
        table = report(sub, project.codebook, codes=codes, bootstrap=bootstrap, seed=seed).table
        keep = [
            "code_id",
            "unit",
            "role",
            "n_units",
            "n_coders",
            "alpha",
            "alpha_low",
            "alpha_high",
            "flag",
        ]
        part = table[[c for c in keep if c in table.columns]].copy()
        part.insert(0, "coders", ", ".join(coded))
        part.insert(0, "prompt", prompt)
        part.insert(0, "facet", facet)
        frames.append(part)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    settings = {
        "coder": coder_id,
        "replicates": [c.id for c in children],
        "bootstrap": bootstrap,
        "seed": seed,
        "notes": notes,
    }
    return StabilityReport(table, settings)


__all__ = [
    "FACETS",
    "Replicate",
    "StabilityReport",
    "plan_replicates",
    "prompt_stability",
    "read_paraphrases",
    "replicate_coder",
    "replicates_of",
    "run_replicates",
]
