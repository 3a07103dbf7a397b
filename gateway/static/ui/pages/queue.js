/* `#/queue/NAME`: the queue's messages, newest first, a page at a time (`?cursor=`), filtered
 * by status (`?status=`), refreshed every few seconds on the first page; a jump to a message
 * id, a link to the push form, the pause state (and for admins its button: pause.js), and the
 * bulk-actions panel. */

import { api, explain, queuePath } from "../api.js";
import { features, queueInfo, queues, statusesOf } from "../catalog.js";
import { crumbs, el, notice, statusBadge } from "../dom.js";
import { age, preview } from "../format.js";
import { every, POLL_MS } from "../live.js";
import { allowedActions } from "../roles.js";
import { bulkPanel } from "./bulk.js";
import { pauseControl } from "./pause.js";

const PAGE_SIZE = 25;

export async function queuePage(app, name, params) {
  const status = params.get("status") || "";
  const cursor = params.get("cursor") || "";
  const info = await queueInfo(name);
  const feats = await features();
  const base = "#/queue/" + encodeURIComponent(name);
  const link = (p) => base + "?" + new URLSearchParams(p).toString();

  const filter = el("select", { id: "status-filter", "aria-label": "status filter",
    onchange: (e) => { location.hash = link(e.target.value ? { status: e.target.value } : {}); } },
  el("option", { value: "" }, "all statuses"),
  statusesOf(queues()).map((s) => el("option", { value: s, selected: s === status }, s)));
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
    pauseControl(name, info),
    el("div", { class: "toolbar" }, el("label", {}, "Status ", filter), jump,
      el("a", { class: "button", href: base + "/push" }, "Push a message")),
    list,
    feats.bulk === false || !allowedActions(info).admin ? null : bulkPanel(name, feats));
  app.replaceChildren(view);

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
