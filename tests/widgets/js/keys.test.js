// The widgets' keys: which key each code gets, and the two-step state machine of the annotator
// (README "Annotating in a notebook" key table). Run: node --test tests/widgets/js/
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  adjudicatorKey, annotatorKey, assignKeys, KEY_HELP, keyRange, panelKeys, PASS, pickHint, POOL,
  RESERVED, SWALLOW, valueKeys,
} from "../../../annotate/widgets/js/keys.js";

// --- key assignment ------------------------------------------------------------------------------
test("assignment: codebook keys kept, the others get free pool keys in codebook order", () => {
  const keys = assignKeys([
    { id: "a1", key: "a", panels: ["turn:assistant"] },
    { id: "a2", key: null, panels: ["turn:assistant"] },
    { id: "a3", key: "1", panels: ["turn:assistant"] }, // a codebook may not use 1-9, but if it did
    { id: "a4", key: undefined, panels: ["turn:assistant"] },
    { id: "u1", key: null, panels: ["turn:user"] },
    { id: "c1", key: null, panels: ["conversation"] },
    { id: "c2", key: "a", panels: ["conversation"] }, // keys are unique within a panel, not across
  ]);
  assert.deepEqual(Object.fromEntries(keys), { a1: "a", a3: "1", a2: "2", a4: "3", u1: "1", c2: "a", c1: "1" });
});

test("assignment: a key the widget uses itself, or a repeated key, is replaced", () => {
  const keys = assignKeys([
    { id: "x", key: "j", panels: ["turn:user"] },
    { id: "y", key: "!", panels: ["turn:user"] },
    { id: "z", key: "s", panels: ["turn:user"] },
    { id: "w", key: "s", panels: ["turn:user"] },
    { id: "sp", key: " ", panels: ["turn:user"] },
  ]);
  assert.equal(keys.get("z"), "s");
  assert.deepEqual([keys.get("x"), keys.get("y"), keys.get("w"), keys.get("sp")], ["1", "2", "3", "4"]);
  for (const k of ["j", "k", "n", "p", "u", "?", "!", ".", "Tab", "Enter", "Escape", "Backspace"]) {
    assert.ok(RESERVED.has(k), k);
    assert.ok(!POOL.includes(k), k);
  }
});

test("assignment: a code shown in several panels has one key, free in all of them", () => {
  const keys = assignKeys([
    { id: "u", key: null, panels: ["turn:user"] },
    { id: "both", key: null, panels: ["turn:user", "turn:assistant"] },
    { id: "a", key: null, panels: ["turn:assistant"] },
  ]);
  assert.deepEqual(Object.fromEntries(keys), { u: "1", both: "2", a: "1" });
});

test("assignment: the SDT codebook's assistant turns with every module: 21 codes, 21 keys", () => {
  // the shape of codebooks/sdt-socioaffective.yaml: 9 keyed binary codes of which one has no key,
  // the primary move (the 10th code, no key) and 11 module codes without keys
  const keyed = ["a", "c", "s", null, "e", "d", "b", "t", "r"];
  const codes = keyed.map((key, i) => ({ id: `b${i}`, key, panels: ["turn:assistant"] }));
  codes.push({ id: "ai_primary_move", key: null, panels: ["turn:assistant"] });
  for (let i = 0; i < 11; i++) codes.push({ id: `m${i}`, key: null, panels: ["turn:assistant"] });
  const keys = assignKeys(codes);
  const all = [...keys.values()];
  assert.equal(all.length, 21);
  assert.equal(new Set(all).size, 21);
  assert.ok(all.every((k) => k && !RESERVED.has(k)));
  assert.equal(keys.get("b3"), "1");
  assert.equal(keys.get("ai_primary_move"), "2");
  assert.equal(keys.get("m7"), "0");
  assert.equal(keys.get("m8"), "f"); // a, b, c, d, e are codebook keys: the next free letter
});

test("assignment: the pool runs out after every key is taken", () => {
  const codes = Array.from({ length: POOL.length + 2 }, (_, i) => ({ id: `c${i}`, key: null, panels: ["p"] }));
  const keys = assignKeys(codes);
  assert.equal(keys.get(`c${POOL.length - 1}`), POOL.at(-1));
  assert.equal(keys.get(`c${POOL.length}`), null);
});

test("value keys and how they are said", () => {
  assert.deepEqual(valueKeys(5), ["1", "2", "3", "4", "5"]);
  assert.deepEqual(valueKeys(12).slice(8), ["9", "0", "a", "b"]);
  assert.equal(keyRange(1), "1");
  assert.equal(keyRange(5), "1–5");
  assert.equal(keyRange(10), "1–9, 0");
  assert.equal(keyRange(11), "1–9, 0, a");
  assert.equal(keyRange(12), "1–9, 0, a–b");
  assert.ok(!valueKeys(POOL.length).some((k) => RESERVED.has(k))); // never j, k, n, p, u...
});

// --- the annotator's state machine ---------------------------------------------------------------
const vals = (...ids) => ids.map((v) => ({ value: v, label: v.toUpperCase() }));
const CODES = {
  emp: { id: "emp", label: "Empathy", level: "binary", values: vals("0", "1") },
  move: { id: "move", label: "Primary move", level: "nominal", values: vals("listen", "ask", "inform", "advise", "direct", "other", "x7", "x8", "x9", "x10", "x11", "x12") },
  emo: { id: "emo", label: "Emotions", level: "set", values: vals("sad", "anx", "anger") },
  seek: { id: "seek", label: "Seeks support", level: "binary", values: vals("0", "1") },
  warm: { id: "warm", label: "Warmth", level: "ordinal", values: vals("1", "2", "3", "4", "5") },
  risk: { id: "risk", label: "Risk", level: "binary", values: vals("0", "1") },
};
const keyOf = new Map([["emp", "e"], ["move", "2"], ["emo", "1"], ["seek", "s"], ["warm", "w"], ["risk", "x"]]);
const roleKeys = new Map([
  ["assistant", panelKeys([CODES.emp, CODES.move], keyOf)],
  ["user", panelKeys([CODES.seek, CODES.emo], keyOf)],
]);
const ctx = (over = {}) => ({
  active: true, help: false, hidden: false, turn: { i: 3, role: "assistant" },
  turnKeys: roleKeys.get("assistant"), convKeys: panelKeys([CODES.warm, CODES.risk], keyOf), roleKeys,
  codes: CODES, ...over,
});
const TURN = { panel: "turn", pick: null };
const CONV = { panel: "conversation", pick: null };
const ev = (k, over = {}) => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, typing: false, ...over });
const press = (S, k, c = ctx(), over = {}) => annotatorKey(S, ev(k, over), c);
// a run of keys from a state: the actions taken and the state after
function run(S, keys, c = ctx()) {
  const actions = [];
  for (const k of keys) {
    const r = press(S, k, c);
    actions.push(r.action);
    S = r.S;
  }
  return { S, actions };
}

test("annotator: the widget's own keys (README key table)", () => {
  assert.deepEqual(press(TURN, "j").action, { type: "focus", by: 1 });
  assert.deepEqual(press(TURN, "ArrowDown").action, { type: "focus", by: 1 });
  assert.deepEqual(press(TURN, "k").action, { type: "focus", by: -1 });
  assert.deepEqual(press(TURN, "ArrowUp").action, { type: "focus", by: -1 });
  assert.deepEqual(press(TURN, "n").action, { type: "nav", to: "finish" });
  assert.deepEqual(press(TURN, "p").action, { type: "nav", to: "prev" });
  assert.deepEqual(press(TURN, "u").action, { type: "undo" });
  assert.deepEqual(press(TURN, "?").action, { type: "help", show: true });
  assert.deepEqual(press(TURN, "!").action, { type: "flag", ti: 3 });
  assert.deepEqual(press(CONV, "!").action, { type: "flag", ti: null });
  assert.deepEqual(press(TURN, ".").action, { type: "memo", ti: 3 });
  assert.deepEqual(press(CONV, "Enter").action, { type: "done" });
  assert.deepEqual(press(TURN, "Enter", ctx(), { shiftKey: true }).action, { type: "skip" });
  assert.deepEqual(press(CONV, "Enter", ctx(), { shiftKey: true }).action, { type: "skip" });
});

test("annotator: Tab moves the keys between the turn panel and the conversation panel", () => {
  const r = press(TURN, "Tab");
  assert.deepEqual(r.S, CONV);
  assert.deepEqual(r.action, { type: "panel", panel: "conversation" });
  assert.deepEqual(press(CONV, "Tab").S, TURN);
  // the same key acts on the panel that has the keys
  assert.deepEqual(press(TURN, "1", ctx({ turn: { i: 0, role: "user" }, turnKeys: roleKeys.get("user") })).action,
    { type: "pick", id: "emo", ti: 0 });
  assert.deepEqual(press(CONV, "w").action, { type: "pick", id: "warm", ti: null });
  assert.match(press(CONV, "1").say, /“1” is Emotions, for user turns/);
  assert.deepEqual(press(CONV, "x").action, { type: "toggle", id: "risk", ti: null });
});

test("annotator: a binary code's key toggles it on the focused turn", () => {
  assert.deepEqual(press(TURN, "e").action, { type: "toggle", id: "emp", ti: 3 });
  assert.deepEqual(press(TURN, "e").S, TURN);
});

test("annotator: a choice code takes two keys, the code's then the value's", () => {
  const first = press(TURN, "2");
  assert.deepEqual(first.S, { panel: "turn", pick: { id: "move", ti: 3 } });
  assert.deepEqual(first.action, { type: "pick", id: "move", ti: 3 });
  assert.equal(first.say, pickHint(CODES.move));
  assert.match(first.say, /Primary move: 1–9, 0, a–b chooses a value/);
  // the second key chooses the value and ends the wait
  const second = press(first.S, "4");
  assert.deepEqual(second.action, { type: "choose", id: "move", ti: 3, value: "advise" });
  assert.deepEqual(second.S, TURN);
  assert.equal(second.say, "");
  // values past the ninth: 0, then letters
  assert.equal(run(TURN, ["2", "0"]).actions[1].value, "x10");
  assert.equal(run(TURN, ["2", "b"]).actions[1].value, "x12");
  // the conversation panel: the same machine
  assert.deepEqual(run(CONV, ["w", "5"]).actions[1], { type: "choose", id: "warm", ti: null, value: "5" });
});

test("annotator: while a code waits: Backspace clears, Esc / Enter / its own key cancel", () => {
  const waiting = press(TURN, "2").S;
  assert.deepEqual(press(waiting, "Backspace").action, { type: "clear", id: "move", ti: 3 });
  assert.deepEqual(press(waiting, "Delete").S, TURN);
  for (const k of ["Escape", "Enter"]) {
    const r = press(waiting, k);
    assert.deepEqual(r.S, TURN, k);
    assert.deepEqual(r.action, { type: "pick-end" }, k);
  }
  // the code's own key again (when it is no value key: "2" is the move's 2nd value)
  assert.equal(press(waiting, "2").action.type, "choose");
  const warm = press(CONV, "w").S;
  assert.deepEqual(press(warm, "w"), { S: CONV, action: { type: "pick-end" }, say: "" });
});

test("annotator: while a code waits: a key that is no value says so and keeps waiting", () => {
  const conv = press(CONV, "w").S; // warmth has 5 values
  const r = press(conv, "7");
  assert.deepEqual(r.S, conv);
  assert.equal(r.action, SWALLOW);
  assert.match(r.say, /“7” is not a value of Warmth: 1–5/);
  assert.equal(press(conv, "Shift").say, undefined); // a modifier on its way: silent
  // moving, navigating or switching panels ends the wait and does what the key says
  const j = press(conv, "j");
  assert.deepEqual(j.action, { type: "focus", by: 1, endPick: true });
  assert.deepEqual(j.S, CONV);
  assert.deepEqual(press(conv, "Tab").S, TURN);
  assert.deepEqual(press(conv, "n").action, { type: "nav", to: "finish", endPick: true });
});

test("annotator: a set code takes several values until Enter", () => {
  const user = ctx({ turn: { i: 0, role: "user" }, turnKeys: roleKeys.get("user") });
  const { S, actions } = run(TURN, ["1", "1", "3", "1", "Enter"], user);
  assert.deepEqual(actions, [
    { type: "pick", id: "emo", ti: 0 },
    { type: "choose", id: "emo", ti: 0, value: "sad" },
    { type: "choose", id: "emo", ti: 0, value: "anger" },
    { type: "choose", id: "emo", ti: 0, value: "sad" }, // again: untick
    { type: "pick-end" },
  ]);
  assert.deepEqual(S, TURN);
  assert.deepEqual(run(TURN, ["1", "Backspace"], user).actions[1], { type: "clear", id: "emo", ti: 0 });
});

test("annotator: a key that cannot act says why", () => {
  // a key of the other panel
  assert.match(press(TURN, "x").say, /“x” is Risk, a conversation code: Tab goes to the conversation panel/);
  assert.match(press(CONV, "e").say, /“e” is Empathy, a code of this assistant turn: Tab goes to the turn panel/);
  // a key of the other role's turns
  assert.match(press(TURN, "s").say, /“s” is Seeks support, for user turns/);
  // a key no code has, Caps Lock, and Enter outside the conversation panel
  assert.match(press(TURN, "z").say, /“z” is not a key of this turn \(\? lists the keys\)/);
  assert.match(press(CONV, "z").say, /not a key of the conversation panel/);
  assert.match(press(TURN, "E").say, /Caps Lock/);
  assert.match(press(TURN, "Enter").say, /from the conversation panel: Tab goes there/);
  assert.match(press(TURN, "Backspace").say, /press the code's key first/);
  for (const k of ["z", "Enter", "Backspace", "E", "x"]) assert.equal(press(TURN, k).action, SWALLOW, k);
  assert.equal(press(TURN, "F5").say, undefined); // not a character: no message
  // no turn to code
  assert.match(press(TURN, "e", ctx({ turn: null, turnKeys: new Map() })).say, /“e” is Empathy, for assistant turns/);
  assert.match(press(TURN, "z", ctx({ turn: null, turnKeys: new Map() })).say, /not a key of this turn/);
  assert.match(press(TURN, "!", ctx({ turn: null, turnKeys: new Map() })).say, /No turn is focused/);
  // nothing acts before a coder is picked
  const none = press(TURN, "j", ctx({ active: false }));
  assert.equal(none.action, SWALLOW);
  assert.match(none.say, /Pick your name first/);
});

test("annotator: behind a content note nothing is coded; Enter shows it, Shift+Enter skips", () => {
  const hidden = ctx({ hidden: true });
  for (const [S, k] of [[TURN, "e"], [TURN, "2"], [CONV, "w"], [CONV, "x"], [TURN, "j"], [CONV, "!"], [TURN, "."]]) {
    const r = press(S, k, hidden);
    assert.equal(r.action, SWALLOW, k);
    assert.match(r.say, /behind its content note: Enter shows it/, k);
  }
  assert.deepEqual(press(CONV, "Enter", hidden).action, { type: "reveal" });
  assert.deepEqual(press(TURN, "Enter", hidden).action, { type: "reveal" });
  assert.deepEqual(press(CONV, "Enter", hidden, { shiftKey: true }).action, { type: "skip" });
});

test("annotator: the help overlay takes the keys while open", () => {
  const open = ctx({ help: true });
  assert.deepEqual(press(TURN, "?", open).action, { type: "help", show: false });
  assert.deepEqual(press(TURN, "Escape", open).action, { type: "help", show: false });
  assert.deepEqual(press(TURN, "j", open).action, { type: "help-scroll", lines: 1 });
  assert.deepEqual(press(TURN, "PageUp", open).action, { type: "help-scroll", lines: -8 });
  const e = press(TURN, "e", open);
  assert.equal(e.action, SWALLOW);
  assert.match(e.say, /Esc or \? closes it/);
});

test("annotator: modifiers pass to the notebook, typing stays in the field", () => {
  for (const mod of ["ctrlKey", "metaKey", "altKey"]) assert.equal(press(TURN, "j", ctx(), { [mod]: true }).action, PASS);
  assert.equal(press(TURN, "j", ctx(), { typing: true }).action, SWALLOW);
  assert.equal(press(TURN, "Tab", ctx(), { typing: true }).action, SWALLOW); // the browser's Tab
  assert.deepEqual(press(TURN, "Escape", ctx(), { typing: true }).action, { type: "leave-field" });
});

test("annotator: evidence keys (arrows select words, a code's key attaches, Delete removes)", () => {
  assert.deepEqual(press(TURN, "ArrowRight").action, { type: "sel", op: "next" });
  assert.deepEqual(press(TURN, "ArrowLeft").action, { type: "sel", op: "prev" });
  assert.deepEqual(press(TURN, "ArrowRight", ctx(), { shiftKey: true }).action, { type: "sel", op: "extend" });
  assert.deepEqual(press(TURN, "ArrowLeft", ctx(), { shiftKey: true }).action, { type: "sel", op: "shrink" });
  assert.match(press(CONV, "ArrowRight").say, /Tab goes to the turn panel/);
  assert.match(press(TURN, "ArrowRight", ctx({ hidden: true })).say, /content note/);
  assert.match(press(TURN, "ArrowRight", ctx({ turn: null })).say, /No turn is focused/);
  const sel = ctx({ sel: true });
  assert.deepEqual(press(TURN, "Escape", sel).action, { type: "sel", op: "clear" });
  assert.deepEqual(press(TURN, "Escape").action, SWALLOW);
  assert.deepEqual(press(TURN, "Delete", sel).action, { type: "unmark" });
  assert.deepEqual(press(TURN, "Backspace", sel).action, { type: "unmark" });
  assert.match(press(TURN, "Delete").say, /with words selected, Delete removes their evidence/);
  // a binary code's key with words selected: the same toggle action (the view attaches)
  assert.deepEqual(press(TURN, "e", sel).action, { type: "toggle", id: "emp", ti: 3 });
  // a choice code: its value's key takes the words along and ends the wait (set codes too)
  const r = run(TURN, ["1"], ctx({ sel: true, turn: { i: 2, role: "user" }, turnKeys: roleKeys.get("user") }));
  assert.deepEqual(r.S.pick, { id: "emo", ti: 2 });
  const picked = press(r.S, "1", ctx({ sel: true, turn: { i: 2, role: "user" }, turnKeys: roleKeys.get("user") }));
  assert.equal(picked.S.pick, null);
  assert.deepEqual(picked.action, { type: "choose", id: "emo", ti: 2, value: CODES.emo.values[0].value });
  assert.match(press(TURN, "2", sel).say, /for the selected words, Enter keeps the current value/);
  const waiting = press(TURN, "2", sel).S;
  assert.deepEqual(press(waiting, "Enter", sel).action, { type: "attach", id: "move", ti: 3 });
  assert.deepEqual(press(waiting, "Enter").action, { type: "pick-end" });
});

test("the README's key table is the help overlay's (KEY_HELP)", () => {
  const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("| key | does |");
  assert.ok(start > 0, "README has no key table");
  const rows = readme.slice(start).split("\n").slice(2).filter((l) => l.startsWith("|"));
  const table = [];
  for (const line of rows) {
    const cells = line.split(" | ").map((c) => c.replace(/^\| ?| ?\|$/g, "").trim());
    if (cells.length !== 2) break;
    table.push(cells);
  }
  const plain = (s) => s.replace(/`/g, "");
  assert.deepEqual(table.map(([k, d]) => [plain(k), plain(d)]), KEY_HELP.map(([k, d]) => [plain(k), plain(d)]));
});

// --- the adjudicator -----------------------------------------------------------------------------
test("adjudicator: values, navigation, submit", () => {
  const c = { nValues: 3, hasItem: true };
  const key = (k, over = {}) => ev(k, over);
  assert.deepEqual(adjudicatorKey(key("2"), c), { type: "pick", n: 1 });
  assert.deepEqual(adjudicatorKey(key("4"), c), { type: "ignored" });
  assert.deepEqual(adjudicatorKey(key("1"), { nValues: 3, hasItem: false }), { type: "ignored" });
  assert.deepEqual(adjudicatorKey(key("n"), c), { type: "nav", to: "next" });
  assert.deepEqual(adjudicatorKey(key("p"), c), { type: "nav", to: "prev" });
  assert.deepEqual(adjudicatorKey(key("Enter"), c), { type: "submit" });
  assert.deepEqual(adjudicatorKey(key("Enter", { ctrlKey: true, typing: true }), c), { type: "submit" });
  assert.deepEqual(adjudicatorKey(key("Enter", { metaKey: true }), c), { type: "submit" });
  assert.deepEqual(adjudicatorKey(key("Enter", { typing: true }), c), SWALLOW); // a newline in the memo
  assert.deepEqual(adjudicatorKey(key("Escape", { typing: true }), c), { type: "leave-field" });
  assert.equal(adjudicatorKey(key("n", { altKey: true }), c), PASS);
  assert.deepEqual(adjudicatorKey(key("?"), c), { type: "help" });
  assert.deepEqual(adjudicatorKey(key("Escape"), c), { type: "help", show: false });
});
