"""spaCy preprocessing: sentences, token counts, masking of personal data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy

from annotate.corpus import load_corpus
from annotate.errors import CorpusError
from annotate.importers import import_corpus
from annotate.nlp import get_pipeline, has_ner, mask_corpus, mask_text, preprocess


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Mail me at ana.b+x@example.org!", "Mail me at [EMAIL]!"),
        ("See https://ex.org/a?b=1. Then", "See [URL]. Then"),
        ("(link: www.test.com/x),", "(link: [URL]),"),
        ("Is it http://a.io/p?", "Is it [URL]?"),
        ("Call (555) 123-4567 or 555-123-4567.", "Call [PHONE] or [PHONE]."),
        ("UK: +44 20 7946 0958; US +1-555-123-4567", "UK: [PHONE]; US [PHONE]"),
        ("ping @jane_doe and @x", "ping [HANDLE] and @x"),
        ("from 192.168.1.10, or 2001:db8::1", "from [IP], or [IP]"),
        ("fe80:0:0:0:202:b3ff:fe1e:8329 down", "[IP] down"),
        ("Hotline 1-800-799-7233, or 1 (800) 555-0100", "Hotline [PHONE], or [PHONE]"),
        ("@app.template_filter('x')\ndef f(): ...", "@app.template_filter('x')\ndef f(): ..."),
        ("insta is @studio.nails_ok.", "insta is [HANDLE]."),
    ],
)
def test_nlp_mask_text_classes(text: str, masked: str) -> None:
    assert mask_text(text, names=False) == masked


@pytest.mark.parametrize(
    "text",
    [
        "On 2023-01-19 we met at 12:30:45.",
        "In 2019 2020 and 2021 I had 3 cats, ratio 3:4, version 1.2.3.",
        "The score was 10-8, page 3.14, 999.1 km.",
        "Nothing to see here.",
    ],
)
def test_nlp_mask_text_leaves_other_numbers(text: str) -> None:
    assert mask_text(text, names=False) == text


def test_nlp_default_pipeline_blank_with_sentencizer() -> None:
    nlp = get_pipeline("blank")
    assert "sentencizer" in nlp.pipe_names and not has_ner(nlp)
    with pytest.raises(CorpusError, match=r"\[E115\].*no_such_pipeline"):
        get_pipeline("no_such_pipeline")


def test_nlp_names_without_ner_warns() -> None:
    nlp = get_pipeline("blank")
    with pytest.warns(UserWarning, match=r"\[W103\]"):
        assert mask_text("Maria wrote maria@x.org", names=True, nlp=nlp) == "Maria wrote [EMAIL]"


def test_nlp_names_masked_with_ner() -> None:
    """A stand-in NER (an entity ruler) shows how names are masked when NER exists."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", name="ner")
    ruler.add_patterns([{"label": "PERSON", "pattern": "Maria Lopez"}])
    assert has_ner(nlp)
    out = mask_text("Ask Maria Lopez at m@l.org.", nlp=nlp)
    assert out == "Ask [NAME] at [EMAIL]."


def test_nlp_preprocess_texts() -> None:
    out = preprocess(
        ["Hello there. How are you?", "one", "Mail x@y.org now!"],
        mask=True,
        nlp=get_pipeline("blank"),
    )
    assert out["n_sentences"].tolist() == [2, 1, 1]
    assert out["sentences"].iloc[0] == ["Hello there.", "How are you?"]
    assert out["n_tokens"].tolist() == [7, 1, 4]
    assert out["masked_text"].iloc[2] == "Mail [EMAIL] now!"
    assert out.attrs["mask_counts"] == {"email": 1}


def test_nlp_preprocess_and_mask_demo_corpus(repo_root: Path, tmp_path: Path) -> None:
    src = repo_root / "corpora" / "demo" / "demo.jsonl"
    if not src.exists():
        pytest.skip("the demo corpus is not written yet")
    corpus = import_corpus(src, "openai", out=tmp_path / "demo")
    pre = preprocess(corpus, nlp=get_pipeline("blank"), progress=False)
    assert len(pre) == len(corpus.turns)
    assert pre["conversation_id"].tolist() == corpus.turns["conversation_id"].tolist()
    assert (pre["n_tokens"] > 0).all() and (pre["n_sentences"] > 0).all()
    nlp = get_pipeline("blank")
    expected = [len(nlp(t)) for t in corpus.turns["text"][:50]]
    assert pre["n_tokens"].tolist()[:50] == expected

    masked = mask_corpus(corpus, tmp_path / "masked", names=False)
    m = masked.manifest["masking"]
    expect = [mask_text(t, names=False) for t in corpus.turns["text"]]
    assert masked.turns["text"].tolist() == expect
    assert m["turns_changed"] == sum(
        a != b for a, b in zip(expect, corpus.turns["text"], strict=True)
    )
    assert m["source_corpus"]["name"] == "demo" and m["method"] == "regex"
    assert masked.manifest["counts"] == corpus.manifest["counts"]
    # the original corpus is untouched on disk
    assert load_corpus(tmp_path / "demo").turns["text"].tolist() == corpus.turns["text"].tolist()
    assert (
        json.loads((tmp_path / "masked" / "manifest.json").read_text())["masking"]["counts"]
        == m["counts"]
    )


def test_nlp_mask_corpus_counts(tmp_path: Path) -> None:
    src = tmp_path / "c.jsonl"
    recs = [
        {
            "id": "a",
            "messages": [
                {"role": "user", "content": "x@y.org and @bob, 10.0.0.1"},
                {"role": "assistant", "content": "see https://a.b/c."},
            ],
        }
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    corpus = import_corpus(src, "openai", out=tmp_path / "c")
    masked = mask_corpus(tmp_path / "c", tmp_path / "m", names=False)
    m = masked.manifest["masking"]
    assert m["counts"] == {"url": 1, "email": 1, "ip": 1, "phone": 0, "handle": 1}
    assert m["turns_changed"] == 2
    assert masked.turns["text"].tolist() == ["[EMAIL] and [HANDLE], [IP]", "see [URL]."]
    with pytest.raises(CorpusError, match=r"\[E107\]"):
        mask_corpus(corpus, tmp_path / "m", names=False)
