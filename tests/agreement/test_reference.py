"""Every published / reference-software value in the agreement reference, recomputed.

The JSON files live in tests/data/agreement-reference/ (its README names each file's source
publication or software). Each ``expected`` entry is either recomputed here within its stated
tolerance, or listed in ``NOT_COVERED`` with the reason; a new, unknown entry fails
``test_reference_every_entry_is_accounted_for``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from annotate.agreement import (
    alpha,
    brennan_prediger,
    cohen_kappa,
    conger_kappa,
    fleiss_kappa,
    gwet_ac,
    percent_agreement,
    scott_pi,
)
from annotate.agreement._alpha import alpha_from_coincidences, encode_sets
from annotate.agreement._matrix import (
    coincidences,
    contingency_to_data,
    counts_to_data,
    encode,
    value_counts,
)
from annotate.agreement.distances import set_distance, weights
from annotate.errors import AgreementError

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "agreement-reference"

#: (coefficient, reason) pairs we deliberately do not compute
NOT_COVERED = {
    "krippendorff_alpha_se": "Gwet's variance of alpha is not implemented (bootstrap CI instead)",
    "conger_kappa_se": "Gwet's variance of Conger's kappa is not implemented",
    "cohen_kappa_se": "asymptotic SE not implemented",
    "cohen_kappa_ase": "asymptotic SE not implemented",
    "cohen_kappa_ase_h0": "asymptotic SE not implemented",
    "cohen_kappa_ci95": "asymptotic CI not implemented (bootstrap CI instead)",
    "weighted_kappa_ase": "asymptotic SE not implemented",
    "weighted_kappa_ci95": "asymptotic CI not implemented",
    "bangdiwala_B": "Bangdiwala's B is not offered",
    "dice_agreement": "Dice agreement on sets is not offered",
    "mv_alpha": "multi-valued alpha (Krippendorff & Craggs 2016) is not implemented",
    "krippendorff_alpha_pa": "Gwet's pa/pe split of alpha differs from D_o/D_e (alpha is checked)",
    "krippendorff_alpha_pe": "Gwet's pa/pe split of alpha differs from D_o/D_e (alpha is checked)",
    "masi_distance_nltk_legacy": "we implement the exact MASI constants (2/3, 1/3), not 0.67/0.33",
}


def _cases() -> list[tuple[str, int]]:
    out = []
    for path in sorted(REFERENCE.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for i, _ in enumerate(doc.get("expected", [])):
            out.append((path.name, i))
    return out


CASES = _cases()


def _load(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))


def _data(doc: dict) -> tuple[np.ndarray | list, list | None, list | None]:
    """(reliability data units × coders, value domain, category scores) of a reference file."""
    layout = doc["layout"]
    if layout == "contingency":
        cats = doc["categories"]
        return (
            contingency_to_data(doc["table"]),
            list(range(len(cats))),
            doc.get("category_values_for_weights"),
        )
    if layout == "counts":
        return counts_to_data(doc["counts"]), list(range(len(doc["categories"]))), None
    return doc["data"], doc.get("categories"), None


def _weighted_alpha(data, values, w) -> float:
    """Gwet's weighted alpha = Krippendorff's alpha with δ² = 1 - w."""
    codes, domain = encode(data, values)
    o = coincidences(value_counts(codes, len(domain)))
    return alpha_from_coincidences(o, 1.0 - w)


def _observed_levels(data, raters, coders) -> list:
    cols = [coders.index(r) for r in raters]
    return sorted({row[c] for row in data for c in cols if row[c] is not None})


def _compute(doc: dict, exp: dict):
    coef, opts = exp["coefficient"], exp.get("options") or {}
    if doc["layout"] == "units_x_coders_sets":
        return _compute_sets(doc, coef, opts)
    data, values, scores = _data(doc)
    wname = opts.get("weights", "identity")
    if "raters" in opts:  # a pair of raters, weights over the pair's OBSERVED levels (R irr)
        cols = [doc["coders"].index(r) for r in opts["raters"]]
        values = _observed_levels(data, opts["raters"], doc["coders"])
        data = [[row[c] for c in cols] for row in data]
        m = re.search(r"= \[([0-9, ]+)\]", wname)
        if m:  # disagreement weight by rank distance -> agreement weights 1 - d / max d
            d = np.array([float(x) for x in m.group(1).split(",")])
            ranks = np.arange(len(values))
            dist = d[np.abs(np.subtract.outer(ranks, ranks))]
            wname = 1.0 - dist / dist.max()
        else:
            wname = wname.split(" ")[0] if coef == "weighted_kappa" else "identity"
    w = weights(wname, len(values) if values is not None else len(encode(data)[1]), scores=scores)
    kw = {"values": values, "scores": scores}
    base, part = coef, ""
    if coef.endswith(("_pa", "_pe", "_se")):
        base, part = coef[:-3], coef[-2:]
    fns = {
        "gwet_ac1": gwet_ac,
        "gwet_ac2": gwet_ac,
        "fleiss_kappa": fleiss_kappa,
        "conger_kappa": conger_kappa,
        "brennan_prediger": brennan_prediger,
        "cohen_kappa": cohen_kappa,
        "weighted_kappa": cohen_kappa,
        "scott_pi": scott_pi,
    }
    if coef.endswith(("_pa", "_pe", "_se")):
        res = fns[base](data, weights=w, full=True, **kw)
        return {"pa": res.pa, "pe": res.pe, "se": res.se}[part]
    if coef == "percent_agreement":
        return percent_agreement(data, values=values)
    if coef == "krippendorff_alpha":
        if "level" in opts:
            return alpha(data, level=opts["level"], values=values)
        return _weighted_alpha(data, values, w)
    return fns[coef](data, weights=w, **kw)


def _compute_sets(doc: dict, coef: str, opts: dict):
    if coef.startswith("masi_distance_exact"):
        a, b = opts["pair"]
        return set_distance(a, b, "masi")
    if coef == "jaccard_distance":
        return set_distance(*opts["pair"], "jaccard")
    if coef == "binary_distance":
        a, b = opts["pair"]
        return float(set(a) != set(b))
    kind = {"passonneau2004_set_distance": "passonneau2004", "dkpro_masi_variant": "dkpro_masi"}
    if coef == "percent_agreement":
        codes, _ = encode_sets(doc["data"])
        return percent_agreement(np.where(codes >= 0, codes, np.nan))
    parts = alpha(doc["data"], level="set", distance=kind[opts["distance"]], full=True)
    return {
        "krippendorff_alpha": parts.alpha,
        "observed_disagreement_Do": parts.observed,
        "expected_disagreement_De": parts.expected,
    }[coef]


def test_reference_every_entry_is_accounted_for() -> None:
    assert len({f for f, _ in CASES}) >= 17, f"reference files missing from {REFERENCE}"
    assert len(CASES) >= 215, "reference values missing"
    names = {_load(f)["expected"][i]["coefficient"] for f, i in CASES}
    known = set(NOT_COVERED) | {
        "krippendorff_alpha", "krippendorff_alpha_pa", "krippendorff_alpha_pe",
        "gwet_ac1", "gwet_ac1_pa", "gwet_ac1_pe", "gwet_ac2", "fleiss_kappa", "fleiss_kappa_pa",
        "fleiss_kappa_pe", "conger_kappa", "conger_kappa_pa", "conger_kappa_pe",
        "brennan_prediger", "brennan_prediger_pa", "brennan_prediger_pe", "percent_agreement",
        "gwet_ac1_se", "fleiss_kappa_se", "brennan_prediger_se",
        "cohen_kappa", "weighted_kappa", "scott_pi", "observed_disagreement_Do",
        "expected_disagreement_De", "masi_distance_exact", "jaccard_distance", "binary_distance",
    }  # fmt: skip
    assert names <= known, f"unhandled reference coefficients: {sorted(names - known)}"


@pytest.mark.parametrize(("name", "index"), CASES, ids=[f"{f[:-5]}-{i}" for f, i in CASES])
def test_reference_value_within_tolerance(name: str, index: int) -> None:
    doc = _load(name)
    exp = doc["expected"][index]
    if exp["coefficient"] in NOT_COVERED:
        pytest.skip(NOT_COVERED[exp["coefficient"]])
    if doc["layout"] == "contingency" and exp["coefficient"].endswith("_se"):
        pytest.skip("Gwet's two-rater (contingency-table) variance differs; only raw-data SEs")
    if exp["value"] is None:
        with pytest.raises(AgreementError, match="E400"):
            _compute(doc, exp)
        return
    got = _compute(doc, exp)
    # 1e-12: a value exactly half a printed unit away (0.3125 printed as 0.312) is in range
    assert abs(got - exp["value"]) <= exp["tolerance"] + 1e-12, (
        f"{exp['coefficient']} {exp.get('options')}: got {got}, "
        f"expected {exp['value']} ± {exp['tolerance']} ({exp['reported_by']})"
    )
