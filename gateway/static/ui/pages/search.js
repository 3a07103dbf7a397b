/* The queue page's search box: one control per field the queue's schema marks
 * `"x-conveyor-index": true` (text, a whole number, or any/true/false), giving the listing's
 * repeatable `?where=field:value` terms (every term must match). */

import { el } from "../dom.js";

const MARK = "x-conveyor-index";

/** The indexed fields of a queue (as `GET /queues` lists it): [{ name, type }], in schema order. */
export function indexedFields(info) {
  const props = (info && info.schema && info.schema.properties) || {};
  return Object.entries(props)
    .filter(([, p]) => p && p[MARK] === true && ["string", "integer", "boolean"].includes(p.type))
    .map(([name, p]) => ({ name, type: p.type }));
}

/** The value a `where` list gives `field` ("" if none). */
function valueOf(where, field) {
  const term = where.find((t) => t.startsWith(field + ":"));
  return term === undefined ? "" : term.slice(field.length + 1);
}

/** The form: `where` fills it; `go(terms)` runs on submit (terms: ["field:value", ...]). */
export function searchForm(fields, where, go) {
  const controls = fields.map((f) => {
    const id = "search-" + f.name;
    const value = valueOf(where, f.name);
    const control = f.type === "boolean"
      ? el("select", { id, "data-field": f.name },
        ["", "true", "false"].map((v) => el("option", { value: v, selected: v === value }, v || "any")))
      : el("input", { id, "data-field": f.name, type: f.type === "integer" ? "number" : "search",
        step: f.type === "integer" ? "1" : null, value, spellcheck: "false",
        placeholder: f.type === "integer" ? "whole number" : "exact text" });
    return { f, control, label: el("label", {}, f.name + " ", control) };
  });
  const terms = () => controls
    .filter(({ control }) => control.value !== "")
    .map(({ f, control }) => f.name + ":" + control.value);
  return el("form", { class: "inline search", id: "search", role: "search",
    onsubmit: (e) => { e.preventDefault(); go(terms()); } },
  el("span", { class: "muted" }, "Search"), controls.map((c) => c.label),
  el("button", { type: "submit", id: "search-go" }, "Search"),
  where.length ? el("button", { type: "button", id: "search-clear", onclick: () => go([]) }, "Clear") : null);
}
