"""Optional oracles in R (Debian's r-base-core, r-cran-lme4, r-cran-ordinal, r-cran-geepack;
`make r` installs them): the same rows our analyses fit, fitted again by lme4, ordinal and
geepack. Skipped, with the reason, where R or a package is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, conv_rows, corpus_of, frame, turn_rows, user

from annotate.analysis import compare_groups, session_trajectories
from annotate.analysis._models import gee

pytestmark = pytest.mark.filterwarnings("ignore:.*W45[123]")

RSCRIPT = shutil.which("Rscript")


def _require(package: str) -> None:
    if RSCRIPT is None:
        pytest.skip("R is not installed (optional oracle; `make r` installs r-base-core)")
    ok = subprocess.run(
        [RSCRIPT, "-e", f"quit(status = !requireNamespace('{package}', quietly = TRUE))"],
        capture_output=True,
        timeout=120,
    )
    if ok.returncode != 0:
        pytest.skip(f"R package {package} is not installed (Debian: r-cran-{package})")


def _run_r(script: str, tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "oracle.R"
    path.write_text(script, encoding="utf-8")
    res = subprocess.run(
        [RSCRIPT, str(path)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    return pd.read_csv(tmp_path / "out.csv")


def _growth_labels(seed: int = 5) -> tuple[pd.DataFrame, object]:
    rng = np.random.default_rng(seed)
    rows, convs = [], []
    start = pd.Timestamp("2025-01-01", tz="UTC")
    for u in range(20):
        b0, b1 = rng.normal(0.3, 0.12), rng.normal(0.06, 0.04)
        for k in range(4 + u % 3):
            p = float(np.clip(b0 + b1 * k + rng.normal(0, 0.08), 0, 1))
            cid = f"u{u:02d}s{k}"
            rows += turn_rows(cid, [user({"bid": str(int(j < round(p * 10)))}) for j in range(10)])
            convs.append({"conversation_id": cid, "user_id": f"u{u:02d}",
                          "started_at": start + pd.Timedelta(days=2 * k + u)})  # fmt: skip
    return frame(rows), corpus_of(pd.DataFrame(convs))


def test_r_lme4_random_slopes_equal_our_growth_model(codebook, tmp_path) -> None:
    _require("lme4")
    labels, corpus = _growth_labels()
    tr = session_trajectories(labels, codebook, corpus=corpus, codes=["bid"], bootstrap=0)
    tr.sessions[["user_id", "time", "value"]].to_csv(tmp_path / "data.csv", index=False)
    r = _run_r(
        """
        library(lme4)
        d <- read.csv("data.csv")
        m <- lmer(value ~ time + (1 + time | user_id), data = d, REML = TRUE)
        vc <- as.data.frame(VarCorr(m))
        out <- data.frame(
          name = c("Intercept", "time", "se_Intercept", "se_time", "var_intercept",
                   "var_time", "cov", "residual"),
          value = c(fixef(m), sqrt(diag(as.matrix(vcov(m)))),
                    vc$vcov[1], vc$vcov[2], vc$vcov[3], sigma(m)^2))
        write.csv(out, "out.csv", row.names = FALSE)
        """,
        tmp_path,
    ).set_index("name")["value"]
    mixed = tr.models[(tr.models["which"] == "mixed")].set_index("term")
    assert mixed.loc["Intercept", "estimate"] == pytest.approx(r["Intercept"], rel=1e-3)
    assert mixed.loc["time", "estimate"] == pytest.approx(r["time"], rel=1e-3)
    assert mixed.loc["time", "se"] == pytest.approx(r["se_time"], rel=1e-2)
    assert mixed.loc["time", "var_intercept"] == pytest.approx(r["var_intercept"], rel=0.02)
    assert mixed.loc["time", "var_time"] == pytest.approx(r["var_time"], rel=0.02)
    assert mixed.loc["time", "residual"] == pytest.approx(r["residual"], rel=0.01)


def _persona_ratings(seed: int = 6) -> tuple[pd.DataFrame, object]:
    rng = np.random.default_rng(seed)
    rows, convs = [], []
    shift = {"a": 0.0, "b": 0.8, "c": 1.5}
    for u in range(30):
        persona = "abc"[u % 3]
        for k in range(3):
            cid = f"u{u:02d}c{k}"
            latent = shift[persona] + rng.logistic() + rng.normal(0, 0.5)
            rating = int(np.digitize(latent, [-1.0, 0.5, 2.0])) + 1  # 1..4 -> warm has 1..3
            rating = min(rating, 3)
            rows += turn_rows(cid, [ai({"emp": str(int(rng.random() < 0.2 + 0.2 * (u % 3)))})
                                    for _ in range(4)])  # fmt: skip
            rows += conv_rows(cid, {"warm": str(rating)})
            convs.append({"conversation_id": cid, "user_id": f"u{u:02d}",
                          "meta": f'{{"persona": "{persona}"}}'})  # fmt: skip
    return frame(rows), corpus_of(pd.DataFrame(convs))


def test_r_ordinal_clm_equals_our_cumulative_link_model(codebook, tmp_path) -> None:
    _require("ordinal")
    labels, corpus = _persona_ratings()
    t = compare_groups(labels, codebook, by="persona", corpus=corpus, codes=["warm"],
                       unit="conversation", bootstrap=0)  # fmt: skip
    convs = corpus.conversations
    ratings = labels[labels["code_id"] == "warm"][["conversation_id", "value"]]
    d = ratings.merge(convs, on="conversation_id")
    d["persona"] = d["meta"].str.extract(r'"persona": "(\w)"', expand=False)
    d[["value", "persona"]].to_csv(tmp_path / "data.csv", index=False)
    r = _run_r(
        """
        library(ordinal)
        d <- read.csv("data.csv")
        d$value <- factor(d$value, ordered = TRUE)
        d$persona <- factor(d$persona, levels = c("a", "b", "c"))
        m <- clm(value ~ persona, data = d)
        write.csv(data.frame(name = names(coef(m)), value = coef(m)), "out.csv",
                  row.names = FALSE)
        """,
        tmp_path,
    ).set_index("name")["value"]
    for g in ("b", "c"):
        row = t[t["group_1"] == g].iloc[0]
        assert np.log(row["model_odds_ratio"]) == pytest.approx(r[f"persona{g}"], abs=1e-4)


def test_r_geepack_exchangeable_gee_equals_ours(codebook, tmp_path) -> None:
    _require("geepack")
    labels, corpus = _persona_ratings()
    t = compare_groups(labels, codebook, by="persona", corpus=corpus, codes=["emp"],
                       bootstrap=0)  # fmt: skip
    d = labels[labels["code_id"] == "emp"].merge(corpus.conversations, on="conversation_id")
    d["persona"] = d["meta"].str.extract(r'"persona": "(\w)"', expand=False)
    d["y"] = d["value"].astype(int)
    d = d.sort_values(["user_id", "conversation_id", "turn_index"])
    d[["y", "persona", "user_id"]].to_csv(tmp_path / "data.csv", index=False)
    r = _run_r(
        """
        library(geepack)
        d <- read.csv("data.csv")
        d$persona <- factor(d$persona, levels = c("a", "b", "c"))
        d$user_id <- factor(d$user_id)
        m <- geeglm(y ~ persona, id = user_id, data = d, family = binomial,
                    corstr = "exchangeable")
        s <- summary(m)$coefficients
        write.csv(data.frame(name = rownames(s), est = s[, 1], se = s[, 2]), "out.csv",
                  row.names = FALSE)
        """,
        tmp_path,
    ).set_index("name")
    for g in ("b", "c"):
        row = t[t["group_1"] == g].iloc[0]
        # geepack and statsmodels estimate the exchangeable correlation with slightly
        # different moment formulas, so the estimates agree to about 1e-3
        assert np.log(row["model_odds_ratio"]) == pytest.approx(r.loc[f"persona{g}", "est"],
                                                                abs=5e-3)  # fmt: skip
    # the plain robust (sandwich) SE of our GEE equals geepack's; the bias-reduced SE we
    # report is larger
    X = pd.DataFrame({"Intercept": 1.0, "b": (d["persona"] == "b") * 1.0,
                      "c": (d["persona"] == "c") * 1.0})  # fmt: skip
    plain = gee(d["y"].to_numpy(float), X, d["user_id"].to_numpy(), formula="y ~ persona",
                clusters="users", cov_type="robust").terms.set_index("term")  # fmt: skip
    for g in ("b", "c"):
        assert plain.loc[g, "se"] == pytest.approx(r.loc[f"persona{g}", "se"], rel=0.02)
        lo = t[t["group_1"] == g].iloc[0]["model_ci_low"]
        assert np.log(lo) < plain.loc[g, "estimate"] - 1.96 * plain.loc[g, "se"]
