"""Markdown for the chat view: markdown-it-py's tree of plain strings, never markup.

The expected trees follow the CommonMark spec (0.31) and GitHub's table extension, which
markdown-it-py implements; the front end's side of the tree is tested in tests/widgets/js/.
"""

from __future__ import annotations

import gc
import json
import time

import pytest

from annotate.widgets.render import MAX_DEPTH, code_payload, is_long, markdown_tree, turn_payload

#: every node type the tree may hold (docs/internals.md, "Widget front end"; markdown.js)
BLOCK = {"p", "h", "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td"}
LEAF = {"pre", "hr", "code", "br", "img"}
INLINE = {"strong", "em", "s", "a"}


def _nodes(nodes):
    for n in nodes:
        yield n
        if isinstance(n, dict):
            yield from _nodes(n.get("c", []))


def _leaves(nodes):
    """Every string of the tree (text, code, URLs)."""
    for n in _nodes(nodes):
        if isinstance(n, str):
            yield n
        else:
            yield from (v for k, v in n.items() if k != "t" and isinstance(v, str))


def _depth(nodes) -> int:
    return max((1 + _depth(n.get("c", [])) for n in nodes if isinstance(n, dict)), default=0)


def test_render_blocks_and_inline():
    tree = markdown_tree(
        "# Title\n\npara **b** *i* `c` ~~s~~\nnext line  \nhard\n\n> q\n\n---\n\n"
        "```py\nx = 1\n```\n\n    indented()\n"
    )
    assert tree == [
        {"t": "h", "n": 1, "c": ["Title"]},
        {
            "t": "p",
            "c": [
                "para ",
                {"t": "strong", "c": ["b"]},
                " ",
                {"t": "em", "c": ["i"]},
                " ",
                {"t": "code", "v": "c"},
                " ",
                {"t": "s", "c": ["s"]},
                "\nnext line",  # a soft break is a newline in the text
                {"t": "br"},  # two trailing spaces: a hard break
                "hard",
            ],
        },
        {"t": "blockquote", "c": [{"t": "p", "c": ["q"]}]},
        {"t": "hr"},
        {"t": "pre", "lang": "py", "v": "x = 1"},
        {"t": "pre", "lang": "", "v": "indented()"},
    ]


def test_render_nested_and_numbered_lists():
    tree = markdown_tree("3. three\n4. four\n   - sub\n     1. deep\n\n- a\n\n- b\n")
    assert tree == [
        {
            "t": "ol",
            "start": 3,  # the list's own first number
            "c": [
                {"t": "li", "c": ["three"]},  # tight: no paragraph around the text
                {
                    "t": "li",
                    "c": [
                        "four",
                        {
                            "t": "ul",
                            "c": [
                                {
                                    "t": "li",
                                    "c": ["sub", {"t": "ol", "c": [{"t": "li", "c": ["deep"]}]}],
                                }
                            ],
                        },
                    ],
                },
            ],
        },
        {  # loose (blank line between items): paragraphs are kept
            "t": "ul",
            "c": [
                {"t": "li", "c": [{"t": "p", "c": ["a"]}]},
                {"t": "li", "c": [{"t": "p", "c": ["b"]}]},
            ],
        },
    ]
    assert "start" not in markdown_tree("1. one")[0]


def test_render_table_with_alignment():
    tree = markdown_tree("| a | b | c |\n|:--|:-:|--:|\n| `x` | *y* | z |\n| 1 |")
    head, body = tree[0]["c"]
    assert tree[0]["t"] == "table" and head["t"] == "thead" and body["t"] == "tbody"
    assert head["c"] == [
        {
            "t": "tr",
            "c": [
                {"t": "th", "align": "left", "c": ["a"]},
                {"t": "th", "align": "center", "c": ["b"]},
                {"t": "th", "align": "right", "c": ["c"]},
            ],
        }
    ]
    rows = body["c"]
    assert rows[0]["c"][0] == {"t": "td", "align": "left", "c": [{"t": "code", "v": "x"}]}
    assert rows[0]["c"][1]["c"] == [{"t": "em", "c": ["y"]}]
    assert [c["c"] for c in rows[1]["c"]] == [["1"], [], []]  # short rows are padded (GFM)
    assert "align" not in markdown_tree("| a |\n|---|\n| b |")[0]["c"][0]["c"][0]["c"][0]


def test_render_links_and_images_keep_their_url():
    tree = markdown_tree(
        "[docs](https://example.org/a_b?q=1) <https://example.org> ![a *cat*](cat.png)"
    )
    assert tree[0]["c"] == [
        {"t": "a", "href": "https://example.org/a_b?q=1", "c": ["docs"]},
        " ",
        {"t": "a", "href": "https://example.org", "c": ["https://example.org"]},
        " ",
        {"t": "img", "alt": "a cat", "src": "cat.png"},
    ]
    # markdown-it refuses script URLs: the whole thing stays text
    assert markdown_tree("[x](javascript:alert(1))") == [
        {"t": "p", "c": ["[x](javascript:alert(1))"]}
    ]


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "**<b onclick=x>bold</b>**",
        "```\n<script>x</script>\n```",
        "<div>\n<script>alert(1)</script>\n</div>",
        "a <span style=x>b</span> &lt;i&gt;",
    ],
)
def test_render_markup_stays_text(text):
    tree = markdown_tree(text)
    joined = "".join(_leaves(tree))
    # raw HTML is off: the markup survives as literal text (shown with textContent)
    assert "<" in joined
    assert {n["t"] for n in _nodes(tree) if isinstance(n, dict)} <= {"p", "pre", "strong"}
    for tag in ("script", "img", "b", "div", "span"):
        if f"<{tag}" in text and "```" not in text:
            assert f"<{tag}" in joined


def test_render_inline_code_is_literal():
    assert markdown_tree("`**x**`") == [{"t": "p", "c": [{"t": "code", "v": "**x**"}]}]


def test_render_snake_case_is_not_italic():
    # intraword underscores never open emphasis (CommonMark 6.2); `__init__` alone is strong there
    assert markdown_tree("a_b_c and snake_case_name_") == [
        {"t": "p", "c": ["a_b_c and snake_case_name_"]}
    ]


def test_render_unclosed_fence_keeps_text():
    assert markdown_tree("```\ncode") == [{"t": "pre", "lang": "", "v": "code"}]


def test_render_only_known_nodes_and_plain_leaves():
    text = (
        "# h\n\n> - [l](http://x.y) ![i](j)\n\n| a |\n|---|\n| **b** ~~c~~ |\n\n---\n\n"
        "1. `x`  \n   y\n\n```\nz\n```\n"
    )
    tree = markdown_tree(text)
    types = {n["t"] for n in _nodes(tree) if isinstance(n, dict)}
    assert types <= BLOCK | LEAF | INLINE and len(types) >= 15
    for n in _nodes(tree):
        if isinstance(n, dict):
            assert set(n) <= {"t", "c", "n", "start", "align", "lang", "v", "href", "alt", "src"}
            assert all(isinstance(v, str | int | list) for v in n.values())


@pytest.mark.parametrize(
    "text",
    ["> " * 5000 + "x", "- " * 5000 + "x", "1. " * 3000 + "x", "*" * 5000 + "a" + "*" * 5000],
    ids=["quotes", "bullets", "numbers", "stars"],
)
def test_render_deep_nesting_is_bounded(text):
    """markdown-it caps nesting, and the tree is built without recursion: no RecursionError,
    and a tree shallow enough for the browser (the front end walks it recursively)."""
    tree = markdown_tree(text)
    assert tree and _depth(tree) <= MAX_DEPTH + 1
    assert "a" in "".join(_leaves(tree)) or "x" in "".join(_leaves(tree))  # no text is lost
    json.dumps(tree)  # what the widget sends (json refuses very deep trees)


def test_render_turn_payload():
    row = {"turn_index": 2, "role": "assistant", "speaker": None, "model": float("nan")}
    got = turn_payload({**row, "text": "- a\n  - b"})
    assert got["i"] == 2 and got["speaker"] is None and got["model"] is None and not got["long"]
    item = got["blocks"][0]["c"][0]  # the tree with the source offsets of its text
    assert item["c"] == ["a", {"t": "ul", "c": [{"t": "li", "c": ["b"], "o": [[[0, 8, 1, 1]]]}]}]
    assert item["o"] == [[[0, 2, 1, 1]], None]  # "a" is character 2 of "- a\n  - b"
    assert turn_payload({**row, "text": None})["blocks"] == []


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


# --- linear time (the hand-written parser took 3-4 s on 64 KB of unfenced code, 4.7 s on
# " *a" repeated to 40 KB, quadratic; markdown-it-py takes well under a second) -------------------
def _code(n_bytes: int) -> str:
    """Source code pasted without a fence: stars, underscores, backticks, brackets, pipes."""
    line = (
        "def f_{0}(*args):  # [{0}] | a | b | <b>\n"
        "    return self._cache.get(*args) * 2 + (x *{0})  # `x`\n"
    )
    out, i = [], 0
    while sum(map(len, out)) < n_bytes:
        out.append(line.format(i))
        i += 1
    return "".join(out)


def _doubling_ratio(text: str, rounds: int = 3) -> float:
    """time(2x input) / time(x input), the best of ``rounds`` each, in CPU time of this process
    (other processes on a shared machine do not count), interleaved, the collector paused."""
    double = text + text  # one paragraph twice as long (a blank line between would split it)
    best = {text: float("inf"), double: float("inf")}
    gc.collect()
    gc.disable()  # the collector's pauses grow with the whole test process's heap, not the input
    try:
        for _ in range(rounds):
            for t in (text, double):
                t0 = time.process_time()
                markdown_tree(t)
                best[t] = min(best[t], time.process_time() - t0)
    finally:
        gc.enable()
    return best[double] / best[text]


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    [_code(64 * 1024), " *a" * 14_000, " _a" * 14_000, " `a" * 40_000, "[a" * 10_000],
    ids=["code-64KB", "star-a", "under-a", "tick-a", "brackets"],
)
def test_render_time_is_linear(text):
    """Doubling the input at most about doubles the time. A quadratic parser shows 4x every
    time; a linear one shows 2x, and on a busy shared machine now and then more: up to three
    measurements, the lowest ratio must be under 3."""
    markdown_tree(text)  # warm up
    ratios = []
    for _ in range(3):
        ratios.append(_doubling_ratio(text))
        if ratios[-1] < 3.0:
            break
    assert min(ratios) < 3.0, f"doubling the input took {ratios}x the time"
