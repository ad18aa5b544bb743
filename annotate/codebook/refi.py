"""REFI-QDA codebook exchange (``.qdc``, namespace ``urn:QDA-XML:codebook:1.0``).

ATLAS.ti, NVivo, MAXQDA and QualCoder read and write this XML. What it carries natively:
a tree of ``Code`` elements (guid, name, isCodable, color, Description) and ``Set`` elements
(named groups of codes). The mapping:

* every group becomes a REFI ``Set`` listing its codes, and each code is placed in the code tree
  under a folder (a non-codable ``Code``) for its *first* group tag;
* binary codes are codable codes; nominal, ordinal, interval and set codes are folders whose
  codable children are the values (how QDA tools code categorical variables);
* what REFI cannot carry (unit, roles, level, value order, examples, near misses, cues, keys,
  modules, the codebook's id and version) goes into a JSON block at the end of each
  ``Description``, after the line ``MARKER``. The text above the marker is the readable part.

The round trip annotate -> .qdc -> annotate is lossless (same content hash), except that a code
renamed in the QDA tool keeps its new name as its label. A codebook made in a QDA tool (no JSON
blocks) is imported with codable codes as binary turn codes, folders and sets as groups.
"""

from __future__ import annotations

import json
import re
import uuid
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from annotate.codebook.loader import codebook_from_data
from annotate.codebook.model import Code, Codebook
from annotate.errors import CodebookError, Errors, Warnings

NS = "urn:QDA-XML:codebook:1.0"
MARKER = "-- annotate metadata (keep this block to round-trip the codebook) --"
_GUID_NS = uuid.UUID("6f1c6c2e-8a0e-4d5b-9a57-2f1f0c3c9b10")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _guid(*parts: str) -> str:
    """A stable GUID, so that re-exporting the same codebook gives the same file."""
    return str(uuid.uuid5(_GUID_NS, "/".join(parts)))


def _describe(text: str, meta: dict[str, Any]) -> str:
    return f"{text.strip()}\n\n{MARKER}\n{json.dumps(meta, ensure_ascii=False, sort_keys=True)}"


def _readable(code: Code) -> str:
    parts = [code.definition]
    if code.when_to_use:
        parts.append(f"When to use: {code.when_to_use}")
    if code.when_not_to_use:
        parts.append(f"When not to use: {code.when_not_to_use}")
    parts.append(f"[{code.unit}; {', '.join(code.applies_to)}; {code.level}]")
    return "\n\n".join(parts)


def to_qdc(codebook: Codebook) -> str:
    """The codebook as REFI-QDA codebook XML (a ``.qdc`` file's text)."""
    ET.register_namespace("", NS)
    root = ET.Element(_q("CodeBook"), {"origin": f"annotate ({codebook.id} {codebook.version})"})
    codes_el = ET.SubElement(root, _q("Codes"))
    doc = codebook.to_dict()
    code_docs = {c["id"]: c for c in doc["codes"]}
    groups = {g.id: g for g in codebook.groups}
    colours = {g.id: PALETTE[i % len(PALETTE)] for i, g in enumerate(codebook.groups)}
    folders: dict[str, ET.Element] = {}
    for position, code in enumerate(codebook.codes):
        parent = codes_el
        if code.groups:
            tag = code.groups[0]
            if tag not in folders:
                group = groups[tag]
                folders[tag] = _code_el(
                    codes_el,
                    _guid(codebook.id, "group", tag),
                    group.label,
                    codable=False,
                    colour=colours[tag],
                    description=_describe(group.description or group.label, {"group": tag}),
                )
            parent = folders[tag]
        colour = colours.get(code.groups[0]) if code.groups else None
        meta = {"code": code_docs[code.id], "position": position}
        el = _code_el(
            parent,
            _guid(codebook.id, "code", code.id),
            code.label,
            codable=code.level == "binary",
            colour=colour,
            description=_describe(_readable(code), meta),
        )
        if code.level != "binary":
            for v in code.values:
                _code_el(
                    el,
                    _guid(codebook.id, "code", code.id, "value", v.value),
                    v.label,
                    codable=True,
                    colour=colour,
                    description=_describe(v.definition or v.label, {"value": v.value}),
                )
    sets_el = ET.SubElement(root, _q("Sets"))
    header = {k: v for k, v in doc.items() if k != "codes"}
    _set_el(
        sets_el,
        _guid(codebook.id, "codebook"),
        f"annotate codebook: {codebook.title}",
        _describe(codebook.description or codebook.title, {"codebook": header}),
        [],
    )
    for group in codebook.groups:
        members = [_guid(codebook.id, "code", c.id) for c in codebook.codes_in_group(group.id)]
        _set_el(
            sets_el,
            _guid(codebook.id, "set", group.id),
            group.label,
            _describe(group.description or group.label, {"group": group.id}),
            members,
        )
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def _code_el(
    parent: ET.Element,
    guid: str,
    name: str,
    *,
    codable: bool,
    colour: str | None,
    description: str,
) -> ET.Element:
    attrs = {"guid": guid, "name": name, "isCodable": "true" if codable else "false"}
    if colour:
        attrs["color"] = colour
    el = ET.SubElement(parent, _q("Code"), attrs)
    ET.SubElement(el, _q("Description")).text = description
    return el


def _set_el(parent: ET.Element, guid: str, name: str, description: str, members: list[str]) -> None:
    el = ET.SubElement(parent, _q("Set"), {"guid": guid, "name": name})
    ET.SubElement(el, _q("Description")).text = description
    for m in members:
        ET.SubElement(el, _q("MemberCode"), {"guid": m})


def write_qdc(codebook: Codebook, out: str | Path) -> Path:
    """Write :func:`to_qdc` to ``out`` (UTF-8)."""
    out = Path(out)
    out.write_text(to_qdc(codebook), encoding="utf-8")
    return out


# --- import ---------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _split(description: str | None) -> tuple[str, dict[str, Any] | None]:
    """Readable text and the annotate JSON block (None when absent or unreadable)."""
    text = description or ""
    if MARKER not in text:
        return text.strip(), None
    readable, _, block = text.partition(MARKER)
    try:
        meta = json.loads(block)
    except ValueError:
        return readable.strip(), None
    return readable.strip(), meta if isinstance(meta, dict) else None


def read_qdc_data(path: str | Path) -> tuple[dict[str, Any], list[str] | None]:
    """Read a ``.qdc`` file into codebook data (a mapping in the YAML shape), not validated.

    Returns
    -------
    data, active_modules
        The data, and the modules that were loaded when annotate exported the file (None for
        a codebook made in a QDA tool).
    """
    path = Path(path)
    if not path.is_file():
        raise CodebookError(Errors.E206.format(path=path, hint="Check the path of the .qdc file."))
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        line, column = err.position
        problem = f"broken XML at line {line}, column {column + 1} ({err})"
        raise CodebookError(Errors.E208.format(path=path, problem=problem)) from err
    book = (
        root
        if _local(root.tag) == "CodeBook"
        else next((el for el in root.iter() if _local(el.tag) == "CodeBook"), None)
    )
    if book is None:
        problem = f"its root element is <{_local(root.tag)}>, not <CodeBook>"
        raise CodebookError(Errors.E208.format(path=path, problem=problem))
    reader = _Reader(path)
    data = reader.read(book)
    return data, reader.active


class _Reader:
    """Walk a CodeBook element; annotate's JSON blocks win, foreign codes get defaults."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.codes: list[dict[str, Any]] = []
        self.groups: dict[str, dict[str, Any]] = {}
        self.by_guid: dict[str, dict[str, Any]] = {}
        self.foreign: list[str] = []
        #: file position of annotate's codes (the code tree groups them by their first group)
        self.order: dict[int, int] = {}
        #: the modules that were loaded when the codebook was exported (None: not recorded)
        self.active: list[str] | None = None

    def read(self, book: ET.Element) -> dict[str, Any]:
        for codes_el in _children(book, "Codes"):
            for el in _children(codes_el, "Code"):
                self._code(el, ancestors=[])
        header: dict[str, Any] | None = None
        for sets_el in _children(book, "Sets"):
            for el in _children(sets_el, "Set"):
                header = self._set(el) or header
        if header is None:  # a codebook made in a QDA tool
            name = self.path.stem
            header = {"id": _slug(name), "version": "1.0.0", "title": name}
            header["groups"] = list(self.groups.values())
        if self.foreign:
            examples = ", ".join(self.foreign[:3])
            warnings.warn(
                Warnings.W201.format(path=self.path, n=len(self.foreign), examples=examples),
                stacklevel=3,
            )
        groups = header.get("groups", [])
        if isinstance(groups, list):  # else the validation reports it
            known = {g.get("id") for g in groups if isinstance(g, dict)}
            header["groups"] = [*groups, *(g for g in self.groups.values() if g["id"] not in known)]
        active = header.pop("active_modules", None)
        if isinstance(active, list) and all(isinstance(m, str) for m in active):
            self.active = active
        last = len(self.codes)
        codes = sorted(self.codes, key=lambda c: self.order.get(id(c), last))
        return {**header, "codes": codes}

    def _code(self, el: ET.Element, ancestors: list[str]) -> None:
        name = el.get("name", "").strip()
        text, meta = _split(_description(el))
        if meta and isinstance(meta.get("code"), dict):
            code = dict(meta["code"])
            code["label"] = name or code.get("label")
            position = meta.get("position")
            self.order[id(code)] = position if isinstance(position, int) else len(self.order)
            self.codes.append(code)
            self.by_guid[el.get("guid", "")] = code
            return  # value children are carried in the JSON block
        if meta and isinstance(meta.get("group"), str):
            for child in _children(el, "Code"):
                self._code(child, ancestors=[*ancestors, meta["group"]])
            return
        kids = _children(el, "Code")
        tag = _slug(name)
        if kids:
            self.groups.setdefault(tag, {"id": tag, "label": name or tag, "kind": "other"})
            if text:
                self.groups[tag].setdefault("description", text)
        if el.get("isCodable", "true").lower() == "true" or not kids:
            code = {
                "id": _unique_id(tag, {c["id"] for c in self.codes}),
                "label": name or tag,
                "unit": "turn",
                "applies_to": ["user", "assistant"],
                "level": "binary",
                "group": list(dict.fromkeys(ancestors)),
                "definition": text or f"{name} (imported from REFI-QDA without a definition)",
            }
            self.codes.append(code)
            self.by_guid[el.get("guid", "")] = code
            self.foreign.append(code["id"])
        for child in kids:
            self._code(child, ancestors=[*ancestors, tag])

    def _set(self, el: ET.Element) -> dict[str, Any] | None:
        text, meta = _split(_description(el))
        if meta and isinstance(meta.get("codebook"), dict):
            return dict(meta["codebook"])
        if meta and isinstance(meta.get("group"), str):
            return None  # annotate's own group sets: the codes carry their tags
        tag = _slug(el.get("name", "set"))
        self.groups.setdefault(tag, {"id": tag, "label": el.get("name") or tag, "kind": "other"})
        if text:
            self.groups[tag].setdefault("description", text)
        for member in _children(el, "MemberCode"):
            code = self.by_guid.get(member.get("guid", ""))
            tags = code.setdefault("group", []) if code is not None else None
            if isinstance(tags, list) and tag not in tags:
                tags.append(tag)
        return None


def _description(el: ET.Element) -> str | None:
    found = _children(el, "Description")
    return found[0].text if found else None


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_.-]+", "_", name.lower()).strip("_.-")
    return slug[:64] or "code"


def _unique_id(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}"[:64] in taken:
        n += 1
    return f"{base}_{n}"[:64]


def from_qdc(path: str | Path) -> Codebook:
    """Read a ``.qdc`` file into a validated :class:`Codebook`.

    The modules loaded are those loaded when annotate exported the file (all for a codebook
    made in a QDA tool), so an annotate -> .qdc -> annotate round trip keeps the content hash.
    """
    data, active = read_qdc_data(path)
    modules = "all" if active is None else active
    return codebook_from_data(data, source=str(path), modules=modules)
