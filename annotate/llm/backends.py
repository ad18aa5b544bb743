"""Backends: where a prompt goes and how its answer comes back.

Two backends share one small protocol (:class:`Backend`: ``complete(request) -> Completion``):

* :class:`LlamaCppBackend` runs a GGUF model in this process with llama-cpp-python (the ``llm``
  extra). The JSON schema becomes a llama.cpp grammar, so the answer is well-formed by
  construction. One request at a time (a llama.cpp context is not thread-safe).
* :class:`OpenAIBackend` speaks the OpenAI chat-completions protocol over HTTP (httpx), which
  OpenAI, vLLM, llama.cpp's server and Ollama all serve. Requests may run concurrently; each is
  retried with exponential backoff (and ``Retry-After``) on connection errors, 408, 409, 429
  and 5xx, and a shared rate limit spaces request starts.

A backend only transports. Prompts, schema checks, retries on invalid answers, the cache and
the audit log live in :mod:`annotate.llm.run`, so every engine (this process, a thread pool, a
Ray cluster) applies them the same way.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from annotate.errors import Errors, LLMError

#: HTTP statuses worth retrying (timeouts, conflicts, rate limits, server errors)
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Request:
    """One chat-completion request: messages, the answer's schema and the decoding settings."""

    messages: list[dict[str, str]]
    schema: dict[str, Any]
    temperature: float = 0.0
    seed: int | None = 0
    top_p: float | None = None
    max_tokens: int = 512


@dataclass
class Completion:
    """A backend's answer: the text and what the backend said about it."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    #: the server's ``system_fingerprint`` (its model and configuration), when it sends one
    fingerprint: str | None = None
    latency_ms: float = 0.0
    #: HTTP attempts used (1 = no transport retry)
    transport_attempts: int = 1
    raw: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """What the run needs from a backend."""

    name: str
    #: how many requests may be in flight at once (1: in-process)
    max_workers: int

    def complete(self, request: Request) -> Completion: ...

    def close(self) -> None: ...


def _completion(body: dict[str, Any], latency_ms: float, attempts: int = 1) -> Completion:
    """A :class:`Completion` from an OpenAI-style response body."""
    choice = (body.get("choices") or [{}])[0]
    usage = body.get("usage") or {}
    text = (choice.get("message") or {}).get("content") or ""
    return Completion(
        text=text,
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        model=body.get("model"),
        fingerprint=body.get("system_fingerprint"),
        latency_ms=latency_ms,
        transport_attempts=attempts,
        raw=body,
    )


# --- in-process: llama.cpp -------------------------------------------------------------------


def import_llama_cpp() -> Any:
    """The llama_cpp module (E704 when the llm extra is missing).

    OpenMP's threads spin while they wait by default, which slows any other busy process on
    the machine (and this one, by 20-fold, when the two compete for cores): ask for passive
    waiting unless the user chose otherwise.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import llama_cpp
    except ImportError as exc:
        raise LLMError(
            Errors.E704.format(
                what="The llama-cpp backend", package="llama-cpp-python", extra="llm"
            )
        ) from exc
    return llama_cpp


class LlamaCppBackend:
    """A GGUF model run in this process by llama-cpp-python.

    Parameters
    ----------
    model_path : path
        The GGUF file.
    n_ctx : int
        Context window (tokens); prompt plus answer must fit.
    threads : int, optional
        CPU threads (default: llama.cpp's choice). Results can differ in the last bits with
        the thread count, so a coder records it.
    seed : int
        The model's initial seed (each request sets its own too).
    """

    name = "llama-cpp"
    max_workers = 1

    def __init__(
        self,
        model_path: Path | str,
        *,
        n_ctx: int = 8192,
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.threads = threads
        self.seed = seed
        self._llama: Any = None
        self._lock = threading.Lock()

    @property
    def llama(self) -> Any:
        """The loaded model (loaded on first use)."""
        if self._llama is None:
            llama_cpp = import_llama_cpp()
            if not self.model_path.is_file():
                raise LLMError(Errors.E702.format(path=self.model_path))
            kwargs: dict[str, Any] = {"n_ctx": self.n_ctx, "seed": self.seed, "verbose": False}
            if self.threads:
                kwargs |= {"n_threads": self.threads, "n_threads_batch": self.threads}
            try:
                self._llama = llama_cpp.Llama(model_path=str(self.model_path), **kwargs)
            except (ValueError, RuntimeError) as exc:
                raise LLMError(Errors.E711.format(path=self.model_path, problem=exc)) from exc
        return self._llama

    def complete(self, request: Request) -> Completion:
        llama = self.llama
        kwargs: dict[str, Any] = {
            "messages": request.messages,
            "response_format": {"type": "json_object", "schema": request.schema},
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.top_p is not None:
            kwargs["top_p"] = request.top_p
        with self._lock:  # one request at a time per context
            start = time.perf_counter()
            body = llama.create_chat_completion(**kwargs)
            latency = (time.perf_counter() - start) * 1000
        return _completion(dict(body), latency)

    def close(self) -> None:
        llama, self._llama = self._llama, None
        if llama is not None and hasattr(llama, "close"):
            llama.close()


# --- HTTP: the OpenAI protocol ---------------------------------------------------------------


class RateLimiter:
    """Spaces request starts at least ``1 / rate`` seconds apart (thread-safe); 0: no limit."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


def backoff_delay(attempt: int, retry_after: str | None, base: float, cap: float = 30.0) -> float:
    """Seconds to wait before HTTP attempt ``attempt + 1``: the server's ``Retry-After`` when
    it sends seconds, else exponential backoff with full jitter (``base * 2**attempt``)."""
    if retry_after:
        try:
            return min(cap, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return random.uniform(0, min(cap, base * 2**attempt))


class OpenAIBackend:
    """A model behind an OpenAI-compatible chat-completions endpoint.

    Parameters
    ----------
    base_url : str
        Up to the API version, e.g. ``http://127.0.0.1:8080/v1``; requests go to
        ``{base_url}/chat/completions``.
    model : str
        The served model's name.
    response_format : {"json_schema", "json_object", "none"}
        How the schema is asked for: OpenAI, vLLM and Ollama take ``json_schema``;
        llama.cpp's Python server takes ``json_object`` with the schema inside.
    api_key_env : str, optional
        Name of the environment variable holding the API key (sent as a bearer token).
    workers : int
        Requests in flight at once (the connection pool is sized for them).
    max_retries : int
        Transport retries per request (connection errors, 408/409/429/5xx).
    rate : float, optional
        At most this many request starts per second.
    timeout : float
        Seconds to wait for one response.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        response_format: str = "json_schema",
        api_key_env: str | None = None,
        workers: int = 4,
        max_retries: int = 5,
        rate: float | None = None,
        timeout: float = 600.0,
        backoff: float = 0.5,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise LLMError(
                Errors.E704.format(what="The openai backend", package="httpx", extra="llm")
            ) from exc
        self._httpx = httpx
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.response_format = response_format
        self.max_workers = max(1, int(workers))
        self.max_retries = max_retries
        self.backoff = backoff
        self.limiter = RateLimiter(rate)
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        limits = httpx.Limits(max_connections=self.max_workers + 2)
        self.client = httpx.Client(headers=headers, timeout=timeout, limits=limits)

    def body(self, request: Request) -> dict[str, Any]:
        """The JSON body of a request."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if self.response_format == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "labels", "schema": request.schema, "strict": True},
            }
        elif self.response_format == "json_object":
            body["response_format"] = {"type": "json_object", "schema": request.schema}
        return body

    def complete(self, request: Request) -> Completion:
        body = self.body(request)
        url = f"{self.base_url}/chat/completions"
        problem = "no attempt made"
        for attempt in range(self.max_retries + 1):
            self.limiter.wait()
            start = time.perf_counter()
            retry_after = None
            try:
                resp = self.client.post(url, json=body)
            except self._httpx.HTTPError as exc:  # connection refused, reset, timeout
                problem = f"{type(exc).__name__}: {exc}"
            else:
                latency = (time.perf_counter() - start) * 1000
                if resp.status_code == 200:
                    try:
                        return _completion(resp.json(), latency, attempt + 1)
                    except ValueError:
                        problem = f"the response is not JSON ({resp.text[:120]!r})"
                else:
                    problem = f"HTTP {resp.status_code}: {resp.text[:200]}"
                    if resp.status_code not in RETRY_STATUS:
                        break  # a request the server will never accept: say so now
                    retry_after = resp.headers.get("retry-after")
            if attempt < self.max_retries:
                time.sleep(backoff_delay(attempt, retry_after, self.backoff))
        raise LLMError(
            Errors.E709.format(
                url=self.base_url,
                what="a request",
                attempts=attempt + 1,
                problem=problem,
                model=self.model,
            )
        )

    def close(self) -> None:
        self.client.close()


def make_backend(
    spec: Any,
    project_path: Path,
    *,
    workers: int = 1,
    rate: float | None = None,
    max_retries: int = 5,
) -> Backend:
    """The backend of an LLM coder's record."""
    if spec.backend == "llama-cpp":
        path = spec.model_file(project_path)
        return LlamaCppBackend(path, n_ctx=spec.n_ctx, threads=spec.threads, seed=spec.seed)
    return OpenAIBackend(
        spec.base_url,
        spec.model,
        response_format=spec.response_format,
        api_key_env=spec.api_key_env,
        workers=workers,
        max_retries=max_retries,
        rate=rate,
    )
