"""Derive three simulated coders' label events from the team's reference coding.

ILLUSTRATIVE DATA. ``reference.jsonl`` is a reference coding of the demo corpus written by the
annotate team; this script turns it into the label events of three *simulated* coders (``alice``,
``bob``, ``carol``) so that the notebooks have agreement, disagreements, gold labels and analyses
to show. It is not a reliability study; see README.md in this folder.

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
  scales (``LEAN``). **conv_context**: with its error rate a neighbouring context.
* error rates come from three profiles (``RELIABLE``, ``TENTATIVE``, ``UNRELIABLE``) per code
  (``CODE_PROFILE``), scaled per coder (``CODER_SCALE``); ``carol`` is noisier on the codes of
  the codebook's ``relatedness`` group and on conv_dilemma_bonds (``CAROL_RELATEDNESS``), so
  that leave-one-coder-out shows a drift.
* a few **memos** (``_memo``) on hard turns (``MEMOS``), two **flags** (``_flag``, ``FLAGS``) and
  ``_status = done`` on every conversation a coder finished (all of their conversations).

Design: all three coders code the 20 conversations of ``RELIABILITY_SAMPLE``; every other
conversation is coded by exactly one coder, round-robin in corpus order.

Run from the repository root::

    .venv/bin/python corpora/demo/labels/make_labels.py            # writes events.jsonl here
    .venv/bin/python corpora/demo/labels/make_labels.py --out x.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from annotate.codebook import load_codebook

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CODEBOOK = ROOT / "codebooks" / "sdt-socioaffective.yaml"
REFERENCE = HERE / "reference.jsonl"
OUT = HERE / "events.jsonl"

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

    def __init__(self, name: str, codebook, odds: dict[str, float]) -> None:
        self.name = name
        self.cb = codebook
        self.odds = odds
        self.index = CODERS.index(name)
        self.relatedness = {c.id for c in codebook.codes_in_group("relatedness")}
        self.relatedness.add("conv_dilemma_bonds")

    def rate(self, code_id: str, kind: str) -> float:
        scale = CODER_SCALE[self.name]
        if self.name == "carol" and code_id in self.relatedness:
            scale *= CAROL_RELATEDNESS
        return min(CODE_PROFILE[code_id][kind] * scale, 0.9)

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


def make_events(reference: Path = REFERENCE) -> list[dict]:
    cb = load_codebook(CODEBOOK)
    refs = {}
    for line in reference.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        refs[rec["conversation_id"]] = rec
    odds = positive_odds(cb, refs)
    queues = assignment(sorted(refs))
    events: list[dict] = []
    for name in CODERS:
        coder = Coder(name, cb, odds)
        for cid in queues[name]:
            events.extend(coder.events(refs[cid]))
    return events


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output JSON lines file")
    args = parser.parse_args(argv)
    lines = [json.dumps(e, ensure_ascii=False) for e in make_events()]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} events -> {args.out}")


if __name__ == "__main__":
    main()
