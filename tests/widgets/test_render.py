"""The safe markdown subset: a tree of plain strings, never markup."""

from __future__ import annotations

import pytest

from annotate.widgets.render import code_payload, inline_runs, is_long, markdown_blocks


def _leaves(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _leaves(v)
    elif isinstance(node, list):
        for v in node:
            yield from _leaves(v)


def test_render_markdown_subset():
    blocks = markdown_blocks(
        "# Title\n\npara **b** *i* `c`\n\n- a\n- b\n\n1. x\n2. y\n\n> q\n\n```py\nx = 1\n```"
    )
    assert [b["t"] for b in blocks] == ["h", "p", "ul", "ol", "quote", "pre"]
    assert blocks[1]["c"] == [
        ["", "para "],
        ["b", "b"],
        ["", " "],
        ["i", "i"],
        ["", " "],
        ["code", "c"],
    ]
    assert blocks[5] == {"t": "pre", "lang": "py", "v": "x = 1"}


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "**<b onclick=x>bold</b>**",
        "```\n<script>x</script>\n```",
    ],
)
def test_render_markup_stays_text(text):
    blocks = markdown_blocks(text)
    joined = "".join(_leaves(blocks))
    # the markup survives as literal text (shown with textContent), nothing is dropped or parsed
    assert "<" in joined and set(b["t"] for b in blocks) <= {"p", "pre"}


def test_render_inline_code_is_literal():
    assert inline_runs("`**x**`") == [["code", "**x**"]]


def test_render_snake_case_is_not_italic():
    assert inline_runs("a_b_c and __init__") == [["", "a_b_c and __init__"]]


def test_render_unclosed_fence_keeps_text():
    assert markdown_blocks("```\ncode")[0] == {"t": "pre", "lang": "", "v": "code"}


def test_render_long_turns_collapse():
    assert is_long("x" * 5000) and is_long("a\n" * 30) and not is_long("short")


def test_render_code_payload_guidance():
    from widget_data import TOY

    from annotate.codebook import load_codebook

    cb = load_codebook(TOY)
    got = code_payload(cb.code("ai_pressure"))
    assert got["definition"] and got["when_to_use"] and got["when_not_to_use"]
    assert got["examples"][0].startswith("“You need to stop")
    assert got["cues"] == ["you need to", "you have to"]  # token patterns are not highlighted
    assert got["key"] == "c"
