"""The error catalogue: unique codes, banded, every message actionable."""

from __future__ import annotations

import re

import pytest

from annotate.errors import AnnotateError, Errors, Warnings, catalogue, template_fields

BANDS = {
    "0": "storage",
    "1": "corpus",
    "2": "codebook",
    "3": "store",
    "4": "agreement",
    "5": "export",
    "6": "widgets",
    "7": "llm",
    "9": "cli",
}


def test_errors_codes_are_banded() -> None:
    for code in catalogue():
        assert code[1] in BANDS, f"{code} is outside the bands of errors.py"


def test_errors_prefix_with_code() -> None:
    assert Errors.E901.startswith("[E901] ")


@pytest.mark.parametrize("code", sorted(catalogue()))
def test_errors_templates_fill(code: str) -> None:
    template = catalogue()[code]
    fields = {f: f"<{f}>" for f in template_fields(template)}
    text = (Errors if code[0] == "E" else Warnings).__dict__[code].format(**fields)
    assert text.strip() and not re.search(r"\{\w+\}", text)


def test_errors_hierarchy_inherits_builtins() -> None:
    from annotate import errors

    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, AnnotateError) and obj is not AnnotateError:
            assert issubclass(obj, ValueError | KeyError | OSError), name


def test_subpackages_are_plain_modules() -> None:
    """``annotate.<package>`` is the package (imported on first use), never a function, and no
    function of a package shadows one of its modules (``import a.b as m`` gives the module)."""
    import importlib
    import pkgutil
    import types

    import annotate

    for name in annotate._PACKAGES:
        module = getattr(annotate, name)
        assert type(module) is types.ModuleType, name
        assert module is importlib.import_module(f"annotate.{name}")
        if not hasattr(module, "__path__"):
            continue
        for sub in pkgutil.iter_modules(module.__path__):
            found = getattr(module, sub.name, None)
            if found is not None:
                full = f"annotate.{name}.{sub.name}"
                assert found is importlib.import_module(full), f"{full} is shadowed by {found!r}"
    assert callable(annotate.agreement.report) and callable(annotate.export.write)
    assert not callable(annotate.agreement) and not callable(annotate.export)


def test_cli_json_error_document_in_process(tmp_path) -> None:
    """With --json, a user error is one JSON document on stdout, also when called in-process."""
    import json

    from click.testing import CliRunner

    from annotate.cli import main

    res = CliRunner().invoke(main, ["corpus", "info", str(tmp_path / "missing"), "--json"])
    assert res.exit_code == 1
    assert json.loads(res.stdout)["error"].startswith("[E1")
    assert "Traceback" not in res.output
