"""irrCAC on seeded random reliability data: the oracle values of tests/agreement/test_oracles.py.

irrCAC (the Python port of Gwet's R package) pins scipy 1.12 and so numpy < 2 and pandas < 3: it
cannot live in the project's lock. It runs here, in a throw-away environment, and its answers
are committed as ``irrcac_values.json`` next to this script. Regenerate them (from the repository
root; ``make env`` provides ``.venv-tools/bin/uv``) with::

    .venv-tools/bin/uv run --isolated --no-project --python 3.11 \\
        --with irrCAC==0.4.4 --with numpy==1.26.4 --with pandas==2.3.3 --with scipy==1.12.0 \\
        python tests/data/irrcac/generate.py

The data sets are not stored: :func:`make_case` rebuilds each one from its seed with numpy alone
(this module imports irrCAC only in :func:`main`), and the test checks the rebuilt data against
the fingerprint recorded here before comparing our coefficients with irrCAC's.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).with_name("irrcac_values.json")
COMMAND = (
    "uv run --isolated --no-project --python 3.11 --with irrCAC==0.4.4 --with numpy==1.26.4 "
    "--with pandas==2.3.3 --with scipy==1.12.0 python tests/data/irrcac/generate.py"
)
#: the versions COMMAND installs; main() refuses to write values computed with others
PINNED = {"irrCAC": "0.4.4", "numpy": "1.26.4", "pandas": "2.3.3", "scipy": "1.12.0"}

SEEDS = range(100)
#: all of Gwet's (2014) weight families irrCAC offers, on the category values 1..q
WEIGHTS = ("identity", "linear", "quadratic", "ordinal", "radical", "ratio", "circular", "bipolar")
#: irrCAC method -> the parts of its "est" recorded (Conger's and alpha's SEs are not compared)
PARTS = {
    "gwet": ("coefficient_value", "pa", "pe", "se"),
    "fleiss": ("coefficient_value", "pa", "pe", "se"),
    "bp": ("coefficient_value", "pa", "pe", "se"),
    "conger": ("coefficient_value", "pa", "pe"),
    "krippendorff": ("coefficient_value",),
}
P_MISSING = (0.0, 0.1, 0.25, 0.4)
DIGITS = 12  # irrCAC rounds its output to this many decimals; the test compares within 1e-9


def make_case(seed: int) -> tuple[np.ndarray, int, float]:
    """(units x coders data with NaN for missing, values 0..q-1; q; share of cells left empty).

    A quarter of the cases are tiny (2-5 units, 2-3 coders, half the cells empty: degenerate
    data such as one pairable unit or a single value used), a quarter large (41-300 units), the
    rest small (6-40 units), with 2-6 coders and 2-5 categories. Coders who coded nothing are
    dropped (irrCAC's Conger divides by zero for them); units nobody coded stay (irrCAC drops
    them, our functions ignore them).
    """
    rng = np.random.default_rng(seed)
    if seed % 4 == 0:
        n_units, n_coders, q = int(rng.integers(2, 6)), int(rng.integers(2, 4)), 2
        p_missing = 0.5
    else:
        low, high = (41, 301) if seed % 4 == 3 else (6, 41)
        n_units, n_coders = int(rng.integers(low, high)), int(rng.integers(2, 7))
        q = int(rng.integers(2, 6))
        p_missing = P_MISSING[int(rng.integers(len(P_MISSING)))]
    data = rng.integers(0, q, size=(n_units, n_coders)).astype(float)
    data[rng.random(data.shape) < p_missing] = np.nan
    return data[:, ~np.isnan(data).all(axis=0)], q, p_missing


def fingerprint(data: np.ndarray) -> str:
    """sha256 of the data as JSON (integers, null for missing): the same under any numpy."""
    cells = [[None if math.isnan(v) else int(v) for v in row] for row in data.tolist()]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def _number(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _irrcac(data: np.ndarray, q: int) -> dict[str, dict[str, Any]]:
    """{weights: {method: [its PARTS] or {"error": exception name}}}; null for a non-finite."""
    import pandas as pd
    from irrCAC.raw import CAC

    frame = pd.DataFrame(data + 1)  # categories 1..q: ratio weights need non-zero values
    out: dict[str, dict[str, Any]] = {}
    for w in WEIGHTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cac = CAC(frame, weights=w, categories=list(range(1, q + 1)), digits=DIGITS)
        out[w] = {}
        for name, parts in PARTS.items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est = getattr(cac, name)()["est"]
            except Exception as exc:  # irrCAC fails where the coefficient is undefined
                out[w][name] = {"error": type(exc).__name__}
                continue
            out[w][name] = [_number(est[k]) for k in parts]
    return out


def main() -> None:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    got = {name: installed(name) for name in PINNED}
    if got != PINNED:
        sys.exit(f"run this with the pinned versions {PINNED} (got {got}):\n  {COMMAND}")
    cases = []
    for seed in SEEDS:
        data, q, p_missing = make_case(seed)
        cases.append(
            {
                "seed": seed,
                "units": data.shape[0],
                "coders": data.shape[1],
                "q": q,
                "p_missing": p_missing,
                "sha256": fingerprint(data),
                "irrcac": _irrcac(data, q),
            }
        )
    doc = {
        "generated_by": {
            "script": "tests/data/irrcac/generate.py",
            "command": COMMAND,
            "python": platform.python_version(),
            "packages": got,
            "note": f"irrCAC.raw.CAC(data + 1, weights, categories=1..q, digits={DIGITS}): for "
            "each weights family and method, the listed parts of its 'est' (null: not finite; "
            "'error': the exception irrCAC raised); make_case(seed) rebuilds the data",
        },
        "weights": list(WEIGHTS),
        "parts": {name: list(parts) for name, parts in PARTS.items()},
    }
    # one line per case keeps the file short and its diffs readable
    head = json.dumps(doc, indent=1)[:-2]
    lines = ",\n".join("  " + json.dumps(c, separators=(",", ":")) for c in cases)
    OUT.write_text(f'{head},\n "cases": [\n{lines}\n ]\n}}\n', encoding="utf-8")
    print(f"wrote {len(cases)} cases x {len(WEIGHTS)} weights to {OUT}")


if __name__ == "__main__":
    main()
