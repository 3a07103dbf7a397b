/* `#/queue/NAME`: the queue's messages, newest first, a page at a time (`?cursor=`), filtered
 * by status (`?status=`) and, on a queue with indexed fields, by the search box (`?where=`,
 * repeatable), refreshed every few seconds on the first page; a jump to a message id, a link
 * to the push form, the pause state (and for admins its button: pause.js), and the
 * bulk-actions panel (which acts on the same search); each message
 * with its error, whether it waits for a retry or a start time, and its last run's duration;
 * the last hour's charts (queue-charts.js). */

import { api, explain, queuePath } from "../api.js";
import { features, queueInfo, queues, statusesOf } from "../catalog.js";
import { crumbs, el, notice } from "../dom.js";
import { age, preview } from "../format.js";
import { every, POLL_MS } from "../live.js";
import { allowedActions } from "../roles.js";
import { bulkPanel } from "./bulk.js";
import { indexedFields, searchForm } from "./search.js";
import { queueCharts } from "./queue-charts.js";
import { durationCell, errorCell, stateCell, waitingKind } from "./queue-cells.js";
import { pauseControl } from "./pause.js";

const PAGE_SIZE = 25;
// The charts change once per flush of the consumers' rollups (every ~10 s).
const CHART_POLL_MS = 10000;

export async function queuePage(app, name, params) {
  const status = params.get("status") || "";
  const cursor = params.get("cursor") || "";
  const where = params.getAll("where");
  const info = await queueInfo(name);
  const feats = await features();
  const fields = indexedFields(info);
  const base = "#/queue/" + encodeURIComponent(name);
  /** The page's address for these status, search terms and cursor. */
  const link = (p) => {
    const query = new URLSearchParams();
    if (p.status) query.set("status", p.status);
    for (const term of p.where || []) query.append("where", term);
    if (p.cursor) query.set("cursor", p.cursor);
    return base + "?" + query.toString();
  };

  const filter = el("select", { id: "status-filter", "aria-label": "status filter",
    onchange: (e) => { location.hash = link({ status: e.target.value, where }); } },
  el("option", { value: "" }, "all statuses"),
  statusesOf(queues()).map((s) => el("option", { value: s, selected: s === status }, s)));
  const jumpInput = el("input", { id: "jump-id", placeholder: "message id", spellcheck: "false" });
  const jump = el("form", { class: "inline", id: "jump", onsubmit: (e) => {
    e.preventDefault();
    const id = jumpInput.value.trim();
    if (id) location.hash = base + "/message/" + encodeURIComponent(id);
  } }, jumpInput, el("button", { type: "submit" }, "Open"));
  const list = el("div", { id: "messages" }, el("p", { class: "muted" }, "Loading…"));
  const charts = feats.stats === false ? null : queueCharts(name);
  const view = el("section", { id: "queue-page" },
    crumbs(["Queues", "#/"], [name]),
    el("h1", {}, name),
    info && info.description ? el("p", {}, info.description) : null,
    pauseControl(name, info),
    el("div", { class: "toolbar" }, el("label", {}, "Status ", filter), jump,
      el("a", { class: "button", href: base + "/push" }, "Push a message")),
    fields.length ? searchForm(fields, where, (terms) => { location.hash = link({ status, where: terms }); }) : null,
    list,
    charts && charts.box,
    feats.bulk === false || !allowedActions(info).admin ? null : bulkPanel(name, feats, where));
  app.replaceChildren(view);

  const render = async () => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status) query.set("status", status);
    for (const term of where) query.append("where", term);
    if (cursor) query.set("cursor", cursor);
    const answer = await api("GET", queuePath(name) + "?" + query.toString());
    if (answer.status === 409 && where.length) {
      // The field's index is still being built: say so; the first page polls anyway, an
      // older one tries again once.
      if (cursor) setTimeout(() => { if (list.isConnected) render(); }, POLL_MS);
      return list.replaceChildren(notice(explain(answer) + " Retrying…", "info"));
    }
    if (answer.status !== 200) return list.replaceChildren(notice(explain(answer), "error"));
    const items = answer.body.items;
    const rows = items.map((m) => el("tr", { "data-id": m.id, "data-waiting": waitingKind(m) },
      el("td", { "data-label": "Id" }, el("a", { href: base + "/message/" + encodeURIComponent(m.id), class: "mono" }, m.id)),
      el("td", { "data-label": "Status", class: "state" }, stateCell(m)),
      el("td", { "data-label": "Attempts", class: "num" }, String(m.attempts)),
      el("td", { "data-label": "Error", class: "error-cell" }, errorCell(m)),
      el("td", { "data-label": "Duration", class: "num duration" }, durationCell(m)),
      el("td", { "data-label": "Age" }, age(m.created_at)),
      el("td", { "data-label": "Request", class: "preview mono" }, preview(m.request, 80))));
    const pager = el("div", { class: "pager" },
      cursor ? el("a", { class: "button", href: link({ status, where }) }, "Newest") : null,
      answer.body.next_cursor ? el("a", { class: "button", id: "older",
        href: link({ status, where, cursor: answer.body.next_cursor }) }, "Older →") : null);
    list.replaceChildren(items.length
      ? el("table", { class: "grid", id: "message-list" },
        el("thead", {}, el("tr", {}, ["Id", "Status", "Attempts", "Error", "Duration", "Age", "Request"].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows))
      : el("p", { class: "muted", id: "no-messages" }, "No messages" + (status ? " with status " + status : "")
        + (where.length ? " where " + where.join(" and ") : "") + "."),
    pager);
  };
  let chartsAt = 0;
  const tick = () => {
    if (!charts || Date.now() - chartsAt < CHART_POLL_MS) return render();
    chartsAt = Date.now();
    return Promise.all([render(), charts.refresh()]);
  };
  await tick();
  if (!cursor) every(POLL_MS, tick); // one poll per page (live.js keeps one): charts ride on it
}
