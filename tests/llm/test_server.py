"""The OpenAI-protocol backend against llama.cpp's own server on 127.0.0.1 (the real model):
concurrent requests, retries with backoff through a flaky proxy, a clean error when the server
is gone, and the same answers as the in-process backend."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from annotate.errors import LLMError
from annotate.llm import OpenAIBackend, add_llm_coder, read_audit, run_llm_coder
from annotate.llm.backends import RateLimiter, backoff_delay

from .conftest import free_port, make_project

pytestmark = pytest.mark.slow


def _add_http(project, coder_id: str, url: str) -> None:
    add_llm_coder(project, coder_id, backend="openai", base_url=url, model="smollm2",
                  response_format="json_object", n_ctx=2048)  # fmt: skip


def test_llm_server_backend_codes_concurrently_like_in_process(coded, llama_server) -> None:
    """--workers 2 against the server: valid labels for every unit asked, and the same raw
    answers as the in-process run (same model, prompts, schema, seed, temperature 0)."""
    project, _ = coded
    _add_http(project, "smol-http", llama_server)
    s = run_llm_coder(project, "smol-http", workers=2, limit=6, use_cache=False, progress=False)
    assert (s.units_coded, s.units_missing, s.requests) == (6, 0, 6)
    labels = project.labels(annotator="smol-http")
    for row in labels[~labels["code_id"].str.startswith("_")].itertuples():
        project.codebook.code(row.code_id).check_value(row.value)
    records = read_audit(project.path, "smol-http")
    assert len(records) == 6 and all(r["response"]["object"] == "chat.completion" for r in records)
    assert all(r["response_model"] == "smollm2" and r["prompt_tokens"] > 0 for r in records)
    local = {(r["conversation_id"], r["turn_index"]): r for r in read_audit(project.path, "smol")}
    for r in records:
        mine = local[(r["conversation_id"], r["turn_index"])]
        assert r["prompt_hash"] == mine["prompt_hash"]  # the same prompt went out
        assert r["text"] == mine["text"]  # and the same answer came back


class _Flaky(BaseHTTPRequestHandler):
    """A proxy to the real server that answers 503 (Retry-After: 0) to every other request."""

    upstream = ""
    count = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            type(self).count += 1
            fail = type(self).count % 2 == 1
        if fail:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(b"busy")
            return
        resp = httpx.post(self.upstream + self.path.removeprefix("/v1"), content=body,
                          headers={"Content-Type": "application/json"}, timeout=300)  # fmt: skip
        self.send_response(resp.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(resp.content)))
        self.end_headers()
        self.wfile.write(resp.content)

    def log_message(self, *args) -> None:
        pass


def test_llm_server_retries_with_backoff(tmp_path, llama_server) -> None:
    _Flaky.upstream, _Flaky.count = llama_server, 0
    proxy = ThreadingHTTPServer(("127.0.0.1", free_port()), _Flaky)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        project = make_project(tmp_path)
        url = f"http://127.0.0.1:{proxy.server_address[1]}/v1"
        _add_http(project, "flaky", url)
        s = run_llm_coder(project, "flaky", limit=2, progress=False)
        assert (s.units_coded, s.requests) == (2, 2)
        records = read_audit(project.path, "flaky")
        assert [r["transport_attempts"] for r in records] == [2, 2]  # a 503, then the answer
        assert _Flaky.count == 4
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_llm_server_gone_is_one_clear_error(tmp_path) -> None:
    """No server: E709 after the retries; nothing stored, and a later run can resume."""
    project = make_project(tmp_path)
    url = f"http://127.0.0.1:{free_port()}/v1"
    _add_http(project, "gone", url)
    backend = OpenAIBackend(url, "smollm2", response_format="json_object", max_retries=2,
                            backoff=0.01)  # fmt: skip
    with pytest.raises(LLMError, match=r"E709.*after 3 attempt"):
        run_llm_coder(project, "gone", backend=backend, progress=False)
    assert project.labels(annotator="gone").empty
    assert not (project.path / "llm" / "gone" / "run.lock").exists()


def test_llm_rate_limit_and_backoff() -> None:
    limiter = RateLimiter(50.0)
    start = time.monotonic()
    for _ in range(6):
        limiter.wait()
    assert time.monotonic() - start >= 5 / 50 - 1e-3  # starts at least 20 ms apart
    assert backoff_delay(3, "2", base=0.5) == 2.0  # the server's Retry-After wins
    assert 0 <= backoff_delay(3, None, base=0.5) <= 4.0  # full jitter up to base * 2**attempt
    assert backoff_delay(10, None, base=0.5, cap=30) <= 30
