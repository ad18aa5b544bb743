"""Fixtures of the LLM-coder tests: a real model (SmolLM2-135M-Instruct from the llm-demo extra),
a small project with two human coders, and the project coded once by the model.

The model runs with one thread: on a busy machine two llama.cpp threads that compete with
another process run about 20 times slower. Prompts are kept short with a three-code codebook,
so the whole module codes a few dozen units.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

#: why the model tests skip on a machine without the llm extras (CI installs them)
NEEDS_LLM = "needs the llm and llm-demo extras (uv sync --extra llm --extra llm-demo)"

TINY_CODEBOOK = """\
id: tiny
version: 1.0.0
title: Tiny test codebook
description: Three codes for tests of LLM coders.
groups:
  - id: g
    label: Group
    kind: other
codes:
  - id: asks_help
    label: Asks for help
    unit: turn
    applies_to: [user]
    level: binary
    group: [g]
    definition: The user asks for help with something.
    examples:
      - text: "Can you help me plan my week?"
  - id: ai_move
    label: Assistant move
    unit: turn
    applies_to: [assistant]
    level: nominal
    group: [g]
    definition: What the assistant mainly does in the turn.
    values:
      - {value: ask, label: asks a question}
      - {value: inform, label: gives information}
      - {value: other, label: anything else}
  - id: warmth
    label: Warmth
    unit: conversation
    applies_to: [user, assistant]
    level: ordinal
    group: [g]
    definition: How warm the assistant is over the conversation.
    values:
      - {value: "1", label: cold}
      - {value: "2", label: neutral}
      - {value: "3", label: warm}
"""

#: written for these tests by the team (not third-party text)
CONVERSATIONS = [
    (
        "t1",
        [
            "Can you help me plan my week?",
            "Sure. What are your fixed appointments?",
            "Work from nine to five.",
            "Then keep the evenings for rest and one errand a day.",
        ],
    ),
    ("t2", ["What is the capital of Peru?", "Lima is the capital of Peru."]),
    (
        "t3",
        [
            "I failed my exam and feel awful.",
            "I'm sorry, that hurts. Do you want to talk?",
            "Yes, a little.",
        ],
    ),
    ("t4", ["How do I boil an egg?", "Put it in boiling water for eight minutes."]),
]

#: the two human coders' labels (illustrative, written for these tests)
HUMAN = {
    "alice": {
        ("t1", 0): "1",
        ("t1", 2): "0",
        ("t2", 0): "0",
        ("t3", 0): "1",
        ("t3", 2): "0",
        ("t4", 0): "1",
        ("t1", 1): "ask",
        ("t1", 3): "inform",
        ("t2", 1): "inform",
        ("t3", 1): "ask",
        ("t4", 1): "inform",
        "t1": "2",
        "t2": "2",
        "t3": "3",
        "t4": "2",
    },
    "bob": {
        ("t1", 0): "1",
        ("t1", 2): "0",
        ("t2", 0): "0",
        ("t3", 0): "1",
        ("t3", 2): "1",
        ("t4", 0): "1",
        ("t1", 1): "ask",
        ("t1", 3): "other",
        ("t2", 1): "inform",
        ("t3", 1): "ask",
        ("t4", 1): "inform",
        "t1": "3",
        "t2": "2",
        "t3": "3",
        "t4": "1",
    },
}
CODE_OF_ROLE = {"user": "asks_help", "assistant": "ai_move"}

#: a second binary user code (the behavioural checks swap its definition with asks_help's)
THANKS = """\
  - id: thanks
    label: Thanks
    unit: turn
    applies_to: [user]
    level: binary
    group: [g]
    definition: The user thanks the assistant or expresses gratitude.
    examples:
      - text: "Thank you so much, that helped."
"""


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The real test model's GGUF file (skips the test without the llm extras)."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        pytest.skip(NEEDS_LLM)
    from annotate.errors import LLMError
    from annotate.llm.models import smollm2_path

    try:
        return smollm2_path()
    except LLMError:
        pytest.skip(NEEDS_LLM)


def human_events(coder: str) -> list[dict]:
    events = []
    for key, value in HUMAN[coder].items():
        if isinstance(key, tuple):
            cid, turn = key
            role = "user" if turn % 2 == 0 else "assistant"
            events.append(
                {
                    "annotator_id": coder,
                    "unit": "turn",
                    "conversation_id": cid,
                    "turn_index": turn,
                    "code_id": CODE_OF_ROLE[role],
                    "value": value,
                }
            )
        else:
            events.append(
                {
                    "annotator_id": coder,
                    "unit": "conversation",
                    "conversation_id": key,
                    "code_id": "warmth",
                    "value": value,
                }
            )
    return events


def make_project(folder: Path, *, labels: bool = True, extra_user_code: bool = False):
    """A project over the four test conversations, all in the reliability sample, with
    alice's and bob's labels."""
    import annotate
    from annotate.project import Project

    folder.mkdir(parents=True, exist_ok=True)
    src = folder / "src.jsonl"
    lines = []
    for cid, texts in CONVERSATIONS:
        msgs = [
            {"role": "user" if i % 2 == 0 else "assistant", "content": t}
            for i, t in enumerate(texts)
        ]
        lines.append(json.dumps({"id": cid, "messages": msgs}))
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = TINY_CODEBOOK + (THANKS if extra_user_code else "")
    (folder / "tiny.yaml").write_text(text, encoding="utf-8")
    annotate.import_corpus(src, "openai", out=folder / "corpus")
    project = Project.create(
        folder / "project",
        corpus=folder / "corpus",
        codebook=folder / "tiny.yaml",
        coders=["alice", "bob"],
        reliability=1.0,
        seed=3,
    )
    if labels:
        project.append(human_events("alice") + human_events("bob"))
    return project


#: every unit of the test corpus: 11 turns with codes and 4 conversations
N_UNITS = 15


@pytest.fixture
def project(tmp_path: Path):
    return make_project(tmp_path)


@pytest.fixture(scope="module")
def coded(tmp_path_factory, model_path):
    """The test project with LLM coder ``smol`` run over every unit (once per test module)."""
    from annotate.llm import add_llm_coder, run_llm_coder

    project = make_project(tmp_path_factory.mktemp("coded"))
    add_llm_coder(
        project, "smol", backend="llama-cpp", model=str(model_path), threads=1, n_ctx=2048
    )
    summary = run_llm_coder(project, "smol", progress=False)
    return project, summary


# --- llama.cpp's server on 127.0.0.1 ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(model_path):
    """``python -m llama_cpp.server`` on a free port of 127.0.0.1; stopped after the module."""
    pytest.importorskip("llama_cpp.server", reason=NEEDS_LLM)
    port = free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-server-{port}.log", "w+b")
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_threads",
        "1",
        "--n_threads_batch",
        "1",
        "--n_ctx",
        "2048",
        "--model_alias",
        "smollm2",
    ]
    env = os.environ | {"OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    import httpx

    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama.cpp server exited: {log.read()[-2000:]!r}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama.cpp server did not start within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
