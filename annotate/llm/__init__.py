"""annotate.llm: language models as declared coders (layer 4; README, "LLM coders").

An LLM coder is a coder id of the project plus an immutable record of the model, prompt,
schema and settings that made its labels (:mod:`annotate.llm.coder`). Its labels go through
``project.append`` like a person's; every request and raw answer is in an audit log beside the
store, which is also the response cache (:mod:`annotate.llm.audit`).

* :func:`add_llm_coder` -- add a model as a coder (``project.add_llm_coder`` calls it).
* :func:`run_llm_coder` -- code the reliability sample, the queue or the corpus; resumable.
* :func:`load_coder`, :func:`llm_coder_ids` -- read the records.
* :func:`replicate_coder`, :func:`run_replicates`, :func:`prompt_stability` -- prompt
  sensitivity: replicate coders (runs, paraphrases) and alpha among them.
* :func:`behaviour_checks` -- label-free checks before a run (value order, swapped definitions).
* :class:`~annotate.llm.prompt.PromptBuilder`, :func:`~annotate.llm.schema.coder_schemas`,
  :func:`~annotate.llm.schema.check_answer` -- prompts, schemas and checks, reusable by
  other engines.
"""

from __future__ import annotations

from annotate.llm.audit import ResponseCache, read_audit
from annotate.llm.backends import LlamaCppBackend, OpenAIBackend, Request, make_backend
from annotate.llm.checks import ChecksReport, behaviour_checks
from annotate.llm.coder import LLMCoder, add_llm_coder, build_coder, llm_coder_ids, load_coder
from annotate.llm.prompt import DEFAULT_TEMPLATE, PromptBuilder, WorkUnit
from annotate.llm.replicate import (
    StabilityReport,
    prompt_stability,
    read_paraphrases,
    replicate_coder,
    replicates_of,
    run_replicates,
)
from annotate.llm.run import RunSummary, UnitCoder, plan_units, run_llm_coder
from annotate.llm.schema import check_answer, coder_schemas

__all__ = [
    "DEFAULT_TEMPLATE",
    "ChecksReport",
    "LLMCoder",
    "LlamaCppBackend",
    "OpenAIBackend",
    "PromptBuilder",
    "Request",
    "ResponseCache",
    "RunSummary",
    "StabilityReport",
    "UnitCoder",
    "WorkUnit",
    "add_llm_coder",
    "behaviour_checks",
    "build_coder",
    "check_answer",
    "coder_schemas",
    "llm_coder_ids",
    "load_coder",
    "make_backend",
    "plan_units",
    "prompt_stability",
    "read_audit",
    "read_paraphrases",
    "replicate_coder",
    "replicates_of",
    "run_llm_coder",
    "run_replicates",
]
