"""The printable coding manual of a codebook: self-contained HTML or Markdown.

Codes are grouped by unit and speaker (turn codes of the assistant, of the user, …; then
conversation ratings) and, inside each, by need (groups of kind ``need``; a code with two needs
is listed under the first). Every code shows its definition, when to use, when not to use,
values, examples, near misses, cues, shortcut key and evidence spans (when it takes them). All
codebook text is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from annotate.codebook.model import Code, Codebook
from annotate.errors import CodebookError, Errors

ROLE_ORDER = ("assistant", "user", "system", "tool")
ROLE_NAMES = {"assistant": "Assistant", "user": "User", "system": "System", "tool": "Tool"}
OTHER = "Other codes"

Section = tuple[str, str, list[tuple[str, list[Code]]]]  # (anchor, title, [(need, codes)])


def sections(codebook: Codebook) -> list[Section]:
    """The manual's structure: (anchor, title, [(need label, codes)]) in manual order."""
    needs = [g for g in codebook.groups if g.kind == "need"]
    out: list[Section] = []
    turn = codebook.codes_for("turn")
    scopes = sorted(
        {tuple(r for r in ROLE_ORDER if r in c.applies_to) for c in turn},
        key=lambda s: (len(s), [ROLE_ORDER.index(r) for r in s]),
    )
    for scope in scopes:
        codes = [c for c in turn if tuple(r for r in ROLE_ORDER if r in c.applies_to) == scope]
        title = " and ".join(ROLE_NAMES[r] for r in scope) + " turns"
        out.append(("turn-" + "-".join(scope), title, _by_need(codes, needs)))
    conv = list(codebook.codes_for("conversation"))
    if conv:
        out.append(("conversation", "Conversation ratings", _by_need(conv, needs)))
    return out


def _by_need(codes: list[Code], needs: list[Any]) -> list[tuple[str, list[Code]]]:
    groups: list[tuple[str, list[Code]]] = []
    placed: set[str] = set()
    for need in needs:
        mine = [c for c in codes if c.id not in placed and need.id in c.groups]
        placed.update(c.id for c in mine)
        if mine:
            groups.append((need.label, mine))
    rest = [c for c in codes if c.id not in placed]
    if rest:
        groups.append((OTHER if groups else "", rest))
    return groups


def _meta(code: Code, codebook: Codebook) -> list[tuple[str, str]]:
    labels = {g.id: g.label for g in codebook.groups}
    rows = [
        ("Unit", code.unit),
        ("Applies to", ", ".join(code.applies_to)),
        ("Level", code.level),
        ("Groups", ", ".join(labels.get(t, t) for t in code.groups) or "–"),
    ]
    if code.module:
        rows.append(("Module", code.module))
    if code.key:
        rows.append(("Key", code.key))
    if code.evidence != "none":
        rows.append(("Evidence", f"{code.evidence} (mark the words that justify the code)"))
    return rows


def _cue_text(cue: Any) -> str:
    if isinstance(cue, str):
        return cue
    return " ".join("{" + ", ".join(f"{k}: {v}" for k, v in token.items()) + "}" for token in cue)


# --- HTML ---------------------------------------------------------------------------------

CSS = """
body { font: 11pt/1.45 Georgia, 'Times New Roman', serif; max-width: 48em; margin: 2em auto;
       padding: 0 1em; color: #111; }
h1, h2, h3, h4 { font-family: Helvetica, Arial, sans-serif; line-height: 1.2; }
h2 { border-bottom: 2px solid #333; padding-bottom: .2em; margin-top: 2em; }
h3 { color: #333; margin-top: 1.5em; }
.code { border: 1px solid #bbb; border-radius: 4px; padding: .4em 1em .8em; margin: 1em 0;
        page-break-inside: avoid; break-inside: avoid; }
.code h4 { margin: .4em 0; font-size: 1.1em; }
.code h4 code { font-weight: normal; color: #555; font-size: .85em; }
.meta { font: 9pt Helvetica, Arial, sans-serif; color: #444; margin: 0 0 .5em; }
.meta span { margin-right: 1.2em; }
dt { font-weight: bold; font-family: Helvetica, Arial, sans-serif; font-size: .9em;
     margin-top: .5em; }
dd { margin-left: 1.2em; }
table { border-collapse: collapse; margin: .3em 0; }
td, th { border: 1px solid #ccc; padding: .15em .5em; vertical-align: top; text-align: left; }
.context { color: #666; font-style: italic; }
nav ol ol { columns: 2; }
.hash { font-family: monospace; font-size: 9pt; word-break: break-all; }
@media print { nav { page-break-after: always; } a { color: inherit; text-decoration: none; } }
"""


def _e(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def render_html(codebook: Codebook) -> str:
    """The manual as one self-contained, printable HTML page (every text escaped)."""
    ids = set(codebook.code_ids)
    link = _linker(ids)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(codebook.title)} v{_e(codebook.version)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_e(codebook.title)}</h1>",
        f"<p class='meta'><span>id <b>{_e(codebook.id)}</b></span>"
        f"<span>version <b>{_e(codebook.version)}</b></span>"
        f"<span>{len(codebook.codes)} codes</span>"
        f"<span>modules: {_e(', '.join(codebook.active_modules) or 'core only')}</span></p>",
        f"<p class='hash'>sha256 {_e(codebook.hash)}</p>",
        f"<p>{link(_e(codebook.description))}</p>" if codebook.description else "",
        _html_toc(codebook),
    ]
    for anchor, title, needs in sections(codebook):
        parts.append(f'<section id="{anchor}"><h2>{_e(title)}</h2>')
        for need, codes in needs:
            if need:
                parts.append(f"<h3>{_e(need)}</h3>")
            parts.extend(_html_code(c, codebook, link) for c in codes)
        parts.append("</section>")
    parts.append(_html_groups(codebook))
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)


def _linker(ids: set[str]) -> Callable[[str], str]:
    """Turn code ids mentioned in (already escaped) text into links to their entries."""
    if not ids:
        return lambda text: text
    pattern = re.compile(
        r"(?<![\w.&#-])("
        + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        + r")(?![\w-])"
    )
    return lambda text: pattern.sub(r'<a href="#code-\1">\1</a>', text)


def _html_toc(codebook: Codebook) -> str:
    items = []
    for anchor, title, needs in sections(codebook):
        codes = "".join(
            f'<li><a href="#code-{_e(c.id)}">{_e(c.label)}</a></li>' for _, cs in needs for c in cs
        )
        items.append(f'<li><a href="#{anchor}">{_e(title)}</a><ol>{codes}</ol></li>')
    items.append('<li><a href="#groups">Groups and modules</a></li>')
    return f"<nav><h2>Contents</h2><ol>{''.join(items)}</ol></nav>"


def _html_code(code: Code, codebook: Codebook, link: Callable[[str], str]) -> str:
    meta = "".join(f"<span>{_e(k)}: <b>{_e(v)}</b></span>" for k, v in _meta(code, codebook))
    out = [
        f'<article class="code" id="code-{_e(code.id)}">',
        f"<h4>{_e(code.label)} <code>{_e(code.id)}</code></h4>",
        f"<p class='meta'>{meta}</p><dl>",
        f"<dt>Definition</dt><dd>{link(_e(code.definition))}</dd>",
    ]
    if code.when_to_use:
        out.append(f"<dt>When to use</dt><dd>{link(_e(code.when_to_use))}</dd>")
    if code.when_not_to_use:
        out.append(f"<dt>When not to use</dt><dd>{link(_e(code.when_not_to_use))}</dd>")
    if code.level == "binary" and not any(v.definition for v in code.values):
        pairs = ", ".join(f"<code>{_e(v.value)}</code> = {_e(v.label)}" for v in code.values)
        out.append(f"<dt>Values</dt><dd>{pairs}</dd>")
    elif code.values:
        rows = "".join(
            f"<tr><td><code>{_e(v.value)}</code></td><td>{_e(v.label)}</td>"
            f"<td>{link(_e(v.definition))}</td></tr>"
            for v in code.values
        )
        out.append(
            "<dt>Values</dt><dd><table><tr><th>value</th><th>label</th><th>definition</th>"
            f"</tr>{rows}</table></dd>"
        )
    if code.examples:
        items = "".join(
            "<li>"
            + (f"<span class='context'>before: {_e(x.context)}</span><br>" if x.context else "")
            + f"{_e(x.text)}</li>"
            for x in code.examples
        )
        out.append(f"<dt>Examples</dt><dd><ul>{items}</ul></dd>")
    if code.near_misses:
        items = "".join(
            f"<li>{_e(x.text)}<br><i>Why not:</i> {link(_e(x.why))}</li>" for x in code.near_misses
        )
        out.append(f"<dt>Near misses</dt><dd><ul>{items}</ul></dd>")
    if code.cues:
        cues = ", ".join(f"<q>{_e(_cue_text(q))}</q>" for q in code.cues)
        out.append(f"<dt>Cues (for highlighting, not definitional)</dt><dd>{cues}</dd>")
    out.append("</dl></article>")
    return "".join(out)


def _html_groups(codebook: Codebook) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(g.id)}</code></td><td>{_e(g.label)}</td><td>{_e(g.kind)}</td>"
        f"<td>{_e(g.description)}</td></tr>"
        for g in codebook.groups
    )
    mods = "".join(
        f"<tr><td><code>{_e(m.id)}</code></td><td>{_e(m.label)}</td>"
        f"<td>{'yes' if m.id in codebook.active_modules else 'no'}</td>"
        f"<td>{_e(m.description)}</td></tr>"
        for m in codebook.modules
    )
    out = (
        '<section id="groups"><h2>Groups and modules</h2><table><tr><th>group</th><th>label</th>'
        f"<th>kind</th><th>description</th></tr>{rows}</table>"
    )
    if mods:
        out += (
            "<h3>Modules</h3><table><tr><th>module</th><th>label</th><th>loaded</th>"
            f"<th>description</th></tr>{mods}</table>"
        )
    return out + "</section>"


# --- Markdown -----------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def _m(text: str | None) -> str:
    """Escape Markdown (and inline HTML): the text renders literally."""
    text = (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def render_markdown(codebook: Codebook) -> str:
    """The manual as Markdown (every text escaped so that it renders literally)."""
    lines = [
        f"# {_m(codebook.title)}",
        "",
        f"id `{codebook.id}` · version `{codebook.version}` · {len(codebook.codes)} codes · "
        f"modules: {_m(', '.join(codebook.active_modules) or 'core only')}  ",
        f"sha256 `{codebook.hash}`",
        "",
    ]
    if codebook.description:
        lines += [_m(codebook.description), ""]
    lines += ["## Contents", ""]
    for anchor, title, needs in sections(codebook):
        lines.append(f"- [{_m(title)}](#{anchor})")
        lines += [f"  - [{_m(c.label)}](#code-{c.id})" for _, cs in needs for c in cs]
    lines += ["- [Groups and modules](#groups)", ""]
    for anchor, title, needs in sections(codebook):
        lines += [f'<a id="{anchor}"></a>', "", f"## {_m(title)}", ""]
        for need, codes in needs:
            if need:
                lines += [f"### {_m(need)}", ""]
            for code in codes:
                lines += _md_code(code, codebook)
    lines += ['<a id="groups"></a>', "", "## Groups and modules", ""]
    lines += ["| group | label | kind | description |", "|---|---|---|---|"]
    lines += [
        f"| `{g.id}` | {_m(g.label)} | {g.kind} | {_m(g.description)} |" for g in codebook.groups
    ]
    if codebook.modules:
        lines += ["", "| module | label | loaded | description |", "|---|---|---|---|"]
        lines += [
            f"| `{m.id}` | {_m(m.label)} | {'yes' if m.id in codebook.active_modules else 'no'} "
            f"| {_m(m.description)} |"
            for m in codebook.modules
        ]
    return "\n".join(lines) + "\n"


def _md_code(code: Code, codebook: Codebook) -> list[str]:
    meta = " · ".join(f"{k}: **{_m(v)}**" for k, v in _meta(code, codebook))
    out = [f'<a id="code-{code.id}"></a>', "", f"#### {_m(code.label)} (`{code.id}`)", "", meta]
    out += ["", f"**Definition.** {_m(code.definition)}", ""]
    if code.when_to_use:
        out += [f"**When to use.** {_m(code.when_to_use)}", ""]
    if code.when_not_to_use:
        out += [f"**When not to use.** {_m(code.when_not_to_use)}", ""]
    if code.values:
        out += ["| value | label | definition |", "|---|---|---|"]
        out += [f"| `{v.value}` | {_m(v.label)} | {_m(v.definition)} |" for v in code.values]
        out.append("")
    if code.examples:
        out += ["**Examples.**", ""]
        for x in code.examples:
            before = f"*(before: {_m(x.context)})* " if x.context else ""
            out.append(f"- {before}{_m(x.text)}")
        out.append("")
    if code.near_misses:
        out += ["**Near misses.**", ""]
        out += [f"- {_m(x.text)} — *why not:* {_m(x.why)}" for x in code.near_misses]
        out.append("")
    if code.cues:
        out += ["**Cues** (not definitional): " + ", ".join(_m(_cue_text(q)) for q in code.cues)]
        out.append("")
    return out


def write_manual(codebook: Codebook, out: str | Path) -> Path:
    """Write the manual to ``out``; the suffix (``.html``/``.htm`` or ``.md``) picks the format."""
    out = Path(out)
    renderers = {".html": render_html, ".htm": render_html, ".md": render_markdown}
    render = renderers.get(out.suffix.lower())
    if render is None:
        raise CodebookError(
            Errors.E209.format(
                what="manual format (file suffix)",
                value=out.suffix or out.name,
                available=".html, .md",
            )
        )
    out.write_text(render(codebook), encoding="utf-8")
    return out
