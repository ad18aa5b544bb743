"""The content hash: same content -> same hash; formatting never matters; content always does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from annotate.codebook import codebook_from_data, load_codebook, parse_codebook


@pytest.fixture(scope="module")
def toy_text(request: pytest.FixtureRequest) -> str:
    from annotate.codebook import toy_codebook_path

    return toy_codebook_path().read_text(encoding="utf-8")


def test_hash_is_stable_across_loads(toy_path: Path) -> None:
    assert load_codebook(toy_path).hash == load_codebook(toy_path).hash


def test_hash_ignores_comments_whitespace_and_key_order(toy_text: str) -> None:
    base = parse_codebook(toy_text).hash
    data = yaml.safe_load(toy_text)

    # reversed key order everywhere, flow style, no comments
    def reverse(obj: object) -> object:
        if isinstance(obj, dict):
            return {k: reverse(obj[k]) for k in reversed(list(obj))}
        if isinstance(obj, list):
            return [reverse(x) for x in obj]
        return obj

    flowed = yaml.safe_dump(reverse(data), default_flow_style=True, width=10_000)
    assert "#" not in flowed
    assert parse_codebook(flowed).hash == base
    commented = "# a comment\n\n" + toy_text.replace("\ncodes:", "\n# codes follow\ncodes:   ")
    assert parse_codebook(commented).hash == base
    # the same content given as data (JSON) hashes the same
    assert codebook_from_data(json.loads(json.dumps(data))).hash == base


def test_hash_ignores_surrounding_whitespace_of_text(toy_text: str) -> None:
    changed = toy_text.replace("title: Toy SDT codebook", "title: '  Toy SDT codebook  '")
    assert changed != toy_text
    assert parse_codebook(changed).hash == parse_codebook(toy_text).hash


def test_hash_defaults_written_out_hash_the_same(toy_text: str) -> None:
    explicit = toy_text.replace(
        "    level: binary\n    group: [relatedness, supportive]\n    definition: >-\n"
        "      The assistant accurately",
        "    level: binary\n    values: [{value: 0, label: absent}, {value: 1, label: present}]\n"
        "    group: [relatedness, supportive]\n    definition: >-\n      The assistant accurately",
    )
    assert explicit != toy_text
    assert parse_codebook(explicit).hash == parse_codebook(toy_text).hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("The assistant accurately names", "The assistant names"),  # a definition
        ("label: Expresses empathy", "label: Shows empathy"),  # a label
        ("version: 1.0.0", "version: 1.0.1"),  # the version
        ("key: e\n", "key: x\n"),  # a shortcut
        ("      - value: joy\n        label: Joy", "      - value: joy\n        label: Happy"),
    ],
)
def test_hash_changes_with_any_content(toy_text: str, old: str, new: str) -> None:
    assert old in toy_text
    assert parse_codebook(toy_text.replace(old, new)).hash != parse_codebook(toy_text).hash


def test_hash_records_the_module_selection(toy_text: str) -> None:
    default = parse_codebook(toy_text)
    everything = parse_codebook(toy_text, modules="all")
    named = parse_codebook(toy_text, modules=["trust"])
    core = parse_codebook(toy_text, modules=[])
    assert everything.hash != default.hash
    assert named.hash == everything.hash  # the same codes are loaded either way
    assert core.hash == default.hash  # toy has no default module
    assert everything.document["active_modules"] == ["trust"]


def test_hash_of_code_order_matters(toy_text: str) -> None:
    data = yaml.safe_load(toy_text)
    data["codes"] = list(reversed(data["codes"]))
    assert codebook_from_data(data).hash != parse_codebook(toy_text).hash
