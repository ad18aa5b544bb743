"""The Ray engines' errors: one catalogue message, no traceback, nothing written, when Ray is
not installed (E730, E130), the cluster address is wrong or nobody answers there (E731, E133),
the model server is down (E709 before Ray starts) or answers with an error inside the Ray job
(E709 with the server's answer, no label stored)."""

from __future__ import annotations

import http.server
import json
import sys
import threading

import pytest
from click.testing import CliRunner, Result

from annotate.cli import main
from annotate.errors import CorpusError, LLMError
from annotate.llm import add_llm_coder, run_llm_coder
from annotate.nlp import mask_corpus
from annotate.project import Project

from .conftest import NEEDS_SCALE, free_port, make_project


def _cli(*args: str, monkeypatch, without_ray: bool = False) -> Result:
    """The command line, in this process (click's CliRunner; a subprocess would cost seconds
    of imports per call); ``without_ray``: Ray made unimportable, as without the scale extra."""
    with monkeypatch.context() as m:
        if without_ray:
            m.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
        m.setenv("RAY_USAGE_STATS_ENABLED", "0")
        return CliRunner().invoke(main, list(args))


def _one_error(res: Result, code: str) -> str:
    """One catalogue error on stderr, exit code 1, no traceback (the command's own exception
    handling turned it into one line; anything else reaches CliRunner as an exception)."""
    assert res.exit_code == 1, (res.exit_code, res.output, res.exception)
    assert isinstance(res.exception, SystemExit), res.exception
    assert f"[{code}]" in res.stderr, res.stderr[-2000:]
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    return res.stderr


@pytest.fixture
def setup(tmp_path):
    """A project with an openai coder whose server is down (a free port), and its corpus."""
    project = make_project(tmp_path)
    url = f"http://127.0.0.1:{free_port()}/v1"
    add_llm_coder(project, "down", backend="openai", base_url=url, model="m",
                  response_format="json_object")  # fmt: skip
    return project, tmp_path / "corpus"


def _no_labels(project, coder: str) -> None:
    assert len(Project.open(project.path).labels(annotator=coder)) == 0
    assert not (project.path / "llm" / coder / "run.lock").exists()


def test_ray_missing_is_one_error(setup, tmp_path, monkeypatch) -> None:
    project, corpus = setup
    run = ["llm", "run", str(project.path), "--coder", "down", "--engine", "ray"]
    text = _one_error(_cli(*run, monkeypatch=monkeypatch, without_ray=True), "E730")
    assert "scale extra" in text
    _no_labels(project, "down")
    out = tmp_path / "masked"
    mask = ["corpus", "mask", str(corpus), "--out", str(out), "--engine", "ray", "--no-names"]
    res = _cli(*mask, monkeypatch=monkeypatch, without_ray=True)
    assert "scale extra" in _one_error(res, "E130")
    assert not out.exists()


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("nonsense", "it is not an address"),
        ("http://head:6379", "it is not an address"),
        ("127.0.0.1:{port}", "nothing answers at 127.0.0.1:{port} (Connection refused)"),
        ("ray://127.0.0.1:{port}", "nothing answers at 127.0.0.1:{port} (Connection refused)"),
    ],
)
def test_ray_bad_address_is_one_error(setup, tmp_path, address: str, says: str) -> None:
    pytest.importorskip("ray", reason=NEEDS_SCALE)
    project, corpus = setup
    port = free_port()
    address, says = address.format(port=port), says.format(port=port)
    with pytest.raises(LLMError, match=r"^\[E731\]") as err:
        run_llm_coder(project, "down", progress=False, engine="ray",
                      engine_options={"address": address})  # fmt: skip
    assert says in str(err.value) and f"at {address} for LLM coder 'down'" in str(err.value)
    _no_labels(project, "down")
    out = tmp_path / "masked"
    with pytest.raises(CorpusError, match=r"^\[E133\]") as err:
        mask_corpus(corpus, out, names=False, engine="ray", address=address, progress=False)
    assert says in str(err.value)
    assert not out.exists()


def test_ray_bad_address_on_the_command_line(setup, tmp_path, monkeypatch) -> None:
    pytest.importorskip("ray", reason=NEEDS_SCALE)
    project, _ = setup
    run = ["llm", "run", str(project.path), "--coder", "down", "--engine", "ray",
           "--address", "head.example:6379x"]  # fmt: skip
    assert "--address: auto, HOST:PORT" in _one_error(_cli(*run, monkeypatch=monkeypatch), "E731")
    _no_labels(project, "down")


def test_ray_server_down_is_one_error_before_ray_starts(setup, monkeypatch) -> None:
    pytest.importorskip("ray", reason=NEEDS_SCALE)
    import annotate.llm.ray_engine as ray_engine

    project, _ = setup
    joined = []
    monkeypatch.setattr(ray_engine, "ray_session", lambda *a, **k: joined.append(a))
    run = ["llm", "run", str(project.path), "--coder", "down", "--engine", "ray"]
    text = _one_error(_cli(*run, monkeypatch=monkeypatch), "E709")
    assert "nothing answers at 127.0.0.1:" in text and "(Connection refused)" in text
    assert joined == []  # Ray was neither started nor joined
    _no_labels(project, "down")


class _Refuses(http.server.BaseHTTPRequestHandler):
    """A server that answers every request with HTTP 400 and a JSON error."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"error": {"message": "model 'm' not found"}}).encode()
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_ray_server_error_inside_the_job_is_one_error(ray_address, tmp_path) -> None:
    """The session's Ray sends the requests; the server refuses them: E709 with its answer,
    no label stored, the run lock released (the next run asks again)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        project = make_project(tmp_path)
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        add_llm_coder(project, "refused", backend="openai", base_url=url, model="m",
                      response_format="json_object")  # fmt: skip
        with pytest.raises(LLMError, match=r"\[E709\].*HTTP 400: .*model 'm' not found"):
            run_llm_coder(project, "refused", progress=False, engine="ray",
                          engine_options={"batch": 4})  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    _no_labels(project, "refused")
