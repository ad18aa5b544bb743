"""Corrected (prediction-powered) estimates from LLM labels and a human-coded subsample.

Simulations plant a true share, a biased synthetic LLM coder (sensitivity .85, false positive
rate .10 per turn) and a human sample drawn with known probabilities, in data clustered in
users; they count how often each 95 % interval covers the truth. Reference values of the
estimator itself come from the authors' package ``ppi_python`` (see
``test_corrected_matches_ppi_python``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import corpus_of, frame

from annotate.analysis import corrected_compare_groups, corrected_prevalence
from annotate.analysis.corrected import _t, cluster_variance, ppi_estimates
from annotate.errors import AnalysisError

SENS, FPR = 0.85, 0.10  #: the synthetic LLM coder's per-turn sensitivity and false positives


def _study(rng, *, users=150, per_user=3, strata=False):
    """Per-conversation sums of one simulated study: (F, M, Y, w, user, truth)."""
    if strata:  # 30 % of users in a stratum with more of the code, sampled more often
        high = rng.random(users) < 0.3
        p_user = np.where(high, rng.beta(4, 6, users), rng.beta(1, 9, users))
        truth = 0.3 * 0.4 + 0.7 * 0.1
    else:
        high = np.zeros(users, dtype=bool)
        p_user = rng.beta(2, 8, users)
        truth = 0.2
    user = np.repeat(np.arange(users), per_user)
    m = rng.integers(2, 12, len(user))
    Y = rng.binomial(m, p_user[user])
    F = rng.binomial(Y, SENS) + rng.binomial(m - Y, FPR)
    pi = np.where(high[user], 0.25, 0.08) if strata else np.full(len(user), 60 / len(user))
    drawn = rng.random(len(user)) < pi
    return (
        F.astype(float),
        m.astype(float),
        Y.astype(float),
        np.where(drawn, 1 / pi, 0.0),
        user,
        truth,
    )


def _covers(est, name, cluster, g, truth) -> tuple[bool, float]:
    var = cluster_variance(getattr(est, f"inf_{name}"), cluster, g)
    half = _t(0.95, g - 1) * math.sqrt(var)
    value = getattr(est, name)
    return value - half <= truth <= value + half, 2 * half


@pytest.mark.parametrize("strata", [False, True], ids=["equal", "stratified"])
def test_corrected_simulation_coverage(strata) -> None:
    """400 studies of 150 users with 3 conversations each (2-11 turns), about 60 conversations
    coded by humans. Measured (seeds 20250101, 20250102), coverage of the 95 % intervals:
    equal probabilities: naive 0.000, humans-only 0.925, corrected 0.933 (mean width 0.077
    against 0.107 for humans only); stratified (.25 / .08): naive 0.008, humans-only 0.943,
    corrected 0.943 (width 0.095 against 0.130). Over 4,000 studies of each design: equal
    0.002 / 0.944 / 0.939, stratified 0.016 / 0.940 / 0.940."""
    rng = np.random.default_rng(20250101 + strata)
    hits = {"naive": 0, "human": 0, "corrected": 0}
    widths = {"human": [], "corrected": []}
    n = 400
    for _ in range(n):
        F, M, Y, w, user, truth = _study(rng, strata=strata)
        est = ppi_estimates(F, M, Y, w, cluster=user)
        g, g_h = len(np.unique(user)), len(np.unique(user[w > 0]))
        for name, k in (("naive", g), ("human", g_h), ("corrected", g_h)):
            ok, width = _covers(est, name, user, k, truth)
            hits[name] += ok
            if name in widths:
                widths[name].append(width)
    coverage = {k: v / n for k, v in hits.items()}
    assert coverage["naive"] < 0.5  # the biased coder's interval misses far more than 5 %
    assert 0.92 <= coverage["corrected"] <= 0.975  # Monte Carlo SE about 0.011
    assert 0.90 <= coverage["human"] <= 0.975
    # the model's labels buy precision: the corrected interval is narrower on average
    assert np.mean(widths["corrected"]) < 0.85 * np.mean(widths["human"])


def test_corrected_lambda_limits() -> None:
    rng = np.random.default_rng(3)
    F, M, Y, w, user, _ = _study(rng)
    human = ppi_estimates(F, M, Y, w, lam=0.0, cluster=user)
    assert human.corrected == pytest.approx(human.human)
    assert np.allclose(human.inf_corrected, human.inf_human)
    ppi = ppi_estimates(F, M, Y, w, lam=1.0, cluster=user)
    # classical PPI: the model's share plus the rectifier measured on the human sample
    s = w > 0
    rectifier = (w[s] * (Y[s] - F[s])).sum() / (w[s] * M[s]).sum()
    assert ppi.corrected == pytest.approx(F.sum() / M.sum() + rectifier)
    # a perfect model: the tuned estimate is the model's share and λ is 1
    perfect = ppi_estimates(Y, M, Y, w, cluster=user)
    assert perfect.lam == pytest.approx(1.0) and perfect.corrected == pytest.approx(
        Y.sum() / M.sum()
    )
    # a model unrelated to the truth: λ near 0, the humans' estimate
    noise = rng.binomial(M.astype(int), 0.5).astype(float)
    blind = ppi_estimates(noise, M, Y, w, cluster=user)
    assert blind.lam < 0.3


# --- reference values from ppi_python ------------------------------------------------------

# Independent units: 500 human-coded with (human, model) = (1,1) x 80, (1,0) x 20,
# (0,1) x 40, (0,0) x 360; the model's labels on all N = 200,000 units of the corpus (the
# 500 included) with 44,000 positive. ppi_python 0.2.3 (Angelopoulos et al.), with the model's
# labels on all N units as Yhat_unlabeled:
#   ppi_mean_pointestimate(Y, Yhat, Yhat_all, lam=1)   -> 0.18
#   ppi_mean_ci(Y, Yhat, Yhat_all, alpha=0.05, lam=1)   -> [0.149785, 0.210215]
#   ppi_mean_pointestimate(Y, Yhat, Yhat_all)          -> 0.186981 (power-tuned: λ = 0.650944)
#   ppi_mean_ci(Y, Yhat, Yhat_all, alpha=0.05)          -> [0.160444, 0.213518]
#   classical_mean_ci(Y, alpha=0.05)                    -> [0.164939, 0.235061]
# Our variance counts the 500 labelled units once (they are part of the corpus); ppi_python
# treats the two sets as independent (and tunes λ with a factor 1 + n/N). With 500 of 200,000
# the two agree to about 1e-4 at the same λ; our tuned λ (from the labelled units' variance of
# the model's labels) is 0.614, a consistent estimate of the same optimum Cov/Var.
PPI_REFERENCE = {
    "ppi": (0.18, 0.149785, 0.210215),
    "tuned": (0.186981, 0.160444, 0.213518),
    "classical": (0.2, 0.164939, 0.235061),
}


def test_corrected_matches_ppi_python() -> None:
    n_total, n_pos_all = 200_000, 44_000
    cells = {(1, 1): 80, (1, 0): 20, (0, 1): 40, (0, 0): 360}
    Y = np.concatenate([np.full(k, y, float) for (y, _), k in cells.items()])
    f = np.concatenate([np.full(k, m, float) for (_, m), k in cells.items()])
    rest = n_total - len(Y)
    rest_pos = n_pos_all - int(f.sum())
    F = np.concatenate([f, np.ones(rest_pos), np.zeros(rest - rest_pos)])
    M = np.ones(n_total)
    Yall = np.concatenate([Y, np.zeros(rest)])
    w = np.concatenate([np.ones(len(Y)), np.zeros(rest)])
    cl = np.arange(n_total)
    for key, lam in (("ppi", 1.0), ("tuned", 0.650944), ("classical", 0.0)):
        est = ppi_estimates(F, M, Yall, w, lam=lam, cluster=cl)
        var = cluster_variance(est.inf_corrected, cl, len(Y))  # n/(n-1) as in the t interval
        half = 1.959964 * math.sqrt(var) * math.sqrt((len(Y) - 1) / len(Y))
        value, low, high = PPI_REFERENCE[key]
        assert est.corrected == pytest.approx(value, abs=2e-4), key
        assert est.corrected - half == pytest.approx(low, abs=3e-4), key
        assert est.corrected + half == pytest.approx(high, abs=3e-4), key
    tuned = ppi_estimates(F, M, Yall, w, cluster=cl)
    cov = np.cov(Y, f)[0, 1] / np.var(f, ddof=1)
    assert tuned.lam == pytest.approx(cov, abs=0.01)
    assert tuned.corrected == pytest.approx(PPI_REFERENCE["tuned"][0], abs=1e-3)


# --- through the labels table --------------------------------------------------------------


def _labels(rng, *, users=40, per_user=3, sampled=0.4):
    """A unit-labels table: the model 'llm' on every user turn (code ``bid``), humans 'h1' and
    'h2' on a random subset of conversations; a corpus with user_id and a ``persona``."""
    rows, convs = [], []
    for u in range(users):
        p = rng.beta(2, 6)
        for k in range(per_user):
            cid = f"u{u:03d}c{k}"
            persona = "kai" if (u + k) % 2 else "mia"
            convs.append({"conversation_id": cid, "user_id": f"u{u}", "persona": persona})
            coded = rng.random() < sampled
            for t in range(int(rng.integers(1, 6))):
                y = int(rng.random() < p + (0.15 if persona == "kai" else 0.0))
                f = int(rng.random() < (SENS if y else FPR))
                rows.append(("llm", "turn", cid, 2 * t, "user", "bid", str(f)))
                if coded:
                    rows.append(("h1", "turn", cid, 2 * t, "user", "bid", str(y)))
                    rows.append(("h2", "turn", cid, 2 * t, "user", "bid", str(y)))
    return frame(rows), corpus_of(pd.DataFrame(convs))


def _sums(labels: pd.DataFrame, coder: str, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    mine = labels[labels["annotator_id"] == coder]
    pos = mine.groupby("conversation_id")["value"].apply(lambda s: (s == "1").sum())
    n = mine.groupby("conversation_id").size()
    return pos.reindex(ids).fillna(0).to_numpy(float), n.reindex(ids).fillna(0).to_numpy(float)


def test_corrected_prevalence_from_labels_equals_the_estimator(codebook) -> None:
    labels, corpus = _labels(np.random.default_rng(11))
    out = corrected_prevalence(labels, codebook, llm="llm", corpus=corpus, codes=["bid"])
    row = out.iloc[0]
    ids = sorted(corpus.conversations["conversation_id"])
    F, M = _sums(labels, "llm", ids)
    Y, Mh = _sums(labels, "h1", ids)
    users = corpus.conversations.set_index("conversation_id").loc[ids, "user_id"]
    cl = pd.factorize(users, sort=True)[0]
    est = ppi_estimates(F, M, Y, (Mh > 0).astype(float), cluster=cl)
    assert row["naive_share"] == pytest.approx(F.sum() / M.sum())
    assert row["human_share"] == pytest.approx(Y[Mh > 0].sum() / M[Mh > 0].sum())
    assert row["corrected_share"] == pytest.approx(est.corrected)
    assert row["lambda"] == pytest.approx(est.lam)
    assert row["n_human_conversations"] == int((Mh > 0).sum())
    assert row["n_clusters"] == 40 and row["resampled"].startswith("users")
    g_h = len(np.unique(cl[Mh > 0]))
    var = cluster_variance(est.inf_corrected, cl, g_h)
    assert row["corrected_se"] == pytest.approx(math.sqrt(var))
    assert row["corrected_ci_high"] - row["corrected_share"] == pytest.approx(
        _t(0.95, g_h - 1) * math.sqrt(var)
    )
    assert row["var_human_part"] + row["var_corpus_part"] == pytest.approx(var)
    assert row["llm_bias"] == pytest.approx(F[Mh > 0].sum() / M[Mh > 0].sum() - row["human_share"])


def test_corrected_prevalence_groups_and_probabilities(codebook) -> None:
    labels, corpus = _labels(np.random.default_rng(12))
    by = corrected_prevalence(labels, codebook, llm="llm", corpus=corpus, by="persona")
    assert list(by["persona"]) == ["kai", "mia"]
    # the same probability for every conversation changes nothing (only ratios matter)
    equal = corrected_prevalence(labels, codebook, llm="llm", corpus=corpus, probabilities=0.4)
    plain = corrected_prevalence(labels, codebook, llm="llm", corpus=corpus)
    assert equal["corrected_share"].iloc[0] == pytest.approx(plain["corrected_share"].iloc[0])
    # a mapping weights the human-coded conversations by 1 / probability
    coded = sorted(set(labels.loc[labels["annotator_id"] == "h1", "conversation_id"]))
    probs = {c: (0.5 if c.endswith("c0") else 0.25) for c in coded}
    weighted = corrected_prevalence(
        labels, codebook, llm="llm", corpus=corpus, probabilities=probs, lam=0.0
    )
    ids = sorted(corpus.conversations["conversation_id"])
    Y, Mh = _sums(labels, "h1", ids)
    wt = np.array([1 / probs.get(c, np.inf) for c in ids])
    expect = (wt * Y).sum() / (wt * Mh).sum()
    assert weighted["human_share"].iloc[0] == pytest.approx(expect)
    assert weighted["corrected_share"].iloc[0] == pytest.approx(expect)


def test_corrected_compare_groups_simulation() -> None:
    """A planted difference of .15 between personas (each user has conversations with both):
    the naive difference is shrunk by the model's errors (to .15 x (sensitivity − false
    positives) = .11), the corrected one is not. 200 studies of 200 users with 2 conversations,
    about 80 coded by humans; measured (seed 5): corrected coverage 0.915, humans-only 0.950,
    naive 0.675. (3,000 studies of the same design on the estimator's arrays: corrected 0.943,
    humans-only 0.941, naive 0.729.)"""
    from analysis_helpers import make_codebook

    cb = make_codebook()
    rng = np.random.default_rng(5)
    hits = {"naive": 0, "human": 0, "corrected": 0}
    n = 200
    for _ in range(n):
        labels, corpus = _labels(rng, users=200, per_user=2, sampled=0.2)
        out = corrected_compare_groups(
            labels, cb, llm="llm", by="persona", reference="mia", corpus=corpus, codes=["bid"]
        )
        row = out.iloc[0]
        for name in hits:
            hits[name] += row[f"{name}_ci_low"] <= 0.15 <= row[f"{name}_ci_high"]
    assert row["group_1"] == "kai" and row["group_2"] == "mia"
    coverage = {k: v / n for k, v in hits.items()}
    assert 0.90 <= coverage["corrected"] <= 0.99 and 0.90 <= coverage["human"] <= 0.99
    assert coverage["naive"] < coverage["corrected"] - 0.15


def test_corrected_bad_input_is_one_clear_error(codebook) -> None:
    labels, corpus = _labels(np.random.default_rng(1), users=5)
    with pytest.raises(AnalysisError, match="E451"):
        corrected_prevalence(labels, codebook, llm="gpt", corpus=corpus)
    with pytest.raises(AnalysisError, match=r"E460.*probabilities"):
        corrected_prevalence(labels, codebook, llm="llm", probabilities=1.5)
    with pytest.raises(AnalysisError, match=r"E460.*probabilities"):
        corrected_prevalence(labels, codebook, llm="llm", probabilities={"u000c0": 0})
    with pytest.raises(AnalysisError, match=r"E460.*lam"):
        corrected_prevalence(labels, codebook, llm="llm", lam=2)
    with pytest.raises(AnalysisError, match=r"E460.*humans"):
        corrected_prevalence(labels, codebook, llm="llm", humans=["llm"])
    with pytest.raises(AnalysisError, match=r"E460.*groups"):
        corrected_compare_groups(
            labels, codebook, llm="llm", by="persona", groups=["kai", "x"], corpus=corpus
        )


def test_corrected_partial_human_coding_warns_and_is_left_out(codebook) -> None:
    labels, corpus = _labels(np.random.default_rng(2), users=30)
    h1 = labels[labels["annotator_id"] == "h1"]
    some = h1["conversation_id"].iloc[0]
    n_turns = (labels[(labels["annotator_id"] == "llm")]["conversation_id"] == some).sum()
    drop = h1[(h1["conversation_id"] == some)].index[:1]
    part = labels.drop(index=drop)
    part = part[~((part["annotator_id"] == "h2") & (part["conversation_id"] == some))]
    with pytest.warns(UserWarning, match=r"W455.*some but not all"):
        out = corrected_prevalence(part, codebook, llm="llm", corpus=corpus)
    full = corrected_prevalence(labels, codebook, llm="llm", corpus=corpus)
    expected = full["n_human_conversations"].iloc[0] - (1 if n_turns > 1 else 0)
    assert out["n_human_conversations"].iloc[0] == expected


@pytest.mark.filterwarnings("ignore:.*W321")
def test_sample_probabilities_from_a_stratified_project(tmp_path) -> None:
    """A project that codes a stratified sample of the corpus: each conversation's inclusion
    probability is its stratum's sampled share of the frame (the project's sampling record)."""
    import json

    import annotate
    from annotate.analysis import sample_probabilities
    from annotate.project import Project

    src = tmp_path / "src.jsonl"
    lines = []
    for i in range(40):
        persona = "kai" if i < 10 else "mia"
        msgs = [{"role": "user", "content": f"hello {i}"}, {"role": "assistant", "content": "hi"}]
        lines.append(json.dumps({"id": f"c{i:02d}", "messages": msgs, "persona": persona}))
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    annotate.import_corpus(src, "openai", out=tmp_path / "corpus")
    p = Project.create(
        tmp_path / "project",
        corpus=tmp_path / "corpus",
        codebook=annotate.codebook.default_codebook_path(),
        coders=["a"],
        sample=8,
        stratify="meta.persona",
        seed=1,
    )
    probs = sample_probabilities(p)
    strata = {s["stratum"]: s for s in p.sampling["strata"]}
    assert len(probs) == 8 and set(strata) == {"kai", "mia"}
    meta = p.corpus.conversations.set_index("conversation_id")["meta"].map(json.loads)
    for cid, prob in probs.items():
        s = strata[meta[cid]["persona"]]
        assert prob == pytest.approx(s["sample"] / s["frame"])
    # proportional allocation: 2 of the 10 kai and 6 of the 30 mia conversations
    assert {s["sample"] for s in strata.values()} == {2, 6}
