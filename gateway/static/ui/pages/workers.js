/* `#/workers`: every consumer process whose heartbeat the store holds (GET /workers), live or
 * gone, with its host, pid, version, queues, concurrency and messages in flight, refreshed
 * every few seconds. Only the reader roles may read it; others see which role they lack. */

import { api, explain } from "../api.js";
import { crumbs, el, notice } from "../dom.js";
import { age, when } from "../format.js";
import { every, POLL_MS } from "../live.js";

export async function workersPage(app) {
  app.replaceChildren(el("h1", {}, "Workers"), el("p", { class: "muted" }, "Loading…"));
  const render = async () => {
    const answer = await api("GET", "/workers");
    const view = el("section", { id: "workers-page" }, crumbs(["Queues", "#/"], ["Workers"]), el("h1", {}, "Workers"));
    if (answer.status !== 200) {
      view.append(notice(explain(answer), "error"));
      return app.replaceChildren(view);
    }
    const workers = answer.body.workers;
    view.append(workers.length ? workersTable(workers) : notice("No consumer process has reported a heartbeat yet.", "info"));
    view.append(el("p", { class: "muted small" }, "A worker is gone after " + answer.body.gone_after_seconds
      + " s without a heartbeat. Updated " + new Date().toLocaleTimeString() + "; refreshes every few seconds."));
    app.replaceChildren(view);
  };
  await render();
  every(POLL_MS, render);
}

function workersTable(workers) {
  const head = el("tr", {}, ["Worker", "State", "Host", "PID", "Version", "Queues", "Concurrency", "In flight", "Started", "Last seen"]
    .map((h) => el("th", {}, h)));
  const rows = workers.map((w) => el("tr", { "data-worker": w.id, class: "worker-" + w.state },
    el("td", { "data-label": "Worker", class: "mono head" }, w.id),
    el("td", { "data-label": "State" }, stateBadge(w.state)),
    el("td", { "data-label": "Host" }, w.host),
    el("td", { "data-label": "PID", class: "num" }, String(w.pid)),
    el("td", { "data-label": "Version" }, w.version),
    el("td", { "data-label": "Queues", class: "worker-queues" }, w.queues.length
      ? w.queues.map((q, i) => [i ? ", " : "", el("a", { href: "#/queue/" + encodeURIComponent(q) }, q)])
      : el("span", { class: "muted" }, "none")),
    el("td", { "data-label": "Concurrency", class: "num" }, String(w.concurrency)),
    el("td", { "data-label": "In flight", class: "num in-flight" }, String(w.in_flight)),
    el("td", { "data-label": "Started" }, when(w.started_at)),
    el("td", { "data-label": "Last seen", class: "last-seen" }, age(w.last_seen_at) + " ago")));
  return el("div", { class: "scroll" },
    el("table", { class: "grid", id: "workers" }, el("thead", {}, head), el("tbody", {}, rows)));
}

/** "live" or "gone" as a badge. */
export function stateBadge(state) {
  return el("span", { class: "worker-state " + (state === "live" ? "live" : "gone") }, state);
}
