"""Where the shipped codebooks live: the repository's ``codebooks/`` or, in an installed wheel,
``annotate/_data/codebooks`` (pyproject force-includes the folder there)."""

from __future__ import annotations

from pathlib import Path

from annotate.errors import CodebookError, Errors

_PACKAGE = Path(__file__).resolve().parents[1]
#: candidates, first existing wins: a source checkout, then the wheel's data folder
CODEBOOK_DIRS = (_PACKAGE.parent / "codebooks", _PACKAGE / "_data" / "codebooks")

DEFAULT_CODEBOOK = "sdt-socioaffective.yaml"
TOY_CODEBOOK = "toy.yaml"


def _shipped(name: str) -> Path:
    for folder in CODEBOOK_DIRS:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise CodebookError(
        Errors.E206.format(
            path=name,
            hint="Looked in "
            + " and ".join(str(d) for d in CODEBOOK_DIRS)
            + "; reinstall annotate or pass the codebook path explicitly.",
        )
    )


def default_codebook_path(version: str | None = None) -> Path:
    """The default SDT socio-affective codebook file (``codebooks/sdt-socioaffective.yaml``,
    2.1.0), or an earlier version kept for projects coded with it (``version="2.0.0"``:
    ``codebooks/sdt-socioaffective-2.0.0.yaml``; ``"1.0.0"`` likewise)."""
    if version is None:
        return _shipped(DEFAULT_CODEBOOK)
    stem = DEFAULT_CODEBOOK.removesuffix(".yaml")
    return _shipped(f"{stem}-{version}.yaml")


def migration_map_path(old: str, new: str, codebook: str = "sdt-socioaffective") -> Path:
    """The shipped migration map between two versions of a shipped codebook
    (``codebooks/migrations/<codebook>-<old>-to-<new>.yaml``)."""
    return _shipped(f"migrations/{codebook}-{old}-to-{new}.yaml")


def toy_codebook_path() -> Path:
    """The small toy codebook for tests, docs and the quickstart (``codebooks/toy.yaml``)."""
    return _shipped(TOY_CODEBOOK)


def schema_path() -> Path:
    """The shipped JSON Schema of the codebook format (``schema/codebook.schema.json``)."""
    return _shipped("schema/codebook.schema.json")
