"""The LLM coder's record: what model, prompt, schema and settings made its labels.

An LLM coder is a coder id of the project (it joins the plan like a person) plus one immutable
file, ``<project>/llm/<coder_id>/coder.json``, written once with ``exclusive=True`` when the
coder is added. Everything that decides its labels is in that file: the backend, the model (and
the model file's sha256, or the server's ``system_fingerprint`` per response in the audit log),
the prompt template and its hash, the codebook id/version/hash, the decoding settings, the JSON
schema of each kind of unit and the context policy. A label event of the coder carries the run
id as its ``session_id``; the run's audit log (``audit/<run_id>.jsonl`` beside the record) holds
every request and raw response.

Changing any of it means a new coder (a new id): a record is never rewritten. ``parent`` links a
coder derived from another (replicates and prompt paraphrases build on it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from annotate.clock import CLOCK
from annotate.durable import check_real_path, storage_error, write_file
from annotate.errors import Errors, LLMError
from annotate.llm import prompt as _prompt
from annotate.llm import schema as _schema
from annotate.types import ANNOTATOR_ID_RE, CONTEXTS, FilePath

FORMAT = "annotate-llm-coder/1"
#: the folder of LLM coders inside a project
LLM_DIR = "llm"
RECORD = "coder.json"
BACKENDS = ("llama-cpp", "openai")
#: how the OpenAI-compatible backend asks for JSON: OpenAI/vLLM/Ollama take ``json_schema``;
#: llama.cpp's Python server takes ``json_object`` with a ``schema``; ``none`` asks for nothing
#: (the prompt still describes the answer, and every answer is validated by us)
RESPONSE_FORMATS = ("json_schema", "json_object", "none")


@dataclass(frozen=True)
class LLMCoder:
    """The record of one LLM coder (``coder.json``); see the module docstring.

    Attributes
    ----------
    id : str
        The coder id (the ``annotator_id`` of its labels).
    backend : {"llama-cpp", "openai"}
    model : str
        The model's name: the GGUF file name (llama-cpp) or the served model name (openai).
    model_path : str or None
        llama-cpp: the model file, relative to the project folder when it lies below it.
    model_sha256 : str or None
        llama-cpp: sha256 of the model file; every run checks it (E703).
    base_url, api_key_env, response_format
        openai: the server's base URL (``http://host:port/v1``), the name of the environment
        variable holding the API key (the key itself is never written), and how JSON is asked
        for (:data:`RESPONSE_FORMATS`).
    temperature, seed, top_p, max_tokens
        Decoding settings sent with every request.
    context : {"full", "upto"}
        Which turns a turn's prompt shows: the whole conversation, or the turns up to it.
    max_context_chars : int
        Character budget of the conversation shown in one prompt (nearest turns kept).
    rationale : bool
        Ask for a short rationale per code; stored as a ``_memo`` of the unit, never a label.
    codes : list of str or None
        The codes it codes (None: every code). A coder of some codes never marks a
        conversation ``_status = done`` (that would declare the other binary codes absent).
    attempts : int
        Requests per unit before an invalid answer is recorded as missing (with the reason).
    n_ctx, threads
        llama-cpp: context window and CPU threads.
    prompt_template, prompt_hash, prompt_source
        The template text, its sha256, and where it came from (``default`` or a file name).
    codebook : dict
        ``id``, ``version``, ``hash`` of the project's codebook when the coder was added.
    schemas : dict
        The JSON schema of each kind of unit (``turn/user``, ``turn/assistant``,
        ``conversation``), generated from the codebook.
    parent : str or None
        The coder this one was derived from (replicates, paraphrases).
    """

    id: str
    backend: str
    model: str
    model_path: str | None = None
    model_sha256: str | None = None
    model_size: int | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    response_format: str | None = None
    temperature: float = 0.0
    seed: int = 0
    top_p: float | None = None
    max_tokens: int = 512
    context: str = "full"
    max_context_chars: int = 12000
    rationale: bool = False
    #: the codes this coder codes, in codebook order (None: every code)
    codes: list[str] | None = None
    attempts: int = 3
    n_ctx: int = 8192
    threads: int | None = None
    prompt_template: str = ""
    prompt_hash: str = ""
    prompt_source: str = "default"
    codebook: dict[str, str] = field(default_factory=dict)
    schemas: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    created_at: str = ""
    annotate_version: str = ""
    kind: str = "llm"
    format: str = FORMAT

    # --- derived --------------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        """What identifies the model in cache keys: its file hash, else backend + URL + name."""
        if self.model_sha256:
            return f"sha256:{self.model_sha256}"
        return f"{self.backend}:{self.base_url}:{self.model}"

    @property
    def decoding(self) -> dict[str, Any]:
        """The decoding settings every request carries."""
        return {
            "temperature": self.temperature,
            "seed": self.seed,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
        }

    def model_file(self, project_path: Path) -> Path | None:
        """The model file (llama-cpp), resolved against the project folder."""
        if self.model_path is None:
            return None
        path = Path(self.model_path)
        return path if path.is_absolute() else (project_path / path)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> LLMCoder:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


# --- reading ---------------------------------------------------------------------------------


def coder_dir(project_path: FilePath, coder_id: str) -> Path:
    return Path(project_path) / LLM_DIR / coder_id


def llm_coder_ids(project: Any) -> list[str]:
    """The project's coders that are language models, in plan order."""
    return [c for c in project.coders if (coder_dir(project.path, c) / RECORD).is_file()]


def load_coder(project: Any, coder_id: str) -> LLMCoder:
    """The record of an LLM coder of ``project`` (E706 if there is none, E707 if unreadable)."""
    path = coder_dir(project.path, coder_id) / RECORD
    if coder_id not in project.coders or not path.is_file():
        available = ", ".join(llm_coder_ids(project)) or "none yet"
        raise LLMError(Errors.E706.format(coder=coder_id, path=project.path, available=available))
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LLMError(Errors.E707.format(coder=coder_id, path=path, problem=exc)) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("id") != coder_id:
        problem = f"not an {FORMAT} record of coder '{coder_id}'"
        raise LLMError(Errors.E707.format(coder=coder_id, path=path, problem=problem))
    return LLMCoder.from_dict(doc)


# --- adding ----------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """sha256 of a (possibly multi-gigabyte) file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _bad(option: str, value: Any, problem: str) -> LLMError:
    return LLMError(Errors.E701.format(option=option, value=value, problem=problem))


def _check_settings(spec: LLMCoder) -> None:
    if spec.backend not in BACKENDS:
        raise _bad("backend", spec.backend, f"use one of {', '.join(BACKENDS)}")
    if spec.context not in CONTEXTS:
        raise _bad("context", spec.context, f"use one of {', '.join(CONTEXTS)}")
    if not 0 <= spec.temperature <= 2:
        raise _bad("temperature", spec.temperature, "use a number from 0 to 2")
    if spec.top_p is not None and not 0 < spec.top_p <= 1:
        raise _bad("top_p", spec.top_p, "use a number above 0 and at most 1")
    for name in ("max_tokens", "attempts", "n_ctx", "max_context_chars"):
        value = getattr(spec, name)
        if not isinstance(value, int) or value < 1:
            raise _bad(name, value, "use a whole number of at least 1")
    if spec.threads is not None and (not isinstance(spec.threads, int) or spec.threads < 1):
        raise _bad("threads", spec.threads, "use a whole number of at least 1")
    if spec.backend == "openai":
        if not spec.base_url or not str(spec.base_url).startswith(("http://", "https://")):
            raise _bad("base_url", spec.base_url, "give the server's URL, e.g. http://host:8080/v1")
        if spec.response_format not in RESPONSE_FORMATS:
            allowed = ", ".join(RESPONSE_FORMATS)
            raise _bad("response_format", spec.response_format, f"use one of {allowed}")


def _model_fields(project_path: Path, backend: str, model: str) -> dict[str, Any]:
    """llama-cpp: the file's path (relative to the project when below it), sha256 and size."""
    if backend != "llama-cpp":
        return {"model": model}
    path = Path(model).expanduser()
    if not path.is_file():
        raise LLMError(Errors.E702.format(path=model))
    resolved = path.resolve()
    try:
        stored = os.path.relpath(resolved, project_path.resolve())
    except ValueError:  # another drive (Windows)
        stored = str(resolved)
    if stored.startswith(".."):
        stored = str(resolved)
    return {
        "model": resolved.name,
        "model_path": stored,
        "model_sha256": file_sha256(resolved),
        "model_size": resolved.stat().st_size,
    }


def build_coder(
    project: Any,
    coder_id: str,
    *,
    backend: str,
    model: str,
    base_url: str | None = None,
    api_key_env: str | None = None,
    response_format: str | None = None,
    temperature: float = 0.0,
    seed: int = 0,
    top_p: float | None = None,
    max_tokens: int | None = None,
    context: str = "full",
    max_context_chars: int = 12000,
    prompt: FilePath | None = None,
    rationale: bool = False,
    codes: Any = None,
    attempts: int = 3,
    n_ctx: int = 8192,
    threads: int | None = None,
    parent: str | None = None,
) -> LLMCoder:
    """The record of a new LLM coder (checked, model hashed), not yet written."""
    from annotate import __version__

    if not isinstance(coder_id, str) or not ANNOTATOR_ID_RE.fullmatch(coder_id):
        raise _bad("id", coder_id, "use lower-case letters, digits, '.', '_' or '-' (1-64)")
    template, source = _prompt.read_template(prompt)
    codebook = project.codebook
    if codes is not None:
        codes = [c.strip() for c in codes.split(",")] if isinstance(codes, str) else list(codes)
        unknown = [c for c in codes if c not in codebook.code_ids]
        if unknown or not codes:
            problem = (
                f"not codes of {codebook.id}: {unknown}; codes: {', '.join(codebook.code_ids)}"
            )
            raise _bad("codes", codes, problem if unknown else "give at least one code")
        codes = [c for c in codebook.code_ids if c in set(codes)]
    schemas = _schema.coder_schemas(codebook, rationale=rationale, codes=codes)
    if max_tokens is None:
        max_tokens = max(_schema.token_budget(s) for s in schemas.values()) if schemas else 256
    spec = LLMCoder(
        id=coder_id,
        backend=backend,
        base_url=base_url.rstrip("/") if base_url else None,
        api_key_env=api_key_env if backend == "openai" else None,
        response_format=(response_format or "json_schema") if backend == "openai" else None,
        temperature=float(temperature),
        seed=int(seed),
        top_p=None if top_p is None else float(top_p),
        max_tokens=max_tokens,
        context=context,
        max_context_chars=max_context_chars,
        rationale=bool(rationale),
        codes=codes,
        attempts=attempts,
        n_ctx=n_ctx,
        threads=threads if backend == "llama-cpp" else None,
        prompt_template=template,
        prompt_hash=_prompt.template_hash(template),
        prompt_source=source,
        codebook={"id": codebook.id, "version": str(codebook.version), "hash": codebook.hash},
        schemas=schemas,
        parent=parent,
        created_at=CLOCK.now().isoformat(timespec="seconds"),
        annotate_version=__version__,
        model=model,
    )
    _check_settings(spec)
    return replace(spec, **_model_fields(Path(project.path), backend, model))


def add_llm_coder(project: Any, coder_id: str, **settings: Any) -> LLMCoder:
    """Add a language model as a coder of ``project``.

    Writes the coder's immutable record (``llm/<coder_id>/coder.json``) and adds the id to
    the plan through :meth:`Project.add_coders`, so the coder takes part in assignment (the
    reliability sample, when every coder codes it), status and exports like a person.

    Parameters
    ----------
    project : Project
    coder_id : str
        A new coder id, e.g. ``"smol-v1"``.
    **settings
        ``backend`` ("llama-cpp" or "openai"), ``model`` (a GGUF file, or a served model's
        name), and optionally ``base_url``, ``api_key_env``, ``response_format``,
        ``temperature`` (0), ``seed`` (0), ``top_p``, ``max_tokens``, ``context``
        ("full" | "upto"), ``max_context_chars``, ``prompt`` (a template file),
        ``rationale``, ``codes`` (a subset of the codebook), ``attempts`` (3), ``n_ctx``,
        ``threads``, ``parent``. See
        :class:`LLMCoder` and docs/llm.md.

    Returns
    -------
    LLMCoder
        The record as written.
    """
    spec = build_coder(project, coder_id, **settings)
    write_record(project, spec)
    return spec


def write_record(project: Any, spec: LLMCoder) -> None:
    """Write a new coder's record once (exclusive) and add its id to the plan (E705 if the
    id is taken); the folder is removed again when the plan refuses the id."""
    coder_id = spec.id
    folder = coder_dir(project.path, coder_id)
    if coder_id in project.coders:
        where = "an LLM coder" if (folder / RECORD).is_file() else "a coder of the plan"
        raise LLMError(Errors.E705.format(coder=coder_id, path=project.path, where=where))
    if (folder / RECORD).exists():
        where = f"'{folder}' holds the record of an unfinished `llm add`: delete that folder"
        raise LLMError(Errors.E705.format(coder=coder_id, path=project.path, where=where))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, folder, "create") from exc
    check_real_path(folder, Path(project.path))  # no link planted in the project (E003)
    data = json.dumps(spec.to_dict(), indent=2, ensure_ascii=False).encode() + b"\n"
    try:
        write_file(folder / RECORD, data, exclusive=True)
    except FileExistsError:
        where = "another process added it a moment ago"
        raise LLMError(Errors.E705.format(coder=coder_id, path=project.path, where=where)) from None
    try:
        project.add_coders([coder_id])
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # ours, just written: the coder never existed
        raise
