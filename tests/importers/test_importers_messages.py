"""Issue 14, errors that point the right way (the import part): an import that loses a side of
the dialogue fails (E117) and names the labels and the fix, unknown labels are named in a
warning (W105), format names are case-insensitive and listed in ``annotate import --help``, and
on the command line the hints are command-line options, not Python."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from annotate.cli import main
from annotate.errors import CorpusError, catalogue
from annotate.importers import FORMATS, IMPORTERS, import_corpus


def _csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text(
        "chat,who,message\n" + "".join(f"{c},{w},{m}\n" for c, w, m in rows), encoding="utf-8"
    )
    return path


MAP = {"conversation_id": "chat", "role": "who", "text": "message"}
CLI_MAP = ["--map", "conversation_id=chat", "--map", "role=who", "--map", "text=message"]
GERMAN = [
    ("c1", "Kunde", "Hallo"),
    ("c1", "Agent", "Guten Tag"),
    ("c1", "Kunde", "Danke"),
    ("c2", "Kunde", "Frage"),
    ("c2", "Agent", "Antwort"),
]


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_importers_unknown_labels_for_both_sides_fail(tmp_path: Path) -> None:
    src = _csv(tmp_path / "chats.csv", GERMAN)
    with pytest.raises(CorpusError) as info:
        import_corpus(src, "csv", out=tmp_path / "c", mapping=MAP)
    msg = str(info.value)
    assert msg.startswith("[E117] Importing chats.csv (format 'csv') would give a corpus without")
    assert "without user or assistant turns" in msg
    assert "5 turn(s) with unknown role labels were skipped: 'Kunde' (3), 'Agent' (2)" in msg
    assert "roles={'Kunde': 'user'}" in msg and "--role" not in msg
    assert not (tmp_path / "c").exists()
    res = _run("import", "csv", str(src), "--out", str(tmp_path / "c"), *CLI_MAP)
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: [E117]"), res.stderr
    assert "--role Kunde=user" in lines[0] and "roles=" not in lines[0]
    res = _run(
        "import", "csv", str(src), "--out", str(tmp_path / "c"), *CLI_MAP,
        "--role", "Kunde=user", "--role", "Agent=assistant",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "imported 2 conversations, 5 turns" in res.stdout


def test_importers_unknown_label_of_one_side_fails(tmp_path: Path) -> None:
    rows = [(c, "customer" if w == "Kunde" else w, m) for c, w, m in GERMAN]
    src = _csv(tmp_path / "chats.csv", rows)
    with pytest.raises(CorpusError, match=r"\[E117\].*without assistant turns") as info:
        import_corpus(src, "csv", out=tmp_path / "c", mapping=MAP)
    assert "'Agent' (2)" in str(info.value) and "roles={'Agent': 'assistant'}" in str(info.value)
    corpus = import_corpus(
        src, "csv", out=tmp_path / "c", mapping=MAP, roles={"agent": "assistant"}
    )
    assert corpus.manifest["counts"]["turns_by_role"] == {"assistant": 2, "user": 3}


def test_importers_some_unknown_labels_warn_with_the_fix(tmp_path: Path) -> None:
    rows = [("c1", "user", "Hi"), ("c1", "narrator", "(later)"), ("c1", "bot", "Hello")]
    src = _csv(tmp_path / "chats.csv", rows)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import_corpus(src, "csv", out=tmp_path / "c", mapping=MAP)
    messages = [str(w.message) for w in caught]
    assert [m[:6] for m in messages] == ["[W105]", "[W101]"]
    assert re.match(r"\[W105\] 1 turn\(s\) .* skipped: 'narrator' \(1\)\.", messages[0])
    assert "roles={'narrator': 'user'}" in messages[0]
    res = _run("import", "csv", str(src), "--out", str(tmp_path / "d"), *CLI_MAP)
    assert res.exit_code == 0, res.output
    assert "--role narrator=user" in res.stderr and "roles=" not in res.stderr
    assert "`annotate corpus info DIR`" in res.stderr  # W101 in its CLI form


def test_importers_label_with_a_space_is_quoted_for_the_shell(tmp_path: Path) -> None:
    rows = [("c1", "user", "Hi"), ("c1", "Support Agent", "Hello")]
    res = _run(
        "import", "csv", str(_csv(tmp_path / "x.csv", rows)), "--out", str(tmp_path / "c"), *CLI_MAP
    )  # fmt: skip
    assert res.exit_code == 1
    assert "--role 'Support Agent=assistant'" in res.stderr


def test_importers_every_assistant_turn_skipped_fails(jsonl, tmp_path: Path) -> None:
    recs = [
        {"id": f"s{i}", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt"}]}
        for i in range(3)
    ]
    recs[0]["conversations"][1]["value"] = ""
    with pytest.raises(CorpusError) as info:
        import_corpus(jsonl(recs), "sharegpt", out=tmp_path / "c")
    msg = str(info.value)
    assert msg.startswith("[E117]") and "without assistant turns" in msg
    assert (
        "all 3 assistant turn(s) were skipped (invalid_turn 2, empty_turn 1; "
        "the first: src.jsonl line 1 turn 1)"
    ) in msg, msg
    assert "Look at that turn in the source" in msg
    assert not (tmp_path / "c").exists()


SYSTEM_EMPTY = [
    {"from": "system", "value": ""},
    {"from": "human", "value": "Q"},
    {"from": "gpt", "value": "A"},
]


@pytest.mark.parametrize(
    "turns",
    [
        SYSTEM_EMPTY,  # every system turn empty (common in exports): user and assistant are there
        [{"from": "human", "value": "Q"}],  # prompts only: the source has no assistant turns
    ],
)
def test_importers_roles_the_source_lacks_are_fine(jsonl, tmp_path: Path, turns) -> None:
    src = jsonl([{"id": "s", "conversations": turns}])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        corpus = import_corpus(src, "sharegpt", out=tmp_path / "c")
    assert len(corpus) == 1
    assert [str(w.message)[:6] for w in caught] == (["[W101]"] if turns is SYSTEM_EMPTY else [])


def test_importers_human_human_convokit_is_fine(tmp_path: Path) -> None:
    folder = tmp_path / "ck"
    folder.mkdir()
    utts = [
        {"id": "a", "reply-to": None, "speaker": "ann", "text": "Q"},
        {"id": "b", "reply-to": "a", "speaker": "bob", "text": "A"},
    ]
    (folder / "utterances.jsonl").write_text("".join(json.dumps(u) + "\n" for u in utts))
    corpus = import_corpus(folder, "convokit", out=tmp_path / "c")
    assert corpus.turns["role"].tolist() == ["user", "user"]


def test_importers_nothing_imported_fails_on_the_command_line(tmp_path: Path) -> None:
    src = tmp_path / "x.jsonl"
    src.write_text('{"no": "messages"}\n')
    res = _run("import", "openai", str(src), "--out", str(tmp_path / "c"))
    assert res.exit_code == 1 and res.stderr.startswith("error: [E105]"), res.output
    assert not (tmp_path / "c").exists()


def test_importers_format_names_case_insensitive(jsonl, tmp_path: Path) -> None:
    src = jsonl([{"id": "c1", "messages": [{"role": "user", "content": "Hi"}]}])
    assert len(import_corpus(src, "OpenAI", out=tmp_path / "a")) == 1
    assert len(import_corpus(src, " OPENAI.V1 ", out=tmp_path / "b")) == 1
    for i, name in enumerate(["OpenAI", "OPENAI.v1", "openai"]):
        res = _run("import", name, str(src), "--out", str(tmp_path / f"cli{i}"), "--json")
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["format"] == "openai.v1"
    with pytest.raises(CorpusError, match=r"\[E102\] Unknown import format 'OpenAl'"):
        import_corpus(src, "OpenAl", out=tmp_path / "x")


def test_importers_import_help_lists_formats_and_options() -> None:
    res = _run("import", "--help")
    assert res.exit_code == 0
    listed = re.findall(r"^    ([a-z-]+) {2,}", res.stdout, re.M)
    assert listed == sorted(FORMATS)
    for name in FORMATS.values():
        for key, spec in IMPORTERS[name].options.items():
            assert f"-o {key}={'|'.join(spec.choices)}" in res.stdout
    assert "case does not matter" in res.stdout
    assert "--role LABEL=ROLE" in res.stdout


def test_importers_hints_follow_the_audience(jsonl, tmp_path: Path) -> None:
    """The same error in Python names keyword arguments, on the command line options."""
    src = jsonl([{"id": "c1", "messages": [{"role": "user", "content": "Hi"}]}])
    import_corpus(src, "openai", out=tmp_path / "c")
    with pytest.raises(CorpusError, match=r"\[E107\]") as info:
        import_corpus(src, "openai", out=tmp_path / "c")
    assert "overwrite=True" in str(info.value) and "--overwrite" not in str(info.value)
    res = _run("import", "openai", str(src), "--out", str(tmp_path / "c"))
    assert res.exit_code == 1 and "[E107]" in res.stderr
    assert "--overwrite" in res.stderr and "overwrite=True" not in res.stderr
    # the command line's audience does not leak into later Python calls
    with pytest.raises(CorpusError, match=r"overwrite=True"):
        import_corpus(src, "openai", out=tmp_path / "c")

    table = tmp_path / "t.csv"
    table.write_text("chat,who,message\nc,user,hi\n")
    with pytest.raises(CorpusError, match=r"\[E110\].*mapping=\{'text': 'message'\}"):
        import_corpus(table, "csv", out=tmp_path / "t")
    res = _run("import", "csv", str(table), "--out", str(tmp_path / "t"))
    assert "[E110]" in res.stderr and "--map text=message" in res.stderr
    assert "mapping=" not in res.stderr

    res = _run("import", "csv", str(table), "--out", str(tmp_path / "t"), "--map", "text=body")
    assert "[E109]" in res.stderr and "Fix the --map FIELD=COLUMN options" in res.stderr
    with pytest.raises(CorpusError, match=r"\[E109\].*Fix the mapping\."):
        import_corpus(table, "csv", out=tmp_path / "t", mapping={"text": "body"})

    res = _run("import", "csv", str(table), "--out", str(tmp_path / "t"), "-o", "delimiter=ab")
    assert "[E104]" in res.stderr and "(--option delimiter=VALUE)" in res.stderr
    with pytest.raises(CorpusError, match=r"\(delimiter=\.\.\.\)"):
        import_corpus(table, "csv", out=tmp_path / "t", delimiter="ab")


def test_importers_catalogue_two_form_hints_are_well_formed() -> None:
    for code, template in catalogue().items():
        opened = template.count("[[")
        pairs = re.findall(r"\[\[(.*?) \|\| (.*?)\]\]", template, re.S)
        assert opened == template.count("]]") == len(pairs), code
        assert all(a.strip() and b.strip() for a, b in pairs), code
