/* `#/`: every queue the token may see, with its counts by status, completions per minute,
 * live consumer processes (from their heartbeats: `live_workers`; the broker's consumer
 * count beside it when the gateway reads the RabbitMQ management API) and schedules, refreshed every few seconds; and the definitions that failed to
 * load. */

import { explain, token } from "../api.js";
import { loadQueues, statusesOf } from "../catalog.js";
import { el, notice, statusBadge } from "../dom.js";
import { minute } from "../format.js";
import { every, POLL_MS } from "../live.js";

export async function queuesPage(app) {
  app.replaceChildren(el("h1", {}, "Queues"), el("p", { class: "muted" }, "Loading…"));
  const render = async () => {
    const answer = await loadQueues();
    const view = el("section", { id: "queues-page" }, el("h1", {}, "Queues"));
    if (answer.status !== 200) {
      view.append(notice(explain(answer), "error"));
      return app.replaceChildren(view);
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
    app.replaceChildren(view);
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
      q.pause && q.pause.paused ? el("span", { class: "tag status-paused", title: "paused since " + q.pause.paused_at }, "paused") : null,
      q.description ? el("div", { class: "muted small" }, q.description) : null),
    statuses.map((s) => el("td", { "data-label": s, class: "num count-" + s }, String((q.messages || {})[s] || 0))),
    el("td", { "data-label": "Completed / min", class: "num rate" }, q.completed_per_minute === undefined ? "—" : String(q.completed_per_minute)),
    el("td", { "data-label": "Consumers", class: "num consumers" }, consumersCell(q)),
    el("td", { "data-label": "Schedules" }, schedulesCell(q.schedules)),
    el("td", { "data-label": "" }, el("a", { href: "#/queue/" + encodeURIComponent(q.name) + "/push", class: "button small" }, "Push"))));
  return el("div", { class: "scroll" },
    el("table", { class: "grid", id: "queues" }, el("thead", {}, head), el("tbody", {}, rows)));
}

/** Live consumer processes (a link to the Workers page), and the broker's count when known. */
function consumersCell(q) {
  const broker = q.consumers === null || q.consumers === undefined ? null
    : el("div", { class: "muted small broker-consumers" }, q.consumers + " on the broker");
  if (q.live_workers === undefined) return broker || "unknown";
  const live = el("a", { href: "#/workers", class: "live-workers" }, q.live_workers + " live");
  return [q.live_workers ? live : el("span", { class: "live-workers none" }, "none live"), broker];
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
