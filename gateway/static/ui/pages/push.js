/* `#/queue/NAME/push`: a form that pushes a JSON message (optionally delayed), with the
 * queue's schema as a table of fields; a 422's errors appear next to the fields they name
 * and as the API's list of paths. */

import { api, explain, queuePath } from "../api.js";
import { queueInfo } from "../catalog.js";
import { crumbs, el, notice, pretty } from "../dom.js";

export async function pushPage(app, queue) {
  const info = await queueInfo(queue);
  const view = el("section", { id: "push-page" },
    crumbs(["Queues", "#/"], [queue, "#/queue/" + encodeURIComponent(queue)], ["Push"]),
    el("h1", {}, "Push to " + queue));
  const schema = info ? info.schema : null;
  const fields = schemaFields(schema);
  const text = el("textarea", { id: "push-body", rows: "10", spellcheck: "false", "aria-label": "message JSON" },
    JSON.stringify(exampleOf(schema), null, 2));
  const delay = el("input", { id: "push-delay", type: "number", min: "0", step: "1", placeholder: "seconds", "aria-label": "delay in seconds" });
  const out = el("div", { id: "push-result" });
  const send = async (e) => {
    e.preventDefault();
    for (const cell of fields.cells.values()) cell.replaceChildren();
    let parsed;
    try { parsed = JSON.parse(text.value); } catch (err) {
      return out.replaceChildren(notice("Not JSON: " + err.message, "error"));
    }
    const path = queuePath(queue) + (delay.value ? "?delay=" + encodeURIComponent(delay.value) : "");
    const answer = await api("POST", path, JSON.stringify(parsed));
    if (answer.status === 201 || answer.status === 200) {
      const href = "#/queue/" + encodeURIComponent(queue) + "/message/" + encodeURIComponent(answer.body.id);
      return out.replaceChildren(notice("Pushed: ", "ok"), el("a", { href, id: "pushed-link", class: "mono" }, answer.body.id));
    }
    if (answer.status === 422 && answer.body && Array.isArray(answer.body.errors)) {
      for (const err of answer.body.errors) {
        fields.cellFor(err.path).append(el("div", { class: "field-error" }, err.message));
      }
      return out.replaceChildren(notice("The message breaks the queue's schema (422):", "error"),
        el("ul", { class: "errors", id: "push-errors" }, answer.body.errors.map((err) =>
          el("li", {}, el("code", { class: "path" }, err.path || "$"), " ", el("span", {}, err.message)))));
    }
    return out.replaceChildren(notice(explain(answer, "Push"), "error"));
  };
  view.append(
    fields.table,
    el("form", { id: "push-form", onsubmit: send },
      el("label", { for: "push-body" }, "Message (JSON)"), text,
      el("div", { class: "toolbar" }, el("label", {}, "Delay ", delay), el("button", { type: "submit", id: "push-send" }, "Push"))),
    out,
    el("details", {}, el("summary", {}, "JSON Schema"), el("div", { id: "push-schema" }, pretty(schema))));
  app.replaceChildren(view);
}

/** A table of the schema's top-level properties, each with a cell for its 422 errors. */
function schemaFields(schema) {
  const cells = new Map();
  const props = schema && typeof schema === "object" && schema.properties ? schema.properties : {};
  const required = new Set((schema && schema.required) || []);
  const rows = Object.entries(props).map(([name, sub]) => {
    const cell = el("td", { class: "field-errors", "data-label": "Errors", "data-path": "$." + name });
    cells.set("$." + name, cell);
    return el("tr", {}, el("td", { "data-label": "Field" }, el("code", {}, "$." + name), required.has(name) ? el("span", { class: "tag" }, "required") : null),
      el("td", { "data-label": "Type" }, typeName(sub)), cell);
  });
  const root = el("td", { class: "field-errors", "data-label": "Errors", "data-path": "$" });
  cells.set("$", root);
  rows.unshift(el("tr", {}, el("td", { "data-label": "Field" }, el("code", {}, "$"), " (the whole message)"), el("td", { "data-label": "Type" }, typeName(schema)), root));
  const table = el("table", { class: "grid fields", id: "push-fields" },
    el("thead", {}, el("tr", {}, el("th", {}, "Field"), el("th", {}, "Type"), el("th", {}, "Errors"))), el("tbody", {}, rows));
  const cellFor = (path) => {
    let p = path || "$";
    while (p) {
      if (cells.has(p)) return cells.get(p);
      const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
      if (cut <= 0) break;
      p = p.slice(0, cut);
    }
    return cells.get("$");
  };
  return { table, cells, cellFor };
}

function typeName(schema) {
  if (!schema || typeof schema !== "object") return "any";
  const t = schema.type || (schema.enum ? "enum" : schema.$ref ? "ref" : "any");
  return Array.isArray(t) ? t.join(" | ") : String(t);
}

/** A starting message for the form: each top-level property with an empty value of its type. */
function exampleOf(schema) {
  if (!schema || schema.type !== "object" || !schema.properties) return {};
  const out = {};
  for (const [name, sub] of Object.entries(schema.properties)) {
    const t = sub && sub.type;
    out[name] = t === "string" ? "" : t === "integer" || t === "number" ? 0 : t === "boolean" ? false : t === "array" ? [] : t === "object" ? {} : null;
  }
  return out;
}
