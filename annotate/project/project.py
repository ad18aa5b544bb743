"""Project: a folder holding a corpus reference, a frozen codebook, the plan and the labels.

Layout::

    project.json          corpus (path, counts, fingerprint), codebook (id, version, hash),
                          plan (coders, per_item, reliability, reliability_coders, seed, blind)
    codebook.yaml         the frozen copy of the codebook file the project codes with
    assignments.parquet   conversation_id, annotator_id, is_reliability, position
    labels/               the label store (annotate.store)
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from annotate.clock import CLOCK
from annotate.codebook import load_codebook
from annotate.corpus import Corpus, load_corpus
from annotate.errors import Errors, ProjectError, Warnings
from annotate.project import _plan, _turns
from annotate.project._disk import parquet_bytes, write_atomic
from annotate.project._labels import LabelsMixin
from annotate.project._plan import check_coders, check_plan
from annotate.store import LabelStore
from annotate.types import FilePath

PROJECT_FILE = "project.json"
CODEBOOK_FILE = "codebook.yaml"
ASSIGNMENTS_FILE = "assignments.parquet"
FORMAT = "annotate-project/1"
_REQUIRED = {
    "corpus": ("path", "counts", "fingerprint"),
    "codebook": ("id", "version", "hash", "modules"),
    "plan": ("coders", "per_item", "reliability", "reliability_coders", "seed", "blind"),
}


class Project(LabelsMixin):
    """A coding project folder (see README, "Projects"). Make one with :meth:`create`, open
    one with :meth:`open`."""

    def __init__(self, path: Path, doc: dict[str, Any], *, corpus: Any = None, coder: str | None):
        self.path = path
        self._doc = doc
        self._corpus_override = corpus
        self.coder = coder
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
    ) -> Project:
        """Create a project folder and its assignment plan.

        Parameters
        ----------
        path : str or path-like
            A new or empty folder.
        corpus : str, path-like or Corpus
            The corpus folder (its path is recorded relative to the project when possible).
        codebook : str, path-like or Codebook
            The codebook file; a frozen copy goes into the project.
        coders : list of str or str
            Coder ids (``[a-z0-9][a-z0-9_.-]{0,63}``), or ``"a,b,c"``.
        per_item : int
            Coders per conversation outside the reliability sample (default 1).
        reliability : float
            Fraction of conversations in the reliability sample (0-1).
        reliability_coders : int, optional
            Coders per reliability conversation (2..len(coders)); default every coder.
        seed : int
            Seed of every random draw of the plan (same inputs, same plan).
        blind : bool
            Blind mode (default on): a coder's session reads only that coder's labels.

        Returns
        -------
        Project
        """
        path = Path(path)
        if (path / PROJECT_FILE).exists():
            raise ProjectError(Errors.E310.format(path=path))
        coders = check_coders(coders, "coders")
        check_plan(coders, per_item, reliability, reliability_coders)
        corpus = corpus if isinstance(corpus, Corpus) else load_corpus(corpus)
        cb = codebook if hasattr(codebook, "codes") else load_codebook(codebook)
        if cb.path is None:
            raise ProjectError(
                Errors.E312.format(
                    option="codebook", value=cb.id, problem="give the codebook file's path"
                )
            )
        path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cb.path, path / CODEBOOK_FILE)
        doc = {
            "format": FORMAT,
            "created_at": CLOCK.now().isoformat(timespec="seconds"),
            "corpus": cls._corpus_doc(path, corpus),
            "codebook": {
                "file": CODEBOOK_FILE,
                "source": str(cb.path),
                "id": cb.id,
                "version": str(cb.version),
                "hash": cb.hash,
                "modules": list(cb.active_modules),
            },
            "plan": {
                "coders": coders,
                "per_item": per_item,
                "reliability": float(reliability),
                "reliability_coders": reliability_coders,
                "seed": int(seed),
                "blind": bool(blind),
                "batches": 0,
            },
        }
        assignments = _plan.plan_batch(
            list(corpus.conversation_ids),
            coders,
            _plan.empty_assignments(),
            per_item=per_item,
            reliability=reliability,
            reliability_coders=reliability_coders,
            seed=seed,
            batch=0,
        )
        doc["plan"]["batches"] = 1
        write_atomic(path / ASSIGNMENTS_FILE, parquet_bytes(assignments))
        LabelStore(path / "labels", cb)
        write_atomic(path / PROJECT_FILE, json.dumps(doc, indent=2).encode() + b"\n")
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
            Open as this coder's session: in blind mode, labels of other coders are not readable
            and appended events default to (and must be) this coder's.
        """
        path = Path(path)
        try:
            doc = json.loads((path / PROJECT_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ProjectError(Errors.E311.format(path=path, problem="no project.json")) from None
        except (OSError, ValueError) as exc:
            raise ProjectError(
                Errors.E311.format(path=path, problem=f"project.json unreadable ({exc})")
            ) from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ProjectError(
                Errors.E311.format(path=path, problem=f"project.json is not {FORMAT}")
            )
        missing = [f"{part}.{key}" for part, keys in _REQUIRED.items() for key in keys
                   if not isinstance(doc.get(part), dict) or key not in doc[part]]  # fmt: skip
        if missing:
            problem = f"project.json lacks {', '.join(missing)}"
            raise ProjectError(Errors.E311.format(path=path, problem=problem))
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

    def _save(self) -> None:
        data = json.dumps(self._doc, indent=2).encode() + b"\n"
        write_atomic(self.path / PROJECT_FILE, data)

    # --- corpus ----------------------------------------------------------------------------

    @property
    def corpus_path(self) -> Path:
        """Where the corpus is (the override given to open, else the recorded path)."""
        if isinstance(self._corpus_override, Corpus):
            return Path(self._corpus_override.path)
        if self._corpus_override is not None:
            return Path(self._corpus_override)
        return (self.path / self._doc["corpus"]["path"]).resolve()

    def _check_corpus(self) -> None:
        folder = self.corpus_path
        if not (folder / "manifest.json").is_file():
            return  # reported when the corpus is needed (E316)
        found = _turns.corpus_fingerprint(folder)
        if found != self._doc["corpus"]["fingerprint"]:
            now = _turns.manifest_counts(load_corpus(folder))
            was = self._doc["corpus"]["counts"]
            detail = (
                f"conversations {was.get('conversations')} -> {now.get('conversations')}, "
                f"turns {was.get('turns')} -> {now.get('turns')}"
            )
            warnings.warn(Warnings.W303.format(path=folder, detail=detail), stacklevel=3)

    @cached_property
    def corpus(self) -> Corpus:
        """The project's corpus (loaded on first use)."""
        if isinstance(self._corpus_override, Corpus):
            return self._corpus_override
        folder = self.corpus_path
        if not (folder / "manifest.json").is_file():
            raise ProjectError(Errors.E316.format(project=self.path, path=folder))
        return load_corpus(folder)

    @cached_property
    def turns(self) -> pd.DataFrame:
        """``conversation_id, turn_index, role`` of every corpus turn (no text)."""
        return _turns.read_turn_roles(self.corpus)

    @cached_property
    def store(self) -> LabelStore:
        """The label store, validating against the frozen codebook and the corpus turns."""
        return LabelStore(
            self.path / "labels",
            self.codebook,
            turns=_turns.LazyTurnIndex(lambda: self.turns),
            annotator=self.coder,
            blind=self.blind,
        )

    # --- the plan --------------------------------------------------------------------------

    @property
    def coders(self) -> list[str]:
        return list(self._doc["plan"]["coders"])

    @property
    def seed(self) -> int:
        return int(self._doc["plan"]["seed"])

    @property
    def blind(self) -> bool:
        return bool(self._doc["plan"]["blind"])

    @property
    def plan(self) -> dict[str, Any]:
        """The plan as recorded in project.json (a copy)."""
        return json.loads(json.dumps(self._doc["plan"]))

    @property
    def assignments(self) -> pd.DataFrame:
        """conversation_id, annotator_id, is_reliability, position (queue order per coder)."""
        path = self.path / ASSIGNMENTS_FILE
        try:
            st = path.stat()
        except FileNotFoundError:
            problem = f"{ASSIGNMENTS_FILE} is missing"
            raise ProjectError(Errors.E311.format(path=self.path, problem=problem)) from None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)  # replaced atomically: a new inode
        cached = self.__dict__.get("_assignments")
        if cached is None or cached[0] != stamp:  # re-read when another process changed it
            frame = pd.read_parquet(path).astype(_plan.empty_assignments().dtypes.to_dict())
            reliability = set(frame.loc[frame["is_reliability"], "conversation_id"].tolist())
            cached = self.__dict__["_assignments"] = (stamp, frame, reliability)
        return cached[1].copy()

    def queue(self, annotator_id: str) -> list[str]:
        """The conversation ids of a coder, in coding order."""
        if annotator_id not in self.coders:
            self._unknown_coder(annotator_id)
        a = self.assignments
        return (
            a[a["annotator_id"] == annotator_id].sort_values("position")["conversation_id"].tolist()
        )

    def is_reliability(self, conversation_id: str) -> bool:
        """Whether a conversation is in the reliability sample."""
        self.assignments  # noqa: B018  (refreshes the cache)
        return conversation_id in self.__dict__["_assignments"][2]

    def _unknown_coder(self, annotator: str) -> None:
        raise ProjectError(
            Errors.E314.format(
                annotator=annotator, path=self.path, available=", ".join(self.coders)
            )
        )

    # --- growing the project ---------------------------------------------------------------

    def add_coders(self, coders: list[str] | str) -> pd.DataFrame:
        """Add coders; existing assignments stay as they are.

        New coders take part in every later batch of conversations, and when the reliability
        sample goes to every coder (``reliability_coders`` unset) they get it too, spread
        through their queue. Returns the new assignment rows.
        """
        new = check_coders(coders, "add_coders")
        clash = [c for c in new if c in self.coders]
        if clash:
            raise ProjectError(
                Errors.E312.format(option="coders", value=clash, problem="already coders")
            )
        existing = self.assignments
        rows = _plan.reliability_for_new_coders(
            new, existing, self._doc["plan"]["reliability_coders"]
        )
        self._doc["plan"]["coders"] = [*self.coders, *new]
        self._commit(existing, rows)
        return rows

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

    def add_conversations(self, conversation_ids: list[str] | None = None) -> pd.DataFrame:
        """Assign conversations that are new in the corpus (all unassigned ones by default).

        Existing assignments and queue positions stay; the new batch is drawn with the
        project's seed and the batch number, and the corpus fingerprint is recorded anew.
        Returns the new assignment rows.
        """
        corpus = load_corpus(self.corpus_path)
        existing = self.assignments
        known = set(existing["conversation_id"].tolist())
        in_corpus = list(corpus.conversation_ids)
        if conversation_ids is None:
            new = [c for c in in_corpus if c not in known]
        else:
            have = set(in_corpus)
            missing = [c for c in conversation_ids if c not in have]
            if missing:
                raise ProjectError(Errors.E318.format(ids=missing[:5], path=corpus.path))
            new = [c for c in dict.fromkeys(conversation_ids) if c not in known]
        plan = self._doc["plan"]
        rows = _plan.plan_batch(
            new,
            self.coders,
            existing,
            per_item=plan["per_item"],
            reliability=plan["reliability"],
            reliability_coders=plan["reliability_coders"],
            seed=plan["seed"],
            batch=plan["batches"],
        )
        plan["batches"] += 1
        self._doc["corpus"] = self._corpus_doc(self.path, corpus)
        self._commit(existing, rows)
        for name in ("corpus", "turns", "store"):
            self.__dict__.pop(name, None)
        self._corpus_override = None if not isinstance(self._corpus_override, Corpus) else corpus
        return rows

    def _commit(self, existing: pd.DataFrame, rows: pd.DataFrame) -> None:
        both = pd.concat([existing, rows], ignore_index=True) if len(rows) else existing
        write_atomic(self.path / ASSIGNMENTS_FILE, parquet_bytes(both))
        self.__dict__.pop("_assignments", None)
        self._save()

    def __repr__(self) -> str:
        return (
            f"<Project {str(self.path)!r}: {len(self.coders)} coders, codebook "
            f"{self.codebook.id} {self.codebook.version}>"
        )
