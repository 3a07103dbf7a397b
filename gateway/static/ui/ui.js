/* Conveyor dashboard (/ui): plain JavaScript over the public HTTP API.
 *
 * Rules this file keeps:
 * - The bearer token lives in this tab's sessionStorage and leaves only in an
 *   Authorization header (never in a URL, and never persisted beyond the tab).
 * - Every value that comes from the API is put into the page as text (textContent,
 *   through el()); nothing from a message is ever parsed as markup.
 * - Features other releases may lack (cancel, bulk actions, the event stream, schedules,
 *   progress, history) are detected from /openapi.json and from the records themselves.
 */
"use strict";

const TOKEN_KEY = "conveyor.ui.token";
const POLL_MS = 3000;
const BASE_STATUSES = ["PENDING", "INPROGRESS", "COMPLETE", "ERROR"];
const FINAL = new Set(["COMPLETE", "ERROR", "CANCELLED"]);
const PAGE_SIZE = 25;

const state = { features: null, queues: null, timer: null, stream: null, view: 0 };

/* ---------- DOM helpers (text only) ---------- */

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function statusBadge(status) {
  return el("span", { class: "status status-" + String(status).replace(/[^A-Z]/g, "") }, status);
}

function pretty(value) {
  return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

function preview(value, length) {
  const text = JSON.stringify(value);
  return text.length > length ? text.slice(0, length - 1) + "…" : text;
}

function age(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return Math.floor(seconds) + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min";
  if (seconds < 86400) return Math.floor(seconds / 3600) + " h";
  return Math.floor(seconds / 86400) + " d";
}

function when(iso) {
  if (!iso) return "—";
  return iso.replace("T", " ").replace("Z", " UTC") + " (" + relative(iso) + ")";
}

/** A time to the minute (a schedule's next run), with how far off it is. */
function minute(iso) {
  return iso.slice(0, 16).replace("T", " ") + " UTC (" + relative(iso) + ")";
}

function relative(iso) {
  const delta = Date.parse(iso) - Date.now();
  return delta > 0 ? "in " + age(new Date(Date.now() - delta).toISOString()) : age(iso) + " ago";
}

function notice(text, kind) {
  return el("p", { class: "notice " + (kind || "info"), role: kind === "error" ? "alert" : "status" }, text);
}

/* ---------- API ---------- */

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function headers(extra) {
  const out = Object.assign({ Accept: "application/json" }, extra || {});
  const t = token();
  if (t) out.Authorization = "Bearer " + t;
  return out;
}

async function api(method, path, body, extra) {
  const init = { method, headers: headers(extra), cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    return { status: 0, body: { detail: "the gateway cannot be reached (" + err.message + ")" } };
  }
  let parsed = null;
  const text = await resp.text();
  if (text) {
    try { parsed = JSON.parse(text); } catch (_) { parsed = { detail: text }; }
  }
  return { status: resp.status, body: parsed, headers: resp.headers };
}

function queuePath(queue) {
  return "/" + encodeURIComponent(queue);
}

function messagePath(queue, id) {
  return queuePath(queue) + "/" + encodeURIComponent(id);
}

/** What an error answer means, in a sentence; a 403 names the roles the token lacks. */
function explain(answer, action) {
  const body = answer.body || {};
  const detail = body.detail || "";
  if (answer.status === 401) return "Not signed in: paste a valid token above (" + detail + ").";
  if (answer.status === 403) {
    const roles = body.required_roles || rolesFromDetail(detail);
    const what = action ? action + ": y" : "Y";
    return roles.length
      ? what + "our token lacks role " + roles.join(" or ") + "."
      : what + "our token lacks the role needed (" + detail + ").";
  }
  if (answer.status === 0) return detail;
  return (action ? action + " failed: " : "") + answer.status + " " + (body.title || "") + (detail ? " — " + detail : "");
}

function rolesFromDetail(detail) {
  const match = /roles?:\s*(.+)$/.exec(detail);
  return match ? match[1].split(",").map((r) => r.trim()).filter(Boolean) : [];
}

/** Which optional API features this gateway has, from its OpenAPI document. */
async function features() {
  if (state.features) return state.features;
  const found = { cancel: null, bulk: null, events: null };
  const answer = await api("GET", "/openapi.json");
  if (answer.status === 200 && answer.body && answer.body.paths) {
    const paths = Object.keys(answer.body.paths);
    found.cancel = paths.some((p) => p.endsWith("/{id}/cancel"));
    found.bulk = paths.some((p) => /\/bulk(\/|$)/.test(p));
    found.events = paths.some((p) => p.endsWith("/{id}/events"));
    state.features = found;
  }
  return found; // null entries: unknown (no document without a token); try and see
}

/* ---------- token form ---------- */

function showTokenState() {
  document.getElementById("token-state").textContent = token()
    ? "Token set for this tab."
    : "No token (only queues with auth off are visible).";
}

function setupToken() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    input.value = "";
    state.features = null;
    showTokenState();
    route();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.features = null;
    showTokenState();
    route();
  });
  showTokenState();
}

/* ---------- routing ---------- */

/** A path segment that names something: not empty, not "." or ".." (the browser would
 * resolve those in the API path it goes into, and fetch another resource), no "/". */
function namesSomething(part) {
  return part !== "" && part !== "." && part !== ".." && !part.includes("/");
}

/** The hash's path segments (decoded) and query; `parts` is null when a segment names
 * nothing or does not decode: the not-found view, which fetches nothing. */
function parseHash() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const trimmed = path.replace(/^\//, "");
  if (!trimmed) return { parts: [], params };
  let parts;
  try {
    parts = trimmed.split("/").map(decodeURIComponent);
  } catch (_) {
    return { parts: null, params };
  }
  return { parts: parts.every(namesSomething) ? parts : null, params };
}

function stopLive() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  if (state.stream) state.stream.abort();
  state.stream = null;
}

function route() {
  stopLive();
  state.view += 1;
  const { parts, params } = parseHash();
  const app = document.getElementById("app");
  if (parts === null) return notFoundPage(app);
  if (parts[0] === "queue" && parts[1] && parts[2] === "message" && parts[3]) {
    return messagePage(app, parts[1], parts[3]);
  }
  if (parts[0] === "queue" && parts[1] && parts[2] === "push") return pushPage(app, parts[1]);
  if (parts[0] === "queue" && parts[1]) return queuePage(app, parts[1], params);
  return queuesPage(app);
}

function notFoundPage(app) {
  replace(app, el("section", { id: "not-found" },
    crumbs(["Queues", "#/"], ["Not found"]),
    el("h1", {}, "Not found"),
    notice("This address names no page of the dashboard: a part of it is empty, \".\" or \"..\", or holds a \"/\".", "error")));
}

function every(ms, fn) {
  const view = state.view;
  state.timer = setInterval(() => { if (view === state.view && !document.hidden) fn(); }, ms);
}

function replace(app, ...children) {
  app.replaceChildren(...children);
}

function crumbs(...links) {
  return el("nav", { class: "crumbs", "aria-label": "breadcrumbs" },
    links.map(([text, href], i) => [i ? " / " : "", href ? el("a", { href }, text) : el("span", {}, text)]));
}

/* ---------- page: queues ---------- */

async function loadQueues() {
  const answer = await api("GET", "/queues");
  if (answer.status === 200) state.queues = answer.body.queues;
  return answer;
}

function statusesOf(queues) {
  const seen = new Set(BASE_STATUSES);
  for (const q of queues || []) for (const s of Object.keys(q.messages || {})) seen.add(s);
  return [...seen];
}

async function queuesPage(app) {
  replace(app, el("h1", {}, "Queues"), el("p", { class: "muted" }, "Loading…"));
  const render = async () => {
    const answer = await loadQueues();
    const view = el("section", { id: "queues-page" }, el("h1", {}, "Queues"));
    if (answer.status !== 200) {
      view.append(notice(explain(answer), "error"));
      return replace(app, view);
    }
    const queues = answer.body.queues;
    if (!queues.length) {
      view.append(notice(token()
        ? "This token has no role on any queue: nothing to show. Ask for a role such as <queue>_writer."
        : "No queue is open without a token: paste one above.", "info"));
    } else {
      view.append(queuesTable(queues));
    }
    const errors = answer.body.load_errors;
    if (errors && errors.length) {
      view.append(el("h2", {}, "Definitions that failed to load"),
        el("ul", { class: "load-errors", id: "load-errors" }, errors.map((e) => el("li", {}, e))));
    }
    view.append(el("p", { class: "muted small" }, "Updated " + new Date().toLocaleTimeString() + "; refreshes every few seconds."));
    replace(app, view);
  };
  await render();
  every(POLL_MS, render);
}

function queuesTable(queues) {
  const statuses = statusesOf(queues);
  const head = el("tr", {}, el("th", {}, "Queue"), statuses.map((s) => el("th", {}, statusBadge(s))),
    el("th", {}, "Completed / min"), el("th", {}, "Consumers"), el("th", {}, "Schedules"), el("th", {}, ""));
  const rows = queues.map((q) => el("tr", { "data-queue": q.name },
    el("td", { "data-label": "Queue", class: "head" },
      el("a", { href: "#/queue/" + encodeURIComponent(q.name), class: "qname" }, q.name),
      q.auth ? null : el("span", { class: "tag" }, "auth off"),
      q.description ? el("div", { class: "muted small" }, q.description) : null),
    statuses.map((s) => el("td", { "data-label": s, class: "num count-" + s }, String((q.messages || {})[s] || 0))),
    el("td", { "data-label": "Completed / min", class: "num rate" }, q.completed_per_minute === undefined ? "—" : String(q.completed_per_minute)),
    el("td", { "data-label": "Consumers", class: "num" }, q.consumers === null || q.consumers === undefined ? "unknown" : String(q.consumers)),
    el("td", { "data-label": "Schedules" }, schedulesCell(q.schedules)),
    el("td", { "data-label": "" }, el("a", { href: "#/queue/" + encodeURIComponent(q.name) + "/push", class: "button small" }, "Push"))));
  return el("div", { class: "scroll" },
    el("table", { class: "grid", id: "queues" }, el("thead", {}, head), el("tbody", {}, rows)));
}

function schedulesCell(schedules) {
  if (schedules === undefined) return el("span", { class: "muted" }, "—");
  if (!schedules.length) return el("span", { class: "muted" }, "none");
  return el("ul", { class: "plain schedules" }, schedules.map((s) => el("li", { "data-schedule": s.name || "" },
    el("strong", {}, s.name || ""), " ", el("code", {}, s.cron || ""),
    s.timezone ? el("span", { class: "muted small" }, " " + s.timezone) : null,
    nextRun(s) ? el("div", { class: "small" }, "next " + minute(nextRun(s))) : null,
    s.last_message_id ? el("div", { class: "small muted" }, "last " + s.last_message_id) : null)));
}

function nextRun(schedule) {
  return schedule.next_run || schedule.next_run_at || schedule.next || null;
}

/* ---------- page: a queue ---------- */

async function queueInfo(name) {
  if (!state.queues) await loadQueues();
  return (state.queues || []).find((q) => q.name === name) || null;
}

async function queuePage(app, name, params) {
  const status = params.get("status") || "";
  const cursor = params.get("cursor") || "";
  const info = await queueInfo(name);
  const feats = await features();
  const base = "#/queue/" + encodeURIComponent(name);
  const link = (p) => base + "?" + new URLSearchParams(p).toString();

  const filter = el("select", { id: "status-filter", "aria-label": "status filter",
    onchange: (e) => { location.hash = link(e.target.value ? { status: e.target.value } : {}); } },
  el("option", { value: "" }, "all statuses"),
  statusesOf(state.queues).map((s) => el("option", { value: s, selected: s === status }, s)));
  const jumpInput = el("input", { id: "jump-id", placeholder: "message id", spellcheck: "false" });
  const jump = el("form", { class: "inline", id: "jump", onsubmit: (e) => {
    e.preventDefault();
    const id = jumpInput.value.trim();
    if (id) location.hash = base + "/message/" + encodeURIComponent(id);
  } }, jumpInput, el("button", { type: "submit" }, "Open"));
  const list = el("div", { id: "messages" }, el("p", { class: "muted" }, "Loading…"));
  const view = el("section", { id: "queue-page" },
    crumbs(["Queues", "#/"], [name]),
    el("h1", {}, name),
    info && info.description ? el("p", {}, info.description) : null,
    el("div", { class: "toolbar" }, el("label", {}, "Status ", filter), jump,
      el("a", { class: "button", href: base + "/push" }, "Push a message")),
    list,
    feats.bulk === false ? null : bulkPanel(name, feats));
  replace(app, view);

  const render = async () => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status) query.set("status", status);
    if (cursor) query.set("cursor", cursor);
    const answer = await api("GET", queuePath(name) + "?" + query.toString());
    if (answer.status !== 200) return list.replaceChildren(notice(explain(answer), "error"));
    const items = answer.body.items;
    const rows = items.map((m) => el("tr", { "data-id": m.id },
      el("td", { "data-label": "Id" }, el("a", { href: base + "/message/" + encodeURIComponent(m.id), class: "mono" }, m.id)),
      el("td", { "data-label": "Status" }, statusBadge(m.status)),
      el("td", { "data-label": "Attempts", class: "num" }, String(m.attempts)),
      el("td", { "data-label": "Age" }, age(m.created_at)),
      el("td", { "data-label": "Request", class: "preview mono" }, preview(m.request, 80))));
    const pager = el("div", { class: "pager" },
      cursor ? el("a", { class: "button", href: link(status ? { status } : {}) }, "Newest") : null,
      answer.body.next_cursor ? el("a", { class: "button", id: "older",
        href: link(Object.assign(status ? { status } : {}, { cursor: answer.body.next_cursor })) }, "Older →") : null);
    list.replaceChildren(items.length
      ? el("table", { class: "grid", id: "message-list" },
        el("thead", {}, el("tr", {}, ["Id", "Status", "Attempts", "Age", "Request"].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows))
      : el("p", { class: "muted", id: "no-messages" }, "No messages" + (status ? " with status " + status : "") + "."),
    pager);
  };
  await render();
  if (!cursor) every(POLL_MS, render);
}

const BULK_ACTIONS = {
  retry: { label: "Retry ERROR messages", status: "ERROR" },
  cancel: { label: "Cancel PENDING (waiting or delayed) messages", status: "PENDING" },
  delete: { label: "Delete messages", status: "" },
};

function bulkPanel(queue, feats) {
  const action = el("select", { id: "bulk-action", "aria-label": "bulk action" },
    Object.entries(BULK_ACTIONS).map(([key, a]) => el("option", { value: key }, a.label)));
  const before = el("input", { id: "bulk-before", type: "datetime-local", "aria-label": "created before" });
  const limit = el("input", { id: "bulk-limit", type: "number", min: "1", max: "10000", value: "1000", "aria-label": "limit" });
  const out = el("div", { id: "bulk-result" });
  const count = async (e) => {
    e.preventDefault();
    const chosen = BULK_ACTIONS[action.value];
    const filter = { limit: Math.max(1, Math.min(10000, Number(limit.value) || 1)) };
    if (chosen.status) filter.status = chosen.status;
    if (before.value) filter.created_before = new Date(before.value).toISOString();
    out.replaceChildren(el("p", { class: "muted" }, "Counting…"));
    const matched = await countMatching(queue, filter);
    if (typeof matched === "string") return out.replaceChildren(notice(matched, "error"));
    if (!matched) return out.replaceChildren(notice("No message matches.", "info"));
    const verb = action.value[0].toUpperCase() + action.value.slice(1);
    const what = (chosen.status ? chosen.status + " " : "") + "message" + (matched === 1 ? "" : "s");
    out.replaceChildren(confirmBox(verb + " " + matched + " " + what + " of " + queue + "?",
      async () => {
        const answer = await api("POST", queuePath(queue) + "/bulk/" + action.value, filter);
        if (answer.status !== 200) return notice(explain(answer, "Bulk " + action.value), "error");
        const done = (answer.body.ids || answer.body.acted || answer.body.done || []).length;
        const skipped = (answer.body.skipped || []).length;
        return notice("Done: " + done + " acted on, " + skipped + " skipped.", "ok");
      }, "bulk"));
  };
  return el("details", { class: "bulk", id: "bulk", open: false },
    el("summary", {}, "Bulk actions" + (feats.bulk === null ? " (if this gateway has them)" : "")),
    el("form", { class: "inline", onsubmit: count }, action,
      el("label", {}, "created before ", before), el("label", {}, "at most ", limit),
      el("button", { type: "submit", id: "bulk-count" }, "Count")), out);
}

/** How many messages the bulk filter matches, counted with the listing API (newest first). */
async function countMatching(queue, filter) {
  let cursor = null;
  let matched = 0;
  const cutoff = filter.created_before ? Date.parse(filter.created_before) : Infinity;
  do {
    const query = new URLSearchParams({ limit: "200" });
    if (filter.status) query.set("status", filter.status);
    if (cursor) query.set("cursor", cursor);
    const answer = await api("GET", queuePath(queue) + "?" + query.toString());
    if (answer.status !== 200) return explain(answer);
    for (const m of answer.body.items) if (Date.parse(m.created_at) < cutoff) matched += 1;
    cursor = answer.body.next_cursor;
  } while (cursor && matched < filter.limit);
  return Math.min(matched, filter.limit);
}

/** An inline confirmation: the question, then Confirm (runs act, shows what it returns). */
function confirmBox(question, act, id) {
  const box = el("div", { class: "confirm", role: "alertdialog", id: id ? id + "-confirm" : null });
  const yes = el("button", { class: "danger", id: id ? id + "-yes" : null, onclick: async () => {
    yes.disabled = true;
    const shown = await act();
    box.replaceWith(shown || "");
  } }, "Confirm");
  const no = el("button", { onclick: () => box.remove() }, "Keep");
  box.append(el("p", {}, question), yes, " ", no);
  return box;
}

/* ---------- page: a message ---------- */

async function messagePage(app, queue, id) {
  const feats = await features();
  const view = el("section", { id: "message-page" },
    crumbs(["Queues", "#/"], [queue, "#/queue/" + encodeURIComponent(queue)], [id]),
    el("h1", { class: "mono wrap" }, id));
  const body = el("div", { id: "message" }, el("p", { class: "muted" }, "Loading…"));
  const actions = el("div", { class: "actions", id: "actions" });
  const result = el("div", { id: "action-result" });
  view.append(actions, result, body);
  replace(app, view);
  const viewId = state.view;

  let streaming = false;
  const gone = () => {
    body.replaceChildren(notice("This message was deleted.", "info"));
    actions.replaceChildren();
  };
  const show = (record) => {
    body.replaceChildren(...messageDetails(record));
    actions.replaceChildren(...messageActions(queue, record, feats, result, load));
    if (feats.events && !streaming && !FINAL.has(record.status)) { // live until final
      streaming = true;
      follow(queue, id, { record: show, deleted: gone }, viewId).finally(() => { streaming = false; });
    }
  };
  async function load() {
    const answer = await api("GET", messagePath(queue, id));
    if (viewId !== state.view) return null;
    if (answer.status !== 200) {
      body.replaceChildren(notice(explain(answer), "error"));
      actions.replaceChildren();
      return null;
    }
    show(answer.body);
    return answer.body;
  }
  const record = await load();
  if (!record) return;
  // The poll also catches what comes after a stream's end (a retry, say); slower with a stream.
  every(feats.events ? 4 * POLL_MS : POLL_MS, load);
}

/** Follow the message's Server-Sent Events with fetch (EventSource cannot send headers):
 * `status`/`progress` events carry the record, `deleted` ends it; a stream that ends before
 * the final status (its time limit) is reopened with Last-Event-ID, so nothing comes twice. */
async function follow(queue, id, handlers, viewId) {
  let lastId = null;
  let final = false;
  while (!final && viewId === state.view) {
    const controller = new AbortController();
    state.stream = controller;
    const extra = { Accept: "text/event-stream" };
    if (lastId !== null) extra["Last-Event-ID"] = lastId;
    try {
      const resp = await fetch(messagePath(queue, id) + "/events", {
        headers: headers(extra), signal: controller.signal, cache: "no-store", credentials: "omit",
      });
      if (!resp.ok || !resp.body) return; // the poll keeps the page current
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done || viewId !== state.view) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = parseEvent(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (event.id !== null) lastId = event.id;
          if (event.type === "deleted") {
            final = true;
            handlers.deleted();
          } else if (event.record && event.record.id === id) {
            final = FINAL.has(event.record.status);
            handlers.record(event.record);
          }
        }
      }
    } catch (_) {
      return; // aborted (the page changed) or dropped: the poll keeps the page current
    }
    if (!final) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** One SSE event block: its type, id and JSON data (null when absent or not JSON). */
function parseEvent(block) {
  const event = { type: "message", id: null, record: null };
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue; // a comment (heartbeat)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event.type = value;
    else if (field === "id") event.id = value;
    else if (field === "data") data.push(value);
  }
  if (data.length) {
    try { event.record = JSON.parse(data.join("\n")); } catch (_) { event.record = null; }
  }
  return event;
}

function row(label, value, id) {
  return [el("dt", {}, label), el("dd", { id: id || null }, value)];
}

function messageDetails(m) {
  const out = [];
  const facts = el("dl", { class: "facts" },
    row("Status", [statusBadge(m.status), m.cancel_requested ? el("span", { class: "tag" }, "cancel requested") : null], "m-status"),
    row("Queue", m.queue),
    row("Attempts", String(m.attempts), "m-attempts"),
    row("Created", when(m.created_at)),
    row("Updated", when(m.updated_at)),
    row("Not before", m.not_before ? when(m.not_before) : "—", "m-not-before"),
    row("Request id", m.request_id || "—"),
    "progress" in m ? row("Progress", progressView(m.progress), "m-progress") : null);
  out.push(facts);
  out.push(el("h2", {}, "Request"), el("div", { id: "m-request" }, pretty(m.request)));
  if (m.error) {
    out.push(el("h2", {}, "Error"), el("div", { class: "error-box", id: "m-error" },
      el("strong", {}, m.error.type || "Error"), ": ", el("span", {}, m.error.message || "")));
  }
  if (m.result !== null && m.result !== undefined) out.push(el("h2", {}, "Result"), el("div", { id: "m-result" }, pretty(m.result)));
  if (Array.isArray(m.history)) out.push(el("h2", {}, "History"), timeline(m.history));
  return out;
}

function progressView(progress) {
  if (!progress) return "—";
  const fraction = Math.max(0, Math.min(1, Number(progress.fraction) || 0));
  return el("span", {}, el("progress", { max: "1", value: String(fraction) }),
    " " + Math.round(fraction * 100) + " %", progress.note ? " — " + progress.note : "",
    progress.at ? el("span", { class: "muted small" }, " (" + relative(progress.at) + ")") : null);
}

function timeline(history) {
  if (!history.length) return el("p", { class: "muted" }, "No transitions recorded.");
  return el("ol", { class: "timeline", id: "m-history" }, history.slice().reverse().map((h) => el("li", {},
    statusBadge(h.status), " ", el("span", {}, when(h.at || h.time)),
    h.attempt !== undefined && h.attempt !== null ? el("span", { class: "muted" }, " · attempt " + h.attempt) : null,
    h.consumer ? el("span", { class: "muted" }, " · " + h.consumer) : null)));
}

function messageActions(queue, m, feats, result, reload) {
  const act = (label, key, question, method, suffix, ok) => el("button", { id: "action-" + key, class: key === "delete" ? "danger" : "",
    onclick: () => result.replaceChildren(confirmBox(question, async () => {
      const answer = await api(method, messagePath(queue, m.id) + suffix);
      if (answer.status >= 200 && answer.status < 300) {
        if (key === "delete") {
          location.hash = "#/queue/" + encodeURIComponent(queue);
          return null;
        }
        await reload();
        return notice(ok(answer), "ok");
      }
      if ((answer.status === 404 || answer.status === 405) && key === "cancel" && !feats.cancel) {
        return notice("This gateway has no cancel endpoint.", "error");
      }
      return notice(explain(answer, label), "error");
    }, key)) }, label);
  const buttons = [];
  if (m.status === "ERROR") buttons.push(act("Retry", "retry", "Run this ERROR message again from scratch?", "POST", "/retry", () => "Retried: a new run from scratch (attempts start again at 0)."));
  if (!FINAL.has(m.status) && feats.cancel !== false) {
    buttons.push(act("Cancel", "cancel", "Cancel this message? It will not run (a running one is asked to stop).", "POST", "/cancel",
      (a) => a.status === 202 ? "Cancel requested: the handler is asked to stop." : "Cancelled."));
  }
  buttons.push(act("Delete", "delete", "Delete this message and its record for good?", "DELETE", "", () => "Deleted."));
  return buttons;
}

/* ---------- page: push ---------- */

async function pushPage(app, queue) {
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
  replace(app, view);
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

function exampleOf(schema) {
  if (!schema || schema.type !== "object" || !schema.properties) return {};
  const out = {};
  for (const [name, sub] of Object.entries(schema.properties)) {
    const t = sub && sub.type;
    out[name] = t === "string" ? "" : t === "integer" || t === "number" ? 0 : t === "boolean" ? false : t === "array" ? [] : t === "object" ? {} : null;
  }
  return out;
}

/* ---------- start ---------- */

setupToken();
window.addEventListener("hashchange", route);
route();
