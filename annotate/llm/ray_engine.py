"""The Ray engine of LLM runs: ``annotate llm run PROJECT --coder X --engine ray`` (the ``scale``
extra; docs/scale.md).

It gives exactly the labels of the local engine because it runs the same steps of
:class:`~annotate.llm.run.UnitCoder` (``start``: the prompt; ``advance``: the cache, the schema
check, the next attempt's settings) and stores through the same ``_Engine`` code; only where the
prompts are built and who sends the requests differ:

1. **The driver** (this process) plans the run as the local engine does (the same units, the
   same resume rule), holds the run lock and is the only writer: audit records (fsync'd), then
   the labels in one ``project.append`` per batch of units, then ``_status = done``.
2. **Prompts** are built by Ray tasks over the corpus's parquet row groups: each task reads the
   row groups of its conversations once (:mod:`annotate.corpus._ray`) and turns each unit into
   a :class:`~annotate.llm.run.UnitState` waiting for its first request.
3. **Requests** go through one of three transports, each a stage of the same Ray Data stream:

   * ``http`` (coders with ``--backend openai``): ``ray.data.llm``'s
     ``HttpRequestProcessorConfig`` (a fixed pool of ``actors``, one by default; retries with
     backoff on 408/429/502/503/504). Our ``session_factory`` (:class:`_Session`) sends the
     requests as the local engine does: ``workers`` in flight at once over the pool, in the
     order of the plan, at most ``rate`` per second. The request body is the local backend's,
     passed through the processor as JSON text: Arrow would otherwise merge the JSON schemas of
     different kinds of unit into one struct and send ``null`` for the properties a schema
     lacks. The session also times each request.
   * ``client``: our own backend in an actor pool of ``workers`` (``map_batches``): the GGUF
     model of a ``llama-cpp`` coder loaded in each actor (the file at the same path on every
     node), or the httpx client of an ``openai`` coder.
   * ``vllm`` (GPU nodes): ``ray.data.llm``'s ``vLLMEngineProcessorConfig`` running the coder's
     model (``model`` = a Hugging Face id or a path) with the schema as structured output.
     Needs vLLM on the nodes; not tested on machines without a GPU.

4. The driver advances each answered unit: a valid answer (or the last attempt) finishes it;
   an invalid one makes the next attempt's request, sent in a further round through the same
   transport. Units with answers in the cache (a resumed run) are advanced on the driver before
   anything is sent.

**Resuming.** Labels are written by the driver only, in batches, each audit-first: a kill of
the driver loses at most the answers not yet stored (answers in the audit log are cached), and
the next run, local or Ray, codes only units without labels, so no unit is coded twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import pickle
import re
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from annotate.corpus._ray import (
    RayConnectError,
    check_address,
    conversation_rows,
    group_by_row_group,
    import_ray,
    ray_session,
    read_rows,
    row_group_ends,
)
from annotate.errors import Errors, LLMError
from annotate.llm import audit as _audit
from annotate.llm.backends import Completion, Request, _completion, make_backend
from annotate.llm.coder import LLMCoder, coder_dir
from annotate.llm.prompt import WorkUnit
from annotate.llm.run import UnitCoder, UnitResult, UnitState, _Engine

TRANSPORTS = ("auto", "http", "client", "vllm")
_COLUMNS = ["turn_index", "role", "text"]


@dataclass(frozen=True)
class RayOptions:
    """Options of the Ray engine (``run_llm_coder(..., engine="ray", engine_options=...)``).

    Parameters
    ----------
    address : str, optional
        The cluster: ``auto``, ``HOST:PORT`` (the head's GCS) or ``ray://HOST:10001`` (Ray
        Client). None: a Ray this process joined, else a local one for this run.
    transport : {"auto", "http", "client", "vllm"}
        Who sends the requests (module docstring); ``auto``: ``http`` for ``openai`` coders,
        ``client`` for ``llama-cpp`` coders.
    batch : int
        Units per Ray batch, and at most per append of labels.
    actors : int
        ``http``: Ray actors that send the requests (at most ``workers``). Together they keep
        ``workers`` requests in flight (``workers / actors`` each, asynchronously), at
        ``rate`` per second over all; one is enough for one server or endpoint, more spread
        the requests' I/O over the cluster's nodes.
    worker_cpus : float
        CPUs Ray reserves per request actor (HTTP actors mostly wait).
    max_retries : int
        Transport retries per request.
    init : dict
        Further ``ray.init`` arguments for a Ray this run starts itself.
    vllm : dict
        ``vLLMEngineProcessorConfig`` arguments for the ``vllm`` transport (``engine_kwargs``,
        ``accelerator_type``, ...).
    """

    address: str | None = None
    transport: str = "auto"
    batch: int = 16
    actors: int = 1
    worker_cpus: float = 0.25
    max_retries: int = 5
    init: dict[str, Any] = field(default_factory=dict)
    vllm: dict[str, Any] = field(default_factory=dict)


def _bad(option: str, value: Any, problem: str) -> LLMError:
    return LLMError(Errors.E701.format(option=option, value=value, problem=problem))


def ray_engine(spec: LLMCoder, *, workers: int, rate: float | None, **options: Any) -> Any:
    """A factory of :class:`RayEngine` for ``run_llm_coder`` (checks the options first)."""
    known = set(RayOptions.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        raise _bad("engine_options", unknown, f"unknown; the ray engine takes {sorted(known)}")
    opts = RayOptions(**options)
    transport = opts.transport
    if transport not in TRANSPORTS:
        raise _bad("transport", transport, f"use one of {', '.join(TRANSPORTS)}")
    if transport == "auto":
        transport = "http" if spec.backend == "openai" else "client"
    if transport in ("http", "vllm") and spec.backend != "openai":
        problem = f"it needs a coder with --backend openai (this one is {spec.backend})"
        raise _bad("transport", transport, problem)
    if opts.batch < 1:
        raise _bad("batch", opts.batch, "use 1 or more")
    if opts.actors < 1:
        raise _bad("actors", opts.actors, "use 1 or more")
    if import_ray() is None:
        what = "LLM coding with --engine ray"
        raise LLMError(Errors.E730.format(what=what, package="ray"))
    try:
        check_address(opts.address)  # a typo fails here, in seconds, before the run starts
    except RayConnectError as exc:
        raise _cannot_join(opts.address, spec, exc) from None
    if spec.backend == "openai" and opts.address is None:
        _check_server(spec)  # a local Ray takes half a minute to start: not for a server down
    return functools.partial(RayEngine, opts=opts, transport=transport, workers=workers, rate=rate)


# --- what travels through Ray (plain data) ----------------------------------------------------


def _request_json(req: Request) -> str:
    return json.dumps(asdict(req), ensure_ascii=False)


def _row(state: UnitState) -> dict[str, Any]:
    assert state.pending is not None
    return {
        "unit": state.unit.label(),
        "state": pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL),
        "request": _request_json(state.pending),
    }


@dataclass(frozen=True)
class _Job:
    """What the prompt tasks need (pickled once into the stage)."""

    spec: LLMCoder
    codebook: Any
    run_id: str
    corpus_path: str


def _start_batch(batch: Any, job: _Job) -> Any:
    """A prompt task (``batch``: a pyarrow table of tasks): read its row groups, yield the
    units' states waiting for a request."""
    no_cache = _audit.ResponseCache(Path("."), enabled=False)
    coder = UnitCoder(job.spec, job.codebook, no_cache, job.run_id)
    for task in batch.to_pylist():  # one task: conversations that start in one row group
        row_groups, convs, units = task["row_groups"], task["conversations"], task["units"]
        first, cols = read_rows(job.corpus_path, [int(g) for g in row_groups], _COLUMNS)
        texts: dict[str, list[tuple[int, str, str]]] = {}
        for cid, start, n in json.loads(convs):
            lo = start - first
            texts[cid] = [
                (int(i), str(r), "" if t is None else str(t))
                for i, r, t in zip(
                    cols["turn_index"][lo : lo + n],
                    cols["role"][lo : lo + n],
                    cols["text"][lo : lo + n],
                    strict=True,
                )
            ]
        out: list[dict[str, Any]] = []
        for u, prev in json.loads(units):
            unit = WorkUnit(*u)
            tried = None if prev is None else _tried(prev)
            state = coder.advance(coder.start(unit, texts[unit.conversation_id], tried))
            out.append(_row(state))
            if len(out) >= 64:
                yield _columns(out)
                out = []
        if out:
            yield _columns(out)


def _tried(prev: list[Any]) -> Any:
    from annotate.llm.run import Tried

    return Tried(*prev)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {k: [r[k] for r in rows] for k in rows[0]}


# --- transport: ray.data.llm's HTTP processor -------------------------------------------------


class _Gate:
    """What the HTTP requests of one Ray actor share, whatever batch they belong to: at most
    ``inflight`` at once (the local engine's ``--workers``), started in the order they were
    made, and at least ``1 / rate`` seconds apart (the local engine's rate limiter)."""

    def __init__(self, inflight: int, rate: float | None) -> None:
        self.slots = asyncio.Semaphore(inflight)
        self.interval = 1.0 / rate if rate else 0.0
        self.next = 0.0

    async def pace(self) -> None:
        if self.interval:
            loop = asyncio.get_running_loop()
            now = loop.time()
            start = max(now, self.next)
            self.next = start + self.interval
            if start > now:
                await asyncio.sleep(start - now)


#: one gate per event loop (one per actor: Ray Data runs an actor's async batches in one loop)
_GATES: dict[tuple[int, int, float | None], _Gate] = {}


class _Post:
    """``session.post(...)`` of :class:`_Session`: the request is under way from the moment it
    was made; awaited by the HTTP stage, it gives the :class:`_Response`."""

    def __init__(self, task: asyncio.Task[_Response]) -> None:
        self.task = task

    def __await__(self) -> Any:
        return self.task.__await__()


class _Response:
    """The server's response, read in full, whose ``json()`` is one JSON text (Arrow keeps it
    as it is)."""

    def __init__(self, status: int, reason: Any, text: str, latency_ms: float, tries: int):
        self.status, self.reason, self.text = status, reason, text
        self.latency_ms, self.tries = latency_ms, tries

    async def json(self) -> dict[str, str]:
        doc: dict[str, Any] = {"latency_ms": self.latency_ms, "tries": self.tries}
        if self.status == 200:
            try:
                doc["body"] = json.loads(self.text)
            except ValueError:
                doc["error"] = f"the response is not JSON ({self.text[:120]!r})"
        else:
            doc["error"] = f"HTTP {self.status}: {self.text[:200]}"
        return {"annotate": json.dumps(doc, ensure_ascii=False)}

    async def __aenter__(self) -> _Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass


class _Session:
    """The ``session_factory`` of the HTTP processor (one session per batch).

    ray.data.llm's HTTP stage makes the requests of a batch, then awaits them one after the
    other; an aiohttp request starts only when awaited, so each actor would keep one request in
    flight. Here a request starts when it is made, through the actor's :class:`_Gate`: at most
    ``inflight`` at once, in the order of the batch, ``rate`` per second. Against one model
    server this is what the local engine does (``--workers`` requests in flight, neighbouring
    units of the plan, whose prompts share their beginning: llama.cpp reuses it). The body is
    the one annotate built (carried as JSON text in the payload); the answer comes back as JSON
    text with its timing."""

    def __init__(self, inflight: int = 1, rate: float | None = None) -> None:
        import aiohttp

        key = (id(asyncio.get_running_loop()), inflight, rate)
        if key not in _GATES:
            _GATES[key] = _Gate(inflight, rate)
        self.gate = _GATES[key]
        self.client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
        self.tries: dict[str, int] = {}
        self.tasks: list[asyncio.Task[_Response]] = []

    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:  # requests of a batch that failed: not left running
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.close()

    def post(self, url: str, headers: Any = None, data: Any = None, **_: Any) -> _Post:
        payload = json.loads(json.loads(data)["annotate"])
        key, body = payload["unit"], payload["body"]
        self.tries[key] = self.tries.get(key, 0) + 1
        task = asyncio.ensure_future(self._send(url, headers, body, self.tries[key]))
        self.tasks.append(task)
        return _Post(task)

    async def _send(self, url: str, headers: Any, body: str, tries: int) -> _Response:
        async with self.gate.slots:
            await self.gate.pace()
            start = time.perf_counter()
            async with self.client.post(url, headers=headers, data=body) as resp:
                text = await resp.text()
            latency = (time.perf_counter() - start) * 1000
            return _Response(resp.status, resp.reason, text, latency, tries)


@functools.lru_cache(maxsize=4)
def _body_maker(base_url: str, model: str, response_format: str) -> Any:
    from annotate.llm.backends import OpenAIBackend

    return OpenAIBackend(base_url, model, response_format=response_format, workers=1)


def _http_payload(row: dict[str, Any], spec: LLMCoder) -> dict[str, Any]:
    maker = _body_maker(spec.base_url or "", spec.model, spec.response_format or "json_schema")
    body = maker.body(Request(**json.loads(row["request"])))
    text = json.dumps({"unit": row["unit"], "body": json.dumps(body, ensure_ascii=False)})
    return {"payload": {"annotate": text}}


def _http_answer(row: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(row["http_response"]["annotate"])
    if "error" in doc:
        answer = {"error": doc["error"], "tries": doc["tries"]}
    else:
        c = _completion(doc["body"], doc["latency_ms"], doc["tries"])
        answer = asdict(c)
    return {"unit": row["unit"], "state": row["state"], "answer": json.dumps(answer)}


# --- transport: our own backend in an actor pool ----------------------------------------------


class _ClientWorker:
    """An actor with one backend of the coder (a GGUF model loaded once, or an httpx client)."""

    def __init__(self, spec: LLMCoder, project_path: str, rate: float | None, retries: int):
        self.backend = make_backend(
            spec, Path(project_path), workers=1, rate=rate, max_retries=retries
        )

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        answers = []
        for text in batch["request"]:
            try:
                c = self.backend.complete(Request(**json.loads(text)))
            except LLMError as exc:
                answers.append(json.dumps({"error": str(exc), "tries": 0}))
            else:
                answers.append(json.dumps(asdict(c)))
        return {"unit": list(batch["unit"]), "state": list(batch["state"]), "answer": answers}


# --- transport: vLLM engines on GPU nodes -----------------------------------------------------


def _vllm_payload(row: dict[str, Any]) -> dict[str, Any]:
    req = Request(**json.loads(row["request"]))
    params: dict[str, Any] = {
        "temperature": req.temperature,
        "max_tokens": req.max_tokens,
        # a JSON text, not an object: Arrow would merge the schemas of different units
        "structured_outputs": {"json": json.dumps(req.schema)},
    }
    if req.seed is not None:
        params["seed"] = req.seed
    if req.top_p is not None:
        params["top_p"] = req.top_p
    return {"messages": req.messages, "sampling_params": params}


def _vllm_answer(row: dict[str, Any], model: str) -> dict[str, Any]:
    req = Request(**json.loads(row["request"]))
    n = int(row.get("num_generated_tokens") or 0)
    c = Completion(
        text=str(row.get("generated_text") or ""),
        finish_reason="length" if n >= req.max_tokens else "stop",
        prompt_tokens=int(row.get("num_input_tokens") or 0) or None,
        completion_tokens=n or None,
        model=f"vllm:{model}",
        latency_ms=float(row.get("time_taken_llm") or 0.0) * 1000,
    )
    return {"unit": row["unit"], "state": row["state"], "answer": json.dumps(asdict(c))}


# --- the driver -------------------------------------------------------------------------------


class _ModelCache(_audit.ResponseCache):
    """The response cache restricted to this coder's model and the units of the run (the
    local engine's index reads every record of every coder; a key names its model and unit,
    so the others can never match)."""

    def __init__(self, project_path: Path, *, enabled: bool, model_id: str, units: set) -> None:
        super().__init__(project_path, enabled=enabled)
        self.model_id, self.units = model_id, units
        self.cached_units: set = set()

    def _load(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._index is None:
                index: dict[str, dict[str, Any]] = {}
                for path in _audit.audit_files(self.project_path):
                    for rec in _audit.read_log(path):
                        if rec.get("type") != "request" or rec.get("model_id") != self.model_id:
                            continue
                        ti = rec.get("turn_index")
                        unit = (
                            rec.get("unit"),
                            rec.get("conversation_id"),
                            None if ti is None else int(ti),
                        )
                        if unit in self.units and rec.get("key") and "text" in rec:
                            index.setdefault(rec["key"], {k: rec.get(k) for k in self.FIELDS})
                            self.cached_units.add(unit)
                self._index = index
            return self._index


class RayEngine(_Engine):
    """The local engine's bookkeeping and storage, with the work done by Ray (module docstring)."""

    def __init__(
        self,
        *args: Any,
        opts: RayOptions,
        transport: str,
        workers: int,
        rate: float | None,
    ) -> None:
        super().__init__(*args)
        self.opts, self.transport, self.workers = opts, transport, workers
        self.rate = rate
        self.error: str | None = None

    # the local engine's entry point
    def run(self, backend: Any, *, workers: int, progress: bool) -> None:
        from tqdm.auto import tqdm

        if backend is not None:
            raise _bad("backend", backend, "the ray engine makes its own backends")
        spec = self.coder.spec
        self.log = _audit.AuditLog(coder_dir(self.session.path, spec.id), self.summary.run_id)
        self.summary.audit_log = str(self.log.path.relative_to(self.session.path))
        bar = tqdm(
            total=len(self.todo),
            desc=f"llm {spec.id} (ray)",
            unit="unit",
            disable=not progress,
            dynamic_ncols=True,
        )
        try:
            self._mark_done(list(self.per_conv))  # conversations finished by a killed run
            if self.todo:
                with contextlib.ExitStack() as stack:
                    session = ray_session(self.opts.address, self.opts.init, progress=progress)
                    try:
                        ray = stack.enter_context(session)
                    except RayConnectError as exc:
                        raise _cannot_join(self.opts.address, spec, exc) from None
                    self._run(ray, bar)
        finally:
            bar.close()
            self.log.close()
            self.summary.seconds = round(time.perf_counter() - self.started, 3)
        if self.error is not None:
            raise LLMError(
                Errors.E709.format(
                    url=spec.base_url or spec.model,
                    what="the Ray job",
                    attempts=self.opts.max_retries + 1,
                    problem=self.error,
                    model=spec.model,
                )
            )
        if self.summary.units_missing:
            self._warn_missing()

    def _run(self, ray: Any, bar: Any) -> None:
        spec = self.coder.spec
        keys = {u.key for u in self.todo}
        cache = _ModelCache(
            Path(self.session.path),
            enabled=self.coder.cache.enabled,
            model_id=spec.model_id,
            units=keys,
        )
        self.coder.cache = cache
        if cache.enabled:
            len(cache)  # read the audit logs once: which units may be answered from them
        fresh = [u for u in self.todo if u.key not in cache.cached_units]
        pending: list[UnitState] = []
        done: list[UnitResult] = []
        for u in self.todo:  # units with cached answers: on the driver, as the local engine
            if u.key in cache.cached_units:
                state = self.coder.advance(
                    self.coder.start(u, self.texts(u.conversation_id), self._first(u))
                )
                if state.done:
                    done.append(self.coder.result(state))
                else:
                    pending.append(state)
        self._store_results(done, bar)
        if fresh:
            pending += self._stream(ray, self._prompts(ray, fresh), bar)
        while pending and self.error is None:  # further attempts after invalid answers
            rows = [_row(s) for s in pending]
            pending = self._stream(ray, ray.data.from_items(rows), bar)

    def _prompts(self, ray: Any, units: list[WorkUnit]) -> Any:
        """A dataset of the units' first requests, built by tasks over row groups."""
        corpus = self.session.corpus
        convs = corpus.conversations
        rows = conversation_rows(
            [str(c) for c in convs["conversation_id"]],
            [int(n) for n in convs["n_turns"]],
            list(dict.fromkeys(u.conversation_id for u in units)),
        )
        # (position in the plan, unit, its last attempt) per conversation
        by_conv: dict[str, list[tuple[int, Any, Any]]] = {}
        for pos, u in enumerate(units):
            prev = self._first(u)
            by_conv.setdefault(u.conversation_id, []).append(
                (
                    pos,
                    [u.unit, u.conversation_id, u.turn_index, u.role],
                    None if prev is None else list(asdict(prev).values()),
                )
            )
        planned: list[tuple[int, dict[str, Any]]] = []
        for row_groups, cids in group_by_row_group(rows, row_group_ends(corpus.path)):
            # a task's units in the order of the plan, which groups neighbouring units by kind
            # (their prompts share their beginning, which llama.cpp's server reuses), not
            # conversation by conversation
            mine = sorted((x for c in cids for x in by_conv[c]), key=lambda x: x[0])
            task = {
                "row_groups": row_groups,
                "conversations": json.dumps([[c, *rows[c]] for c in cids]),
                "units": json.dumps([[u, prev] for _, u, prev in mine]),
            }
            planned.append((mine[0][0], task))
        planned.sort(key=lambda x: x[0])  # the tasks, too, as the plan goes
        tasks = [task for _, task in planned]
        job = _Job(
            spec=self.coder.spec,
            codebook=self.session.codebook,
            run_id=self.summary.run_id,
            corpus_path=str(Path(corpus.path).resolve()),
        )
        ds = ray.data.from_items(tasks, override_num_blocks=len(tasks))
        return ds.map_batches(
            _start_batch, fn_kwargs={"job": job}, batch_size=1, batch_format="pyarrow", num_cpus=0.5
        )

    def _requests(self, ray: Any, ds: Any) -> Any:
        """The transport stage: rows (unit, state, request) -> rows (unit, state, answer)."""
        spec, o = self.coder.spec, self.opts
        if self.transport == "client":
            return ds.map_batches(
                _ClientWorker,
                fn_constructor_kwargs={
                    "spec": spec,
                    "project_path": str(Path(self.session.path).resolve()),
                    "rate": None if self.rate is None else self.rate / self.workers,
                    "retries": o.max_retries,
                },
                batch_size=o.batch,
                concurrency=self.workers,
                num_cpus=o.worker_cpus if spec.backend == "openai" else 1,
            )
        with warnings.catch_warnings():  # ray.data.llm's own pydantic-v1 deprecations
            warnings.simplefilter("ignore", DeprecationWarning)
            from ray.data.llm import (
                HttpRequestProcessorConfig,
                build_processor,
                vLLMEngineProcessorConfig,
            )

        if self.transport == "http":
            headers = _auth_headers(spec)
            # a fixed pool of `actors`, which share the `workers` requests in flight and the
            # rate (_Session): ray.data.llm's own qps would pace each batch apart
            actors = min(o.actors, self.workers)
            config = HttpRequestProcessorConfig(
                url=f"{(spec.base_url or '').rstrip('/')}/chat/completions",
                headers=headers or None,
                max_retries=o.max_retries,
                base_retry_wait_time_in_s=0.5,
                batch_size=o.batch,
                concurrency=(actors, actors),
                session_factory=functools.partial(
                    _Session,
                    inflight=-(-self.workers // actors),
                    rate=None if self.rate is None else self.rate / actors,
                ),
                http_request_stage={"num_cpus": o.worker_cpus},
            )
            processor = build_processor(
                config,
                preprocess=functools.partial(_http_payload, spec=spec),
                postprocess=_http_answer,
            )
            return processor(ds)
        settings: dict[str, Any] = {
            "model_source": spec.model,
            "batch_size": o.batch,
            "concurrency": self.workers,
        }
        vconfig = vLLMEngineProcessorConfig(**(settings | o.vllm))
        processor = build_processor(
            vconfig,
            preprocess=_vllm_payload,
            postprocess=functools.partial(_vllm_answer, model=spec.model),
        )
        return processor(ds)

    def _stream(self, ray: Any, ds: Any, bar: Any) -> list[UnitState]:
        """Send the requests of ``ds``; store finished units batch by batch as they come; return
        the units that need a further attempt.

        Blocks of ``batch`` units: a Ray task hands its output back only when it ends, so a
        block as large as a row group would reach the driver (and the store) only after
        thousands of answers; a kill would lose them all."""
        ds = ds.repartition(target_num_rows_per_block=self.opts.batch)
        out = self._requests(ray, ds)
        pending: list[UnitState] = []
        try:
            for batch in out.iter_batches(batch_size=self.opts.batch, batch_format="pyarrow"):
                done: list[UnitResult] = []
                for state_bytes, answer in zip(
                    batch["state"].to_pylist(), batch["answer"].to_pylist(), strict=True
                ):
                    state: UnitState = pickle.loads(state_bytes)
                    doc = json.loads(answer)
                    if "error" in doc:
                        self.error = self.error or doc["error"]
                        continue  # not stored: the next run asks again
                    state = self.coder.advance(state, Completion(**doc))
                    if state.done:
                        done.append(self.coder.result(state))
                    else:
                        pending.append(state)
                self._store_results(done, bar)
        except Exception as exc:
            if isinstance(exc, LLMError | OSError):
                raise
            # a failed Ray task (e.g. the HTTP stage out of retries): what is stored stays
            self.error = _problem(exc)
            return []
        return pending

    def _store_results(self, results: list[UnitResult], bar: Any) -> None:
        if results:
            self._store_batch(results)
            bar.update(len(results))


def _cannot_join(address: str | None, spec: LLMCoder, exc: RayConnectError) -> LLMError:
    where = address or "a local Ray"
    return LLMError(Errors.E731.format(address=where, coder=spec.id, problem=exc))


def _check_server(spec: LLMCoder) -> None:
    """E709 at once when nothing listens at the coder's server (from this machine; the Ray
    workers of a remote cluster may see another network, so only for a local Ray)."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(spec.base_url or "")
    if not url.hostname:
        return
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=10):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        problem = f"nothing answers at {url.hostname}:{port} ({why})"
        url_text, model = spec.base_url or "", spec.model
        raise LLMError(Errors.E709.format(url=url_text, what="the first request", attempts=1,
                                          problem=problem, model=model)) from None  # fmt: skip


_RETRIES = re.compile(r"Reached maximum retries of (\d+) .*Previous Exception: ([^.\n]*)", re.S)


def _problem(exc: BaseException) -> str:
    """One line saying what failed in a Ray job: the original exception, not Ray's wrapper
    (a RayTaskError's ``cause``, the innermost of a chain)."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    text = str(exc)
    tries = _RETRIES.search(text)
    if tries:  # the HTTP stage's message quotes the whole request: say what it means
        last = tries[2].strip() or "unknown"
        return f"no answer after {int(tries[1]) + 1} tries (last: {last})"
    first = next((x for x in text.strip().splitlines() if x.strip()), "")
    return f"{type(exc).__name__}: {first[:300]}"


def _auth_headers(spec: LLMCoder) -> dict[str, str]:
    import os

    key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
    return {"Authorization": f"Bearer {key}"} if key else {}
