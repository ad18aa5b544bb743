"""Property tests: random and half-valid input gives a clean corpus or one CorpusError, never a
traceback from inside a parser, and a failed import leaves nothing behind.

Any value in a record may be nested thousands of levels deep (``DEEP``, replaced by deep JSON
text when the file is written), so no importer may recurse into a value it is given."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotate.corpus import load_corpus
from annotate.errors import CorpusError
from annotate.importers import import_corpus
from annotate.importers._jsonio import raw_decode_deep
from annotate.types import ROLES

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: a placeholder value: written to the file as JSON nested ``depth`` levels deep
DEEP = "\x00deep\x00"
deep_texts = st.tuples(
    st.sampled_from(['{"k":', "[", '[{"role":"user","k":']),
    st.one_of(st.sampled_from([1_100, 3_000]), st.integers(2, 3_000)),
)


def _deep_text(opener_depth: tuple[str, int]) -> str:
    opener, depth = opener_depth
    closer = "".join({"{": "}", "[": "]"}[c] for c in opener if c in "{[")[::-1]
    return opener * depth + "1" + closer * depth


def _dumps(obj, deep: tuple[str, int]) -> str:
    """``json.dumps``, with every ``DEEP`` placeholder replaced by deeply nested JSON."""
    return json.dumps(obj).replace(json.dumps(DEEP), _deep_text(deep))


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.just(DEEP),
)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8,
)
labels = st.one_of(
    st.sampled_from(
        ["user", "human", "gpt", "assistant", "system", "bing", "tool", "narrator", "", "Human"]
    ),
    values,
)
texts = st.one_of(st.text(max_size=30), st.just(""), st.just("\ud800x"), values)


good_labels = st.sampled_from(["user", "human", "gpt", "assistant", "system", "bing", "Human"])
good_texts = st.text(min_size=1, max_size=20).filter(str.strip)


def turn(keys: tuple[str, str]):
    """Mostly valid turns (so that imports succeed often), sometimes anything at all."""
    good = st.fixed_dictionaries({keys[0]: good_labels, keys[1]: good_texts})
    bad = st.one_of(st.fixed_dictionaries({keys[0]: labels, keys[1]: texts}), values)
    return st.one_of(good, good, good, bad)


records = {
    "openai": st.fixed_dictionaries(
        {
            "messages": st.one_of(
                st.lists(turn(("role", "content")), max_size=4),
                st.lists(turn(("role", "content")), min_size=1, max_size=4),
                values,
            )
        },
        optional={
            "id": values,
            "user_id": values,
            "created_at": st.one_of(st.text(max_size=25), values),
            "meta": values,
            "model": values,
        },
    ),
    "sharegpt": st.fixed_dictionaries(
        {
            "conversations": st.one_of(
                st.lists(turn(("from", "value")), min_size=1, max_size=4), values
            )
        },
        optional={"id": values},
    ),
    "hh-rlhf": st.fixed_dictionaries(
        {
            "chosen": st.one_of(
                st.lists(
                    st.sampled_from(["\n\nHuman: ", "\n\nAssistant: ", "hi", " Human:", ""]),
                    max_size=6,
                ).map("".join),
                values,
            )
        },
        optional={"rejected": values},
    ),
    "oasst": st.fixed_dictionaries(
        {
            "message_id": st.sampled_from(["a", "b", "c", "d"]),
            "role": st.one_of(st.sampled_from(["prompter", "assistant"]), labels),
            "text": st.one_of(good_texts, texts),
        },
        optional={
            "parent_id": st.one_of(st.sampled_from([None, None, "a", "b", "zz", 3]), values),
            "message_tree_id": values,
            "rank": values,
            "deleted": st.booleans(),
            "replies": st.one_of(st.lists(values, max_size=2), values),
            "created_date": st.one_of(st.text(max_size=25), values),
            "emojis": st.one_of(
                values,
                st.fixed_dictionaries(
                    {"name": st.lists(values, max_size=3), "count": st.lists(values, max_size=3)}
                ),
            ),
            "labels": st.one_of(
                values,
                st.fixed_dictionaries(
                    {"name": st.lists(values, max_size=3), "value": st.lists(values, max_size=3)}
                ),
            ),
        },
    ),
    "mathdial": st.fixed_dictionaries(
        {
            "conversation": st.one_of(
                st.lists(
                    st.sampled_from(
                        ["Teacher: (focus)hi", "Student: 4", "Ana:", "nocolon", "", "|EOM|"]
                    ),
                    max_size=5,
                ).map("|EOM|".join),
                values,
            )
        },
        optional={"qid": values},
    ),
}


def _check(src: Path, fmt: str, out: Path, **options) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            corpus = import_corpus(src, fmt, out=out, **options)
        except CorpusError as exc:
            assert str(exc).startswith("[E1")
            assert not out.exists()
            assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
            return
    assert all(str(w.message).startswith("[W1") for w in caught), [str(w.message) for w in caught]
    again = load_corpus(out)
    t = again.turns
    assert len(t) == int(again.conversations["n_turns"].sum()) == again.manifest["counts"]["turns"]
    assert set(t["role"].unique()) <= set(ROLES)
    assert t["text"].str.strip().str.len().min() > 0
    assert t["turn_id"].is_unique and again.conversations["conversation_id"].is_unique
    assert len(corpus) == len(again)


def _lines(recs: list, junk: list[str], deep: tuple[str, int] = ("[", 1)) -> str:
    out = [_dumps(r, deep) for r in recs]
    for i, j in enumerate(junk):
        out.insert(i % (len(out) + 1), j)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("fmt", sorted(records))
def test_importers_fuzz_records(fmt: str) -> None:
    @SETTINGS
    @given(
        recs=st.lists(records[fmt], min_size=1, max_size=5),
        junk=st.lists(
            st.sampled_from(["{", "]", "null", "[1]", '"x"', '{"a": }', "\x00"]), max_size=2
        ),
        array=st.booleans(),
        cut=st.integers(min_value=0, max_value=400),
        deep=deep_texts,
    )
    def run(recs: list, junk: list[str], array: bool, cut: int, deep: tuple[str, int]) -> None:
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "src.jsonl"
            body = _dumps(recs, deep) if array else _lines(recs, junk, deep)
            if cut % 4 == 0:  # a quarter of the files are cut somewhere
                body = body[: len(body) * cut // 400]
            src.write_text(body, encoding="utf-8", errors="surrogatepass")
            _check(src, fmt, Path(d) / "out")

    run()


@SETTINGS
@given(
    data=st.binary(max_size=300),
    fmt=st.sampled_from(["openai", "sharegpt", "hh-rlhf", "oasst", "mathdial", "csv"]),
)
def test_importers_fuzz_bytes(data: bytes, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "src.dat"
        src.write_bytes(data)
        _check(src, fmt, Path(d) / "out")


@SETTINGS
@given(
    rows=st.lists(
        st.lists(
            st.sampled_from(["c1", "c2", "", "user", "bot", "hi", "1", "x,y", '"q"']),
            min_size=0,
            max_size=5,
        ),
        max_size=6,
    ),
    header=st.lists(
        st.sampled_from(["conversation_id", "role", "text", "turn_index", "other"]), max_size=5
    ),
    mapping=st.dictionaries(
        st.sampled_from(["conversation_id", "role", "text", "order", "bad"]),
        st.sampled_from(["text", "role", "other", "nope"]),
        max_size=3,
    ),
    delimiter=st.one_of(
        st.sampled_from(["", ",", ";", "tab", "\\t", "ab", '"', "\n"]), st.text(max_size=3), values
    ),
)
def test_importers_fuzz_csv(rows: list, header: list, mapping: dict, delimiter) -> None:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "src.csv"
        src.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
        _check(src, "csv", Path(d) / "out", mapping=mapping, delimiter=delimiter)


@SETTINGS
@given(
    utts=st.lists(
        st.one_of(
            values,
            st.fixed_dictionaries(
                {"id": st.sampled_from(["a", "b", "c", 1]), "text": texts},
                optional={
                    "reply-to": st.one_of(st.sampled_from([None, "a", "b", "q"]), values),
                    "conversation_id": values,
                    "speaker": values,
                    "timestamp": values,
                    "meta": values,
                },
            ),
        ),
        max_size=5,
    ),
    speakers=values,
    conversations=values,
    deep=deep_texts,
)
def test_importers_fuzz_convokit(utts: list, speakers, conversations, deep) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "ck"
        folder.mkdir()
        (folder / "utterances.jsonl").write_text(_lines(utts, [], deep))
        (folder / "speakers.json").write_text(_dumps(speakers, deep))
        (folder / "conversations.json").write_text(_dumps(conversations, deep))
        (folder / "corpus.json").write_text(_dumps({"meta": conversations}, deep))
        for paths in ("thread", "best", "all"):
            _check(folder, "convokit", Path(d) / f"out-{paths}", paths=paths)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(),
        st.sampled_from([float("inf"), float("-inf")]),
    ),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)


@SETTINGS
@given(value=json_values, indent=st.sampled_from([None, 1]), cut=st.integers(0, 100))
def test_importers_fuzz_deep_decoder_matches_json(value, indent, cut: int) -> None:
    """The decoder for over-deep records gives what the standard library's gives (the
    reference), and rejects exactly the cut-off texts it rejects."""
    text = json.dumps(value, indent=indent)
    assert raw_decode_deep(text, 0) == json.JSONDecoder().raw_decode(text, 0)
    part = text[: len(text) * cut // 100]
    try:
        expected = json.JSONDecoder().raw_decode(part, 0)
    except json.JSONDecodeError:
        expected = None
    try:
        got = raw_decode_deep(part, 0)
    except json.JSONDecodeError:
        got = None
    assert got == expected


@SETTINGS
@given(text=st.text(alphabet='{}[]",:0123456789.eE-+ \\ntrufalsNIiy', max_size=40))
def test_importers_fuzz_deep_decoder_on_any_text(text: str) -> None:
    try:
        expected = json.JSONDecoder().raw_decode(text, 0)
    except json.JSONDecodeError:
        expected = None
    try:
        got = raw_decode_deep(text, 0)
    except json.JSONDecodeError:
        got = None
    assert repr(got) == repr(expected)  # repr: NaN == NaN
