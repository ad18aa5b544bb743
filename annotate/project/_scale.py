"""The unit-labels table of :meth:`Project.unit_labels` as a DuckDB view (analyses at scale).

The same table as :func:`annotate.project._units.unit_labels` (current labels plus implicit
absences, with ``role``; :func:`annotate.project._codebooks.drop_not_coded` applied), stated as
SQL over the store's parquet files (:mod:`annotate.store._sql`) and the corpus's
``turns.parquet``, so that DuckDB streams it with bounded memory instead of pandas holding
every label at once. Rows are the same; their order is not fixed (consumers group them).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from annotate.errors import Errors, ProjectError
from annotate.project import _codebooks
from annotate.store import _sql
from annotate.types import SYSTEM_CODES

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.project import Project

#: the view :func:`unit_labels_view` creates
VIEW = "unit_labels"
#: DuckDB's memory limit when it computes unit labels (it spills to a temporary folder past it)
MEMORY_LIMIT = "4GB"
#: event rows from which the command line's ``--engine auto`` uses DuckDB
AUTO_ROWS = 5_000_000


def pick_engine(project: Project, engine: str) -> str:
    """``memory`` or ``duckdb`` for ``auto`` (DuckDB installed and at least
    :data:`AUTO_ROWS` event rows in the store), else ``engine`` itself."""
    if engine != "auto":
        return engine
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return "memory"
    big = _sql.event_rows(project.path / "labels") >= AUTO_ROWS
    return "duckdb" if big else "memory"


def _binary_codes(codebook: Codebook) -> tuple[pa.Table, pa.Table]:
    """(code_id, role, value) of turn-level and (code_id, value) of conversation-level binary
    codes, with their absent value (as :func:`annotate.project._units._binary_codes`)."""
    turn = [(c.id, r, c.absent_value) for c in codebook.codes
            if c.level == "binary" and c.unit == "turn" for r in c.applies_to]  # fmt: skip
    conv = [(c.id, c.absent_value) for c in codebook.codes
            if c.level == "binary" and c.unit == "conversation"]  # fmt: skip
    t = pa.table({k: pa.array([r[i] for r in turn], pa.string())
                  for i, k in enumerate(("code_id", "role", "value"))})  # fmt: skip
    c = pa.table({k: pa.array([r[i] for r in conv], pa.string())
                  for i, k in enumerate(("code_id", "value"))})  # fmt: skip
    return t, c


def _scope(project: Project, annotators: list[str] | None) -> list[str] | None:
    if project._scoped:
        bad = [a for a in annotators or [] if a != project.coder]
        if bad:
            raise ProjectError(Errors.E315.format(coder=project.coder, other=bad))
        return [str(project.coder)]
    return annotators


def unit_labels_view(
    project: Project,
    con: Any,
    *,
    version: str | None = None,
    annotators: list[str] | None = None,
) -> str:
    """Create the temporary view :data:`VIEW` of the project's unit labels on a DuckDB
    connection (see :func:`annotate.store._sql.connect`) and return its name.

    Parameters and meaning as :meth:`Project.unit_labels`: ``annotators`` keeps those coders'
    labels, ``version`` a codebook version's labels (default: the current one).
    """
    annotators = _scope(project, annotators)
    versions = project._versions
    cb = versions.get(version)
    fold = keep = None
    if len(versions.books) > 1:
        tag = (cb.id, str(cb.version))
        fold, keep = (None, tag) if versions.is_current(cb) else (tag, None)
    one = annotators[0] if annotators is not None and len(annotators) == 1 else None
    files = _sql.sources(project.path / "labels", one)  # one coder: that coder's files
    kw: dict[str, Any] = {"fold_version": fold, "keep_version": keep, "annotators": annotators}
    # the system codes' labels (few: one _status per coder and conversation) are kept in a
    # table; the others stream once through the view below (codes are part of the key)
    system = list(SYSTEM_CODES)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE cur_system AS " + _sql.current_sql(files, codes=system, **kw)
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW cur AS " + _sql.current_sql(files, without_codes=system, **kw)
    )
    turns_path = Path(project.corpus.path) / "turns.parquet"
    con.execute(
        "CREATE OR REPLACE TEMP VIEW turns AS SELECT conversation_id, "
        "CAST(turn_index AS INTEGER) AS turn_index, role "
        f"FROM read_parquet({_sql.quote(str(turns_path))})"
    )
    bin_turn, bin_conv = _binary_codes(cb)
    status = con.sql(
        "SELECT annotator_id, conversation_id, note FROM cur_system WHERE code_id = '_status' "
        """AND note LIKE '%"not_coded"%'"""
    ).to_arrow_table()
    missing = _codebooks.not_coded(status.to_pandas().assign(code_id="_status"))
    missing = pa.Table.from_pandas(
        missing.astype(object).astype({c: pd.StringDtype("pyarrow") for c in missing.columns}),
        preserve_index=False,
    ).cast(pa.schema([(c, pa.string()) for c in ("annotator_id", "conversation_id", "code_id")]))
    con.register("bin_turn", bin_turn)
    con.register("bin_conv", bin_conv)
    con.register("not_coded", missing)
    con.execute("""
        CREATE OR REPLACE TEMP VIEW explicit AS
        SELECT c.annotator_id, c.unit, c.conversation_id, c.turn_index,
               CASE WHEN c.unit = 'turn' THEN t.role END AS role, c.code_id, c.value
        FROM cur c LEFT JOIN turns t
          ON c.conversation_id = t.conversation_id AND c.turn_index = t.turn_index
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE done AS
        SELECT DISTINCT annotator_id, conversation_id FROM cur_system
        WHERE code_id = '_status' AND value = 'done'
    """)
    binary = sorted(
        {*bin_turn.column("code_id").to_pylist(), *bin_conv.column("code_id").to_pylist()}
    )
    if not binary or not con.execute("SELECT count(*) FROM done").fetchall()[0][0]:
        # no finished conversation (or no binary code): no implicit absence, one pass
        con.execute(f"CREATE OR REPLACE TEMP VIEW {VIEW} AS SELECT * FROM explicit")
        return VIEW
    # the explicit labels an implicit absence must give way to: binary codes only, folded
    # apart (a second, narrower pass over the files; codes are part of the key)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW explicit_binary AS "
        + _sql.current_sql(files, codes=binary, **kw)
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW {VIEW} AS
        WITH implicit_turn AS (
            SELECT d.annotator_id, 'turn' AS unit, d.conversation_id, t.turn_index, t.role,
                   b.code_id, b.value
            FROM done d JOIN turns t ON d.conversation_id = t.conversation_id
                        JOIN bin_turn b ON t.role = b.role
        ),
        implicit_conv AS (
            SELECT d.annotator_id, 'conversation' AS unit, d.conversation_id,
                   NULL::INTEGER AS turn_index, NULL::VARCHAR AS role, b.code_id, b.value
            FROM done d CROSS JOIN bin_conv b
        ),
        implicit AS (
            SELECT i.* FROM implicit_turn i ANTI JOIN explicit_binary e
              ON e.unit = 'turn' AND i.annotator_id = e.annotator_id
             AND i.conversation_id = e.conversation_id AND i.turn_index = e.turn_index
             AND i.code_id = e.code_id
            UNION ALL
            SELECT i.* FROM implicit_conv i ANTI JOIN explicit_binary e
              ON e.unit = 'conversation' AND e.turn_index IS NULL
             AND i.annotator_id = e.annotator_id AND i.conversation_id = e.conversation_id
             AND i.code_id = e.code_id
        )
        SELECT * FROM explicit
        UNION ALL
        SELECT i.* FROM implicit i ANTI JOIN not_coded n
          ON i.annotator_id = n.annotator_id AND i.conversation_id = n.conversation_id
         AND i.code_id = n.code_id
    """)
    return VIEW


def unit_labels_frame(
    project: Project, annotators: list[str] | None = None, version: str | None = None
) -> pd.DataFrame:
    """:meth:`Project.unit_labels` computed by DuckDB: the same rows, dtypes and order."""
    from annotate.project._units import _DTYPES, UNIT_LABEL_COLUMNS

    with tempfile.TemporaryDirectory(prefix="annotate-duckdb-") as spill:
        con = _sql.connect(MEMORY_LIMIT, spill)
        try:
            view = unit_labels_view(project, con, version=version, annotators=annotators)
            cols = ", ".join(UNIT_LABEL_COLUMNS)
            table = con.sql(
                f"SELECT {cols} FROM {view} ORDER BY annotator_id, conversation_id, unit, "
                "turn_index NULLS FIRST, code_id"
            ).to_arrow_table()
        finally:
            con.close()
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow"),
                                          pa.int32(): pd.Int32Dtype()}.get)  # fmt: skip
    return frame.astype(_DTYPES).reset_index(drop=True)
