"""CLI commands of LLM coders: ``annotate llm add``, ``annotate llm run``, ``annotate llm list``;
and the ``raters`` view of ``annotate agreement`` for projects with LLM coders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from annotate.cli._printer import emit_json, emit_table, good, info
from annotate.errors import Errors, LLMError

#: names accepted by ``--model`` for models that ship on PyPI (found by path, never downloaded)
MODEL_ALIASES = {"smollm2-135m": "annotate.llm.models:smollm2_path"}


def _open(project_dir: str) -> Any:
    from annotate.project import Project

    if not Path(project_dir).exists():
        raise LLMError(Errors.E901.format(path=project_dir, hint="annotate project init DIR ..."))
    return Project.open(project_dir)


def _model(backend: str, model: str) -> str:
    """A model alias (``smollm2-135m``) becomes its file; anything else is used as given."""
    if backend == "llama-cpp" and model in MODEL_ALIASES and not Path(model).exists():
        import importlib

        module, func = MODEL_ALIASES[model].split(":")
        return str(getattr(importlib.import_module(module), func)())
    return model


@click.group("llm")
def llm_group() -> None:
    """Language models as declared coders (docs/llm-coders.md)."""


@llm_group.command("add")
@click.argument("project_dir", metavar="PROJECT", type=click.Path(path_type=str))
@click.option("--id", "coder_id", required=True, help="The new coder's id, e.g. smol-v1.")
@click.option(
    "--backend",
    type=click.Choice(["llama-cpp", "openai"]),
    required=True,
    help="llama-cpp: a GGUF file run in this process; openai: an OpenAI-compatible "
    "server (OpenAI, vLLM, llama.cpp server, Ollama).",
)
@click.option(
    "--model",
    required=True,
    help="llama-cpp: the GGUF file (or smollm2-135m, the demo model of the llm-demo "
    "extra); openai: the served model's name.",
)
@click.option(
    "--base-url", help="openai: the server's URL up to the version, e.g. http://127.0.0.1:8080/v1."
)
@click.option("--api-key-env", help="openai: environment variable holding the API key.")
@click.option(
    "--response-format",
    type=click.Choice(["json_schema", "json_object", "none"]),
    help="openai: how the schema is asked for (llama.cpp's server: json_object; "
    "default json_schema).",
)
@click.option("--temperature", type=float, default=0.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--top-p", type=float, default=None)
@click.option(
    "--max-tokens", type=int, default=None, help="Longest answer (default: enough for the schema)."
)
@click.option(
    "--context",
    type=click.Choice(["full", "upto"]),
    default="full",
    show_default=True,
    help="A turn's prompt shows the whole conversation, or the turns up to it.",
)
@click.option(
    "--max-context-chars",
    type=int,
    default=12000,
    show_default=True,
    help="Characters of conversation per prompt (nearest turns kept).",
)
@click.option(
    "--prompt",
    "prompt_file",
    type=click.Path(path_type=str),
    help="A prompt template file (docs/llm.md); default: built from the codebook.",
)
@click.option("--rationale", is_flag=True, help="Ask for a short rationale per code (a memo).")
@click.option("--codes", help="Only these codes, comma-separated (default: every code).")
@click.option(
    "--attempts",
    type=int,
    default=3,
    show_default=True,
    help="Requests per unit before an invalid answer is recorded as missing.",
)
@click.option(
    "--n-ctx",
    type=int,
    default=8192,
    show_default=True,
    help="llama-cpp: context window in tokens.",
)
@click.option("--threads", type=int, default=None, help="llama-cpp: CPU threads.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def add_cmd(
    project_dir: str,
    coder_id: str,
    backend: str,
    model: str,
    base_url: str | None,
    api_key_env: str | None,
    response_format: str | None,
    temperature: float,
    seed: int,
    top_p: float | None,
    max_tokens: int | None,
    context: str,
    max_context_chars: int,
    prompt_file: str | None,
    rationale: bool,
    codes: str | None,
    attempts: int,
    n_ctx: int,
    threads: int | None,
    as_json: bool,
) -> None:
    """Add a language model as a coder of PROJECT (recorded in llm/ID/coder.json)."""
    from annotate.llm import add_llm_coder

    p = _open(project_dir)
    spec = add_llm_coder(
        p,
        coder_id,
        backend=backend,
        model=_model(backend, model),
        base_url=base_url,
        api_key_env=api_key_env,
        response_format=response_format,
        temperature=temperature,
        seed=seed,
        top_p=top_p,
        max_tokens=max_tokens,
        context=context,
        max_context_chars=max_context_chars,
        prompt=prompt_file,
        rationale=rationale,
        codes=codes,
        attempts=attempts,
        n_ctx=n_ctx,
        threads=threads,
    )
    a = p.assignments
    mine = a[a["annotator_id"] == coder_id]
    doc = {
        "coder": spec.id,
        "record": str(Path(p.path) / "llm" / spec.id / "coder.json"),
        "backend": spec.backend,
        "model": spec.model,
        "model_sha256": spec.model_sha256,
        "prompt_hash": spec.prompt_hash,
        "assigned": len(mine),
        "reliability": int(mine["is_reliability"].sum()),
    }
    if as_json:
        emit_json(doc)
        return
    good(f"LLM coder {spec.id} added to {p.path}")
    for key in ("record", "backend", "model", "model_sha256", "prompt_hash"):
        if doc[key]:
            info(f"  {key:<13}{doc[key]}")
    info(f"  assigned     {doc['assigned']} conversations ({doc['reliability']} reliability)")
    info(f"  next: annotate llm run {project_dir} --coder {spec.id} --conversations reliability")


@llm_group.command("run")
@click.argument("project_dir", metavar="PROJECT", type=click.Path(path_type=str))
@click.option("--coder", "coder_id", required=True, help="The LLM coder's id.")
@click.option(
    "--conversations",
    type=click.Choice(["reliability", "queue", "all"]),
    default="reliability",
    show_default=True,
    help="The reliability sample, the coder's queue, or the whole corpus.",
)
@click.option("--limit", type=int, default=None, help="Code at most N units in this run.")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Requests in flight at once (openai backend).",
)
@click.option("--rate", type=float, default=None, help="At most this many requests a second.")
@click.option("--no-cache", is_flag=True, help="Ask the model even when an answer is cached.")
@click.option(
    "--cache-from",
    multiple=True,
    type=click.Path(path_type=str),
    help="Another project (or a folder of projects) whose audit logs also answer identical "
    "requests; repeatable (default: $ANNOTATE_LLM_CACHE_FROM).",
)
@click.option("--retry-missing", is_flag=True, help="Code again units recorded as missing.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this process; ray: Ray Data over a cluster (the scale extra; docs/scale.md).",
)
@click.option(
    "--address",
    help="ray: the cluster (auto, HOST:PORT or ray://HOST:10001); default: a local Ray.",
)
@click.option(
    "--transport",
    type=click.Choice(["auto", "http", "client", "vllm"]),
    default="auto",
    show_default=True,
    help="ray: who sends the requests (http: ray.data.llm's HTTP processor; client: our "
    "backend in Ray actors; vllm: vLLM engines on GPU nodes).",
)
@click.option(
    "--batch",
    type=int,
    default=16,
    show_default=True,
    help="ray: units per Ray batch and per append of labels.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def run_cmd(
    project_dir: str,
    coder_id: str,
    conversations: str,
    limit: int | None,
    workers: int,
    rate: float | None,
    no_cache: bool,
    cache_from: tuple[str, ...],
    retry_missing: bool,
    no_progress: bool,
    engine: str,
    address: str | None,
    transport: str,
    batch: int,
    as_json: bool,
) -> None:
    """Code units with an LLM coder; a killed run resumes where it stopped."""
    from annotate.llm import run_llm_coder

    p = _open(project_dir)
    options = None
    if engine == "ray":
        options = {"address": address, "transport": transport, "batch": batch}
    summary = run_llm_coder(
        p,
        coder_id,
        conversations=conversations,
        limit=limit,
        workers=workers,
        rate=rate,
        use_cache=not no_cache,
        cache_from=list(cache_from) or None,
        retry_missing=retry_missing,
        progress=not no_progress and not as_json,
        engine=engine,
        engine_options=options,
    )
    doc = summary.to_dict()
    if as_json:
        emit_json(doc)
        return
    good(
        f"{coder_id}: {summary.units_coded} unit(s) coded, {summary.units_missing} missing, "
        f"{summary.units_already_coded} of {summary.units_planned} coded before "
        f"({summary.requests} requests, {summary.cache_hits} from the cache, "
        f"{summary.seconds:.1f} s)"
    )
    info(f"  conversations done: {summary.conversations_done}; audit log: {summary.audit_log}")


def _conversations(value: str | None) -> Any:
    """``reliability``/``queue``/``all``, or comma-separated conversation ids."""
    if value is None or value in ("reliability", "queue", "all"):
        return value
    return [c.strip() for c in value.split(",") if c.strip()]


@llm_group.command("replicate")
@click.argument("project_dir", metavar="PROJECT", type=click.Path(path_type=str))
@click.option("--coder", "coder_id", required=True, help="The original LLM coder.")
@click.option("--runs", type=int, default=None, help="Runs of each prompt (new seeds).")
@click.option(
    "--temperature", type=float, default=None, help="Of the replicates (default: the coder's)."
)
@click.option(
    "--paraphrases",
    type=click.Path(path_type=str),
    default=None,
    help="A file of prompt templates, each starting at a '[system]' line: one replicate each.",
)
@click.option(
    "--conversations",
    default=None,
    help="reliability, queue, all or comma-separated ids (default: those the coder coded).",
)
@click.option("--limit", type=int, default=None, help="Code at most N units per replicate.")
@click.option("--no-run", is_flag=True, help="Only add the replicates (and report).")
@click.option("--bootstrap", type=int, default=1000, show_default=True, help="Resamples.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the resamples.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def replicate_cmd(
    project_dir: str,
    coder_id: str,
    runs: int | None,
    temperature: float | None,
    paraphrases: str | None,
    conversations: str | None,
    limit: int | None,
    no_run: bool,
    bootstrap: int,
    seed: int,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Replicate an LLM coder (runs, paraphrases), run the replicates and report prompt
    stability: alpha within a prompt across runs and across paraphrases, with intervals."""
    from annotate.llm import prompt_stability, replicate_coder, run_replicates

    p = _open(project_dir)
    specs = replicate_coder(
        p, coder_id, runs=runs, temperature=temperature, paraphrases=paraphrases
    )
    summaries = []
    if not no_run:
        summaries = run_replicates(
            p,
            coder_id,
            conversations=_conversations(conversations),
            limit=limit,
            progress=not no_progress and not as_json,
        )
    rep = prompt_stability(p, coder_id, bootstrap=bootstrap, seed=seed)
    if as_json:
        emit_json(
            {
                "project": str(p.path),
                "replicates": [s.id for s in specs],
                "runs": [s.to_dict() for s in summaries],
                **rep.to_dict(),
            }
        )
        return
    good(f"{coder_id}: {len(specs)} replicate(s): {', '.join(s.id for s in specs)}")
    for s in summaries:
        info(
            f"  {s.coder_id}: {s.units_coded} unit(s) coded, {s.units_already_coded} before, "
            f"{s.units_missing} missing"
        )
    info("")
    info(rep.to_text())
    info("")
    emit_table(rep.summary.round(3), title="prompt stability (mean and lowest alpha over codes)")


@llm_group.command("check")
@click.argument("project_dir", metavar="PROJECT", type=click.Path(path_type=str))
@click.option("--coder", "coder_id", required=True, help="The LLM coder to check.")
@click.option(
    "--conversations",
    default="reliability",
    show_default=True,
    help="reliability, queue, all or comma-separated ids.",
)
@click.option("--limit", type=int, default=20, show_default=True, help="Units to code.")
@click.option(
    "--checks",
    default="shuffle_values,swap_definitions",
    show_default=True,
    help="Comma-separated: shuffle_values, swap_definitions.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the shuffle.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def check_cmd(
    project_dir: str,
    coder_id: str,
    conversations: str,
    limit: int,
    checks: str,
    seed: int,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Label-free behavioural checks before a run: how often labels change with the order of
    the values and with swapped code definitions (nothing is stored as a label)."""
    from annotate.llm import behaviour_checks

    p = _open(project_dir)
    rep = behaviour_checks(
        p,
        coder_id,
        conversations=_conversations(conversations),
        limit=limit,
        checks=[c.strip() for c in checks.split(",") if c.strip()],
        seed=seed,
        progress=not no_progress and not as_json,
    )
    if as_json:
        emit_json({"project": str(p.path), **rep.to_dict()})
        return
    good(f"{coder_id}: {rep.settings['units']} unit(s) checked; log {rep.settings['audit_log']}")
    info(rep.to_text())


@llm_group.command("list")
@click.argument("project_dir", metavar="PROJECT", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def list_cmd(project_dir: str, as_json: bool) -> None:
    """The LLM coders of PROJECT: model, settings, prompt and codebook hashes."""
    import pandas as pd

    from annotate.llm import llm_coder_ids, load_coder

    p = _open(project_dir)
    specs = [load_coder(p, c) for c in llm_coder_ids(p)]
    if as_json:
        emit_json({"project": str(p.path), "coders": [s.to_dict() for s in specs]})
        return
    rows = [
        {
            "coder": s.id,
            "backend": s.backend,
            "model": s.model,
            "sha256": (s.model_sha256 or "")[:12],
            "temperature": s.temperature,
            "seed": s.seed,
            "context": s.context,
            "prompt": f"{s.prompt_source} {s.prompt_hash[:12]}",
            "codebook": f"{s.codebook.get('id')} {s.codebook.get('version')}",
        }
        for s in specs
    ]
    emit_table(pd.DataFrame(rows), title=f"LLM coders of {p.path}")


def agreement_with_llm(
    project: Any,
    llm_coders: list[str],
    *,
    codes: list[str] | None,
    unit: str | None,
    role: str | None,
    bootstrap: int,
    seed: int | None,
    as_json: bool,
    threshold: float = 0.667,
    margin: float = 0.05,
) -> None:
    """``annotate agreement`` on a project with LLM coders: the rows partitioned by raters
    (human, human-llm, llm, all) with intervals, then the gating table."""
    from annotate.agreement.raters import rater_agreement

    report = rater_agreement(
        project.unit_labels(),
        project.codebook,
        llm_coders,
        codes=codes,
        unit=unit,
        role=role,
        bootstrap=bootstrap,
        seed=seed,
    )
    gates = report.gating(threshold=threshold, margin=margin)
    if as_json:
        doc = report.to_dict() | {"project": str(project.path)}
        doc["gating"] = {
            "threshold": threshold,
            "margin": margin,
            "rows": gates.to_dict(orient="records"),
        }
        emit_json(doc)
        return
    info(report.to_text())
    info("")
    shown = gates[
        [
            "coder",
            "code_id",
            "role",
            "human_alpha",
            "llm_alpha",
            "llm_low",
            "may_stand_in",
            "reason",
        ]
    ]
    emit_table(
        shown.fillna({"role": "-", "reason": ""}).round(3),
        title=f"gating: may the LLM coder stand in for a person? (lower bound of human-llm "
        f"alpha >= {threshold:.3f} and at most {margin:.3f} below the humans' alpha)",
    )


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""
    main.add_command(llm_group)
