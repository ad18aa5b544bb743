"""Prompts and schemas from the codebook, our answer check, the coder record (no model needed)."""

from __future__ import annotations

import hashlib
import json

import pytest

from annotate.codebook import load_codebook
from annotate.errors import LLMError
from annotate.llm import add_llm_coder, llm_coder_ids, load_coder
from annotate.llm.prompt import DEFAULT_TEMPLATE, PromptBuilder, WorkUnit, render_conversation
from annotate.llm.schema import InvalidAnswerError, check_answer, coder_schemas, unit_schema

TURNS = [(0, "user", "Hi, I need help."), (1, "assistant", "Of course."), (2, "user", "Thanks!")]


@pytest.fixture
def toy(repo_root):
    return load_codebook(repo_root / "codebooks" / "toy.yaml")


def test_llm_prompt_has_the_codebook_guidance_for_the_role(toy) -> None:
    b = PromptBuilder(toy, DEFAULT_TEMPLATE, context="full", budget=10000, rationale=False)
    msgs = b.build(WorkUnit("turn", "c", 1, "assistant"), TURNS).messages
    system, user = msgs[0]["content"], msgs[1]["content"]
    code = toy.code("ai_autonomy_support")
    for part in (code.definition, code.when_to_use, code.when_not_to_use):
        assert " ".join(part.split()) in system
    assert code.examples[0].text in system and code.near_misses[0].why in system
    assert '"listen" = ' in system  # the values of the nominal ai_move, with their meaning
    assert "user_seeks_support" not in system  # a user code is not offered for an assistant turn
    assert ">>> [1] ASSISTANT: Of course." in user and "[2] USER: Thanks!" in user


def test_llm_prompt_context_upto_stops_at_the_turn(toy) -> None:
    b = PromptBuilder(toy, DEFAULT_TEMPLATE, context="upto", budget=10000, rationale=False)
    user = b.build(WorkUnit("turn", "c", 1, "assistant"), TURNS).messages[1]["content"]
    assert "Of course." in user and "Thanks!" not in user


def test_llm_prompt_system_message_is_shared_by_a_kind_of_unit(toy) -> None:
    """The system message is the same for every unit of a kind (the prompt-cache prefix)."""
    b = PromptBuilder(toy, DEFAULT_TEMPLATE, context="full", budget=10000, rationale=False)
    a = b.build(WorkUnit("turn", "c", 0, "user"), TURNS).messages[0]
    c = b.build(WorkUnit("turn", "d", 2, "user"), TURNS).messages[0]
    assert a == c


def test_llm_prompt_budget_keeps_the_nearest_turns() -> None:
    turns = [
        (i, "user" if i % 2 == 0 else "assistant", f"turn {i} " + "x" * 100) for i in range(20)
    ]
    text, omitted = render_conversation(turns, 10, "full", 600)
    assert ">>> [10]" in text and "[9]" in text and "[11]" in text
    assert "[0] USER" not in text and omitted > 0 and "turn(s) left out" in text


def test_llm_schema_from_the_codebook(toy) -> None:
    schemas = coder_schemas(toy)
    assert set(schemas) == {"turn/user", "turn/assistant", "conversation"}
    s = schemas["turn/assistant"]
    assert s["required"] == [c.id for c in toy.codes_for("turn", "assistant")]
    assert s["additionalProperties"] is False
    assert s["properties"]["ai_move"]["enum"] == list(toy.code("ai_move").value_ids)
    emotions = schemas["turn/user"]["properties"]["user_emotions"]  # a set code
    assert emotions["type"] == "array" and emotions["maxItems"] == len(
        toy.code("user_emotions").value_ids
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json at all", "no JSON object"),
        ('{"ai_autonomy_support": "1"}', "missing"),
        (
            '{"ai_autonomy_support": "2", "ai_pressure": "0", "ai_empathy": "0", "ai_move": "ask"}',
            "is not one of",
        ),
        (
            '{"ai_autonomy_support": "1", "ai_pressure": "0", "ai_empathy": "0", "ai_move": "ask",'
            ' "extra": 1}',
            "unknown key",
        ),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_llm_check_answer_rejects_with_the_reason(toy, text, problem) -> None:
    codes = list(toy.codes_for("turn", "assistant"))
    with pytest.raises(InvalidAnswerError, match=problem):
        check_answer(text, codes)


def test_llm_check_answer_reads_fences_sets_and_rationales(toy) -> None:
    codes = list(toy.codes_for("turn", "user"))
    answer = {
        c.id: (["sadness", "joy", "joy"] if c.level == "set" else c.value_ids[0]) for c in codes
    }
    got = check_answer("```json\n" + json.dumps(answer) + "\n```", codes)
    assert got.values["user_emotions"] == '["joy","sadness"]'  # the store's set encoding
    assert any("duplicate" in n for n in got.notes)
    with_why = {
        c.id: {"rationale": "because", "value": c.value_ids[0]} for c in codes if c.level != "set"
    } | {"user_emotions": {"rationale": "", "value": []}}
    got = check_answer(json.dumps(with_why), codes, rationale=True)
    assert got.values["user_emotions"] == "[]" and got.rationales["user_seeks_support"] == "because"
    assert unit_schema(codes, rationale=True)["properties"]["user_defers"]["required"] == [
        "rationale",
        "value",
    ]


def test_llm_add_records_the_coder_once(project, tmp_path) -> None:
    """The record: kind, model file hash, prompt and its hash, codebook hash, schema, settings;
    written once, and the coder joins the plan (the reliability sample too)."""
    model = tmp_path / "fake.gguf"
    model.write_bytes(b"GGUF not a real model")
    spec = project.add_llm_coder(
        "m1", backend="llama-cpp", model=str(model), temperature=0.0, seed=7, context="upto"
    )
    doc = json.loads((project.path / "llm" / "m1" / "coder.json").read_text())
    assert doc["kind"] == "llm" and doc["backend"] == "llama-cpp" and doc["model"] == "fake.gguf"
    assert doc["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert doc["prompt_template"] == DEFAULT_TEMPLATE
    assert doc["prompt_hash"] == hashlib.sha256(DEFAULT_TEMPLATE.encode()).hexdigest()
    assert doc["codebook"]["hash"] == project.codebook.hash
    assert doc["schemas"] == coder_schemas(project.codebook)
    assert (doc["temperature"], doc["seed"], doc["context"]) == (0.0, 7, "upto")
    assert load_coder(project, "m1") == spec
    assert llm_coder_ids(project) == ["m1"] and project.coder_kinds["m1"] == "llm"
    assert project.coder_kinds["alice"] == "human"
    a = project.assignments
    assert (
        a[a["annotator_id"] == "m1"]["is_reliability"].all()
        and (a["annotator_id"] == "m1").sum() == 4
    )
    assert project.status()["coders"].set_index("annotator_id").loc["m1", "kind"] == "llm"
    before = (project.path / "llm" / "m1" / "coder.json").read_bytes()
    with pytest.raises(LLMError, match="E705"):
        add_llm_coder(project, "m1", backend="llama-cpp", model=str(model), seed=8)
    with pytest.raises(LLMError, match="E705"):
        add_llm_coder(project, "alice", backend="llama-cpp", model=str(model))
    assert (project.path / "llm" / "m1" / "coder.json").read_bytes() == before


@pytest.mark.parametrize(
    ("settings", "code"),
    [
        ({"backend": "llama-cpp", "model": "no/such/file.gguf"}, "E702"),
        ({"backend": "openai", "model": "m"}, "E701"),  # no base URL
        ({"backend": "openai", "model": "m", "base_url": "http://h/v1", "temperature": 3}, "E701"),
        ({"backend": "vllm", "model": "m"}, "E701"),
        ({"backend": "openai", "model": "m", "base_url": "http://h/v1", "context": "some"}, "E701"),
    ],
)
def test_llm_add_refuses_bad_settings(project, settings, code) -> None:
    with pytest.raises(LLMError, match=code):
        add_llm_coder(project, "m2", **settings)
    assert "m2" not in project.coders and not (project.path / "llm" / "m2").exists()


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("no sections here", "needs one"),
        ("[system]\n$codes $nonsense\n[user]\n$task", "unknown variable"),
        ("[user]\n$task\n[system]\n$codes", "needs one"),
    ],
)
def test_llm_prompt_file_is_checked(project, tmp_path, template, problem) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text(template)
    with pytest.raises(LLMError, match=f"E708.*{problem}"):
        add_llm_coder(
            project, "m3", backend="openai", model="m", base_url="http://h/v1", prompt=path
        )


def test_llm_custom_prompt_is_recorded(project, tmp_path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("[system]\nCode it.\n$codes\n$answer_format\n[user]\n$conversation\n$task\n")
    spec = add_llm_coder(
        project, "m4", backend="openai", model="m", base_url="http://h/v1", prompt=path
    )
    assert spec.prompt_source == "short.txt" and spec.prompt_template == path.read_text()
    assert spec.response_format == "json_schema" and spec.model_sha256 is None


def test_llm_coder_of_some_codes(project, tmp_path) -> None:
    """A coder of a subset of the codebook: its record, schemas and prompts hold only those."""
    spec = add_llm_coder(
        project, "m5", backend="openai", model="m", base_url="http://h/v1", codes="warmth,ai_move"
    )
    assert spec.codes == ["ai_move", "warmth"]  # codebook order
    assert set(spec.schemas) == {"turn/assistant", "conversation"}
    assert spec.schemas["conversation"]["required"] == ["warmth"]
    from annotate.llm.run import plan_units

    builder = PromptBuilder(
        project.codebook,
        spec.prompt_template,
        context="full",
        budget=9000,
        rationale=False,
        codes=spec.codes,
    )
    units = plan_units(project.turns, ["t1"], builder)
    assert [u.kind for u in units] == ["turn/assistant", "turn/assistant", "conversation"]
    system = builder.build(units[0], [(0, "user", "a"), (1, "assistant", "b")]).messages[0]
    assert "ai_move" in system["content"] and "asks_help" not in system["content"]
    with pytest.raises(LLMError, match=r"E701.*not codes of tiny"):
        add_llm_coder(
            project, "m6", backend="openai", model="m", base_url="http://h/v1", codes=["nope"]
        )


def test_llm_one_run_per_coder(project) -> None:
    """A second run while the first is alive is refused (E710); nothing is written."""
    import os
    import socket

    from annotate.llm import run_llm_coder

    add_llm_coder(project, "m7", backend="openai", model="m", base_url="http://127.0.0.1:9/v1")
    lock = project.path / "llm" / "m7" / "run.lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": "now"}))
    with pytest.raises(LLMError, match="E710"):
        run_llm_coder(project, "m7", progress=False)
    assert lock.exists() and not (project.path / "llm" / "m7" / "audit").exists()


def test_llm_rationales_become_a_memo_never_a_label(project) -> None:
    """With rationale=True the answer's rationales go to one `_memo` of the unit; the labels
    hold the values only (the memo is stored and validated like any event)."""
    from annotate.llm.audit import ResponseCache
    from annotate.llm.run import UnitCoder, UnitResult
    from annotate.llm.schema import Answer

    spec = add_llm_coder(
        project, "m8", backend="openai", model="m", base_url="http://h/v1", rationale=True
    )
    assert spec.schemas["turn/user"]["properties"]["asks_help"]["required"] == [
        "rationale",
        "value",
    ]
    coder = UnitCoder(spec, project.codebook, ResponseCache(project.path), "run1")
    unit = WorkUnit("turn", "t1", 0, "user")
    answer = check_answer(
        '{"asks_help": {"rationale": "asks to plan the week", "value": "1"}}',
        coder.builder.codes_for(unit),
        rationale=True,
    )
    events = coder.events(UnitResult(unit, [], answer, "h", "u", "s"))
    project.append(events)
    labels = project.labels(annotator="m8").set_index("code_id")
    assert labels.loc["asks_help", "value"] == "1"
    assert labels.loc["_memo", "value"] == "LLM rationale\nasks_help: asks to plan the week"
    assert isinstance(answer, Answer)
