/* `#/audit`: the audit log (`GET /audit`), newest first, a page at a time (`?cursor=`),
 * filtered by queue (`?queue=`): who redrove, ran a bulk action on, paused or resumed a
 * queue, or cancelled or deleted a message as its admin. The queue list offers the queues
 * the token administers (roles.js); the gateway decides what each request may read. */

import { api, explain } from "../api.js";
import { loadQueues, queues } from "../catalog.js";
import { crumbs, el, notice } from "../dom.js";
import { when } from "../format.js";
import { administers } from "../roles.js";

const PAGE_SIZE = 25;
const ACTIONS = {
  redrive: "Retry", cancel: "Cancel", delete: "Delete", bulk_cancel: "Bulk cancel",
  bulk_retry: "Bulk retry", bulk_delete: "Bulk delete", pause: "Pause", resume: "Resume",
};

export async function auditPage(app, params) {
  const queue = params.get("queue") || "";
  const cursor = params.get("cursor") || "";
  const link = (p) => "#/audit?" + new URLSearchParams(p).toString();
  if (!queues()) await loadQueues();
  const names = (queues() || []).map((q) => q.name).filter(administers);
  if (queue && !names.includes(queue)) names.push(queue);

  const filter = el("select", { id: "audit-queue", "aria-label": "queue filter",
    onchange: (e) => { location.hash = link(e.target.value ? { queue: e.target.value } : {}); } },
  el("option", { value: "" }, "every queue"),
  names.map((n) => el("option", { value: n, selected: n === queue }, n)));
  const list = el("div", { id: "audit" }, el("p", { class: "muted" }, "Loading…"));
  app.replaceChildren(el("section", { id: "audit-page" },
    crumbs(["Queues", "#/"], ["Audit log"]),
    el("h1", {}, "Audit log"),
    el("p", { class: "muted" }, "Operator actions, newest first: retries, bulk actions, pauses and resumes, and cancels and deletes by a queue's admin."),
    el("div", { class: "toolbar" }, el("label", {}, "Queue ", filter)),
    list));

  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (queue) query.set("queue", queue);
  if (cursor) query.set("cursor", cursor);
  const answer = await api("GET", "/audit?" + query.toString());
  if (answer.status !== 200) return list.replaceChildren(notice(explain(answer, "Reading the audit log"), "error"));
  const items = answer.body.items;
  const pager = el("div", { class: "pager" },
    cursor ? el("a", { class: "button", href: link(queue ? { queue } : {}) }, "Newest") : null,
    answer.body.next_cursor ? el("a", { class: "button", id: "audit-older",
      href: link(Object.assign(queue ? { queue } : {}, { cursor: answer.body.next_cursor })) }, "Older →") : null);
  list.replaceChildren(items.length
    ? el("div", { class: "scroll" }, el("table", { class: "grid", id: "audit-list" },
      el("thead", {}, el("tr", {}, ["When", "Who", "Action", "Queue", "Target", "Messages"].map((h) => el("th", {}, h)))),
      el("tbody", {}, items.map(row))))
    : el("p", { class: "muted", id: "no-audit" }, "No operator actions" + (queue ? " on " + queue : "") + " yet."),
  pager);
}

function row(entry) {
  return el("tr", { "data-action": entry.action },
    el("td", { "data-label": "When" }, when(entry.at)),
    el("td", { "data-label": "Who" }, entry.subject === null ? el("span", { class: "muted" }, "anonymous (auth off)") : el("span", { class: "mono" }, entry.subject)),
    el("td", { "data-label": "Action" }, ACTIONS[entry.action] || entry.action),
    el("td", { "data-label": "Queue" }, el("a", { href: "#/queue/" + encodeURIComponent(entry.queue) }, entry.queue)),
    el("td", { "data-label": "Target" }, target(entry)),
    el("td", { "data-label": "Messages", class: "num" }, String(entry.count)));
}

/** A message id links to the message; a bulk filter lists its given fields; else a dash. */
function target(entry) {
  const t = entry.target;
  if (typeof t === "string") {
    return el("a", { class: "mono", href: "#/queue/" + encodeURIComponent(entry.queue) + "/message/" + encodeURIComponent(t) }, t);
  }
  if (t && typeof t === "object") {
    const given = Object.entries(t).filter(([, v]) => v !== null && v !== undefined);
    return el("span", { class: "mono small" }, given.map(([k, v]) => k + "=" + v).join(", ") || "every message");
  }
  return el("span", { class: "muted" }, "—");
}
