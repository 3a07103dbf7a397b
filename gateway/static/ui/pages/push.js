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

/** A starting message for the form that the queue's own schema accepts as far as a simple
 * reading of it can tell: the required properties only (`{}` when none is required), each
 * with an example of its type that meets its `const`/`enum`/`default`/`examples`, lengths,
 * bounds and common formats. A `pattern` cannot be met in general: that field may still
 * need editing (the 422 then says so next to it). */
export function exampleOf(schema, root = schema, depth = 0) {
  if (!schema || typeof schema !== "object" || depth > 8) return {};
  if (typeof schema.$ref === "string" && schema.$ref.startsWith("#")) {
    return exampleOf(resolveRef(root, schema.$ref), root, depth + 1);
  }
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  if ("default" in schema) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  for (const key of ["oneOf", "anyOf"]) {
    if (Array.isArray(schema[key]) && schema[key].length) return exampleOf(schema[key][0], root, depth + 1);
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length) {
    const parts = schema.allOf.map((part) => exampleOf(part, root, depth + 1));
    return parts.every(isPlainObject) ? Object.assign({}, ...parts) : parts[0];
  }
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((t) => t !== "null") || type[0];
  if (!type) type = schema.properties || schema.required ? "object" : schema.items ? "array" : undefined;
  if (type === "object") {
    const out = {};
    const props = schema.properties || {};
    for (const name of schema.required || []) out[name] = name in props ? exampleOf(props[name], root, depth + 1) : "";
    return out;
  }
  if (type === "array") {
    const count = Math.max(0, Number(schema.minItems) || 0);
    const item = Array.isArray(schema.prefixItems) ? null : schema.items;
    if (Array.isArray(schema.prefixItems)) return schema.prefixItems.map((s) => exampleOf(s, root, depth + 1));
    return Array.from({ length: count }, () => exampleOf(item, root, depth + 1));
  }
  if (type === "string") return exampleString(schema);
  if (type === "integer" || type === "number") return exampleNumber(schema, type === "integer");
  if (type === "boolean") return false;
  if (type === "null") return null;
  return {};
}

const FORMATS = {
  email: "user@example.com", "date-time": "2030-01-01T00:00:00Z", date: "2030-01-01",
  time: "00:00:00Z", uri: "https://example.com/", "uri-reference": "https://example.com/",
  url: "https://example.com/", uuid: "00000000-0000-4000-8000-000000000000",
  hostname: "example.com", ipv4: "192.0.2.1", ipv6: "2001:db8::1",
};

function exampleString(schema) {
  let text = FORMATS[schema.format] || "example";
  const min = Number(schema.minLength) || 0;
  const max = schema.maxLength === undefined ? Infinity : Number(schema.maxLength);
  if ([...text].length < min) text = text + "x".repeat(min - [...text].length);
  if ([...text].length > max) text = [...text].slice(0, max).join("");
  return text;
}

function exampleNumber(schema, integer) {
  let value = 0;
  const low = schema.exclusiveMinimum !== undefined ? Number(schema.exclusiveMinimum) + (integer ? 1 : 0.5)
    : schema.minimum !== undefined ? Number(schema.minimum) : undefined;
  const high = schema.exclusiveMaximum !== undefined ? Number(schema.exclusiveMaximum) - (integer ? 1 : 0.5)
    : schema.maximum !== undefined ? Number(schema.maximum) : undefined;
  if (low !== undefined && value < low) value = low;
  if (high !== undefined && value > high) value = high;
  if (integer) value = low !== undefined ? Math.ceil(value) : Math.floor(value);
  const step = Number(schema.multipleOf);
  if (step > 0 && value % step !== 0) value = Math.ceil(value / step) * step;
  return value;
}

function resolveRef(root, ref) {
  let node = root;
  for (const part of ref.replace(/^#\/?/, "").split("/").filter(Boolean)) {
    node = node && typeof node === "object" ? node[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
  }
  return node;
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
