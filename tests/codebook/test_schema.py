"""The JSON Schema of the format: generated from the model, shipped, and agreeing with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from annotate.codebook import json_schema
from annotate.codebook.paths import schema_path
from annotate.codebook.schema import json_schema_text


def test_schema_shipped_file_equals_generated(repo_root: Path) -> None:
    shipped = repo_root / "codebooks" / "schema" / "codebook.schema.json"
    assert shipped.read_text(encoding="utf-8") == json_schema_text(), (
        "regenerate: annotate codebook schema --out codebooks/schema/codebook.schema.json"
    )
    assert schema_path() == shipped


def test_schema_forbids_unknown_keys_and_requires_fields() -> None:
    schema = json_schema()
    code = schema["$defs"]["CodeSpec"]
    assert code["additionalProperties"] is False
    assert schema["additionalProperties"] is False
    assert {"id", "label", "unit", "level", "definition"} <= set(code["required"])
    assert set(schema["required"]) == {"id", "version", "title", "codes"}


def test_schema_accepts_toy_and_rejects_a_typo(toy_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_schema())
    data = yaml.safe_load(toy_path.read_text(encoding="utf-8"))
    assert list(validator.iter_errors(data)) == []
    data["codes"][0]["defintion"] = data["codes"][0].pop("definition")
    messages = [e.message for e in validator.iter_errors(data)]
    assert any("defintion" in m for m in messages)
    assert any("'definition' is a required property" in m for m in messages)


def test_schema_is_json_serialisable() -> None:
    assert json.loads(json.dumps(json_schema())) == json_schema()
