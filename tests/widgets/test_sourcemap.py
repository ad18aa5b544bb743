"""Source offsets of the markdown tree (``markdown_tree(text, offsets=True)``).

Evidence spans are offsets into ``turns.text``, while the coder selects rendered text. The tree
says, for every shown character it can, which source characters it is; these tests check that
the claim is always true (never a wrong offset), that plain text is fully mapped, and the
hard cases: markdown formatting, escapes, entities, code, links, tables, lists and quotes,
emoji (astral code points) and right-to-left text, ``\\r\\n`` line ends.
"""

from __future__ import annotations

import gc
import html
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotate.widgets.render import markdown_tree


def shown_chars(tree) -> list[tuple[str, tuple[int, int] | None]]:
    """Every shown character of the tree's text (strings and code) in document order, with
    the source range it maps to (None: no offsets), as the front end reads them."""
    out: list[tuple[str, tuple[int, int] | None]] = []

    def leaf(text: str, runs) -> None:
        where: list[tuple[int, int] | None] = [None] * len(text)
        for d, s, dn, sn in runs or []:
            for i in range(dn):
                where[d + i] = (s + i, s + i + 1) if dn == sn else (s, s + sn)
        out.extend(zip(text, where, strict=True))

    def walk(nodes, offsets) -> None:
        for k, node in enumerate(nodes):
            if isinstance(node, str):
                leaf(node, offsets[k] if offsets else None)
            elif "v" in node and node["t"] in ("code", "pre"):
                leaf(node["v"], node.get("o"))
            else:
                walk(node.get("c", []), node.get("o"))

    walk(tree, None)
    return out


def select(text: str, shown: str) -> tuple[int, int]:
    """The source span of the first occurrence of ``shown`` in the visible text (as a coder
    would select it), from the first to the last mapped character."""
    chars = shown_chars(markdown_tree(text, offsets=True))
    visible = "".join(c for c, _ in chars)
    i = visible.index(shown)
    picked = [w for _, w in chars[i : i + len(shown)] if w is not None]
    return picked[0][0], picked[-1][1]


def check_claims(text: str) -> list[tuple[str, tuple[int, int] | None]]:
    """Every mapped character is what the source has there (or its escape or entity)."""
    chars = shown_chars(markdown_tree(text, offsets=True))
    last = -1
    for shown, where in chars:
        if where is None:
            continue
        s, e = where
        source = text[s:e]
        if e - s == 1 and source not in "\r\n":
            # markdown-it shows a NUL as U+FFFD (CommonMark's rule for insecure characters)
            assert source == shown or (source, shown) == ("\0", "\ufffd"), (text, shown, where)
        elif source.startswith("&"):
            assert shown in html.unescape(source), (text, shown, source)
        elif source.startswith("\\"):
            assert source[1:] == shown or source == shown, (text, shown, source)
        else:
            assert source in ("\n", "\r\n", "\r") and shown in ("\n", " "), (text, source)
        assert s >= last or source.startswith(("&", "\\")), "offsets go forward with the text"
        last = s
    return chars


def test_plain_text_is_mapped_character_by_character():
    text = "I just need someone to listen right now.\nCan I vent?"
    chars = check_claims(text)
    assert "".join(c for c, _ in chars) == text
    assert [w for _, w in chars] == [(i, i + 1) for i in range(len(text))]


def test_selection_across_formatting_points_at_the_source():
    text = "Here is **bold**, *italic* and `inline <b>code</b>`."
    start, end = select(text, "bold, italic")
    assert text[start:end] == "bold**, *italic"
    start, end = select(text, "and inline <b>")
    assert text[start:end] == "and `inline <b>"


def test_emoji_and_right_to_left_are_code_points():
    text = "So tired 😩😩 today — אני צריך הפסקה, *please* 🙏🏽"
    check_claims(text)
    start, end = select(text, "😩 today")
    assert text[start:end] == "😩 today" and start == text.index("😩😩") + 1
    start, end = select(text, "צריך הפסקה")
    assert text[start:end] == "צריך הפסקה"
    assert select(text, "please* 🙏🏽".replace("*", ""))[1] == len(text)  # skin tone: 2 points


def test_escapes_and_entities_are_atomic():
    text = r"a \*not em\* &amp; &#x1F600; &copy; b\\c"
    chars = check_claims(text)
    assert "".join(c for c, _ in chars) == "a *not em* & 😀 © b\\c"
    start, end = select(text, "*not em*")
    assert text[start:end] == r"\*not em\*"
    start, end = select(text, "& 😀")
    assert text[start:end] == "&amp; &#x1F600;"


def test_links_map_their_text_not_their_url():
    text = 'See [the guide](https://ex.org/a "t b") b and <https://ex.org/x> now'
    check_claims(text)
    assert text[slice(*select(text, "the guide"))] == "the guide"
    start, end = select(text, "b and")  # found after the link, not inside its title
    assert start == text.index(") b and") + 2 and text[start:end] == "b and"


def test_blocks_lists_quotes_tables_code():
    text = (
        "# Title\n\n> quoted *line*\n> goes on\n\n- item one\n  continued\n  1. deep `c`\n\n"
        "| a | b |\n|:-|-:|\n| x | **y** |\n\n```py\nx = 1\n  y = 2\n```\n\n    indented()\n"
    )
    chars = check_claims(text)
    visible = "".join(c for c, _ in chars)
    assert all(w is not None for _, w in chars), visible  # everything shown is mapped
    assert text[slice(*select(text, "line\ngoes"))] == "line*\n> goes"
    assert text[slice(*select(text, "one\ncontinued"))] == "one\n  continued"
    assert text[slice(*select(text, "x = 1\n  y"))] == "x = 1\n  y"
    assert text[slice(*select(text, "indented()"))] == "indented()"


def test_crlf_line_ends_map_to_the_original_text():
    text = "first line\r\nsecond *line*\r\n\r\n```\r\ncode\r\nmore\r\n```\r\n"
    check_claims(text)
    assert text[slice(*select(text, "line\nsecond"))] == "line\r\nsecond"
    assert text[slice(*select(text, "code\nmore"))] == "code\r\nmore"


def test_unmapped_text_is_left_without_offsets():
    """What markdown-it rewrote (a table cell's escaped pipe) gets no offsets, not wrong ones."""
    text = "| a |\n|---|\n| b \\| c |\n"
    chars = check_claims(text)
    assert ("|", None) in chars


def test_deeply_nested_fallback_maps_the_whole_text():
    text = "> " * 120 + "deep"
    chars = check_claims(text)
    assert [w for _, w in chars] == [(i, i + 1) for i in range(len(text))]


FRAGMENTS = st.sampled_from(
    [
        "word",
        " ",
        "\n",
        "\r\n",
        "\n\n",
        "*",
        "**",
        "_",
        "`",
        "``",
        "~~",
        "\\",
        "\\*",
        "&amp;",
        "&#42;",
        "&bogus;",
        "[",
        "]",
        "(",
        ")",
        "](http://x)",
        '](u "t")',
        "<",
        ">",
        "<http://a.b>",
        "# ",
        "> ",
        "- ",
        "1. ",
        "    ",
        "|",
        "---",
        "```",
        "😀",
        "🙏🏽",
        "שלום",
        "مرحبا",
        "é",
        "\t",
        "!",
        "[x]: http://y\n",
        "\0",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(FRAGMENTS, max_size=40).map("".join))
def test_every_offset_claim_is_true(text):
    check_claims(text)


def _doubling_ratio(text: str) -> float:
    double = text + text
    best = {text: float("inf"), double: float("inf")}
    gc.disable()
    try:
        for _ in range(5):
            for t in (text, double):
                t0 = time.process_time()
                markdown_tree(t, offsets=True)
                best[t] = min(best[t], time.process_time() - t0)
    finally:
        gc.enable()
    return best[double] / best[text]


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    ["word *em* [l](u) `c` &amp; \\* " * 2000, "[a" * 10_000, " *a" * 14_000, "x\n" * 10_000],
    ids=["mixed", "brackets", "star-a", "lines"],
)
def test_offsets_time_is_linear(text):
    """Finding the offsets keeps the parse linear: doubling the input about doubles the time
    (up to three measurements on a busy machine; the lowest ratio must be under 3)."""
    markdown_tree(text, offsets=True)
    ratios = []
    for _ in range(3):
        ratios.append(_doubling_ratio(text))
        if ratios[-1] < 3.0:
            break
    assert min(ratios) < 3.0, f"doubling the input took {ratios}x the time"
