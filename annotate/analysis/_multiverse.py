"""A multiverse check: one analysis under every LLM coder and prompt, and the conclusions that
flip.

Baumann et al. (2025, "LLM hacking") reran published analyses with many models and prompt
wordings and found that a conclusion's sign or significance often depended on the choice. A
study that codes with an LLM should show that its conclusion does not: run the same comparison
with the labels of every declared LLM coder (other models, replicates of the prompt, its
paraphrases; :mod:`annotate.llm.replicate`) and report, per effect, how many of these universes
agree (Steegen, Tuerlinckx, Gelman & Vanpaemel 2016 call this a multiverse analysis).

For each coder the comparison is :func:`annotate.analysis.compare_groups` (the descriptive risk
difference, or for ordinal and interval codes the difference of means, with its bootstrap
interval) or, with ``corrected=True``, :func:`annotate.analysis.corrected_compare_groups`
(each coder's labels corrected by the same human sample). An effect is *significant* in a
universe when its interval excludes 0; a conclusion **flips** when the sign of the estimate
differs between universes (ignoring estimates of exactly 0) or when it is significant in some
and not in others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.errors import AnalysisError, Errors

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus

KEYS = ("item", "group_1", "group_2")


class MultiverseReport:
    """The effects of one analysis in every universe (coder), and which conclusions flip.

    Attributes
    ----------
    universes : DataFrame
        One row per (coder, effect): ``coder``, the effect's keys (``item``, ``group_1``,
        ``group_2``, ``code_id``), ``estimate``, ``ci_low``, ``ci_high``, ``significant``,
        ``sign`` (+1, -1, 0).
    table : DataFrame
        One row per effect: ``n_universes``, ``estimate_min``, ``estimate_max``,
        ``n_positive``, ``n_negative``, ``n_significant``, ``sign_flips``,
        ``significance_flips``, ``flips`` and ``verdict`` (``robust`` or what flips).
    """

    def __init__(self, universes: pd.DataFrame, settings: dict[str, Any]) -> None:
        self.universes = universes
        self.settings = settings
        self.table = _summary(universes)

    @property
    def flipped(self) -> pd.DataFrame:
        """The effects whose conclusion flips between universes."""
        return self.table[self.table["flips"]]

    def to_text(self) -> str:
        if self.table.empty:
            return "(no effects)"
        cols = [
            "item",
            "group_1",
            "group_2",
            "n_universes",
            "estimate_min",
            "estimate_max",
            "n_positive",
            "n_negative",
            "n_significant",
            "verdict",
        ]
        text = self.table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")
        n = int(self.table["flips"].sum())
        return (
            f"{text}\n{n} of {len(self.table)} conclusion(s) flip across {self.settings['coders']}"
        )

    def __repr__(self) -> str:
        return f"<MultiverseReport: {len(self.table)} effects>\n{self.to_text()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "effects": self.table.to_dict(orient="records"),
            "universes": self.universes.to_dict(orient="records"),
        }


def _summary(u: pd.DataFrame) -> pd.DataFrame:
    if u.empty:
        return pd.DataFrame(columns=[*KEYS, "n_universes", "flips", "verdict"])
    rows = []
    for key, g in u.groupby(list(KEYS), sort=False, dropna=False):
        ok = g[np.isfinite(g["estimate"].to_numpy(dtype=float))]
        pos, neg = int((ok["sign"] > 0).sum()), int((ok["sign"] < 0).sum())
        sig = int(ok["significant"].sum())
        sign_flip = pos > 0 and neg > 0
        sig_flip = 0 < sig < len(ok)
        what = [w for w, f in (("sign", sign_flip), ("significance", sig_flip)) if f]
        rows.append(
            {
                **dict(zip(KEYS, key, strict=True)),
                "code_id": g["code_id"].iloc[0],
                "n_universes": len(ok),
                "estimate_min": float(ok["estimate"].min()) if len(ok) else float("nan"),
                "estimate_max": float(ok["estimate"].max()) if len(ok) else float("nan"),
                "n_positive": pos,
                "n_negative": neg,
                "n_significant": sig,
                "sign_flips": sign_flip,
                "significance_flips": sig_flip,
                "flips": sign_flip or sig_flip,
                "verdict": "robust" if not what else " and ".join(what) + " flip",
            }
        )
    return pd.DataFrame(rows)


def multiverse(
    labels: pd.DataFrame,
    codebook: Codebook,
    *,
    coders: Sequence[str],
    by: str,
    corrected: bool = False,
    humans: Sequence[str] | str | None = None,
    corpus: Corpus | None = None,
    groups: Sequence[str] | None = None,
    reference: str | None = None,
    codes: Sequence[str] | None = None,
    unit: str = "turn",
    role: str | None = None,
    probabilities: Any = None,
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int | None = 0,
    nesting: str = "auto",
) -> MultiverseReport:
    """Run one group comparison with the labels of each coder and flag conclusions that flip.

    Parameters
    ----------
    labels
        Unit labels of every coder (``Project.unit_labels()``).
    codebook
    coders
        The universes: LLM coder ids (e.g. every LLM coder of the project:
        ``[c for c, k in project.coder_kinds.items() if k == "llm"]``, which includes the
        replicates and paraphrases of each).
    by, groups, reference, codes, unit, role, corpus, nesting, level
        As in :func:`annotate.analysis.compare_groups`.
    corrected
        Compare corrected shares (:func:`annotate.analysis.corrected_compare_groups`, with
        ``humans`` and ``probabilities``) instead of each coder's raw labels.
    bootstrap, seed
        Of the descriptive comparison (``corrected=False``).

    Returns
    -------
    MultiverseReport
    """
    coders = [str(c) for c in coders]
    if len(coders) < 2:
        raise AnalysisError(
            Errors.E460.format(
                option="coders", value=coders, problem="give two or more coders (universes)"
            )
        )
    run = _runner(
        labels,
        codebook,
        by=by,
        corrected=corrected,
        humans=humans,
        corpus=corpus,
        groups=groups,
        reference=reference,
        codes=codes,
        unit=unit,
        role=role,
        probabilities=probabilities,
        bootstrap=bootstrap,
        level=level,
        seed=seed,
        nesting=nesting,
    )
    frames = [run(c).assign(coder=c) for c in coders]
    universes = pd.concat(frames, ignore_index=True)
    cols = ["coder", *KEYS, "code_id", "estimate", "ci_low", "ci_high", "significant", "sign"]
    settings = {
        "by": by,
        "corrected": corrected,
        "coders": coders,
        "level": level,
        "analysis": "corrected_compare_groups" if corrected else "compare_groups",
    }
    return MultiverseReport(universes[cols], settings)


def _runner(labels: pd.DataFrame, codebook: Any, **kw: Any) -> Callable[[str], pd.DataFrame]:
    from annotate.analysis.compare import compare_groups
    from annotate.analysis.corrected import corrected_compare_groups

    common = {
        k: kw[k]
        for k in (
            "by",
            "groups",
            "reference",
            "corpus",
            "codes",
            "unit",
            "role",
            "level",
            "nesting",
        )
    }

    def run(coder: str) -> pd.DataFrame:
        if kw["corrected"]:
            out = corrected_compare_groups(
                labels,
                codebook,
                llm=coder,
                humans=kw["humans"],
                probabilities=kw["probabilities"],
                **common,
            )
            est, lo, hi = (
                out["corrected_difference"],
                out["corrected_ci_low"],
                out["corrected_ci_high"],
            )
        else:
            sub = labels[labels["annotator_id"] == coder]
            out = compare_groups(
                sub, codebook, model=False, bootstrap=kw["bootstrap"], seed=kw["seed"], **common
            )

            def col(name: str) -> pd.Series:
                return out[name] if name in out else pd.Series(np.nan, index=out.index)

            scored = col("risk_difference").isna() & col("mean_difference").notna()
            est = col("risk_difference").where(~scored, col("mean_difference"))
            lo = col("rd_ci_low").where(~scored, col("md_ci_low"))
            hi = col("rd_ci_high").where(~scored, col("md_ci_high"))
        res = out[[*KEYS, "code_id"]].copy()
        res["estimate"] = est.to_numpy(dtype=float)
        res["ci_low"] = lo.to_numpy(dtype=float)
        res["ci_high"] = hi.to_numpy(dtype=float)
        res["significant"] = (res["ci_low"] > 0) | (res["ci_high"] < 0)
        res["sign"] = np.sign(res["estimate"].fillna(0)).astype(int)
        return res

    return run
