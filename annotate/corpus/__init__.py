"""annotate.corpus: two parquet tables and a manifest (docs/internals.md, Tables).

Public: :class:`Corpus`, :func:`load_corpus`, :func:`write_corpus`, :data:`TURNS_SCHEMA`,
:data:`CONVERSATIONS_SCHEMA`. Importers build corpora with :class:`CorpusBuilder` and count
what they skip or repair in a :class:`Tally`.
"""

from __future__ import annotations

from annotate.corpus._build import CorpusBuilder, Tally, content_hash
from annotate.corpus._consent import CONSENT_FILE, read_register, register_use, use_path
from annotate.corpus._donate import purge_export, withdraw
from annotate.corpus._io import (
    atomic_folder,
    corpus_counts,
    read_tables,
    write_corpus,
    write_groups,
    write_tables,
)
from annotate.corpus._model import Corpus, load_corpus
from annotate.corpus._schema import (
    CONVERSATION_COLUMNS,
    CONVERSATIONS_SCHEMA,
    ROW_GROUP_SIZE,
    TURN_COLUMNS,
    TURNS_SCHEMA,
)
from annotate.corpus._users import USERS_FILE, read_users, users_table

__all__ = [
    "CONSENT_FILE",
    "CONVERSATIONS_SCHEMA",
    "CONVERSATION_COLUMNS",
    "ROW_GROUP_SIZE",
    "TURNS_SCHEMA",
    "TURN_COLUMNS",
    "USERS_FILE",
    "Corpus",
    "CorpusBuilder",
    "Tally",
    "atomic_folder",
    "content_hash",
    "corpus_counts",
    "load_corpus",
    "purge_export",
    "read_register",
    "read_tables",
    "read_users",
    "register_use",
    "use_path",
    "users_table",
    "withdraw",
    "write_corpus",
    "write_groups",
    "write_tables",
]
