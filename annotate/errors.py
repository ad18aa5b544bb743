"""The one error catalogue of annotate (layer 0: imports nothing of annotate).

Every user-facing error has a code (``E###``) and every warning a code (``W###``), banded by
area: 0xx storage (disk full, read-only, links), 1xx corpus and importers, 2xx codebook, 3xx
label store and project, 4xx agreement and analysis, 5xx adjudication and export, 6xx widgets,
7xx LLM coders, 9xx CLI.

A message says *what* was wrong, quoting the offending value and *where* (file, line, field),
then *what to do*. Raise sites stay one line::

    raise CorpusError(Errors.E101.format(path=path, line=12, problem="..."))

The exception classes also inherit the closest builtin so that generic handlers keep working.

A hint that differs between Python and the command line is written ``[[python form || CLI
form]]`` in a template; the form shown is the one for :data:`AUDIENCE` (``"python"`` unless a
CLI command set ``"cli"``). A hint built at the raise site uses :func:`hint` the same way.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

#: who reads the messages: ``"python"`` (default) or ``"cli"`` (set by a command line command)
AUDIENCE: ContextVar[str] = ContextVar("annotate_audience", default="python")
_FORMS = re.compile(r"\[\[(.*?) \|\| (.*?)\]\]", re.S)


def hint(python: str, cli: str) -> str:
    """The Python or the command-line form of a hint, for the current :data:`AUDIENCE`."""
    return cli if AUDIENCE.get() == "cli" else python


def _for_audience(template: str) -> str:
    if "[[" not in template:
        return template
    pick = 2 if AUDIENCE.get() == "cli" else 1
    return _FORMS.sub(lambda m: m.group(pick), template)


class _Catalogue(type):
    """Metaclass: ``Errors.E101`` returns the template prefixed with its code."""

    def __getattribute__(cls, name: str) -> Any:
        value = super().__getattribute__(name)
        if len(name) == 4 and name[0] in "EW" and name[1:].isdigit() and isinstance(value, str):
            return f"[{name}] {_for_audience(value)}"
        return value


class Errors(metaclass=_Catalogue):
    """Error message templates, by code. Fill them with ``.format(**fields)``."""

    # --- 0xx storage ---------------------------------------------------------------------------
    # (section: storage)
    E001 = (
        "No space left on the device while trying to {action} '{path}'. Nothing was half-written "
        "(the temporary file was removed) and what was saved before is safe. Free some space on "
        "that disk (`df -h {folder}` shows it) and try again."
    )
    E002 = (
        "Cannot {action} '{path}': {problem}. The folder is read-only or you lack permission. "
        "Ask the folder's owner for write access (shared projects: `chmod -R g+w` on the "
        "project folder), or work on a copy in a folder you can write."
    )
    E003 = (
        "'{path}' is a symbolic link inside a project or store folder. annotate never writes "
        "through a link placed there (it could redirect writes to any file you can change). "
        "Check who created it, replace it with the real folder or file, and try again."
    )
    E004 = "Could not {action} '{path}': {problem}. Nothing was half-written; try again."

    # --- 1xx corpus and importers -----------------------------------------------------------
    # (section: corpus)
    E101 = "Source '{path}' does not exist. Check the path ({hint})."
    E102 = (
        "Unknown import format '{format}'. Available formats: {available}. Pick one of them "
        "[[as the format argument of import_corpus || (see `annotate import --help`)]]; case "
        "does not matter."
    )
    E103 = (
        "Option '{option}' is not an option of format '{format}'. Its options: {available}. "
        "Fix the option name [[(a keyword argument of import_corpus) || (--option KEY=VALUE; "
        "see `annotate import --help`)]]."
    )
    E104 = (
        "Option '{option}' of format '{format}' is '{value}': {problem}. Fix its value "
        "[[({option}=...) || (--option {option}=VALUE)]]."
    )
    E105 = (
        "No conversation could be imported from {sources} (format '{format}'): {reason}. "
        "Check that the file really is in this format; see docs/corpora.md."
    )
    E106 = "File '{path}' {problem} ({where}). {hint}"
    E107 = (
        "Output folder '{path}' already exists. Choose a new [[out || --out]] folder, or pass "
        "[[overwrite=True || --overwrite]] to replace it."
    )
    E108 = (
        "Folder '{path}' is not a ConvoKit corpus: {problem}. A ConvoKit corpus folder holds "
        "utterances.jsonl (with speakers.json and conversations.json); pass that folder."
    )
    E109 = (
        "CSV '{path}': the mapping names column(s) {missing} that the file does not have. "
        "Columns in the file: {available}. Fix the [[mapping || --map FIELD=COLUMN options]]."
    )
    E110 = (
        "CSV '{path}' needs a column for {missing}; no mapping names one and no column has that "
        "name. Columns in the file: {available}. Mapping fields: {fields}. Pass them, e.g. "
        "[[mapping={{'text': 'message'}} || --map text=message]]."
    )
    E111 = (
        "'{path}' is not a valid corpus folder: {problem}. Re-create it with "
        "`annotate import FORMAT SRC --out DIR`, or check the path."
    )
    E112 = (
        "Conversation '{conversation_id}' is not in corpus '{name}' ({n} conversations, "
        "e.g. {examples}). Use corpus.conversation_ids for the ids that exist."
    )
    E113 = (
        "Role mapping '{label}' -> '{role}': the target role must be one of "
        "user, assistant, system, tool. Fix the [[roles option || --role LABEL=ROLE option]]."
    )
    E114 = (
        "Could not write corpus folder '{path}': {problem}. Nothing was left behind; "
        "check disk space and permissions."
    )
    E115 = (
        "spaCy pipeline '{name}' cannot be loaded: {problem}. Use the default (blank English "
        "with a sentencizer: nlp=None), or install that pipeline package."
    )
    E116 = "Source '{path}' is a {kind}; format '{format}' expects {expected}."
    E117 = (
        "Importing {sources} (format '{format}') would give a corpus without {roles} turns: "
        "{why}. {fix} Nothing was written."
    )
    E118 = (
        "Participant '{user_id}' withdrew on {when}: their data may not be added to this corpus "
        "again. If they have given consent anew, record it with a new participant id."
    )
    E119 = (
        "No conversation of participant '{user_id}' is in corpus '{path}', and the consent "
        "register does not know them. Participants with conversations: {known}. Check the id "
        "(it is case-sensitive)."
    )
    E130 = (
        "{what} needs the Python package '{package}' (Ray), which is not installed. Install "
        "annotate's scale extra (`uv sync --extra scale`, or `pip install 'annotate[scale]'`), "
        "or use [[engine='local' || --engine local]] (the default)."
    )
    E131 = (
        "Masking corpus '{path}' with the ray engine failed: {problem}. Nothing was written; "
        "check the cluster ([[address= || --address]]), or mask with the local engine."
    )
    E132 = "Masking option {option}={value!r} is not valid: {problem}"
    E133 = (
        "Cannot join the Ray cluster at {address} to mask corpus '{path}': {problem}. Nothing "
        "was written. Check the address ([[address= || --address]]: auto, HOST:PORT of the "
        "head, or ray://HOST:10001) and that the cluster runs (`ray status` on the head), or "
        "leave it out to start a local Ray."
    )
    E120 = (
        "Cannot pseudonymise with key file '{path}': {problem}. Keep the key outside the "
        "corpus folder (e.g. [[pseudonymise='~/keys/study.key' || --pseudonymise "
        "~/keys/study.key]]); a missing file is created with a new random key."
    )
    E121 = (
        "{sources}: no column holds a list of messages (looked for {looked}; columns: "
        "{columns}). Name it [[with message_column='COLUMN' || with -o message_column=COLUMN]], "
        "or pick the importer of this layout (see `annotate import --help`)."
    )

    # --- 2xx codebook -----------------------------------------------------------------------
    # (section: codebook)
    E201 = (
        "Codebook '{path}' has {n} problem(s); fix each one (one per line below, with its field "
        "path) and check again with `annotate codebook validate {path}`:\n{problems}"
    )
    E202 = (
        "'{path}' is not a codebook: {problem}. A codebook is a YAML mapping with the keys id, "
        "version, title, groups and codes (see codebooks/toy.yaml for a small complete one)."
    )
    E203 = (
        "Code '{code_id}' is not in codebook '{codebook_id}' v{version}. Available codes: "
        "{available}. Fix the code id, or list the codes with `annotate codebook validate FILE`."
    )
    E204 = (
        "Value '{value}' is not allowed for code '{code_id}' ({level}). Allowed: {allowed}. {hint}"
    )
    E205 = (
        "'{path}' is not valid YAML: {problem} at line {line}, column {column}. Fix the YAML "
        "(indentation, a missing colon or an unclosed quote) and validate again."
    )
    E206 = "Codebook file '{path}' was not found. {hint}"
    E207 = (
        "Module(s) {unknown} requested but not declared in codebook '{codebook_id}'. Declared "
        "modules: {available}. Pass one of these, 'all', or [] for the core codes only."
    )
    E208 = (
        "'{path}' is not a REFI-QDA codebook (.qdc): {problem}. Export one from your QDA tool "
        "with 'Export codebook' (REFI-QDA, urn:QDA-XML:codebook:1.0)."
    )
    E209 = "Unknown {what} '{value}'; expected one of: {available}."
    E210 = (
        "Code '{code_id}' is {level}: {what} exists only for binary codes. Use code.value_ids "
        "for the values of other levels."
    )
    E230 = (
        "Migration map '{source}' (line {line}): {problem}. A map says what happened to each "
        "changed code (see docs/codebook.md, 'Codebook versions and migration'); `annotate "
        "codebook diff OLD NEW --map MAP.yaml` writes a proposal to start from."
    )
    E231 = (
        "Migration map '{source}' does not fit the two codebooks ({n} problem(s)); fix each "
        "one:\n{problems}"
    )

    # --- 3xx label store and project ---------------------------------------------------------
    # (section: store)
    E301 = (
        "{n} of {total} label event(s) rejected; nothing was written. First problem, row "
        "{row}: {reason}. The error's failure_cases table lists every rejected row with a "
        "reason column; fix those rows and append the batch again."
    )
    E302 = (
        "Label events must be a DataFrame, a list of dicts or one dict; got {got}. Give one "
        "row per event with the columns {columns}."
    )
    E303 = (
        "Label events have unknown column(s) {unknown}; nothing was written. The label event "
        "columns are {columns}. Rename or drop the others and append again."
    )
    E304 = (
        "Label store folder '{path}' {problem}. Check that the folder exists and that you may "
        "write to it (on a shared JupyterHub folder: group-writable, setgid; see docs/projects.md)."
    )
    E305 = (
        "The label store at '{path}' kept changing while it was read ({tries} attempts, files "
        "were folded away under the reader). Read again; no label is lost."
    )
    E306 = (
        "This label store at '{path}' was opened for coder '{coder}' and reads only that "
        "coder's labels; {other!r}'s cannot be read here. Open the project without coder= "
        "(the project lead's view) to read every coder's labels."
    )
    E307 = (
        "Evidence span [{start}, {end}) is not inside the turn's text ({n} characters): offsets "
        "are Python string offsets (code points) into turns.text with 0 <= start < end <= {n}."
    )
    E310 = "'{path}' already holds a project (project.json). {hint}"
    E311 = "'{path}' is not an annotate project: {problem}. {hint}"
    E312 = "Project plan: {option}={value!r} is not valid: {problem}"
    E313 = (
        "Coder id {value!r} ({where}) is not valid: use 1-64 characters of lower-case letters, "
        "digits, '_', '.' or '-', starting with a letter or digit (e.g. 'alice', 'coder_2')."
    )
    E314 = "'{annotator}' is not a coder of the project at '{path}'. Coders: {available}. {hint}"
    E315 = (
        "Blind mode: the session of coder '{coder}' may not read the labels of {other}. Read "
        "your own with p.labels(annotator='{coder}'), or open the project without coder= "
        "(e.g. to compute agreement) once coding is finished."
    )
    E316 = "The corpus of the project at '{project}' was not found at '{path}'. {hint}"
    E317 = (
        "The frozen codebook '{path}' of the project changed after the project was created "
        "(hash {found}, recorded {expected}). Restore the file; code with a new codebook "
        "version in a new project."
    )
    E318 = (
        "Conversation id(s) {ids} are not in the corpus at '{path}'. Pass ids of that corpus, "
        "or re-import the corpus with the new conversations first."
    )

    E319 = (
        "'{path}' holds an interrupted project init: {found}, but no project.json (the init "
        "was killed or failed before it finished). Nothing in it was coded. {hint}"
    )
    E320 = (
        "The plan of the project at '{path}' cannot be read: {problem}. The plan versions are "
        "the files plan/v*.parquet (each one complete); restore the file from a backup, or "
        "move the damaged one out of plan/ to fall back to the version before it."
    )
    E321 = (
        "The plan of the project at '{path}' changed {tries} times while this change was "
        "computed (other sessions were changing it at the same moment); nothing was written. "
        "Try again."
    )
    E322 = (
        "The plan of the project at '{path}' is inconsistent: {problem}. Nothing was changed. "
        "{hint}"
    )
    E323 = (
        "'{path}' is not empty ({entries}); a project is created in a new or empty folder so "
        "that nothing in it is overwritten. Choose a new folder."
    )
    E324 = (
        "Analyses at scale read the label store with DuckDB, which is not installed ({problem}). "
        "Install the scale extra (pip install 'annotate[scale]'), or use the in-memory engine "
        "([[engine='memory' || --engine memory]])."
    )

    E340 = "Codebook version {version!r} is not held by this project; it holds: {held}."
    E341 = "Migration record '{path}': {problem}. {hint}"
    E342 = "The project at '{path}' cannot be migrated: {problem}. Nothing was written."
    E343 = (
        "The new codebook version must come after the current one: {new} is not later than "
        "{old}. Raise `version:` in the new file (a major version when labels change meaning)."
    )

    E350 = (
        "Finish conversation '{conversation_id}' of the calibration set first (mark it done): "
        "the comparison with gold is shown only after you coded it, so that it cannot guide "
        "your coding."
    )
    E351 = (
        "The calibration set of the project ('{path}') is empty: no conversation has gold labels "
        "marked done. {hint}"
    )
    E352 = (
        "Calibration attempt {attempt} of '{coder}' is not complete: {n} of {total} "
        "conversation(s) still to code ({ids}). Score it once every conversation is done."
    )
    E353 = (
        "Gold file '{path}' {problem}. Give a JSON lines file of label events, one per line "
        "(conversation_id, unit, turn_index, code_id, value, note = the explanation), with "
        "_status = done on each conversation of the set."
    )
    E360 = "Pre-score '{source}': {problem}."
    E361 = (
        "The reliability sample of the project at '{path}' was enriched already; a project has "
        "one enrichment design (see Project.reliability_design). Grow it with add_reliability "
        "only if you accept that its new conversations have no recorded inclusion probability."
    )

    E399 = (
        "The demo's {what} is missing at '{path}'. The demo needs a checkout of the annotate "
        "repository (corpora/demo, codebooks/); run the notebooks from that checkout."
    )

    # --- 4xx agreement and analysis -----------------------------------------------------------
    # (section: agreement)
    E400 = "{coefficient} is undefined for these data: {reason}."
    E401 = (
        "Value(s) {values} of code '{code_id}' are not in its value domain ({allowed}). Fix the "
        "labels, or pass the codebook version they were coded with."
    )
    E402 = (
        "The labels hold code(s) {codes} that are not in codebook '{codebook_id}'. Pass the "
        "codebook the labels were coded with."
    )
    E403 = (
        "The labels table lacks column(s) {missing}. Expected the unit-labels table of "
        "Project.unit_labels(): {expected}."
    )
    E404 = "{option}={value!r} is not known. Use one of: {allowed}."
    E405 = (
        "{n} label(s) are duplicated for one (annotator, unit, code), e.g. {example}. Use "
        "Project.unit_labels(), which keeps the latest label per unit."
    )
    E406 = "Reliability data must be {expected}; got {got}."
    E407 = "No agreement row matches code={code_id!r}, role={role!r}. Rows: {available}."
    E408 = (
        "Code '{code_id}' is coded per {expected}, but {n} label(s) are on {got} units. Pass "
        "the codebook the labels were coded with (its unit field decides)."
    )
    E409 = (
        "{what} needs every unit's labels, which a report computed at scale (from value counts "
        "streamed out of the store) does not hold. Compute the report in memory for it "
        "([[annotate.agreement.report(project.unit_labels(), codebook) || --engine memory]])."
    )
    # (section: analysis)
    E420 = (
        "Code '{code_id}': {n} conversation(s) with units coded by two or more coders have no "
        "inclusion probability in the reliability design (e.g. {ids}); they were not drawn by "
        "the design. Pass weights for every reliability conversation "
        "(Project.reliability_weights()), or leave them out of the labels."
    )
    E450 = (
        "The labels hold {n} coders ({annotators}); an analysis needs one coder's labels or gold "
        "labels. Pass annotator=ID (CLI: --annotator ID) or gold labels (--gold)."
    )
    E451 = "Annotator {annotator!r} has no labels here. Annotators in the labels: {available}."
    E452 = (
        "The labels table lacks column(s) {missing}. Expected the unit-labels table of "
        "Project.unit_labels(): {expected}."
    )
    E453 = (
        "Code(s) {codes} in the labels are not in codebook {codebook!r}. Available codes: "
        "{available}. Analyse the labels with the codebook they were coded with."
    )
    E454 = (
        "Code {code_id!r} has value(s) {values} that the codebook does not allow. Allowed values: "
        "{allowed}. Check the labels or the codebook version."
    )
    E455 = (
        "Cannot group by {by!r}: it is not 'role', a conversation-level code, a conversations "
        "column or a key of conversations.meta. Available: {available}."
    )
    E456 = (
        "Sequence query {query!r} uses {missing}, which codebook {codebook!r} does not have. "
        "Available code ids: {available}. Pass queries= with (antecedent, consequent) codes of "
        "your codebook."
    )
    E457 = "Unknown code or item {item!r} (an item is CODE or CODE=VALUE). Available: {available}."
    E458 = "{analysis} needs {need}. {hint}"
    E459 = (
        "A comparison needs two or more groups of {by!r}; found {found}. Pass groups=(A, B, ...) "
        "with values that occur (or missing='LABEL' to make conversations without a value a "
        "group)."
    )
    E460 = "Option {option}={value!r} is invalid: {problem}"
    E461 = "No {unit}-level labels to analyse{detail}. Code some units first, or check the filters."
    E462 = "{analysis}: {problem}. Nothing was fitted. {hint}"
    E463 = (
        "Covariate {name!r} is not a conversation attribute, a column of the users table or "
        "'position'. Available: {available}. Pass users= (a table with user_id and survey "
        "columns) for user-level variables."
    )
    E464 = "Family {family!r}: {problem}"

    # --- 5xx adjudication and export ----------------------------------------------------------
    # (section: export)
    E501 = "Option {option}={value!r} is not known. Use one of: {allowed}."
    E502 = (
        "Export folder '{path}' exists already. Choose a new --out folder, or pass "
        "overwrite=True (--overwrite) to replace it."
    )
    E503 = (
        "Project '{path}' has no labels yet: nothing to export. Code some conversations in the "
        "widget (notebooks/20_annotate.ipynb) or load labels with project.append()."
    )
    E504 = (
        "Labels name codes that the project's codebook '{codebook}' v{version} does not have: "
        "{codes}. Export with the codebook the labels were made with, or re-code these units."
    )
    E505 = (
        "Labels were made with codebook(s) {found}, but the project uses {codebook} v{version}. "
        "Export per version (filter project.labels() by codebook_version) or migrate the "
        "labels with a recorded adjudication."
    )
    E506 = (
        "No gold labels: the project has no adjudicated or agreed units for labels='gold'. "
        "Use labels='majority' or labels='all', or adjudicate (notebooks/40_adjudicate.ipynb)."
    )
    E507 = "Annotator id '{annotator}' is reserved for adjudication; coders need another id."
    E509 = (
        "Adjudicator id {adjudicator!r} is not valid: use lower-case letters, digits, '_', '.', "
        "'-' (pattern {pattern})."
    )
    E510 = (
        "Quote bank option {option}={value!r} is not valid: [[min_agreement || --min-agreement]] "
        "is a number of coders (1 or more), [[context || --context]] a number of turns (0 or more)."
    )
    E512 = (
        "Codebook '{codebook}' v{version} has no code that takes evidence spans, so the project "
        "has no quotes. Mark the codes whose words coders should point at with evidence: "
        "optional or required (a new codebook version, for a new project)."
    )
    E511 = (
        "Code(s) {codes} take no evidence spans, so they have no quotes. Codes with evidence in "
        "this codebook: {available} (a code takes spans when its codebook entry says evidence: "
        "required or optional)."
    )

    # --- 6xx widgets ----------------------------------------------------------------------------
    # (section: widgets)
    E601 = (
        "Annotator '{annotator}' is not a coder of this project. Coders: {coders}. Pick one of "
        "them; to add a coder, the project lead runs `annotate project add-coders DIR ID` "
        "(coder ids are lower-case letters, digits, '_', '.' or '-')."
    )
    E602 = (
        "The queue of coder '{annotator}' is empty: no conversation is assigned to them. "
        "Check the plan with `annotate project status DIR`."
    )
    E603 = "Conversation '{conversation_id}' is not in this coder's queue. Pick one from the list."
    E604 = "Queue position {index} is out of range: the queue has {n} conversations (0-based)."
    E605 = (
        "Cannot set code '{code_id}' to {value!r} here ({problem}). Use a value and unit the "
        "codebook allows for this code (press ? in the widget for its definition)."
    )
    E606 = (
        "Saving failed; {n} change(s) are kept unsaved in this session and will be sent again "
        "with your next change or with Retry. Store error: {error}"
    )
    E607 = "Skipping conversation '{conversation_id}' needs a reason: say briefly why."
    E608 = (
        "Project {project!r} is not a Project or a project folder. Open it with "
        "`annotate.Project.open(DIR)` or pass the folder path."
    )
    E609 = "No coder picked yet: pick your name first (coders: {coders})."
    E610 = (
        "The widget failed on this action ({error!r}); your earlier changes are saved or still "
        "pending. Please report this with the notebook's log."
    )
    E611 = (
        "Cannot decide {value!r} for code '{code_id}': pick one of the values the codebook allows "
        "(the coders' values are marked; press ? for the code's definition)."
    )
    E612 = "Record the kind of disagreement before saving ({kind!r} given; one of: {kinds})."
    E613 = "Adjudication item {index!r} is out of range: the list has {n} items (0-based)."
    E614 = "Unknown adjudication action {action!r}: the widget sends 'decide' or 'nav'."
    E615 = (
        "Saving the decision failed; it is still in the form, press Save to try again. "
        "Store error: {error}"
    )
    E620 = (
        "'{label}' ({code_id}) needs evidence: mark the words of turn {turn} that show it. In "
        "the widget select them (with the mouse, or Shift+→ word by word), then press the "
        "code's key; in Python pass evidence=[(start, end)] (offsets into the turn's text)."
    )
    E621 = (
        "Evidence span {span} of code '{code_id}' cannot be used: {problem}. Select "
        "the words again in the widget (offsets count characters of the turn's text)."
    )

    E630 = (
        "Annotator mode {mode!r} is not known: use mode='annotate' (the study) or "
        "mode='calibration' (code the calibration set and compare with gold)."
    )
    E631 = (
        "Conversation '{conversation_id}' of the calibration set is done: its labels were "
        "compared with gold and can no longer change. Press n (or Enter) to go on; to code the "
        "set again, start a new attempt (annotate.Annotator(project, annotator=..., "
        "mode='calibration', new_attempt=True))."
    )

    # --- 7xx LLM coders (annotate.llm) ---------------------------------------------------------
    # (section: llm)
    E701 = "LLM coder option {option}={value!r} is not valid: {problem}"
    E702 = (
        "Model file '{path}' does not exist or is not a file. Give the path of a GGUF model file "
        "(e.g. `--model models/smollm2.gguf`), or use `--backend openai --base-url URL` for a "
        "model behind a server."
    )
    E703 = (
        "The model file of LLM coder '{coder}' changed since the coder was added: '{path}' has "
        "sha256 {found}, the coder records {expected}. Labels of one coder must come from one "
        "model: put the original file back, or add a new coder for this model "
        "(`annotate llm add ... --id NEW_ID`)."
    )
    E704 = (
        "{what} needs the Python package '{package}', which is not installed. Install "
        "annotate's {extra} extra (`uv sync --extra {extra}`, or `pip install 'annotate[{extra}]'`;"
        " the first build of llama-cpp-python from source takes about 7 minutes)."
    )
    E705 = (
        "Coder id '{coder}' is taken in project '{path}' ({where}). Every coder, human or "
        "model, needs its own id: pick another --id (e.g. '{coder}-2')."
    )
    E706 = (
        "'{coder}' is not an LLM coder of project '{path}'. LLM coders: {available}. Add one "
        "with `annotate llm add {path} --id ID --backend llama-cpp --model FILE.gguf`."
    )
    E707 = (
        "The record of LLM coder '{coder}' ('{path}') cannot be read: {problem}. It is written "
        "once when the coder is added; restore it from a backup or add a new coder."
    )
    E708 = (
        "Prompt template '{path}': {problem}. A template has a '[system]' line, then the "
        "system message, then a '[user]' line and the user message; it may use the variables "
        "{variables} (written $name). See docs/llm.md, section Prompts."
    )
    E709 = (
        "The model server at {url} failed for {what} after {attempts} attempt(s): {problem}. "
        "Check that the server runs and serves model '{model}' (its /v1/models lists them); "
        "the units coded so far are saved and `annotate llm run` resumes after them."
    )
    E710 = (
        "LLM coder '{coder}' is already running (process {pid} on {host}, since {since}; lock "
        "'{path}'). One run per coder at a time keeps each unit coded once. Wait for it to end; "
        "if that process is gone, delete the lock file and run again."
    )
    E711 = "The model '{path}' could not be loaded by llama.cpp: {problem}."
    E712 = (
        "LLM coder '{coder}' was added with codebook {expected}, but the project codes with "
        "{found}. Its prompts and schema describe the old codebook: add a new LLM coder."
    )
    E713 = (
        "Suggestion setting {option}={value!r} is not valid: {problem}. See docs/llm.md, "
        "section Suggestions in the annotation session "
        "([[project.set_suggestions(mode, coder=...) || "
        "`annotate project set PROJECT --suggestions after --suggest-from CODER`]])."
    )
    E714 = (
        "Replicates of LLM coder '{coder}': {problem}. Replicates are new coders derived from it "
        "(ids '{coder}.r1', '{coder}.p1', ...); see docs/llm.md, section Prompt sensitivity."
    )
    E715 = (
        "Paraphrase file '{path}': {problem}. It holds one or more prompt templates one after "
        "another, each starting at a '[system]' line (docs/llm.md, section Prompt sensitivity)."
    )
    E716 = (
        "The folder '{path}' named in {where} does not exist. It lists projects (or folders "
        "holding projects) whose LLM audit logs may answer identical requests; correct the "
        "path or leave it out (docs/llm.md, section Runs)."
    )
    E730 = (
        "{what} needs the Python package '{package}' (Ray), which is not installed. Install "
        "annotate's scale extra (`uv sync --extra scale`, or `pip install 'annotate[scale]'`), "
        "or leave out the ray engine: the local one is the default."
    )
    E731 = (
        "Cannot join the Ray cluster at {address} for LLM coder '{coder}': {problem}. No unit "
        "was sent. Check the address ([[engine_options={{'address': ...}} || --address]]: auto, "
        "HOST:PORT of the head, or ray://HOST:10001) and that the cluster runs (`ray status` on "
        "the head), or leave it out to start a local Ray."
    )

    # --- 9xx command line -----------------------------------------------------------------------
    E901 = "Path '{path}' does not exist. Check the path, or create it with `{hint}`."
    E902 = "Option {option}: {problem}"


class Warnings(metaclass=_Catalogue):
    """Warning message templates, by code: ``warnings.warn(Warnings.W101.format(...))``."""

    # (section: corpus)
    W101 = (
        "Imported {n_conversations} conversations ({n_turns} turns) from {sources}; "
        "{n_problems} item(s) were skipped or repaired: {summary}. Counts by reason are in "
        "manifest.json (skipped, repaired); see [[corpus.manifest || `annotate corpus info DIR`]]."
    )
    W102 = (
        "File '{path}' ends inside a record ({problem}) at line {line}: it looks cut off. "
        "The {n} complete records before that point were imported; re-download the file "
        "to get the rest."
    )
    W103 = (
        "Person names were not masked: {problem}. Only emails, URLs, phone numbers, @handles "
        "and IP addresses were masked; install a trained spaCy pipeline with NER to mask names."
    )
    W104 = (
        "File '{path}' is not valid JSON from line {line} on ({problem}). The {n} complete "
        "records before that point were imported and the rest of the file was not; fix the "
        "file and import it again."
    )
    W105 = (
        "{n} turn(s) with a role label annotate does not know were skipped: {labels}. If they "
        "belong to the dialogue, map each label to user, assistant, system or tool ({fix}) and "
        "import again."
    )
    # (section: codebook)
    W201 = (
        "'{path}': {n} code(s) carry no annotate metadata (e.g. {examples}); they were imported "
        "as binary turn codes for all roles. Check their level, unit and applies_to in the YAML."
    )
    # (section: store)
    W301 = (
        "Skipped '{path}' in the label store: {problem}. It is not a complete label file (a "
        "half-written, damaged or foreign file) and none of its rows were read; move it out "
        "of the store folder (keep a copy if it may hold labels)."
    )
    W302 = (
        "Leftover temporary file '{path}' in the label store ({minutes} min old): a save was "
        "interrupted before it finished, so it holds no acknowledged label and was ignored. "
        "Compaction deletes it after an hour; you may delete it."
    )
    W303 = (
        "The corpus at '{path}' changed since the project was created ({detail}). Labels point "
        "at conversation ids and turn indexes: check that they still match. {hint}"
    )
    W304 = (
        "Compaction of the label store at '{path}' did not run: {problem}. No label is lost "
        "(the part files stay and are read as they are); it is tried again later."
    )
    W320 = (
        "The plan of the project at '{path}' is inconsistent: {problem}. This happens when an "
        "older annotate changed the plan from two places at once. {hint}"
    )
    W322 = (
        "{n} of {total} strata of '{stratify}' got no conversation in a sample of {size} "
        "(e.g. {examples}): the sample says nothing about them. Draw a larger sample, or "
        "stratify by a column with fewer values."
    )
    W340 = (
        "The migration {migration} of the project at '{path}' to {version} did not finish "
        "(its labels may be only partly migrated). {hint}"
    )
    W350 = (
        "{n} calibration conversation(s) are also in the study's plan ({ids}): a coder who "
        "calibrates on them meets them again in the study. Their calibration labels stay apart "
        "(they never enter the study's agreement), but prefer conversations outside the sample."
    )
    W321 = (
        "No reliability sample: no conversation is coded by two coders, so inter-coder "
        "agreement cannot be measured for this project. {hint}"
    )
    # (section: agreement)
    W410 = (
        "{n} evidence span(s) no longer match the corpus text (their sha256 differs from the "
        "text at their offsets: the corpus changed since they were made) and were left out: "
        "{codes}. Re-import the corpus the project was coded on, or have the spans marked again."
    )
    # (section: analysis)
    W450 = "Skipped sequence quer(y/ies) {queries}: {reasons}."
    W451 = (
        "{analysis}: only {n} {level} stand behind the intervals (fewer than {minimum}); with so "
        "few clusters bootstrap and sandwich intervals tend to be too narrow (docs/methods.md, "
        "'Small samples'). Report them as approximate, or collect more {level}."
    )
    W452 = (
        "{analysis}: {items} rest(s) on fewer than {minimum} positive units or on positives in "
        "fewer than {clusters} {level}; the estimate and its interval are unstable (flagged "
        "few_positives). Report the counts, pool codes, or code more data."
    )
    W453 = "{analysis}: {model} {problem}; {what}. See the 'note' column of the result."
    W454 = "Family {family!r}: {problem}."
    W455 = (
        "{analysis}: {problem}. A corrected estimate is valid only for a human sample drawn "
        "with known probabilities and coded completely (docs/llm.md, 'Corrected estimates')."
    )
    # (section: export)
    # (section: widgets)
    # (section: llm)
    W701 = (
        "Audit log '{path}' ends in an incomplete record (line {line}): a run was killed while "
        "writing it. The record was ignored (its unit is coded again or taken from the cache); "
        "the complete records before it are intact."
    )
    W702 = (
        "LLM coder '{coder}': {n} unit(s) got no valid answer after {attempts} attempt(s) and are "
        "recorded as missing with the reason (a `_flag` on the unit, and the audit log), e.g. "
        "{example}. `annotate llm run --retry-missing` tries them again."
    )


@contextmanager
def cli_hints() -> Iterator[None]:
    """Messages made inside this block give command-line hints (see :func:`hint`); the CLI's
    main group runs every command in it."""
    token = AUDIENCE.set("cli")
    try:
        yield
    finally:
        AUDIENCE.reset(token)


class AnnotateError(Exception):
    """Base of every error annotate raises on purpose (the CLI prints these as one line)."""

    #: optional structured detail (e.g. a DataFrame of failing rows for a rejected label batch)
    failure_cases: Any = None
    exit_code: ClassVar[int] = 1


class StorageError(AnnotateError, OSError):
    """A file could not be written: disk full, read-only, no permission, a planted link.

    Raised as ``StorageError(errno, message)``: ``errno`` stays available to OSError handlers,
    and the message alone is what a user sees.
    """

    def __str__(self) -> str:
        return str(self.strerror) if self.strerror else super().__str__()


class CorpusError(AnnotateError, ValueError):
    """A corpus or a source file could not be read or imported."""


class CodebookError(AnnotateError, ValueError):
    """A codebook file is invalid, or a code / value is not in the codebook."""


class LabelStoreError(AnnotateError, ValueError):
    """Label events were rejected, or the store on disk has a problem."""


class ProjectError(AnnotateError, ValueError):
    """A project folder or its plan is invalid."""


class AgreementError(AnnotateError, ValueError):
    """An agreement coefficient is undefined for the data (with the reason)."""


class AnalysisError(AnnotateError, ValueError):
    """An analysis cannot be computed on the given labels."""


class ExportError(AnnotateError, ValueError):
    """An export or adjudication step failed."""


class WidgetError(AnnotateError, ValueError):
    """The annotation widget was set up wrongly."""


class LLMError(AnnotateError, ValueError):
    """An LLM coder could not be added or run (model, server, prompt, record)."""


def catalogue() -> dict[str, str]:
    """All codes and their raw templates (for tests and docs)."""
    out: dict[str, str] = {}
    for cls in (Errors, Warnings):
        for name, value in vars(cls).items():
            if len(name) == 4 and name[0] in "EW" and name[1:].isdigit():
                out[name] = value
    return out


def template_fields(template: str) -> set[str]:
    """The ``{placeholder}`` names a template needs."""
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}
