"""Project: a folder holding a corpus reference, a frozen codebook, the plan and the labels.

Layout::

    project.json          how the project was created: corpus (path, counts, fingerprint),
                          codebook (id, version, hash, modules), the plan and sampling as created
    codebook.yaml         the frozen copy of the codebook file the project codes with
    plan/v000001.parquet  the plan, one complete immutable version per change (the latest is
                          current): assignments + coders, plan settings, corpus, sampling
    labels/               the label store (annotate.store)
    codebooks/, migrations/  later codebook versions and the migrations to them
                          (annotate.project._codebooks; absent until the first migration)

Projects made before plan versions keep ``assignments.parquet`` and the plan in project.json
(format ``annotate-project/1``); they are read as they are and migrated to ``plan/`` on their
first plan change (see :mod:`annotate.project._versions`).
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import random
import shutil
import time
import warnings
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from annotate.clock import CLOCK
from annotate.codebook import load_codebook
from annotate.corpus import Corpus, load_corpus, register_use
from annotate.durable import (
    TMP_SUFFIX,
    atomic_folder,
    check_real_path,
    fsync_dir,
    recover_folder,
    storage_error,
    write_file,
)
from annotate.errors import Errors, ProjectError, StorageError, Warnings, hint
from annotate.project import (
    _codebooks,
    _enrich,
    _migrate,
    _plan,
    _sample,
    _settings,
    _turns,
    _versions,
)
from annotate.project._calibration import Calibration
from annotate.project._labels import LabelsMixin
from annotate.project._plan import check_coders, check_plan
from annotate.project._versions import PlanState
from annotate.store import LabelStore
from annotate.types import ANNOTATOR_ID_RE, FilePath

PROJECT_FILE = "project.json"
CODEBOOK_FILE = "codebook.yaml"
ASSIGNMENTS_FILE = _versions.LEGACY_ASSIGNMENTS
LABELS_DIR = "labels"
FORMAT = "annotate-project/2"
FORMAT_V1 = "annotate-project/1"
_PLAN_SETTINGS = ("per_item", "reliability", "reliability_coders", "seed", "blind")
_REQUIRED = {
    "corpus": ("path", "counts", "fingerprint"),
    "codebook": ("id", "version", "hash", "modules"),
    "plan": _PLAN_SETTINGS,
}
#: what an init writes; a folder holding only these (and no label) is an interrupted init
_INIT_NAMES = {CODEBOOK_FILE, ASSIGNMENTS_FILE, _versions.PLAN_DIR, LABELS_DIR}
#: the project's own files and folders: none of them may be a symbolic link (E003)
_REAL = (
    PROJECT_FILE,
    CODEBOOK_FILE,
    ASSIGNMENTS_FILE,
    _versions.PLAN_DIR,
    LABELS_DIR,
    f"{LABELS_DIR}/parts",
    f"{LABELS_DIR}/compacted",
    _codebooks.CODEBOOKS_DIR,
    _codebooks.MIGRATIONS_DIR,
)
_CAS_TRIES = 64
#: the hidden folder an init into an existing folder builds in
_INIT_TMP = ".init-tmp-"
_NOTE = (
    "corpus, plan and sampling here are as the project was created; plan/ holds every later "
    "version (the latest plan/v*.parquet is current: `annotate project status DIR --json`)"
)


class Project(LabelsMixin):
    """A coding project folder (see README, "Projects"). Make one with :meth:`create`, open
    one with :meth:`open`."""

    def __init__(self, path: Path, doc: dict[str, Any], *, corpus: Any = None, coder: str | None):
        self.path = path
        self._doc = doc
        self._corpus_override = corpus
        self.coder = coder
        _check_links(path)
        cb_doc = doc["codebook"]
        self.codebook = load_codebook(path / CODEBOOK_FILE, modules=list(cb_doc["modules"]))
        if self.codebook.hash != cb_doc["hash"]:
            raise ProjectError(
                Errors.E317.format(
                    path=path / CODEBOOK_FILE,
                    found=self.codebook.hash[:12],
                    expected=cb_doc["hash"][:12],
                )
            )
        self._reload_versions()
        state = self._state()
        found = _versions.problems(state)
        if found:
            warnings.warn(
                Warnings.W320.format(path=path, problem="; ".join(found), hint=_repair_hint(path)),
                stacklevel=3,
            )
        if self.coder is not None and self.coder not in self.coders:
            self._unknown_coder(self.coder)
        self._check_corpus()

    # --- creating and opening ------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: FilePath,
        *,
        corpus: FilePath | Corpus,
        codebook: FilePath | Any,
        coders: list[str] | str,
        per_item: int = 1,
        reliability: float = 0.0,
        reliability_coders: int | None = None,
        seed: int = 0,
        blind: bool = True,
        modules: Any = None,
        sample: int | None = None,
        stratify: str | None = None,
        where: Any = None,
    ) -> Project:
        """Create a project folder and its assignment plan.

        Every option is checked before anything is written, and the folder is built under a
        temporary name and renamed into place when complete: a failed or killed init leaves
        no half-made project behind.

        Parameters
        ----------
        path : str or path-like
            A new or empty folder (or one left by an interrupted init).
        corpus : str, path-like or Corpus
            The corpus folder (its path is recorded relative to the project when possible).
        codebook : str, path-like or Codebook
            The codebook file; a frozen copy goes into the project.
        coders : list of str or str
            Coder ids (``[a-z0-9][a-z0-9_.-]{0,63}``), or ``"a,b,c"``.
        per_item : int
            Coders per conversation outside the reliability sample (default 1).
        reliability : float
            Fraction of conversations in the reliability sample (0-1). 0 with ``per_item=1``
            warns (W321): agreement needs conversations coded by two coders (add them later
            with :meth:`add_reliability`).
        reliability_coders : int, optional
            Coders per reliability conversation (2..len(coders)); default every coder.
        seed : int
            Seed (0 or more) of every random draw of the plan and the sample.
        blind : bool
            Blind mode (default on): a coder's session reads only that coder's labels.
        modules : None, "all", list of str or "a,b"
            The codebook's optional modules to code with (None: those marked
            ``default: true``; ``[]`` or ``"none"``: the core codes only).
        sample : int, optional
            Code a seeded random sample of this many conversations of the corpus (after
            ``where``) instead of all of them.
        stratify : str, optional
            Stratify the sample by ``source``, ``model``, ``language``, ``user_id`` or a meta key
            (``meta.KEY``), with proportional allocation.
        where : str, list of str or dict, optional
            Filters of the sampling frame, e.g. ``["language=en", "min_turns=4",
            "started_after=2024-01-01"]`` (see :mod:`annotate.project._sample`).

        Returns
        -------
        Project
        """
        path = Path(path)
        if path.is_symlink():  # the user's own link to a folder: create in its target
            path = path.resolve()
        target = Path(os.path.abspath(path))
        recover_folder(target)
        if (path / PROJECT_FILE).exists():
            raise ProjectError(
                Errors.E310.format(
                    path=path,
                    hint=hint(
                        f"Open it with Project.open('{path}'), or give an empty or new folder.",
                        f"Follow it with `annotate project status {path}`, or give an empty or "
                        "new folder.",
                    ),
                )
            )
        existing = _check_target(target)
        coders = check_coders(coders, "coders")
        check_plan(coders, per_item, reliability, reliability_coders)
        _check_seed(seed)
        if not isinstance(blind, bool):
            raise ProjectError(
                Errors.E312.format(option="blind", value=blind, problem="use True or False")
            )
        modules = _check_modules(modules)
        sample = _sample.check_sample(sample)
        stratify = _sample.check_stratify(stratify)
        filters = _sample.parse_where(where)
        if sample is None and (stratify is not None or filters):
            option = "stratify" if stratify is not None else "where"
            raise ProjectError(
                Errors.E312.format(
                    option=option,
                    value=stratify if stratify is not None else where,
                    problem="it shapes a sample: give the sample size too ("
                    + hint("sample=N", "--sample N")
                    + ")",
                )
            )
        corpus = corpus if isinstance(corpus, Corpus) else load_corpus(corpus)
        cb = _load_codebook(codebook, modules)
        ids = list(corpus.conversation_ids)
        sampling = None
        if sample is not None:
            ids, sampling = _sample.draw(
                corpus.conversations,
                n=sample,
                filters=filters,
                where_text=_sample.where_texts(filters),
                stratify=stratify,
                seed=int(seed),
                known=set(),
                previous=None,
            )
        _warn_empty_strata(sampling)
        plan = {
            "coders": coders,
            "per_item": per_item,
            "reliability": float(reliability),
            "reliability_coders": reliability_coders,
            "seed": int(seed),
            "blind": bool(blind),
            "batches": 1,
        }
        assignments = _plan.plan_batch(
            ids,
            coders,
            _plan.empty_assignments(),
            per_item=per_item,
            reliability=reliability,
            reliability_coders=reliability_coders,
            seed=int(seed),
            batch=0,
        )
        corpus_doc = cls._corpus_doc(path, corpus)
        doc = {
            "format": FORMAT,
            "created_at": CLOCK.now().isoformat(timespec="seconds"),
            "corpus": corpus_doc,
            "codebook": {
                "file": CODEBOOK_FILE,
                # the file's name only: project.json must not record this machine's paths
                "source": Path(str(cb.path)).name if cb.path else None,
                "id": cb.id,
                "version": str(cb.version),
                "hash": cb.hash,
                "modules": list(cb.active_modules),
            },
            "plan": plan,
            "sampling": sampling,
            "plan_folder": _versions.PLAN_DIR,
            "note": _NOTE,
        }
        first = PlanState(
            version=1,
            plan=plan,
            corpus=corpus_doc,
            sampling=sampling,
            assignments=assignments,
            change={"what": "create", "at": doc["created_at"], "rows_added": len(assignments)},
        )
        if reliability == 0 and per_item < 2:
            warnings.warn(Warnings.W321.format(hint=_reliability_hint(path, coders)), stacklevel=2)

        def build(tmp: Path) -> None:
            write_file(tmp / CODEBOOK_FILE, Path(cb.path).read_bytes())
            LabelStore(tmp / LABELS_DIR, cb)
            _versions.publish(tmp, first)
            write_file(tmp / PROJECT_FILE, _json_bytes(doc))

        if existing:
            _build_in_existing(target, build)
        else:
            atomic_folder(target, build)
        # a withdrawal from the corpus finds the project here (False: a read-only corpus)
        register_use(corpus.path, target, kind="project")
        return cls(path, doc, corpus=corpus, coder=None)

    @classmethod
    def open(
        cls, path: FilePath, *, corpus: FilePath | None = None, coder: str | None = None
    ) -> Project:
        """Open a project folder.

        Parameters
        ----------
        path : str or path-like
            The project folder.
        corpus : str or path-like, optional
            Where the corpus is now, if it moved (e.g. another mount point of a shared folder).
        coder : str, optional
            Open as this coder's session: events default to (and must be) this coder's, and in
            blind mode every read (labels, unit labels, status, the store) holds only this
            coder's labels; asking for another coder's raises E315.
        """
        path = Path(path)
        recover_folder(Path(os.path.abspath(path)))
        check_real_path(path / PROJECT_FILE, path)
        try:
            doc = json.loads((path / PROJECT_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise _not_a_project(path) from None
        except (OSError, ValueError) as exc:
            raise ProjectError(
                Errors.E311.format(
                    path=path, problem=f"project.json unreadable ({exc})", hint=_restore_hint()
                )
            ) from exc
        if not isinstance(doc, dict) or doc.get("format") not in (FORMAT, FORMAT_V1):
            found = doc.get("format") if isinstance(doc, dict) else None
            problem = f"project.json is not {FORMAT} (format {found!r})"
            how = "Check the path: this project.json was not written by annotate."
            if isinstance(found, str) and found.startswith("annotate-project/"):
                how = "It was made by a newer annotate: upgrade annotate to open it."
            raise ProjectError(Errors.E311.format(path=path, problem=problem, hint=how))
        required = dict(_REQUIRED)
        if doc["format"] == FORMAT_V1:
            required["plan"] = (*_PLAN_SETTINGS, "coders")
        missing = [f"{part}.{key}" for part, keys in required.items() for key in keys
                   if not isinstance(doc.get(part), dict) or key not in doc[part]]  # fmt: skip
        if missing:
            problem = f"project.json lacks {', '.join(missing)}"
            raise ProjectError(Errors.E311.format(path=path, problem=problem, hint=_restore_hint()))
        return cls(path, doc, corpus=corpus, coder=coder)

    @staticmethod
    def _corpus_doc(path: Path, corpus: Corpus) -> dict[str, Any]:
        folder = Path(corpus.path).resolve()
        try:
            rel = os.path.relpath(folder, path.resolve())
        except ValueError:  # another drive (Windows)
            rel = str(folder)
        return {
            "path": rel,
            "name": corpus.name,
            "counts": _turns.manifest_counts(corpus),
            "fingerprint": _turns.corpus_fingerprint(folder),
        }

    # --- the plan, read from its latest version ----------------------------------------------

    def _state(self) -> PlanState:
        """The current plan (re-read when another session published a newer version)."""
        n = _versions.latest_version(self.path)
        if n is None:
            if self._doc.get("format") != FORMAT_V1:
                problem = "plan/ holds no plan version (plan/v000001.parquet is missing)"
                raise ProjectError(Errors.E320.format(path=self.path, problem=problem))
            key: tuple[Any, ...] = ("legacy", _stamp(self.path / ASSIGNMENTS_FILE))
        else:
            key = ("v", n)
        cached = self.__dict__.get("_plan_state")
        if cached is not None and cached[0] == key:
            return cached[1]
        if n is None:
            state = _versions.read_legacy(self.path, self._doc)
        else:
            state = _versions.read_version(self.path, n)
        self.__dict__["_plan_state"] = (key, state)
        self.__dict__.pop("_reliability_ids", None)
        return state

    @property
    def coders(self) -> list[str]:
        return self._state().coders

    @property
    def seed(self) -> int:
        return int(self._state().plan["seed"])

    @property
    def blind(self) -> bool:
        return bool(self._state().plan["blind"])

    @property
    def modules(self) -> list[str]:
        """The codebook modules this project codes with (besides the core codes)."""
        return list(self.codebook.active_modules)

    @property
    def plan(self) -> dict[str, Any]:
        """The current plan (a copy): coders, per_item, reliability, reliability_coders, seed,
        blind, batches, plus ``version`` (of plan/) and ``sampling`` (None: the whole corpus)."""
        state = self._state()
        out = json.loads(json.dumps(state.plan))
        out["version"] = state.version
        out["sampling"] = json.loads(json.dumps(state.sampling))
        return out

    @property
    def sampling(self) -> dict[str, Any] | None:
        """How the project's conversations were sampled from the corpus (None: all of them):
        method, filters (``where``), ``stratify``, seed, corpus and frame sizes, per-stratum
        frame and sample sizes with inclusion probabilities, and each draw."""
        return json.loads(json.dumps(self._state().sampling))

    @property
    def plan_history(self) -> list[dict[str, Any]]:
        """What each plan version changed (version, what, when, rows added), oldest first."""
        n = _versions.latest_version(self.path) or 0
        out = []
        for v in range(1, n + 1):
            if _versions.version_path(self.path, v).exists():
                change = _versions.read_version(self.path, v).change or {}
                out.append({"version": v, **change})
        return out

    @property
    def assignments(self) -> pd.DataFrame:
        """conversation_id, annotator_id, is_reliability, position (queue order per coder)."""
        return self._state().assignments.copy()

    def queue(self, annotator_id: str) -> list[str]:
        """The conversation ids of a coder, in coding order."""
        if annotator_id not in self.coders:
            self._unknown_coder(annotator_id)
        a = self._state().assignments
        return (
            a[a["annotator_id"] == annotator_id].sort_values("position")["conversation_id"].tolist()
        )

    def is_reliability(self, conversation_id: str) -> bool:
        """Whether a conversation is in the reliability sample."""
        state = self._state()
        ids = self.__dict__.get("_reliability_ids")
        if ids is None or ids[0] is not state:
            a = state.assignments
            ids = self.__dict__["_reliability_ids"] = (
                state,
                set(a.loc[a["is_reliability"], "conversation_id"].tolist()),
            )
        return conversation_id in ids[1]

    def _unknown_coder(self, annotator: str) -> None:
        if ANNOTATOR_ID_RE.fullmatch(str(annotator)):
            how = hint(
                f"Add the coder with p.add_coders(['{annotator}']).",
                f"Add the coder with `annotate project add-coders {self.path} {annotator}`.",
            )
        else:
            how = (
                "Check the spelling: coder ids are lower-case letters, digits, '_', '.' or '-' "
                "(e.g. 'alice')."
            )
        raise ProjectError(
            Errors.E314.format(
                annotator=annotator, path=self.path, available=", ".join(self.coders), hint=how
            )
        )

    # --- corpus ----------------------------------------------------------------------------

    @property
    def corpus_path(self) -> Path:
        """Where the corpus is (the override given to open, else the recorded path)."""
        if isinstance(self._corpus_override, Corpus):
            return Path(self._corpus_override.path)
        if self._corpus_override is not None:
            return Path(self._corpus_override)
        return (self.path / self._state().corpus["path"]).resolve()

    def _check_corpus(self) -> None:
        folder = self.corpus_path
        if not (folder / "manifest.json").is_file():
            return  # reported when the corpus is needed (E316)
        found = _turns.corpus_fingerprint(folder)
        recorded = self._state().corpus
        if found != recorded["fingerprint"]:
            now = _turns.manifest_counts(load_corpus(folder))
            was = recorded["counts"]
            detail = (
                f"conversations {was.get('conversations')} -> {now.get('conversations')}, "
                f"turns {was.get('turns')} -> {now.get('turns')}"
            )
            if self._state().sampling is not None:
                how = hint(
                    "p.add_conversations(sample=N) draws more from the new frame.",
                    f"`annotate project add-conversations {self.path} --sample N` draws more "
                    "from the new frame.",
                )
            else:
                how = hint(
                    "p.add_conversations() assigns the new conversations.",
                    f"`annotate project add-conversations {self.path}` assigns the new "
                    "conversations.",
                )
            warnings.warn(Warnings.W303.format(path=folder, detail=detail, hint=how), stacklevel=3)

    @cached_property
    def corpus(self) -> Corpus:
        """The project's corpus (loaded on first use)."""
        if isinstance(self._corpus_override, Corpus):
            return self._corpus_override
        folder = self.corpus_path
        if not (folder / "manifest.json").is_file():
            how = hint(
                f"Move it back, or open the project with Project.open('{self.path}', "
                "corpus='NEW/PATH').",
                f"Move it back to '{folder}' (or put a symbolic link to its new place there).",
            )
            raise ProjectError(Errors.E316.format(project=self.path, path=folder, hint=how))
        return load_corpus(folder)

    @cached_property
    def turns(self) -> pd.DataFrame:
        """``conversation_id, turn_index, role`` of every corpus turn (no text)."""
        return _turns.read_turn_roles(self.corpus)

    @cached_property
    def store(self) -> LabelStore:
        """The label store, validating against the frozen codebook and the corpus turns.

        In a coder session (``Project.open(dir, coder=...)``) appends default to and must be
        that coder's; in blind mode every read holds only that coder's labels, read from that
        coder's files only (another coder's: E306).
        """
        return LabelStore(
            self.path / LABELS_DIR,
            self.codebook,
            turns=_turns.LazyTurnIndex(lambda: self.turns),
            annotator=self.coder,
            blind=self.blind,
            versions=self._versions.older,
            texts=_turns.TurnTexts(lambda: self.corpus),
        )

    # LLM coders (annotate.llm): a coder with a record in llm/<id>/coder.json is a model
    @property
    def coder_kinds(self) -> dict[str, str]:
        """``"human"`` or ``"llm"`` for every coder, in plan order."""
        return {c: "llm" if (self.path / "llm" / c / "coder.json").is_file() else "human"
                for c in self.coders}  # fmt: skip

    def add_llm_coder(self, coder_id: str, **settings: Any) -> Any:
        """Add a language model as a coder: see :func:`annotate.llm.add_llm_coder`."""
        # annotate.llm (layer 4) builds on the project; a static import here would point up
        return importlib.import_module("annotate.llm").add_llm_coder(self, coder_id, **settings)

    # --- codebook versions (annotate.project._codebooks, _migrate) ---------------------------

    def _reload_versions(self, *, warn: bool = True) -> None:
        """Read the codebook versions (the one created with, then one per migration); the
        latest is ``self.codebook``. W340 (``warn``) when the latest migration did not finish."""
        if not hasattr(self, "_base_codebook"):
            self._base_codebook = self.codebook
        self._versions = _codebooks.read_versions(self.path, self._base_codebook)
        if self.codebook is not self._versions.current:
            self.__dict__.pop("store", None)
        self.codebook = self._versions.current
        last = self._versions.records[-1] if self._versions.records else None
        if warn and last is not None and last["done"] is None:
            warnings.warn(
                Warnings.W340.format(
                    path=self.path,
                    migration=last["id"],
                    version=f"{last['to']['id']} {last['to']['version']}",
                    hint=_migrate.unfinished_hint(self),
                ),
                stacklevel=3,
            )

    @property
    def codebooks(self) -> tuple[Any, ...]:
        """Every codebook version the project holds, oldest first (the last is current)."""
        return self._versions.books

    def codebook_for(self, version: str | None = None) -> Any:
        """The codebook of a version (``"1.0.0"`` or ``"ID 1.0.0"``; None: the current one)."""
        return self._versions.get(version)

    @property
    def codebook_history(self) -> list[dict[str, Any]]:
        """The versions with when each came and what its migration did (oldest first)."""
        return _migrate.history(self)

    def migrate(
        self, codebook: FilePath | Any, map: Any = None, *, modules: Any = None
    ) -> dict[str, Any]:
        """Move the project to a new codebook version, migrating its labels (see README,
        "Codebook versions and migration", and :mod:`annotate.project._migrate`).

        Parameters
        ----------
        codebook : path or Codebook
            The new version's file (a later version number than the current one).
        map : path or CodebookMap, optional
            What happened to each changed code (``annotate codebook diff OLD NEW --map``
            proposes one). Without a map every code must stay as it is.
        modules : list of str, optional
            Modules of the new version to load (default: the project's, where declared).

        Returns
        -------
        dict
            What was done: events written, units queued for recoding, per-code counts.
        """
        return _migrate.migrate(self, codebook, map, modules=modules)

    def _status_extras(self) -> dict[str, Any]:
        """For :meth:`status`: the codebook versions, the open recoding per coder, and who is
        certified for which codebook version (calibration)."""
        versions = pd.DataFrame(
            [
                {
                    "version": h["version"],
                    "since": h["since"],
                    "migration": h["migration"] or "",
                    "finished": h.get("finished", True),
                }
                for h in self.codebook_history
            ]
        )
        items = self.recoding(open_only=False)
        per = pd.DataFrame(columns=["annotator_id", "units", "open", "conversations_open"])
        if len(items):
            items = items.assign(conv_open=items["conversation_id"].where(items["open"]))
            per = (
                items.groupby("annotator_id")
                .agg(
                    units=("code_id", "size"),
                    open=("open", "sum"),
                    conversations_open=("conv_open", "nunique"),
                )
                .reset_index()
            )
        return {"codebooks": versions, "recoding": per, "certified": Calibration(self).certified()}

    def recoding(self, annotator: str | None = None, *, open_only: bool = True) -> pd.DataFrame:
        """Units that migrations queued for recoding (``open`` until the coder finishes the
        conversation again): annotator_id, unit, conversation_id, turn_index, code_id, scope
        (``unit`` or ``conversation``: every unit of it), reason, from_code, from_value."""
        return _migrate.recoding(self, self._visible(annotator), open_only=open_only)

    # Suggestions of an LLM coder in the annotation widget (project/_settings.py)
    @property
    def suggestions(self) -> dict[str, Any]:
        """The suggestions setting in force: ``{"mode": "off"|"after"|"before", "coder":
        LLM coder id or None, "version": n}`` (see :mod:`annotate.project._settings`)."""
        doc = _settings.read_settings(self.path)
        return doc["suggestions"] | {"version": doc["version"]}

    def set_suggestions(self, mode: str, coder: str | None = None) -> dict[str, Any]:
        """Show an LLM coder's labels to the coders as suggestions: ``off``, ``after`` (once a
        coder saved their own label) or ``before`` (never before on the reliability sample).
        Publishes a new settings version (E713 for a bad mode or a coder that is not an LLM
        coder); returns it."""
        checked = _settings.check_suggestions(mode, coder, self.coder_kinds)
        return _settings.change_suggestions(self.path, checked)

    # --- changing the plan -----------------------------------------------------------------

    def _change(
        self, compute: Callable[[PlanState], tuple[PlanState, Any]], *, repair: bool = False
    ) -> Any:
        """Compare-and-swap: compute version N + 1 from the latest N and publish it without
        replacing anything; when another session published N + 1 first, start again from it."""
        for attempt in range(_CAS_TRIES):
            state = self._state()
            found = _versions.problems(state)
            if found and not repair:
                raise ProjectError(
                    Errors.E322.format(
                        path=self.path, problem="; ".join(found), hint=_repair_hint(self.path)
                    )
                )
            new, result = compute(state)
            try:
                _versions.publish(self.path, new)
            except FileExistsError:
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # jittered back-off
                continue
            if state.version == 0:
                self._mark_migrated()
            self.__dict__["_plan_state"] = (("v", new.version), new)
            self.__dict__.pop("_reliability_ids", None)
            return result
        raise ProjectError(Errors.E321.format(path=self.path, tries=_CAS_TRIES))

    def _mark_migrated(self) -> None:
        """After the first plan version of an old project: project.json says where the plan
        is now (format 2), so older annotate versions refuse it instead of reading the stale
        assignments.parquet."""
        doc = dict(self._doc, format=FORMAT, plan_folder=_versions.PLAN_DIR, note=_NOTE)
        write_file(self.path / PROJECT_FILE, _json_bytes(doc))
        self._doc = doc

    def add_coders(self, coders: list[str] | str) -> pd.DataFrame:
        """Add coders; existing assignments stay as they are.

        New coders take part in every later batch of conversations, and when the reliability
        sample goes to every coder (``reliability_coders`` unset) they get it too, after
        their (empty) queue. Safe to call from several sessions at once. Returns the new
        assignment rows.
        """
        new = check_coders(coders, "add_coders")
        if not new:
            raise ProjectError(
                Errors.E312.format(option="coders", value=coders, problem="give a coder id")
            )

        def compute(state: PlanState) -> tuple[PlanState, pd.DataFrame]:
            clash = [c for c in new if c in state.coders]
            if clash:
                raise ProjectError(
                    Errors.E312.format(option="coders", value=clash, problem="already coders")
                )
            rows = _plan.reliability_for_new_coders(
                new, state.assignments, state.plan["reliability_coders"]
            )
            plan = {**state.plan, "coders": [*state.coders, *new]}
            return state.next(f"add_coders {','.join(new)}", rows, plan=plan), rows

        return self._change(compute)

    def add_conversations(
        self, conversation_ids: list[str] | None = None, *, sample: int | None = None
    ) -> pd.DataFrame:
        """Assign more conversations of the corpus as a new batch.

        Existing assignments and queue positions never change; the batch is planned with the
        project's seed and the batch number, and the corpus fingerprint is recorded anew.

        Parameters
        ----------
        conversation_ids : list of str, optional
            These conversations (those already assigned are left out). Default: every
            conversation of the corpus not yet assigned (not allowed in a sampled project,
            where it would add the whole rest of the corpus).
        sample : int, optional
            Draw this many more conversations from the project's sampling frame (same filters
            and strata, seeded by the draw number), among those not yet in the project.

        Returns
        -------
        DataFrame
            The new assignment rows.
        """
        sample = _sample.check_sample(sample)
        if sample is not None and conversation_ids is not None:
            raise ProjectError(
                Errors.E312.format(
                    option="sample", value=sample, problem="give sample or ids, not both"
                )
            )
        sampled = self._state().sampling is not None
        if sample is not None and not sampled:
            raise ProjectError(
                Errors.E312.format(
                    option="sample",
                    value=sample,
                    problem="this project codes its whole corpus (it was not created with a "
                    "sample); call add_conversations() for the conversations new in the corpus",
                )
            )
        if sample is None and conversation_ids is None and sampled:
            raise ProjectError(
                Errors.E312.format(
                    option="add_conversations",
                    value="every new conversation",
                    problem="this project is a sample of its corpus, and that would add the "
                    "whole rest of it; draw more with "
                    + hint("add_conversations(sample=N)", "--sample N")
                    + ", or name the conversations ("
                    + hint("a list of ids", "--ids A,B")
                    + ")",
                )
            )
        corpus = load_corpus(self.corpus_path)
        in_corpus = list(corpus.conversation_ids)
        if conversation_ids is not None:
            have = set(in_corpus)
            missing = [c for c in conversation_ids if c not in have]
            if missing:
                raise ProjectError(Errors.E318.format(ids=missing[:5], path=corpus.path))
        corpus_doc = self._corpus_doc(self.path, corpus)

        def compute(state: PlanState) -> tuple[PlanState, pd.DataFrame]:
            existing = state.assignments
            known = set(existing["conversation_id"].tolist())
            sampling = state.sampling
            if sample is not None:
                prev = state.sampling or {}
                ids, sampling = _sample.draw(
                    corpus.conversations,
                    n=sample,
                    filters=_sample.parse_where(prev.get("where") or []),
                    where_text=list(prev.get("where") or []),
                    stratify=prev.get("stratify"),
                    seed=int(state.plan["seed"]),
                    known=known,
                    previous=prev,
                )
                new = [c for c in in_corpus if c in set(ids)]
            elif conversation_ids is None:
                new = [c for c in in_corpus if c not in known]
            else:
                new = [c for c in dict.fromkeys(conversation_ids) if c not in known]
                if sampling is not None and new:
                    sampling = dict(sampling)
                    sampling["added_outside_design"] = int(
                        sampling.get("added_outside_design", 0)
                    ) + len(new)
            plan = state.plan
            rows = _plan.plan_batch(
                new,
                state.coders,
                existing,
                per_item=plan["per_item"],
                reliability=plan["reliability"],
                reliability_coders=plan["reliability_coders"],
                seed=plan["seed"],
                batch=plan["batches"],
            )
            what = f"add_conversations {len(new)}" + (f" (sample {sample})" if sample else "")
            nxt = state.next(
                what,
                rows,
                plan={**plan, "batches": plan["batches"] + 1},
                corpus=corpus_doc,
                sampling=sampling,
            )
            return nxt, rows

        rows = self._change(compute)
        if sample is not None:
            _warn_empty_strata(self.sampling)
        for name in ("corpus", "turns", "store"):
            self.__dict__.pop(name, None)
        self._corpus_override = None if not isinstance(self._corpus_override, Corpus) else corpus
        return rows

    def add_reliability(
        self, fraction: float, *, reliability_coders: int | None = None
    ) -> pd.DataFrame:
        """Grow the reliability sample to ``fraction`` of the project's conversations.

        For a project made without one (agreement is impossible there) or with too small a
        one. Conversations are drawn with the seed from those not yet in the sample; each gets
        more coders (the least loaded first) until ``reliability_coders`` (default: the
        plan's, else every coder) code it. Queue positions never change: the new rows go after
        each coder's queue, and a conversation's existing rows are marked as reliability ones.
        Later batches keep ``fraction`` as their reliability share.

        Returns
        -------
        DataFrame
            The new assignment rows.
        """
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            fraction = -1.0
        if not 0 < fraction <= 1:
            raise ProjectError(
                Errors.E312.format(
                    option="reliability", value=fraction, problem="use a fraction above 0, "
                    "up to 1, e.g. 0.1"
                )
            )  # fmt: skip

        def compute(state: PlanState) -> tuple[PlanState, pd.DataFrame]:
            plan = state.plan
            coders = state.coders
            k_plan = plan["reliability_coders"]
            a = state.assignments
            rel = set(a.loc[a["is_reliability"], "conversation_id"])
            if rel and reliability_coders is not None and reliability_coders != k_plan:
                problem = (
                    f"the sample is coded by {k_plan or 'every'} coder(s); keep that (leave "
                    + hint("reliability_coders", "--reliability-coders")
                    + " out)"
                )
                raise ProjectError(
                    Errors.E312.format(
                        option="reliability_coders", value=reliability_coders, problem=problem
                    )
                )
            k_new = k_plan if rel or reliability_coders is None else reliability_coders
            check_plan(coders, plan["per_item"], float(fraction), k_new)
            k = len(coders) if k_new is None else k_new
            conversations = sorted(set(a["conversation_id"]))
            target = min(len(conversations), max(1, round(fraction * len(conversations))))
            need = target - len(rel)
            if need <= 0:
                problem = (
                    f"the reliability sample already holds {len(rel)} of {len(conversations)} "
                    "conversations"
                )
                raise ProjectError(
                    Errors.E312.format(option="reliability", value=fraction, problem=problem)
                )
            rng = np.random.default_rng([int(plan["seed"]), 0x7E1, state.version])
            free = [c for c in conversations if c not in rel]
            chosen = [free[i] for i in sorted(rng.permutation(len(free))[:need])]
            order = [coders[i] for i in rng.permutation(len(coders))]
            loads = a["annotator_id"].value_counts().to_dict()
            has = a.groupby("conversation_id")["annotator_id"].agg(set).to_dict()
            pairs = []
            for cid in chosen:
                extra = k - len(has.get(cid, set()))
                if extra <= 0:
                    continue
                pick = sorted(
                    (c for c in order if c not in has.get(cid, set())),
                    key=lambda c: loads.get(c, 0),
                )[:extra]
                for c in pick:
                    loads[c] = loads.get(c, 0) + 1
                    pairs.append((cid, c))
            rows = _plan.queue_rows([], pairs, a)
            table = a.copy()
            table.loc[table["conversation_id"].isin(chosen), "is_reliability"] = True
            new_plan = {**plan, "reliability": float(fraction), "reliability_coders": k_new}
            nxt = state.next(
                f"add_reliability {fraction}",
                assignments=pd.concat([table, rows], ignore_index=True),
                plan=new_plan,
            )
            return nxt, rows

        return self._change(compute)

    def enrich_reliability(
        self,
        n: int,
        *,
        codes: list[str],
        prescore: str = "cues",
        share: float = 0.5,
        reliability_coders: int | None = None,
    ) -> pd.DataFrame:
        """Add ``n`` conversations to the reliability sample, stratified by a pre-score so that
        rare ``codes`` get positives, with the inclusion probabilities recorded (see
        :mod:`annotate.project._enrich`; analyse with :func:`annotate.agreement.design_report`
        and :meth:`reliability_weights`).

        Parameters
        ----------
        n : int
            Conversations to add.
        codes : list of str
            The rare codes the pre-score looks for.
        prescore : str
            ``"cues"`` (the codes' cue phrases), ``"labels:ID"`` (annotator ID's labels, e.g.
            an LLM coder's), a conversation column or ``meta.KEY`` (numeric), or a filter
            such as ``"meta.flagged=true"``.
        share : float
            Share of ``n`` drawn from the conversations with a pre-score above 0.
        reliability_coders : int, optional
            Coders per added conversation (default: the plan's, else every coder).

        Returns
        -------
        DataFrame
            The new assignment rows.
        """
        return _enrich.enrich(self, n, codes=codes, source=prescore, share=share,
                              reliability_coders=reliability_coders)  # fmt: skip

    @property
    def reliability_design(self) -> dict[str, Any] | None:
        """The enriched reliability sample's design (pre-score, strata, fractions, inclusion
        probabilities, each conversation's stratum), or None."""
        return _enrich.design_of(self)

    def reliability_weights(self) -> pd.DataFrame:
        """conversation_id, stratum, inclusion_probability, weight (1 / probability) of the
        reliability conversations the design drew (equal probabilities without enrichment)."""
        return _enrich.weights(self)

    def repair_plan(self) -> dict[str, Any]:
        """Repair a plan that two sessions of an older annotate changed at once.

        Coders who have assignments but are missing from the coder list are added to it;
        coders missing reliability conversations that every coder codes get them (after their
        queue); a conversation assigned twice to one coder keeps its first row. Nothing else
        changes. Returns what was done (empty lists when the plan was consistent).
        """

        def compute(state: PlanState) -> tuple[PlanState, dict[str, Any]]:
            a = state.assignments
            dup = a.duplicated(["conversation_id", "annotator_id"])
            a = a[~dup].reset_index(drop=True)
            coders = state.coders
            unknown = [c for c in dict.fromkeys(a["annotator_id"].tolist()) if c not in coders]
            coders = [*coders, *unknown]
            pairs: list[tuple[str, str]] = []
            if state.plan["reliability_coders"] is None:
                rel = a[a["is_reliability"]]
                order = rel.groupby("conversation_id")["position"].min().sort_values().index
                has = rel.groupby("annotator_id")["conversation_id"].agg(set).to_dict()
                pairs = [(cid, c) for c in coders for cid in order if cid not in has.get(c, set())]
            rows = _plan.queue_rows([], pairs, a)
            done = {
                "coders_added": unknown,
                "reliability_rows_added": len(rows),
                "duplicates_removed": int(dup.sum()),
            }
            nxt = state.next(
                "repair_plan",
                assignments=pd.concat([a, rows], ignore_index=True) if len(rows) else a,
                plan={**state.plan, "coders": coders},
            )
            return nxt, done

        if not _versions.problems(self._state()):
            return {"coders_added": [], "reliability_rows_added": 0, "duplicates_removed": 0}
        return self._change(compute, repair=True)

    def __repr__(self) -> str:
        return (
            f"<Project {str(self.path)!r}: {len(self.coders)} coders, codebook "
            f"{self.codebook.id} {self.codebook.version}>"
        )


# --- helpers -----------------------------------------------------------------------------------


def _json_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2).encode() + b"\n"


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _check_links(path: Path) -> None:
    """E003 when a project file or folder (or the label store's folders) is a symbolic link:
    a link planted there could redirect the project's writes to any file."""
    for name in _REAL:
        check_real_path(path / name, path)


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ProjectError(
            Errors.E312.format(
                option="seed", value=seed, problem="use a whole number, 0 or more (e.g. 7)"
            )
        )


def _check_modules(modules: Any) -> Any:
    """``None`` (the codebook's defaults), ``"all"``, or a list of module ids."""
    if modules is None or modules == "all":
        return modules
    if isinstance(modules, str):
        text = modules.strip()
        if text in ("default", ""):
            return None if text == "default" else []
        if text == "none":
            return []
        return [m.strip() for m in text.split(",") if m.strip()]
    if isinstance(modules, list | tuple) and all(isinstance(m, str) for m in modules):
        return list(modules)
    raise ProjectError(
        Errors.E312.format(
            option="modules",
            value=modules,
            problem="give module ids, e.g. "
            + hint("['trust', 'companionship'], or 'all'", "trust,companionship, or all"),
        )
    )


def _load_codebook(codebook: Any, modules: Any) -> Any:
    if hasattr(codebook, "codes"):
        if codebook.path is None:
            raise ProjectError(
                Errors.E312.format(
                    option="codebook", value=codebook.id, problem="give the codebook file's path"
                )
            )
        if modules is None:
            modules = list(codebook.active_modules)
        return load_codebook(codebook.path, modules=modules)
    return load_codebook(codebook, modules=modules)


def _check_target(path: Path) -> bool:
    """Whether ``path`` exists and may be replaced (empty, or an interrupted init); E323 for a
    folder with other content; E312 for a file."""
    if not (path.exists() or path.is_symlink()):
        return False
    if not path.is_dir():
        raise ProjectError(
            Errors.E312.format(option="path", value=str(path), problem="it is a file, not a folder")
        )
    entries = sorted(e for e in os.listdir(path) if not e.startswith(_INIT_TMP))
    if not entries or _interrupted_init(path) is not None:
        return True
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    raise ProjectError(Errors.E323.format(path=path, entries=shown))


def _interrupted_init(path: Path) -> list[str] | None:
    """The init files found when ``path`` is a folder an init left without project.json and
    with no label in it; None otherwise."""
    try:
        entries = os.listdir(path)
    except OSError:
        return None
    visible = {e for e in entries if not e.startswith(".")}
    hidden = [e for e in entries if e.startswith(".")]
    if PROJECT_FILE in visible or not visible <= _INIT_NAMES:
        return None
    if any(not (e.startswith(_INIT_TMP) or e.endswith(TMP_SUFFIX)) for e in hidden):
        return None  # somebody's hidden files (.git, ...): not ours to replace
    if not visible:
        if not any(e.startswith(_INIT_TMP) for e in hidden):
            return None
        visible = {"an unfinished init's temporary folder"}
    labels = path / LABELS_DIR
    if labels.is_dir():
        for sub in labels.rglob("*.parquet"):
            if not sub.name.startswith("."):
                return None
    return sorted(visible)


def _not_a_project(path: Path) -> ProjectError:
    """E311 / E319 for a folder without project.json: missing, an interrupted init, or other."""
    if not path.exists():
        problem = "no such folder"
        near = _nearby_projects(path)
        how = "Check the path" + (f" (projects next to it: {', '.join(near)})." if near else ".")
        return ProjectError(Errors.E311.format(path=path, problem=problem, hint=how))
    found = _interrupted_init(path)
    if found is not None:
        how = hint(
            f"Create it again with Project.create('{path}', ...) (it replaces this folder), or "
            "delete the folder.",
            f"Run the same `annotate project init {path} ...` again (it replaces this folder), "
            "or delete the folder.",
        )
        return ProjectError(Errors.E319.format(path=path, found=", ".join(found), hint=how))
    problem = "no project.json in it"
    how = "Check the path: a project folder holds project.json, codebook.yaml, plan/ and labels/."
    return ProjectError(Errors.E311.format(path=path, problem=problem, hint=how))


def _nearby_projects(path: Path) -> list[str]:
    parent = path.parent
    try:
        names = sorted(os.listdir(parent))[:2000]
    except OSError:
        return []
    projects = [n for n in names if (parent / n / PROJECT_FILE).is_file()]
    close = difflib.get_close_matches(path.name, projects, n=3, cutoff=0.5)
    return [str(parent / n) for n in close]


def _restore_hint() -> str:
    return "Restore project.json from a backup (it is written once, when the project is created)."


def _repair_hint(path: Path) -> str:
    return hint(
        "Repair it with p.repair_plan() (it adds the missing coders and assignments).",
        f"Repair it with `annotate project repair {path}` (it adds the missing coders and "
        "assignments).",
    )


def _reliability_hint(path: Path, coders: list[str]) -> str:
    if len(coders) < 2:
        return hint(
            "Add a second coder later (p.add_coders([...])) and then a sample with "
            "p.add_reliability(0.1).",
            f"Add a second coder later (`annotate project add-coders {path} ID`) and then a "
            f"sample with `annotate project add-reliability {path} --fraction 0.1`.",
        )
    return hint(
        "Create the project with reliability=0.1 (a 10 % sample coded by every coder), or add "
        "one later with p.add_reliability(0.1).",
        "Create the project with --reliability 0.1 (a 10 % sample coded by every coder), or "
        f"add one later with `annotate project add-reliability {path} --fraction 0.1`.",
    )


def _warn_empty_strata(sampling: dict[str, Any] | None) -> None:
    if not sampling or not sampling.get("stratify"):
        return
    empty = [r["stratum"] for r in sampling["strata"] if r["sample"] == 0]
    if empty:
        warnings.warn(
            Warnings.W322.format(
                n=len(empty),
                total=len(sampling["strata"]),
                stratify=sampling["stratify"],
                size=sampling["sample_size"],
                examples=", ".join(empty[:3]),
            ),
            stacklevel=3,
        )


def _build_in_existing(target: Path, build: Callable[[Path], None]) -> None:
    """Create the project inside an existing folder (empty, or left by an interrupted init):
    the folder itself (its permissions, group, whoever has it open) stays. The files are built
    in a hidden temp folder inside it and moved in, project.json last, so a kill at any point
    leaves an interrupted init (E319) that the next init replaces."""
    for name in os.listdir(target):  # only an interrupted init's files (_check_target)
        leftover = target / name
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    tmp = target / f"{_INIT_TMP}{os.getpid()}-{os.urandom(4).hex()}"
    moved: list[Path] = []
    try:
        tmp.mkdir()
        build(tmp)
        for name in sorted(os.listdir(tmp)):
            if name != PROJECT_FILE:
                os.rename(tmp / name, target / name)
                moved.append(target / name)
        fsync_dir(target)
        os.rename(tmp / PROJECT_FILE, target / PROJECT_FILE)
        fsync_dir(target)
        tmp.rmdir()
    except BaseException as exc:
        if not (target / PROJECT_FILE).exists():
            for done in moved:
                shutil.rmtree(done, ignore_errors=True) if done.is_dir() else done.unlink(
                    missing_ok=True
                )
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, StorageError):
            raise storage_error(exc, target, "create") from exc
        raise
