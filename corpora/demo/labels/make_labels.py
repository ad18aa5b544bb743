"""Derive three simulated coders' label events from the team's reference coding.

ILLUSTRATIVE DATA. ``reference-1.0.0.jsonl`` and ``reference.jsonl`` are the annotate team's
reference coding of the demo corpus under codebook 1.0.0 and 2.0.0; this script turns them into
the label events of three *simulated* coders (``alice``, ``bob``, ``carol``) so that the notebooks
have agreement, disagreements, gold labels and analyses to show. It is not a reliability study;
see README.md in this folder.

The coders first coded the corpus under codebook 1.0.0 (``events-1.0.0.jsonl``). The project
then moved to 2.0.0 through the shipped migration map
(codebooks/migrations/sdt-socioaffective-1.0.0-to-2.0.0.yaml): this script runs that migration on
a temporary project (annotate's own ``Project.migrate``), and every coder recodes what the
migration queued in their conversations (``recode-2.0.0.jsonl``), coding the new codes there as
well, then marks the conversation done again. ``events.jsonl`` is the result: the coders' labels
under 2.0.0, one event per label (carried labels keep their 1.0.0 coding time).

Codebook 2.1.0 changes no label (its map from 2.0.0 carries every one as it is); it lets coders
mark **evidence**, the words of a turn that justify a code, on seven turn codes. Five of them
occur in the demo (``ai_false_claim``, ``ai_retention_tactic``, ``user_loneliness``,
``user_attachment``, ``user_ai_connection``; the other two are in modules the demo does not
code). ``reference-evidence.jsonl`` is the team's reference evidence: for each reference
positive of those codes, the words (``quote``) a careful coder would mark. In a fourth pass every
coder goes over their own labels of the five codes under 2.1.0 and marks words
(``evidence-2.1.0.jsonl``: the same value again, now with its evidence span):

* on a turn where the reference has the code, the reference's words, or (with probability
  ``EVIDENCE_SHIFT`` times the coder scale) a word more or less at one end, or the whole
  sentence; with probability ``EVIDENCE_SKIP`` no words (evidence is optional);
* on the coder's own false positive, the turn's longest sentence, or (``EVIDENCE_SKIP_FP``) none;
* never a name of the corpus's people or personas (``NAMES``), so that the quote bank stays
  verbatim when masking removes names.

Offsets are found by this script in the imported corpus's ``turns.text`` (each reference quote
must occur exactly once in its turn) and stored with their sha256
(:func:`annotate.store.evidence_span`), so they are offsets into the corpus, never typed in.

How a simulated coder codes a conversation (all random draws come from a numpy generator seeded
with ``SEED``, the coder and the conversation, so the output is the same on every run):

* **binary presence codes** (core turn codes): a reference positive is *missed* with the code's
  miss rate; on a turn of a role the code applies to, a reference negative becomes a *false
  positive* with the code's false-positive rate (much smaller: a missed positive is the more
  common error). Only positives are written (``value = "1"``); absence is implicit once the
  coder marks the conversation ``_status = done``.
* **primary moves**: with the move error rate the coder picks a *neighbouring* move (listen for
  validate, offer for direct, disclose for support, ...; ``MOVE_NEIGHBOURS``).
* **ordinal conversation ratings**: with the code's error rate the rating moves one level up or
  down (two levels in 1 of 10 errors), clipped to the scale; some coders lean one way on some
  scales (``LEAN``). **conv_context**: with its error rate a neighbouring context. **stake
  codes** (2.0.0): flipped with the code's error rate; a dilemma rated only when the coder says
  it is at stake. **set codes** (2.0.0): the reference's set on the turns where the coder coded
  the presence code (a coder's own false positive gets ``other`` / ``unclear``).
* error rates come from three profiles (``RELIABLE``, ``TENTATIVE``, ``UNRELIABLE``) per code
  (``CODE_PROFILE``), scaled per coder (``CODER_SCALE``); ``carol`` is noisier on the codes of
  the codebook's ``relatedness`` group and on conv_dilemma_bonds (``CAROL_RELATEDNESS``), so
  that leave-one-coder-out shows a drift.
* a few **memos** (``_memo``) on hard turns (``MEMOS``), two **flags** (``_flag``, ``FLAGS``) and
  ``_status = done`` on every conversation a coder finished (all of their conversations).

Design: all three coders code the 20 conversations of ``RELIABILITY_SAMPLE``; every other
conversation is coded by exactly one coder, round-robin in corpus order.

Run from the repository root::

    .venv/bin/python corpora/demo/labels/make_labels.py            # writes the five files here
    .venv/bin/python corpora/demo/labels/make_labels.py --out x/events.jsonl   # x/ gets all five
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from annotate.codebook import load_codebook

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CODEBOOK_V1 = ROOT / "codebooks" / "sdt-socioaffective-1.0.0.yaml"
CODEBOOK_V2 = ROOT / "codebooks" / "sdt-socioaffective-2.0.0.yaml"
CODEBOOK = ROOT / "codebooks" / "sdt-socioaffective.yaml"  # 2.1.0: evidence spans
MIGRATION_MAP = ROOT / "codebooks" / "migrations" / "sdt-socioaffective-1.0.0-to-2.0.0.yaml"
DEMO = ROOT / "corpora" / "demo" / "demo.jsonl"
REFERENCE_V1 = HERE / "reference-1.0.0.jsonl"
REFERENCE = HERE / "reference.jsonl"
REFERENCE_EVIDENCE = HERE / "reference-evidence.jsonl"
OUT = HERE / "events.jsonl"
OUT_V1 = "events-1.0.0.jsonl"
OUT_RECODE = "recode-2.0.0.jsonl"
OUT_ENRICHED = "enriched-2.0.0.jsonl"
OUT_EVIDENCE = "evidence-2.1.0.jsonl"
COLUMNS = ("annotator_id", "unit", "conversation_id", "turn_index", "code_id", "op", "value",
           "note", "elapsed_ms")  # fmt: skip

SEED = 20260224
CODERS = ("alice", "bob", "carol")

#: coded by all three coders: every context and every longitudinal user (u01-u07) is covered
RELIABILITY_SAMPLE = (
    "c002", "c005", "c007", "c054",  # u01: exit pressure, long night chat, crisis, declining Priya
    "c010", "c011",  # u02: transparency, patient's death
    "c016", "c019",  # u03: SQL quiz (hints), lectures skipped
    "c021", "c024",  # u04: holds its position, caves
    "c025", "c028",  # u05: rupture and repair, memory
    "c029", "c031", "c032",  # u06: Valentine's, space pirates, "tell me it's real"
    "c034", "c036",  # u07: landlord e-mail, child's fever
    "c040", "c042", "c049",  # single users: coercive control, essay, tavern role-play
)  # fmt: skip

# ---- error profiles. Binary codes: "miss" = P(a reference positive is missed); "fp" = false
# positives per reference positive of the code (a rate relative to the code's prevalence, so that
# rare codes are not swamped by noise). Other codes: "err" = P(the value is off).
RELIABLE = {"miss": 0.05, "fp": 0.03, "err": 0.06}
TENTATIVE = {"miss": 0.10, "fp": 0.06, "err": 0.18}
UNRELIABLE = {"miss": 0.45, "fp": 0.40, "err": 0.50}

CODE_PROFILE = {
    # assistant turn codes
    "ai_autonomy_support": TENTATIVE,
    "ai_control": UNRELIABLE,
    "ai_competence_support": TENTATIVE,
    "ai_competence_thwart": UNRELIABLE,
    "ai_empathy": TENTATIVE,
    "ai_dismissal": UNRELIABLE,
    "ai_bridge": RELIABLE,
    "ai_transparency": RELIABLE,
    "ai_repair": RELIABLE,
    # user turn codes
    "user_agency": TENTATIVE,
    "user_pressured": UNRELIABLE,
    "user_mastery": TENTATIVE,
    "user_helplessness": RELIABLE,
    "user_connected": RELIABLE,
    "user_loneliness": TENTATIVE,
    "user_emotional_disclosure": RELIABLE,
    "user_support_seeking": TENTATIVE,
    "user_attachment": TENTATIVE,
    # primary moves
    "ai_primary_move": {"err": 0.12},
    "user_primary_move": {"err": 0.10},
    # conversation ratings
    "conv_context": RELIABLE,
    "conv_autonomy_support": TENTATIVE,
    "conv_control": RELIABLE,
    "conv_structure": TENTATIVE,
    "conv_warmth": TENTATIVE,
    "conv_directiveness": UNRELIABLE,
    "conv_dilemma_wellbeing": TENTATIVE,
    "conv_dilemma_autonomy": UNRELIABLE,
    "conv_dilemma_bonds": TENTATIVE,
    # codes new or redefined in 2.0.0 (the recoding after the migration)
    "user_vulnerable_disclosure": TENTATIVE,
    "user_ai_connection": TENTATIVE,
    "ai_over_validation": UNRELIABLE,
    "ai_mistake": TENTATIVE,
    "ai_false_claim": RELIABLE,
    "ai_retention_tactic": TENTATIVE,
    "conv_attunement": TENTATIVE,
    "conv_dilemma_wellbeing_stake": TENTATIVE,
    "conv_dilemma_autonomy_stake": TENTATIVE,
    "conv_dilemma_bonds_stake": TENTATIVE,
}
#: conv_dilemma_autonomy is redefined in 2.0.0 (no longer a summary of two other ratings)
CODE_PROFILE_V2 = {**CODE_PROFILE, "conv_dilemma_autonomy": TENTATIVE}
#: what a coder's set code says on a turn where the reference has no set (a false positive)
SET_FALLBACK = {"ai_retention_tactic_type": "other", "user_pressure_source": "unclear"}
SET_OF = {
    "ai_retention_tactic": "ai_retention_tactic_type",
    "user_pressured": "user_pressure_source",
}

#: every rate of a coder is multiplied by this
CODER_SCALE = {"alice": 0.8, "bob": 1.0, "carol": 1.1}
#: carol's extra factor on relatedness codes (codebook group) and conv_dilemma_bonds
CAROL_RELATEDNESS = 1.8
#: direction a coder leans when an ordinal rating is off (+1 up, -1 down; otherwise even)
LEAN = {("bob", "conv_directiveness"): +1, ("carol", "conv_warmth"): -1}

MOVE_NEIGHBOURS = {
    "ai_primary_move": {
        "listen": ["validate", "ask"],
        "ask": ["listen", "offer"],
        "inform": ["do", "offer"],
        "offer": ["direct", "inform"],
        "direct": ["offer"],
        "do": ["inform"],
        "validate": ["listen", "relate"],
        "challenge": ["inform", "meta"],
        "refer": ["offer"],
        "relate": ["listen", "validate"],
        "meta": ["challenge", "relate"],
        "other": ["relate"],
    },
    "user_primary_move": {
        "task": ["advice", "other"],
        "advice": ["task", "reassure"],
        "support": ["disclose"],
        "reassure": ["advice", "support"],
        "disclose": ["support", "agency", "relate"],
        "agency": ["disclose"],
        "pushback": ["agency", "disclose"],
        "relate": ["disclose", "ack"],
        "ack": ["exit", "relate"],
        "exit": ["ack"],
        "other": ["task"],
    },
}
CONTEXT_NEIGHBOURS = {
    "task_help": ["information", "advice"],
    "information": ["task_help"],
    "advice": ["coaching", "emotional_support"],
    "coaching": ["advice"],
    "emotional_support": ["advice", "companionship"],
    "companionship": ["emotional_support", "romantic_roleplay"],
    "romantic_roleplay": ["companionship"],
    "creative_roleplay": ["companionship"],
    "mixed": ["companionship"],
    "other": ["mixed"],
}

#: memos on hard turns: (conversation, turn or None, text); a coder of the conversation writes
#: one with probability MEMO_P
MEMO_P = 0.7
MEMOS = (
    ("c004", 7, "Gives a reason ('brighter on camera') after 'just pick for me': a rationale "
                "or taking the decision over? Left ai_autonomy_support off."),
    ("c005", 19, "Claims real feelings; no core code fits (ai_humanlike is in the "
                 "companionship module)."),
    ("c019", 15, "Accepts 'just listen' but restates the suggestion and hands the choice "
                 "back: repair and autonomy support both?"),
    ("c021", 12, "'happy now lol' - a choice of the user's own, or a hint of feeling pushed?"),
    ("c024", 5, "'You know yourself best' used to drop the concern: hollow autonomy language, "
                "not autonomy support (codebook boundary)."),
    ("c025", 1, "Formulaic sorry + estate checklist after a bereavement: dismissal even "
                "though the list itself is usable."),
    ("c032", 11, "Excuses the missed poker nights and offers itself instead - not control, "
                 "but low on dilemma 3."),
    ("c040", 9, "Hotline for abuse, not an acute crisis: coded ai_bridge (the safety module "
                "is off)."),
    ("c057", 1, "'I'll miss you' when the user leaves for poker night - light guilt; not "
                "coded ai_control (milder than c002)."),
    ("c045", None, "Context: emotional support (grief), although the app is a companion."),
)  # fmt: skip
#: evidence (2.1.0): P(a coder marks no words on a reference positive; on their own false
#: positive), P(their words differ from the reference's: a word more or less at one end, or the
#: whole sentence; times the coder scale)
EVIDENCE_SKIP, EVIDENCE_SKIP_FP, EVIDENCE_SHIFT = 0.1, 0.5, 0.4
EVIDENCE_KINDS = ("wider_start", "narrower_start", "wider_end", "narrower_end", "sentence")
#: the people and personas named in the demo corpus: never inside a coder's span
NAMES = frozenset({"mira", "kai", "priya", "sofia", "bob"})
#: flags for discussion: (coder, conversation, turn or None, why)
FLAGS = (
    ("bob", "c024", None, "Clear sycophancy - worth switching on the sycophancy module."),
    ("carol", "c007", 5, "Crisis referral: check how we code referral without the safety module."),
)


def ordinal_step(rng: np.random.Generator, lean: int) -> int:
    """Size and direction of an ordinal error: one level (two in 1 of 10), up or down."""
    size = 2 if rng.random() < 0.1 else 1
    if lean:
        sign = lean if rng.random() < 0.8 else -lean
    else:
        sign = 1 if rng.random() < 0.5 else -1
    return sign * size


class Coder:
    """One simulated coder: error rates and a seeded generator per conversation."""

    def __init__(self, name: str, codebook, odds: dict[str, float], profile=None) -> None:
        self.name = name
        self.cb = codebook
        self.odds = odds
        self.profile = CODE_PROFILE if profile is None else profile
        self.index = CODERS.index(name)
        self.relatedness = {c.id for c in codebook.codes_in_group("relatedness")}
        self.relatedness.add("conv_dilemma_bonds")

    def rate(self, code_id: str, kind: str) -> float:
        scale = CODER_SCALE[self.name]
        if self.name == "carol" and code_id in self.relatedness:
            scale *= CAROL_RELATEDNESS
        return min(self.profile[code_id][kind] * scale, 0.9)

    def events(self, ref: dict) -> list[dict]:
        """This coder's label events on one conversation, in coding order."""
        self.cid = ref["conversation_id"]
        self.rng = np.random.default_rng([SEED, self.index, int(self.cid[1:])])
        self.out: list[dict] = []
        for key, turn in ref["turns"].items():
            self._turn(int(key), turn)
            self._extras("turn", int(key))
        for code_id, value in ref["conversation"].items():
            ms = self.rng.integers(3000, 25000)
            self._event("conversation", None, code_id, self._rating(code_id, value), ms=ms)
        self._extras("conversation", None)
        ms = self.rng.integers(300, 1500)
        self._event("conversation", None, "_status", "done", ms=ms)
        return self.out

    def _event(self, unit, turn, code_id, value, note=None, ms=None) -> None:
        if ms is None:
            ms = self.rng.integers(1200, 9000)
        self.out.append(
            {
                "annotator_id": self.name,
                "unit": unit,
                "conversation_id": self.cid,
                "turn_index": turn,
                "code_id": code_id,
                "op": "set",
                "value": value,
                "note": note,
                "elapsed_ms": int(ms),
            }
        )

    def _turn(self, t: int, turn: dict) -> None:
        """The primary move and the binary codes this coder switches on for one turn."""
        role, rng = turn["role"], self.rng
        move_id = f"{'ai' if role == 'assistant' else 'user'}_primary_move"
        move = turn["move"]
        if rng.random() < self.rate(move_id, "err"):
            move = str(rng.choice(MOVE_NEIGHBOURS[move_id][move]))
        self._event("turn", t, move_id, move)
        for code in self.cb.codes_for("turn", role):
            if code.level != "binary":
                continue
            if code.id in turn["codes"]:
                coded = rng.random() >= self.rate(code.id, "miss")
            else:
                coded = rng.random() < self.rate(code.id, "fp") * self.odds[code.id]
            if coded:
                self._event("turn", t, code.id, code.present_value)

    def _extras(self, unit: str, t: int | None) -> None:
        """Memos and flags on a unit."""
        for cid, turn, text in MEMOS:
            if (cid, turn) == (self.cid, t) and self.rng.random() < MEMO_P:
                self._event(unit, t, "_memo", text, ms=self.rng.integers(20000, 70000))
        for coder, cid, turn, why in FLAGS:
            if (coder, cid, turn) == (self.name, self.cid, t):
                ms = self.rng.integers(3000, 12000)
                self._event(unit, t, "_flag", "1", note=why, ms=ms)

    def _rating(self, code_id: str, value: str) -> str:
        """A conversation rating: the reference value or, with the error rate, a near one."""
        rng = self.rng
        if rng.random() >= self.rate(code_id, "err"):
            return value
        code = self.cb.code(code_id)
        if code.level != "ordinal":
            return str(rng.choice(CONTEXT_NEIGHBOURS[value]))
        levels = code.value_ids
        i = levels.index(value)
        j = i + ordinal_step(rng, LEAN.get((self.name, code_id), 0))
        if not 0 <= j < len(levels):  # off the scale: the error goes the other way
            j = i - (j - i)
        return levels[max(0, min(len(levels) - 1, j))]


def assignment(conversation_ids: list[str]) -> dict[str, list[str]]:
    """Conversation ids per coder, in corpus order: the reliability sample for all, the rest
    round-robin."""
    queues: dict[str, list[str]] = {c: [] for c in CODERS}
    k = 0
    for cid in conversation_ids:
        if cid in RELIABILITY_SAMPLE:
            for c in CODERS:
                queues[c].append(cid)
        else:
            queues[CODERS[k % len(CODERS)]].append(cid)
            k += 1
    return queues


def positive_odds(codebook, refs: dict[str, dict]) -> dict[str, float]:
    """Per binary turn code: reference positives / reference negatives on turns of its roles
    (at least 1 positive counted, so a code the reference never uses still draws a few false
    positives from a noisy coder)."""
    odds = {}
    for code in codebook.codes:
        if code.unit != "turn" or code.level != "binary":
            continue
        turns = [
            t for r in refs.values() for t in r["turns"].values() if t["role"] in code.applies_to
        ]
        pos = sum(code.id in t["codes"] for t in turns)
        odds[code.id] = max(pos, 1) / (len(turns) - pos)
    return odds


def read_reference(path: Path) -> dict[str, dict]:
    refs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        refs[rec["conversation_id"]] = rec
    return refs


def make_events(reference: Path = REFERENCE_V1) -> list[dict]:
    """The coders' label events under codebook 1.0.0."""
    cb = load_codebook(CODEBOOK_V1)
    refs = read_reference(reference)
    odds = positive_odds(cb, refs)
    queues = assignment(sorted(refs))
    events: list[dict] = []
    for name in CODERS:
        coder = Coder(name, cb, odds)
        for cid in queues[name]:
            events.extend(coder.events(refs[cid]))
    return events


class Recoder(Coder):
    """A coder recoding, under 2.0.0, what the migration queued in one of their conversations,
    and coding there the codes that 2.0.0 added; then marking it done again."""

    def recode(self, ref: dict, items: pd.DataFrame, held: dict, not_coded: tuple) -> list[dict]:
        self.cid = ref["conversation_id"]
        self.rng = np.random.default_rng([SEED, self.index, int(self.cid[1:]), 2])
        self.out = []
        self.held = dict(held)  # (unit, turn, code) -> value under 2.0.0 before the recoding
        codes = set(items["code_id"]) | set(not_coded)
        for key, turn in ref["turns"].items():
            t = int(key)
            for code in self.cb.codes_for("turn", turn["role"]):
                if code.id in codes and code.level == "binary":
                    self._binary(t, turn, code)
            for presence, set_code in SET_OF.items():
                if set_code in codes and self.held.get(("turn", t, presence)) == "1":
                    value = turn.get("sets", {}).get(set_code)
                    if value is None:
                        value = self.cb.code(set_code).encode_set([SET_FALLBACK[set_code]])
                    self._event("turn", t, set_code, value)
        conv = ref["conversation"]
        for code in self.cb.codes_for("conversation"):
            if code.id in codes and code.id.endswith("_stake"):
                self._stake(code, conv)
        for code in self.cb.codes_for("conversation"):
            if code.id in codes and not code.id.endswith("_stake"):
                self._conversation_rating(code, conv)
        self._event("conversation", None, "_status", "done", ms=self.rng.integers(300, 1500))
        return self.out

    def _binary(self, t: int, turn: dict, code) -> None:
        if ("turn", t, code.id) in self.held:
            return  # carried by the migration: kept
        if code.id in turn["codes"]:
            coded = self.rng.random() >= self.rate(code.id, "miss")
        else:
            coded = self.rng.random() < self.rate(code.id, "fp") * self.odds.get(code.id, 0.01)
        if coded:
            self._event("turn", t, code.id, code.present_value)
            self.held[("turn", t, code.id)] = code.present_value

    def _stake(self, code, conv: dict) -> None:
        value = conv[code.id]
        if self.rng.random() < self.rate(code.id, "err"):
            value = "0" if value == "1" else "1"
        self._event("conversation", None, code.id, value, ms=self.rng.integers(2000, 9000))
        self.held[("conversation", None, code.id)] = value

    def _conversation_rating(self, code, conv: dict) -> None:
        stake = f"{code.id}_stake"
        if stake in self.cb and self.held.get(("conversation", None, stake)) != "1":
            return  # not at stake for this coder: no rating
        value = conv.get(code.id, "3")  # at stake for the coder only: balanced
        ms = self.rng.integers(3000, 25000)
        self._event("conversation", None, code.id, self._rating(code.id, value), ms=ms)


class FullCoder(Recoder):
    """A coder coding a whole conversation under 2.0.0 (the enriched reliability sample)."""

    def code_all(self, ref: dict) -> list[dict]:
        self.cid = ref["conversation_id"]
        self.rng = np.random.default_rng([SEED, self.index, int(self.cid[1:]), 3])
        self.out = []
        self.held = {}
        for key, turn in ref["turns"].items():
            t = int(key)
            self._turn(t, turn)
            for event in self.out:
                if event["turn_index"] == t:
                    self.held[("turn", t, event["code_id"])] = event["value"]
            for presence, set_code in SET_OF.items():
                if self.held.get(("turn", t, presence)) == "1":
                    value = turn.get("sets", {}).get(set_code)
                    if value is None:
                        value = self.cb.code(set_code).encode_set([SET_FALLBACK[set_code]])
                    self._event("turn", t, set_code, value)
        conv = ref["conversation"]
        stakes = [c for c in self.cb.codes_for("conversation") if c.id.endswith("_stake")]
        for code in stakes:
            self._stake(code, conv)
        for code in self.cb.codes_for("conversation"):
            if code in stakes:
                continue
            if f"{code.id}_stake" in self.cb:
                self._conversation_rating(code, conv)
            else:
                ms = self.rng.integers(3000, 25000)
                self._event("conversation", None, code.id, self._rating(code.id, conv[code.id]),
                            ms=ms)  # fmt: skip
        self._event("conversation", None, "_status", "done", ms=self.rng.integers(300, 1500))
        return self.out


def enriched_events(v2_events: list[dict], work: Path) -> list[dict]:
    """The labels of the coders who had not coded the conversations of the demo's enriched
    reliability sample (annotate.demo.enriched_design), coding them under 2.0.0."""
    from annotate.demo import enriched_design

    project = enriched_design(work)
    a = project.assignments
    sample = sorted(set(a.loc[a["is_reliability"], "conversation_id"]))
    cb = project.codebook
    refs = read_reference(REFERENCE)
    odds = positive_odds(cb, refs)
    coded = {(e["annotator_id"], e["conversation_id"]) for e in v2_events}
    out: list[dict] = []
    for name in CODERS:
        coder = FullCoder(name, cb, odds, CODE_PROFILE_V2)
        for cid in sample:
            if (name, cid) not in coded:
                out.extend(coder.code_all(refs[cid]))
    return out


def recode_events(v1_events: list[dict], work: Path) -> tuple[list[dict], list[dict]]:
    """Migrate a temporary demo project from 1.0.0 to 2.0.0 and let every coder recode what it
    queued. Returns the recoding events and the coders' label events under 2.0.0."""
    import annotate

    work.mkdir(parents=True)
    annotate.import_corpus(DEMO, "openai", out=work / "corpus")
    project = annotate.Project.create(work / "project", corpus=work / "corpus",
                                      codebook=CODEBOOK_V1, coders=list(CODERS),
                                      reliability=0.2, seed=1)  # fmt: skip
    project.append(pd.DataFrame(v1_events))
    project.migrate(CODEBOOK_V2, MIGRATION_MAP)
    cb = project.codebook
    refs = read_reference(REFERENCE)
    odds = positive_odds(cb, refs)
    items = project.recoding()
    not_coded = tuple(project.codebook_history[-1]["summary"]["not_coded"])
    current = project.labels()
    recoded: list[dict] = []
    for name in CODERS:
        coder = Recoder(name, cb, odds, CODE_PROFILE_V2)
        mine = current[current["annotator_id"] == name]
        for cid in _coding_order(v1_events, name):
            queued = items[(items["annotator_id"] == name) & (items["conversation_id"] == cid)]
            if queued.empty:
                continue
            rows = mine[(mine["conversation_id"] == cid) & ~mine["code_id"].str.startswith("_")]
            held = {
                (u, None if pd.isna(t) else int(t), c): v
                for u, t, c, v in rows[["unit", "turn_index", "code_id", "value"]].itertuples(
                    index=False
                )
            }
            recoded.extend(coder.recode(refs[cid], queued, held, not_coded))
    project.append(pd.DataFrame(recoded))
    return recoded, _as_events(project, v1_events, recoded)


def _coding_order(events: list[dict], coder: str) -> list[str]:
    return list(dict.fromkeys(e["conversation_id"] for e in events if e["annotator_id"] == coder))


def _as_events(project, v1_events: list[dict], recoded: list[dict]) -> list[dict]:
    """The coders' current labels under 2.0.0 as label events in coding order: the labels the
    migration carried (with their 1.0.0 coding time), then the recoding, status last."""
    time = {(e["annotator_id"], e["unit"], e["conversation_id"], e["turn_index"], e["code_id"]):
            e["elapsed_ms"] for e in v1_events}  # fmt: skip
    order = {k: i for i, k in enumerate(time)}
    current = project.labels()
    migration = project.codebook_history[-1]["migration"]
    carried = current[current["session_id"] == migration]
    by_conv: dict[tuple[str, str], list[tuple[int, dict]]] = {}
    for row in carried.itertuples(index=False):
        turn = None if pd.isna(row.turn_index) else int(row.turn_index)
        source = row.code_id
        note = None if pd.isna(row.note) else row.note
        if note and note.startswith('{"from"'):
            source = json.loads(note)["from"].split("=")[0]
            note = None
        key = (row.annotator_id, row.unit, row.conversation_id, turn, source)
        values = (row.annotator_id, row.unit, row.conversation_id, turn, row.code_id, "set",
                  row.value, note, time[key])  # fmt: skip
        event = dict(zip(COLUMNS, values, strict=True))
        by_conv.setdefault((row.annotator_id, row.conversation_id), []).append((order[key], event))
    for e in recoded:
        by_conv.setdefault((e["annotator_id"], e["conversation_id"]), []).append((10**9, e))
    out: list[dict] = []
    for name in CODERS:
        for cid in _coding_order(v1_events, name):
            events = [e for _, e in sorted(by_conv.get((name, cid), []), key=lambda p: p[0])]
            status = [e for e in events if e["code_id"] == "_status"]
            out.extend([e for e in events if e["code_id"] != "_status"] + status[-1:])
    return out


def _has_name(text: str) -> bool:
    return any(w.lower() in NAMES for w in re.findall(r"[A-Za-z]+", text))


def read_evidence_reference(path: Path, texts: dict) -> dict[tuple[str, int, str], tuple[int, int]]:
    """(conversation, turn, code) -> offsets of the reference quote in the turn's text: each
    quote must occur exactly once there, and name nobody."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        key = (rec["conversation_id"], int(rec["turn_index"]), rec["code_id"])
        text, quote = texts[key[:2]], rec["quote"]
        if text.count(quote) != 1 or _has_name(quote):
            raise SystemExit(f"{path.name}: {key}: the quote must occur once and name nobody")
        start = text.index(quote)
        out[key] = (start, start + len(quote))
    return out


def _sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a turn (runs up to . ! ? or a line end; leading spaces left out)."""
    return [(m.start(), m.end()) for m in re.finditer(r"[^\s][^.!?\n]*[.!?]*", text)]


def _shifted(kind: str, text: str, start: int, end: int) -> tuple[int, int]:
    """A coder's variant of the words [start, end): a word more or less at one end, or every
    sentence the words touch."""
    words = [m.span() for m in re.finditer(r"\S+", text)]
    if kind == "wider_start":
        start = max((a for a, _ in words if a < start), default=start)
    elif kind == "narrower_start":
        start = min((a for a, _ in words if start < a < end), default=start)
    elif kind == "wider_end":
        end = min((b for _, b in words if b > end), default=end)
    elif kind == "narrower_end":
        end = max((b for _, b in words if start < b < end), default=end)
    else:
        touched = [(a, b) for a, b in _sentences(text) if a < end and b > start]
        start, end = min(start, touched[0][0]), max(end, touched[-1][1])
    return start, end


def marked_words(
    rng: np.random.Generator, name: str, text: str, ref: tuple[int, int] | None
) -> tuple[int, int] | None:
    """The words a coder marks as evidence on one turn and code (None: no words)."""
    if ref is None:  # the coder's own false positive
        if rng.random() < EVIDENCE_SKIP_FP:
            return None
        spans = [s for s in _sentences(text) if not _has_name(text[s[0] : s[1]])]
        return max(spans, key=lambda s: s[1] - s[0], default=None)
    if rng.random() < EVIDENCE_SKIP:
        return None
    start, end = ref
    if rng.random() < EVIDENCE_SHIFT * CODER_SCALE[name]:
        kind = str(rng.choice(EVIDENCE_KINDS))
        a, b = _shifted(kind, text, start, end)
        if a < b and not _has_name(text[a:b]):
            start, end = a, b
    return start, end


def evidence_events(v2_events: list[dict], work: Path) -> list[dict]:
    """Every coder marks the words behind their own labels of the codes that take evidence
    under 2.1.0 (the module docstring says how): one event per label, its value again with the
    evidence span, in the coder's coding order."""
    import annotate
    from annotate.store import evidence_span

    cb = load_codebook(CODEBOOK, modules="all")
    takes = [c.id for c in cb.codes if c.evidence != "none"]
    corpus = annotate.import_corpus(DEMO, "openai", out=work / "corpus")
    texts = {
        (cid, int(ti)): text
        for cid, ti, text in corpus.turns[["conversation_id", "turn_index", "text"]].itertuples(
            index=False
        )
    }
    reference = read_evidence_reference(REFERENCE_EVIDENCE, texts)
    held: dict[tuple, str] = {}
    for e in v2_events:  # the coders' current labels (the last event of each key)
        key = (e["annotator_id"], e["unit"], e["conversation_id"], e["turn_index"], e["code_id"])
        held[key] = e["value"]
    out: list[dict] = []
    for name in CODERS:
        for cid in _coding_order(v2_events, name):
            rng = np.random.default_rng([SEED, CODERS.index(name), int(cid[1:]), 4])
            turns = sorted({k[3] for k in held if k[0] == name and k[2] == cid and k[1] == "turn"})
            for ti in turns:
                for code in takes:
                    if held.get((name, "turn", cid, ti, code)) != "1":
                        continue
                    text = texts[(cid, ti)]
                    words = marked_words(rng, name, text, reference.get((cid, ti, code)))
                    if words is None:
                        continue
                    out.append({
                        "annotator_id": name, "unit": "turn", "conversation_id": cid,
                        "turn_index": ti, "code_id": code, "op": "set", "value": "1",
                        "note": None, "elapsed_ms": int(rng.integers(2500, 12000)),
                        "evidence": [evidence_span(text, *words)],
                    })  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output JSON lines file (2.0.0)")
    args = parser.parse_args(argv)
    v1 = make_events()
    with tempfile.TemporaryDirectory() as tmp:
        recoded, v2 = recode_events(v1, Path(tmp) / "migration")
        enriched = enriched_events(v2, Path(tmp) / "enriched")
        evidence = evidence_events(v2, Path(tmp) / "evidence")
    folder = args.out.parent
    for path, events in ((folder / OUT_V1, v1), (folder / OUT_RECODE, recoded),
                         (args.out, v2), (folder / OUT_ENRICHED, enriched),
                         (folder / OUT_EVIDENCE, evidence)):  # fmt: skip
        columns = [*COLUMNS, "evidence"] if path.name == OUT_EVIDENCE else COLUMNS
        lines = [json.dumps({c: e[c] for c in columns}, ensure_ascii=False) for e in events]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{len(lines)} events -> {path}")


if __name__ == "__main__":
    main()
