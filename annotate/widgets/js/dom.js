// annotate: the only DOM-building code of the widgets.
// Safety: text reaches the page through textContent and text nodes only. `materialize` turns a
// view tree (plain objects, see markdown.js) into DOM nodes; it accepts only the tags and
// attributes listed below, so a view tree can never add a script, a handler or a live link.

export const SAFE_TAGS = new Set([
  "p", "div", "span", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li",
  "table", "thead", "tbody", "tr", "th", "td", "br", "hr", "mark",
]);
export const SAFE_ATTRS = new Set(["start", "title", "role", "aria-level", "data-lang", "data-align",
  "data-src", "data-codes"]);

export function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function button(cls, text, onClick, title) {
  const b = h("button", cls, text);
  b.type = "button";
  if (title) b.title = title;
  if (onClick) b.addEventListener("click", onClick);
  return b;
}

// whether a key event comes from a field the coder types in (keys stay there). A checkbox or a
// select is not one: keys pressed there go to the widget (which then takes the focus back).
const TEXT_INPUTS = new Set(["", "text", "search", "email", "url", "tel", "password", "number"]);
export function isTyping(t) {
  if (!t) return false;
  if (t.tagName === "TEXTAREA" || t.isContentEditable) return true;
  return t.tagName === "INPUT" && TEXT_INPUTS.has((t.getAttribute("type") || "").toLowerCase());
}

// A view node ({tag, cls, attrs, text, children} or a string) as a DOM node. `doc` is the
// document (a parameter so that node's test runner can check the calls with a stand-in).
export function materialize(view, doc = globalThis.document) {
  if (typeof view === "string") return doc.createTextNode(view);
  if (!SAFE_TAGS.has(view.tag)) throw new Error(`annotate: tag ${view.tag} is not allowed`);
  const node = doc.createElement(view.tag);
  if (view.cls) node.className = view.cls;
  for (const [name, value] of Object.entries(view.attrs || {})) {
    if (!SAFE_ATTRS.has(name)) throw new Error(`annotate: attribute ${name} is not allowed`);
    node.setAttribute(name, String(value));
  }
  if (view.text !== undefined) node.textContent = String(view.text);
  for (const child of view.children || []) node.append(materialize(child, doc));
  return node;
}
