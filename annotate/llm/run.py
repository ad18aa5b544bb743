"""Running an LLM coder: every unit once, resumable, cached, audited, stored like a person's.

The parts, each usable on its own (another engine, e.g. a cluster, reuses them):

* :func:`select_conversations` and :func:`plan_units`: which units to code, in an order that
  lets llama.cpp reuse its prompt cache (per block of conversations: one kind of unit at a
  time, then conversation, then turn), leaving out units the coder has labels for.
* :class:`UnitCoder`: one unit's requests (attempt after attempt until the answer passes
  :func:`~annotate.llm.schema.check_answer`), with the cache consulted before each request; it
  returns a :class:`UnitResult` and turns it into label events and audit records.
* :func:`run_llm_coder`: the local engine: a progress bar with rate and ETA, a thread pool for
  HTTP backends, the audit log written and fsync'd before a unit's labels are appended through
  ``project.append`` (validated and durable), ``_status = done`` once every unit of a
  conversation has labels, and one run per coder at a time.

**Resuming.** What is coded is read from the store: a unit with any label (or a ``_flag``
recording a missing answer) of the coder is not coded again. A run killed between an answer
and its labels finds the answer in the cache (the audit log) and stores it without asking the
model again. The labels of one unit are one append (one file): all or nothing.

**Retries.** Attempt ``k`` (from 0) uses seed ``seed + k``. After an answer cut off at
``max_tokens`` the next attempt has twice the room and the same temperature; after any other
invalid answer it samples at temperature 0.5 or more (a greedy model would repeat itself). Every
attempt is in the audit log with its settings. After ``attempts`` invalid answers the unit is
recorded as missing: a ``_flag`` label whose note gives the reason, and no value. A run with
``retry_missing`` continues such a unit from its last attempt (read from the audit log) and, on
success, clears the flag.
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from annotate.clock import CLOCK
from annotate.errors import Errors, LLMError, Warnings
from annotate.llm import audit as _audit
from annotate.llm.backends import Backend, Completion, Request, make_backend
from annotate.llm.coder import LLMCoder, coder_dir, file_sha256, load_coder
from annotate.llm.prompt import PromptBuilder, WorkUnit
from annotate.llm.schema import Answer, InvalidAnswerError, check_answer

SELECTIONS = ("reliability", "queue", "all")
#: conversations per block: within a block, units are grouped by kind for the prompt cache
BLOCK = 16
#: the lowest temperature of a retry (a greedy model would give the same answer again)
RETRY_TEMPERATURE = 0.5
_KIND_ORDER = {"turn/user": 0, "turn/assistant": 1, "conversation": 2}


# --- what to code ----------------------------------------------------------------------------


def select_conversations(project: Any, coder_id: str, which: Any) -> list[str]:
    """Conversation ids to code, in order.

    ``reliability``: the project's reliability sample (whoever it is assigned to: the point is
    comparing the model with the people who coded it), in this coder's queue order where
    assigned; ``queue``: the coder's queue; ``all``: every conversation of the corpus; a list of
    conversation ids: those (E701 names any the corpus lacks).
    """
    if not isinstance(which, str):
        ids = [str(c) for c in dict.fromkeys(which)]
        known = set(project.turns["conversation_id"].astype(str))
        unknown = [c for c in ids if c not in known]
        if unknown:
            problem = f"not in the corpus: {unknown[:5]}"
            raise LLMError(Errors.E701.format(option="conversations", value=ids, problem=problem))
        return ids
    if which not in SELECTIONS:
        problem = f"use one of {', '.join(SELECTIONS)}, or a list of conversation ids"
        raise LLMError(Errors.E701.format(option="conversations", value=which, problem=problem))
    if which == "all":
        return list(project.corpus.conversation_ids)
    queue = project.queue(coder_id)
    if which == "queue":
        return queue
    a = project.assignments
    if not a["is_reliability"].any():
        problem = "the project has no reliability sample; use queue, all or a list of ids"
        raise LLMError(Errors.E701.format(option="conversations", value=which, problem=problem))
    rel = a[a["is_reliability"]].groupby("conversation_id")["position"].min().sort_values()
    rel_ids = [str(c) for c in rel.index]
    rel_set = set(rel_ids)
    first = [c for c in queue if c in rel_set]
    return first + [c for c in rel_ids if c not in set(first)]


def plan_units(
    turns: Any, conversation_ids: list[str], builder: PromptBuilder, *, block: int = BLOCK
) -> list[WorkUnit]:
    """Every unit of these conversations that has codes, in prompt-cache-friendly order.

    Parameters
    ----------
    turns : DataFrame
        ``conversation_id, turn_index, role`` of the corpus (``Project.turns``).
    conversation_ids : list of str
        In coding order; each block of ``block`` conversations is ordered by kind of unit
        (user turns, assistant turns, conversations), then conversation, then turn.
    builder : PromptBuilder
        Says which codes apply to a unit.
    """
    sub = turns[turns["conversation_id"].isin(conversation_ids)]
    by_conv: dict[str, list[tuple[int, str]]] = {}
    for cid, ti, role in zip(sub["conversation_id"], sub["turn_index"], sub["role"], strict=True):
        by_conv.setdefault(str(cid), []).append((int(ti), str(role)))
    has_conv_codes = bool(builder.codes_for(WorkUnit("conversation", "", None, None)))
    out: list[WorkUnit] = []
    for start in range(0, len(conversation_ids), block):
        chunk = conversation_ids[start : start + block]
        rank = {c: i for i, c in enumerate(chunk)}
        units = [
            WorkUnit("turn", cid, ti, role)
            for cid in chunk
            for ti, role in sorted(by_conv.get(cid, []))
        ]
        units = [u for u in units if builder.codes_for(u)]
        if has_conv_codes:
            units += [WorkUnit("conversation", cid, None, None) for cid in chunk]
        units.sort(key=lambda u: (_KIND_ORDER[u.kind], rank[u.conversation_id], u.turn_index or 0))
        out.extend(units)
    return out


def coded_units(labels: Any) -> tuple[set[tuple], set[tuple]]:
    """Units a coder has code labels for, and units recorded as missing (only a ``_flag``)."""
    turns = [None if pd.isna(t) else int(t) for t in labels["turn_index"]]
    keys = [
        (str(u), str(c), t)
        for u, c, t in zip(labels["unit"], labels["conversation_id"], turns, strict=True)
    ]
    codes = labels["code_id"].astype(str).tolist()
    coded = {k for k, c in zip(keys, codes, strict=True) if not c.startswith("_")}
    flagged = {k for k, c in zip(keys, codes, strict=True) if c == "_flag"}
    return coded, flagged - coded


# --- one unit --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tried:
    """What the next attempt at a unit needs to know of the previous one."""

    attempt: int
    max_tokens: int
    temperature: float
    finish_reason: str | None


@dataclass
class Attempt:
    """One request at a unit and what came of it."""

    attempt: int
    key: str
    request: Request
    completion: Completion
    cached: bool
    valid: bool
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    cached_from: str | None = None  #: the run that first got this answer


@dataclass
class UnitResult:
    """The outcome of coding one unit: an answer, or the reason there is none."""

    unit: WorkUnit
    attempts: list[Attempt]
    answer: Answer | None
    prompt_hash: str
    user_message: str
    system_message: str
    omitted_turns: int = 0

    @property
    def reason(self) -> str | None:
        return None if self.answer else (self.attempts[-1].reason if self.attempts else None)

    @property
    def elapsed_ms(self) -> int:
        return round(sum(a.completion.latency_ms or 0 for a in self.attempts))


@dataclass
class UnitState:
    """A unit part-way through its attempts (:meth:`UnitCoder.start`, :meth:`UnitCoder.advance`):
    what an engine that sends the requests itself (annotate.llm.ray_engine) carries between
    them. Plain data: it pickles."""

    unit: WorkUnit
    messages: list[dict[str, str]]
    prompt_hash: str
    omitted_turns: int
    prev: Tried | None
    first: int  #: the first attempt's number (after ``prev`` when a missing unit is retried)
    next_attempt: int = -1
    attempts: list[Attempt] = field(default_factory=list)
    answer: Answer | None = None
    #: the request that waits for a model answer (None when done or not started)
    pending: Request | None = None
    done: bool = False

    def __post_init__(self) -> None:
        if self.next_attempt < 0:
            self.next_attempt = self.first


class UnitCoder:
    """Codes units for one LLM coder: prompt, request, cache, check, retry.

    Parameters
    ----------
    spec : LLMCoder
        The coder's record (settings, template, schemas).
    codebook : Codebook
        The project's codebook (its hash must be the record's).
    cache : ResponseCache
        Consulted before every request.
    run_id : str
    """

    def __init__(self, spec: LLMCoder, codebook: Any, cache: _audit.ResponseCache, run_id: str):
        if codebook.hash != spec.codebook.get("hash"):
            found = f"{codebook.id} v{codebook.version} ({codebook.hash[:12]})"
            cb = spec.codebook
            expected = f"{cb.get('id')} v{cb.get('version')} ({str(cb.get('hash'))[:12]})"
            raise LLMError(Errors.E712.format(coder=spec.id, expected=expected, found=found))
        self.spec = spec
        self.codebook = codebook
        self.cache = cache
        self.run_id = run_id
        self.builder = PromptBuilder(
            codebook,
            spec.prompt_template,
            context=spec.context,
            budget=spec.max_context_chars,
            rationale=spec.rationale,
            codes=spec.codes,
        )

    def request(
        self, messages: list[dict[str, str]], unit: WorkUnit, attempt: int, prev: Tried | None
    ) -> Request:
        """The request of attempt ``attempt`` after the attempt ``prev`` (see Retries)."""
        s = self.spec
        temperature, max_tokens = s.temperature, s.max_tokens
        if prev is not None:
            cut = prev.finish_reason == "length"
            # cut off: the same decoding with twice the room; else: sample, greedy would repeat
            max_tokens = prev.max_tokens * 2 if cut else prev.max_tokens
            temperature = prev.temperature if cut else max(prev.temperature, RETRY_TEMPERATURE)
        return Request(
            messages=messages,
            schema=s.schemas[unit.kind],
            temperature=temperature,
            seed=s.seed + attempt,
            top_p=s.top_p,
            max_tokens=max_tokens,
        )

    def key(self, request: Request, unit: WorkUnit) -> str:
        """The cache key: (model, messages, schema, decoding settings, unit)."""
        body = asdict(request) | {"model": self.spec.model_id, "unit": list(unit.key)}
        return _audit.digest(body)

    def code(
        self,
        unit: WorkUnit,
        turns: list[tuple[int, str, str]],
        backend: Backend,
        prev: Tried | None = None,
    ) -> UnitResult:
        """Code one unit: attempt after attempt until an answer passes the schema check.

        ``prev``: the last attempt of an earlier run, when a unit recorded as missing is
        retried (attempts then continue from it, with new seeds and settings).
        """
        state = self.advance(self.start(unit, turns, prev))
        while state.pending is not None:
            state = self.advance(state, backend.complete(state.pending))
        return self.result(state)

    # --- the same, one step at a time (for engines that send the requests themselves) ---------

    def start(
        self, unit: WorkUnit, turns: list[tuple[int, str, str]], prev: Tried | None = None
    ) -> UnitState:
        """A unit before its first attempt: the prompt built (see :meth:`advance`)."""
        prompt = self.builder.build(unit, turns)
        first = 0 if prev is None else prev.attempt + 1
        return UnitState(unit, prompt.messages, prompt.hash, prompt.omitted_turns, prev, first)

    def advance(self, state: UnitState, completion: Completion | None = None) -> UnitState:
        """Give the pending request its answer (``completion``), then go on, attempt after
        attempt with answers from the cache, until the unit has a valid answer, has used its
        attempts, or needs a model answer: then ``state.pending`` is that request and
        ``state.done`` is False. The same steps as :meth:`code`, which calls it."""
        codes = self.builder.codes_for(state.unit)
        last = state.first + self.spec.attempts
        while not state.done:
            k = state.next_attempt
            hit = None
            if state.pending is None:
                req = self.request(state.messages, state.unit, k, state.prev)
                key = self.key(req, state.unit)
                hit = self.cache.get(key)
                if hit is None:
                    state.pending = req  # a model answer is needed
                    return state
                completion = Completion(
                    text=hit["text"],
                    finish_reason=hit.get("finish_reason"),
                    prompt_tokens=hit.get("prompt_tokens"),
                    completion_tokens=hit.get("completion_tokens"),
                    model=hit.get("model"),
                    fingerprint=hit.get("fingerprint"),
                    latency_ms=hit.get("latency_ms") or 0.0,
                )
            elif completion is None:
                return state  # still waiting
            else:
                req = state.pending
                key = self.key(req, state.unit)
            att = Attempt(k, key, req, completion, cached=hit is not None, valid=False)
            completion, state.pending = None, None
            if hit is not None:
                att.cached_from = hit.get("run_id")
            try:
                state.answer = check_answer(
                    att.completion.text, codes, rationale=self.spec.rationale
                )
            except InvalidAnswerError as exc:
                cut = " (the answer was cut off at max_tokens)"
                att.reason = str(exc) + (cut if att.completion.finish_reason == "length" else "")
            else:
                att.valid, att.notes = True, state.answer.notes
            state.attempts.append(att)
            state.next_attempt = k + 1
            if state.answer is not None or state.next_attempt >= last:
                state.done = True
            else:
                state.prev = Tried(k, req.max_tokens, req.temperature, att.completion.finish_reason)
        return state

    def result(self, state: UnitState) -> UnitResult:
        """The outcome of a finished unit (:meth:`advance` left it ``done``)."""
        return UnitResult(
            state.unit,
            state.attempts,
            state.answer,
            state.prompt_hash,
            state.messages[-1]["content"],
            state.messages[0]["content"],
            state.omitted_turns,
        )

    # --- what a result becomes ---------------------------------------------------------------

    def events(self, result: UnitResult, *, clear_flag: bool = False) -> list[dict[str, Any]]:
        """The label events of a result: one per code (and a ``_memo`` of the rationales), or
        a ``_flag`` saying why there is no answer."""
        u = result.unit
        base: dict[str, Any] = {
            "annotator_id": self.spec.id,
            "unit": u.unit,
            "conversation_id": u.conversation_id,
            "turn_index": u.turn_index,
            "session_id": self.run_id,
            "elapsed_ms": result.elapsed_ms,
            "context": self.spec.context if u.unit == "turn" else "full",
            "exposure": "none",  # a model sees no other coder's labels
        }
        if result.answer is None:
            n = len(result.attempts)
            note = f"LLM coder {self.spec.id}: no valid answer in {n} attempt(s): {result.reason}"
            return [base | {"code_id": "_flag", "value": "1", "note": note[:2000]}]
        out = [base | {"code_id": c, "value": v} for c, v in result.answer.values.items()]
        for event in out[1:]:  # the unit's time is counted once (status sums elapsed_ms)
            event["elapsed_ms"] = None
        if result.answer.rationales:
            memo = "\n".join(f"{c}: {why}" for c, why in result.answer.rationales.items())
            out.append(base | {"code_id": "_memo", "value": f"LLM rationale\n{memo}"})
        if clear_flag:
            out.append(base | {"code_id": "_flag", "value": None, "op": "clear"})
        return out

    def audit_records(self, result: UnitResult, log: _audit.AuditLog) -> list[dict[str, Any]]:
        """The audit records of a result (system messages first, once per run)."""
        u, s = result.unit, self.spec
        h, system = log.system_record(result.system_message)
        records = [system] if system else []
        for att in result.attempts:
            c, r = att.completion, att.request
            records.append(
                {
                    "type": "request",
                    "run_id": self.run_id,
                    "coder_id": s.id,
                    "at": CLOCK.now().isoformat(timespec="milliseconds"),
                    "unit": u.unit,
                    "conversation_id": u.conversation_id,
                    "turn_index": u.turn_index,
                    "role": u.role,
                    "attempt": att.attempt,
                    "final": att is result.attempts[-1],
                    "key": att.key,
                    "prompt_hash": result.prompt_hash,
                    "template_hash": s.prompt_hash,
                    "schema": u.kind,
                    "backend": s.backend,
                    "model": s.model,
                    "model_id": s.model_id,
                    "seed": r.seed,
                    "temperature": r.temperature,
                    "top_p": r.top_p,
                    "max_tokens": r.max_tokens,
                    "messages": [
                        {"role": "system", "sha256": h},
                        {"role": "user", "content": result.user_message},
                    ],
                    "omitted_turns": result.omitted_turns,
                    "text": c.text,
                    "finish_reason": c.finish_reason,
                    "prompt_tokens": c.prompt_tokens,
                    "completion_tokens": c.completion_tokens,
                    "fingerprint": c.fingerprint,
                    "response_model": c.model,
                    "latency_ms": round(c.latency_ms, 2),
                    "transport_attempts": c.transport_attempts,
                    "cached": att.cached,
                    "cached_from": att.cached_from,
                    "valid": att.valid,
                    "reason": att.reason,
                    "notes": att.notes or None,
                    "response": c.raw or None,
                }
            )
        return records


# --- the local engine ------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What a run did (``annotate llm run`` prints it)."""

    coder_id: str
    run_id: str
    conversations: int
    units_planned: int
    units_already_coded: int
    units_coded: int = 0
    units_missing: int = 0
    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    conversations_done: int = 0
    seconds: float = 0.0
    audit_log: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_model(spec: LLMCoder, project_path: Path, folder: Path) -> None:
    """The model file is the one the coder was added with (E702, E703); the check is skipped
    while size and modification time match the last verified state (``model.verified``)."""
    path = spec.model_file(project_path)
    if path is None:
        return
    if not path.is_file():
        raise LLMError(Errors.E702.format(path=path))
    st = path.stat()
    stamp = folder / "model.verified"
    state = f"{path.resolve()}\n{st.st_size}\n{st.st_mtime_ns}\n{spec.model_sha256}\n"
    try:
        if stamp.read_text(encoding="utf-8") == state:
            return
    except OSError:
        pass
    found = file_sha256(path)
    if found != spec.model_sha256:
        raise LLMError(
            Errors.E703.format(coder=spec.id, path=path, found=found, expected=spec.model_sha256)
        )
    from annotate.durable import write_file

    write_file(stamp, state.encode("utf-8"))


class _Conversations:
    """Turn texts of the conversations being coded (one corpus read per conversation)."""

    def __init__(self, corpus: Any) -> None:
        self.corpus = corpus
        self._cache: dict[str, list[tuple[int, str, str]]] = {}

    def __call__(self, conversation_id: str) -> list[tuple[int, str, str]]:
        if conversation_id not in self._cache:
            if len(self._cache) > 4 * BLOCK:
                self._cache.clear()
            df = self.corpus.conversation(conversation_id)
            self._cache[conversation_id] = [
                (int(i), str(r), "" if t is None or t != t else str(t))
                for i, r, t in zip(df["turn_index"], df["role"], df["text"], strict=True)
            ]
        return self._cache[conversation_id]


def run_llm_coder(
    project: Any,
    coder_id: str,
    *,
    conversations: Any = "reliability",
    limit: int | None = None,
    workers: int = 1,
    rate: float | None = None,
    use_cache: bool = True,
    cache_from: Any = None,
    retry_missing: bool = False,
    progress: bool = True,
    backend: Backend | None = None,
    engine: str = "local",
    engine_options: dict[str, Any] | None = None,
) -> RunSummary:
    """Code units with an LLM coder of the project.

    Parameters
    ----------
    project : Project
    coder_id : str
        An LLM coder (``annotate.llm.add_llm_coder``).
    conversations : {"reliability", "queue", "all"} or list of str
        The reliability sample, the coder's queue, every conversation of the corpus, or these
        conversation ids.
    limit : int, optional
        Code at most this many units (of those not coded yet) in this run.
    workers : int
        Requests in flight at once (HTTP backends; the in-process backend takes one).
    rate : float, optional
        At most this many requests per second (HTTP backends).
    use_cache : bool
        Reuse answers the same model gave to the same request (default True).
    cache_from : path or list of paths, optional
        Other projects (or folders holding projects) whose audit logs also answer identical
        requests, e.g. a pilot project; default: the folders in the environment variable
        ``ANNOTATE_LLM_CACHE_FROM`` (separated like ``PATH``), if set.
    retry_missing : bool
        Code again the units recorded as missing by an earlier run.
    progress : bool
        Show a progress bar (rate and ETA).
    backend : Backend, optional
        A backend to use instead of the one the record describes (e.g. one already loaded).
    engine : {"local", "ray"}
        ``local`` (default): this process (a thread pool for HTTP backends). ``ray``: Ray Data
        over the corpus's row groups, the same prompts, checks, cache, audit log and labels
        (the ``scale`` extra; :mod:`annotate.llm.ray_engine`, docs/scale.md).
    engine_options : dict, optional
        Options of the ray engine (:class:`annotate.llm.ray_engine.RayOptions`: ``address``,
        ``transport``, ``batch``, ...).

    Returns
    -------
    RunSummary
    """
    from annotate.project import Project

    spec = load_coder(project, coder_id)
    if limit is not None and limit < 0:
        raise LLMError(Errors.E701.format(option="limit", value=limit, problem="use 0 or more"))
    if workers < 1:
        raise LLMError(Errors.E701.format(option="workers", value=workers, problem="use 1 or more"))
    if engine not in ("local", "ray"):
        problem = "use local or ray"
        raise LLMError(Errors.E701.format(option="engine", value=engine, problem=problem))
    make_engine: Any = _Engine
    if engine == "ray":
        from annotate.llm.ray_engine import ray_engine

        make_engine = ray_engine(spec, workers=workers, rate=rate, **(engine_options or {}))
    elif engine_options:
        problem = "engine options are for the ray engine"
        raise LLMError(Errors.E701.format(option="engine_options", value=engine_options,
                                          problem=problem))  # fmt: skip
    also = _audit.cache_roots(cache_from) if use_cache else ()
    folder = coder_dir(project.path, coder_id)
    run_id = CLOCK.event_id()
    with _audit.RunLock(folder, coder_id, run_id):
        # a coder's own session: blind, reads and writes this coder's labels only
        session = Project.open(project.path, coder=coder_id, corpus=project.corpus_path)
        coder = UnitCoder(
            spec,
            session.codebook,
            _audit.ResponseCache(session.path, enabled=use_cache, also=also),
            run_id,
        )
        conv_ids = select_conversations(session, coder_id, conversations)
        units = plan_units(session.turns, conv_ids, coder.builder)
        coded, missing = coded_units(session.labels())
        redo = missing if retry_missing else set()
        todo = [u for u in units if u.key not in coded and (u.key not in missing or u.key in redo)]
        if limit is not None:
            todo = todo[:limit]
        n_before = sum(1 for u in units if u.key in coded)
        summary = RunSummary(coder_id, run_id, len(conv_ids), len(units), n_before)
        if todo and spec.backend == "llama-cpp" and backend is None:
            _check_model(spec, Path(session.path), folder)
        own_backend = backend is None and bool(todo) and engine == "local"
        if own_backend:
            backend = make_backend(spec, Path(session.path), workers=workers, rate=rate)
        try:
            make_engine(session, coder, units, todo, coded, missing, redo, summary).run(
                backend, workers=workers, progress=progress
            )
        finally:
            if own_backend and backend is not None:
                backend.close()
    return summary


class _Engine:
    """The local loop: results in, audit records and labels out, conversations marked done."""

    def __init__(
        self,
        session: Any,
        coder: UnitCoder,
        units: list[WorkUnit],
        todo: list[WorkUnit],
        coded: set,
        missing: set,
        redo: set,
        summary: RunSummary,
    ) -> None:
        self.session, self.coder, self.todo, self.summary = session, coder, todo, summary
        self.redo = redo
        self.missing = set(missing)
        self.coded = set(coded)
        self.per_conv: dict[str, list[tuple]] = {}
        for u in units:
            self.per_conv.setdefault(u.conversation_id, []).append(u.key)
        status = session.labels()
        status = status[(status["code_id"] == "_status") & (status["value"] == "done")]
        self.done_convs = set(status["conversation_id"].astype(str))
        self.texts = _Conversations(session.corpus)
        self.started = time.perf_counter()
        self.examples: list[str] = []
        self._last: dict[tuple, Tried] | None = None

    def run(self, backend: Backend | None, *, workers: int, progress: bool) -> None:
        from tqdm.auto import tqdm

        self.log = _audit.AuditLog(
            coder_dir(self.session.path, self.coder.spec.id), self.summary.run_id
        )
        self.summary.audit_log = str(self.log.path.relative_to(self.session.path))
        bar = tqdm(
            total=len(self.todo),
            desc=f"llm {self.coder.spec.id}",
            unit="unit",
            disable=not progress,
            dynamic_ncols=True,
        )
        try:
            self._mark_done(list(self.per_conv))  # conversations finished by a killed run
            if not self.todo:
                return
            assert backend is not None  # the caller opens one whenever units are due
            n = min(workers, getattr(backend, "max_workers", 1))
            if n <= 1:
                for unit in self.todo:
                    texts = self.texts(unit.conversation_id)
                    self._store(self.coder.code(unit, texts, backend, self._first(unit)))
                    bar.update(1)
            else:
                self._pool(backend, n, bar)
        finally:
            bar.close()
            self.log.close()
            self.summary.seconds = round(time.perf_counter() - self.started, 3)
        if self.summary.units_missing:
            self._warn_missing()

    def _pool(self, backend: Any, n: int, bar: Any) -> None:
        """HTTP: ``n`` requests in flight; results stored by this thread as they come."""
        queue = iter(self.todo)
        pending: set[Future] = set()
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="annotate-llm") as pool:
            try:
                while True:
                    while len(pending) < 2 * n:
                        unit = next(queue, None)
                        if unit is None:
                            break
                        texts = self.texts(unit.conversation_id)
                        first = self._first(unit)
                        pending.add(pool.submit(self.coder.code, unit, texts, backend, first))
                    if not pending:
                        break
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        self._store(fut.result())
                        bar.update(1)
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise

    def _first(self, unit: WorkUnit) -> Tried | None:
        """A retried missing unit continues after its last attempt (from the audit log)."""
        if unit.key not in self.redo:
            return None
        if self._last is None:
            self._last = {}
            for r in _audit.read_audit(self.session.path, self.coder.spec.id):
                ti = r.get("turn_index")
                k = (r.get("unit"), r.get("conversation_id"), None if ti is None else int(ti))
                if k not in self._last or r["attempt"] >= self._last[k].attempt:
                    self._last[k] = Tried(
                        r["attempt"], r["max_tokens"], r["temperature"], r.get("finish_reason")
                    )
        return self._last.get(unit.key)

    def _store(self, result: UnitResult) -> None:
        """Audit first (durable), then the unit's labels in one append, then its status."""
        self._store_batch([result])

    def _store_batch(self, results: list[UnitResult]) -> None:
        """Audit records of the results first (one fsync), then their labels in one append
        (one file: all or nothing), then ``_status = done`` for the conversations they
        complete. One result is the local engine's unit; an engine that collects answers
        (annotate.llm.ray_engine) stores them in batches."""
        s = self.summary
        records: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for result in results:
            records.extend(self.coder.audit_records(result, self.log))
            for att in result.attempts:
                if att.cached:
                    s.cache_hits += 1
                else:
                    s.requests += 1
                    self.coder.cache.add(
                        att.key,
                        asdict(att.completion) | {"run_id": s.run_id, "coder_id": s.coder_id},
                    )
                s.prompt_tokens += att.completion.prompt_tokens or 0
                s.completion_tokens += att.completion.completion_tokens or 0
            clear = result.unit.key in self.redo and result.answer is not None
            events.extend(self.coder.events(result, clear_flag=clear))
        if not results:
            return
        self.log.write(records)
        self.session.append(events)
        finished = []
        for result in results:
            u = result.unit
            if result.answer is None:
                s.units_missing += 1
                self.missing.add(u.key)
                self.examples.append(f"{u.label()}: {result.reason}")
            else:
                s.units_coded += 1
                self.coded.add(u.key)
                self.missing.discard(u.key)
                finished.append(u.conversation_id)
        if finished:
            self._mark_done(list(dict.fromkeys(finished)))

    def _mark_done(self, conversation_ids: list[str]) -> None:
        """``_status = done`` for conversations whose every unit now has labels."""
        events = []
        if self.coder.spec.codes is not None:
            return  # "done" would make the codes it does not code implicitly absent
        for cid in conversation_ids:
            keys = self.per_conv.get(cid, [])
            if cid in self.done_convs or not keys or not all(k in self.coded for k in keys):
                continue
            events.append(
                {
                    "annotator_id": self.coder.spec.id,
                    "unit": "conversation",
                    "conversation_id": cid,
                    "turn_index": None,
                    "code_id": "_status",
                    "value": "done",
                    "session_id": self.summary.run_id,
                    "note": f"coded by LLM coder {self.coder.spec.id}",
                    "exposure": "none",
                }
            )
            self.done_convs.add(cid)
        if events:
            self.session.append(events)
            self.summary.conversations_done += len(events)

    def _warn_missing(self) -> None:
        examples = self.examples
        warnings.warn(
            Warnings.W702.format(
                coder=self.coder.spec.id,
                n=self.summary.units_missing,
                attempts=self.coder.spec.attempts,
                example=examples[0] if examples else "-",
            ),
            stacklevel=3,
        )
