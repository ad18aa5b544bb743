"""spaCy preprocessing throughput vs. bare ``nlp.pipe`` with the same pipeline and texts.

20,000 synthetic chat turns (Zipf-like vocabulary of 50k letter-only types, ~5% of turns with an
email, URL, phone number or @handle). Pipeline: annotate's default (blank English + sentencizer).

* baseline: ``for doc in nlp.pipe(texts, batch_size=1000): pass``
* preprocess: ``annotate.nlp.preprocess(texts, nlp=nlp)`` (sentences + token counts per turn)
* preprocess+mask: the same with ``mask=True`` (regex masking on doc.text)

Runs alternate, best of 3 each. Prints one JSON object with words/s and the ratios
preprocess / baseline (target >= 0.8) and preprocess+mask / baseline.
"""

from __future__ import annotations

import json
import random
import time

from annotate.nlp import get_pipeline, preprocess

N_TEXTS = 20_000


def _word(i: int) -> str:
    """A letters-only pseudo-word per rank (real chat words rarely carry digits)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = "etaoinshrdlcumwfgypbvkjxqz"[r] + out
    return out


def texts(seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    vocab = [_word(i) for i in range(50_000)]
    cum, acc = [], 0.0
    for i in range(len(vocab)):
        acc += 1 / (i + 1)
        cum.append(acc)
    pii = [
        "mail me at jo.doe@example.org",
        "see https://example.com/a/b.",
        "call 555-123-4567",
        "ping @some_handle",
    ]
    out = []
    for _ in range(N_TEXTS):
        sents = []
        for _ in range(rng.randint(1, 6)):
            words = rng.choices(vocab, cum_weights=cum, k=rng.randint(4, 18))
            words[0] = words[0].capitalize()
            sents.append(" ".join(words) + rng.choice([".", "?", "!"]))
        if rng.random() < 0.05:
            sents.insert(rng.randint(0, len(sents)), rng.choice(pii) + ".")
        out.append(" ".join(sents))
    return out


def main() -> None:
    data = texts()
    n_words = sum(len(t.split()) for t in data)
    nlp = get_pipeline("blank")
    list(nlp.pipe(data[:2000], batch_size=1000))  # warm the vocabulary a little, for all runs

    def bare() -> None:
        for _doc in nlp.pipe(data, batch_size=1000):
            pass

    def pre() -> None:
        preprocess(data, nlp=nlp, batch_size=1000, progress=False)

    def pre_mask() -> None:
        preprocess(data, nlp=nlp, batch_size=1000, progress=False, mask=True)

    times: dict[str, list[float]] = {"bare": [], "preprocess": [], "preprocess_mask": []}
    for _ in range(3):
        for name, fn in (("bare", bare), ("preprocess", pre), ("preprocess_mask", pre_mask)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    best = {k: min(v) for k, v in times.items()}
    wps = {k: n_words / v for k, v in best.items()}
    print(
        json.dumps(
            {
                "benchmark": "nlp_preprocess_throughput",
                "pipeline": nlp.pipe_names,
                "texts": N_TEXTS,
                "words": n_words,
                "words_per_s": {k: round(v) for k, v in wps.items()},
                "ratio_preprocess_vs_bare": round(wps["preprocess"] / wps["bare"], 3),
                "ratio_preprocess_mask_vs_bare": round(wps["preprocess_mask"] / wps["bare"], 3),
                "target_ratio": 0.8,
                "runs_s": {k: [round(x, 2) for x in v] for k, v in times.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
