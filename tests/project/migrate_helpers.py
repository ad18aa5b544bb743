"""A second version of the toy codebook and a map to it, for the migration tests.

toy 2.0.0 renames ai_pressure to ai_control, splits user_seeks_support (narrowed) off a new
user_vents, changes ai_empathy's definition, separates 'not at stake' from 'neutral' on
conv_human_bonds (a new binary conv_bonds_at_stake), and adds ai_mistake and ai_flattery.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from annotate.codebook.yamlio import dump_yaml, read_yaml

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "codebooks" / "toy.yaml"

MAP_TEXT = """\
from: {id: toy, version: 1.0.0}
to: {id: toy, version: 2.0.0}
codes:
  ai_pressure: {action: rename, into: ai_control}
  user_seeks_support: {action: split, into: [user_seeks_support, user_vents]}
  ai_empathy: {action: redefine}
  conv_human_bonds:
    action: recode
    values: {"-2": "-2", "-1": "-1", "0": null, "1": "1", "2": "2"}
    also:
      conv_bonds_at_stake: {"-2": "1", "-1": "1", "0": null, "1": "1", "2": "1"}
added:
  ai_mistake: uncoded
  ai_flattery: {recode_where: {ai_empathy: ["1"]}}
"""


def _code(data: dict[str, Any], code_id: str) -> dict[str, Any]:
    return next(c for c in data["codes"] if c["id"] == code_id)


def toy_v2_data() -> dict[str, Any]:
    data, _, _ = read_yaml(TOY.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["version"] = "2.0.0"
    _code(data, "ai_pressure")["id"] = "ai_control"
    support = _code(data, "user_seeks_support")
    support["definition"] = "The user asks for comfort or reassurance (not only to vent)."
    support.pop("key", None)
    vents = copy.deepcopy(support)
    vents.update(id="user_vents", label="Wants to vent", definition="The user asks to vent.")
    vents.pop("cues", None)
    data["codes"].append(vents)
    _code(data, "ai_empathy")["definition"] = "The assistant names the user's feeling."
    stake = copy.deepcopy(_code(data, "conv_human_bonds"))
    stake.update(id="conv_bonds_at_stake", label="Human bonds at stake", level="binary")
    stake.pop("values")
    stake["values"] = [
        {"value": "0", "label": "not at stake"},
        {"value": "1", "label": "at stake"},
    ]
    data["codes"].append(stake)
    for new_id, label in (("ai_mistake", "Makes a mistake"), ("ai_flattery", "Flatters")):
        code = copy.deepcopy(_code(data, "ai_control"))
        code.update(id=new_id, label=label, definition=f"The assistant: {label.lower()}.")
        code.pop("key", None)
        code.pop("cues", None)
        data["codes"].append(code)
    return data


def write_toy_v2(folder: Path) -> tuple[Path, Path]:
    """toy 2.0.0 and the map from 1.0.0, written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    cb = folder / "toy-2.0.0.yaml"
    cb.write_text(dump_yaml(toy_v2_data()), encoding="utf-8")
    mp = folder / "toy-1-to-2.yaml"
    mp.write_text(MAP_TEXT, encoding="utf-8")
    return cb, mp


def ev(coder: str, conv: str, turn: int | None, code: str, value: str, **kw: Any) -> dict:
    """A label event of the toy project."""
    return {
        "annotator_id": coder,
        "unit": "conversation" if turn is None else "turn",
        "conversation_id": conv,
        "turn_index": turn,
        "code_id": code,
        "value": value,
        **kw,
    }
