"""The quickstart's donation fixture (corpora/donation/P001/conversations.json, team-written):
a ChatGPT account export that the chatgpt-export importer reads as the participant saw it."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import annotate

REPO = Path(__file__).resolve().parents[2]
EXPORT = REPO / "corpora" / "donation" / "P001" / "conversations.json"


def test_donation_fixture_imports_as_the_participant_saw_it(tmp_path: Path) -> None:
    raw = json.loads(EXPORT.read_text(encoding="utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped or repaired: a clean export
        corpus = annotate.import_corpus(
            EXPORT, "chatgpt-export", out=tmp_path / "donations", user_id="P001",
            consent_scope="research use, 5 years", consent_date="2025-03-04", append=True,
        )  # fmt: skip
    conv = corpus.conversations.set_index("conversation_id")
    assert sorted(conv.index) == sorted(r["conversation_id"] for r in raw)
    # the conversation's model: the export's default_model_slug
    assert {cid: conv.loc[cid, "model"] for cid in conv.index} == {
        r["conversation_id"]: r["default_model_slug"] for r in raw
    }
    assert set(conv["user_id"]) == {"P001"}
    # every message node on the path to current_node, none of the regenerated-away branch
    for rec in raw:
        path, node = [], rec["current_node"]
        while node is not None:
            if rec["mapping"][node]["message"] is not None:
                path.append(rec["mapping"][node]["message"]["content"]["parts"][0])
            node = rec["mapping"][node]["parent"]
        turns = corpus.conversation(rec["conversation_id"])
        assert turns["text"].tolist() == path[::-1]
        assert turns["role"].tolist()[:2] == ["user", "assistant"]
    texts = set(corpus.turns["text"])
    assert "I missed you so much! The hours feel long without you." not in texts
    assert len(corpus.turns) == 20
    register = json.loads((tmp_path / "donations" / "consent.json").read_text(encoding="utf-8"))
    p001 = register["participants"]["P001"]
    assert (p001["scope"], p001["consented_at"]) == ("research use, 5 years", "2025-03-04")
    assert p001["donations"][0]["conversations"] == 3
