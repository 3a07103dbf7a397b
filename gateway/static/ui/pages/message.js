/* `#/queue/NAME/message/ID`: the message's record (request, result or error, the error's
 * traceback where the gateway shows it (to admins), attempts, the worker holding it while
 * INPROGRESS with its lease ("stalled" once lapsed), times, progress and history
 * where the gateway records them), its actions (Retry, Cancel, Delete, each confirmed),
 * followed live through its event stream when the gateway has one, and polled either way. */

import { api, explain, messagePath } from "../api.js";
import { features, FINAL, queueInfo } from "../catalog.js";
import { confirmBox, crumbs, el, notice, pretty, statusBadge } from "../dom.js";
import { follow } from "../events.js";
import { relative, when } from "../format.js";
import { currentView, every, POLL_MS } from "../live.js";
import { adminRoles, allowedActions } from "../roles.js";

export async function messagePage(app, queue, id) {
  const feats = await features();
  const may = allowedActions(await queueInfo(queue));
  const view = el("section", { id: "message-page" },
    crumbs(["Queues", "#/"], [queue, "#/queue/" + encodeURIComponent(queue)], [id]),
    el("h1", { class: "mono wrap" }, id));
  const body = el("div", { id: "message" }, el("p", { class: "muted" }, "Loading…"));
  const actions = el("div", { class: "actions", id: "actions" });
  const result = el("div", { id: "action-result" });
  view.append(actions, result, body);
  app.replaceChildren(view);
  const viewId = currentView();

  let streaming = false;
  const gone = () => {
    body.replaceChildren(notice("This message was deleted.", "info"));
    actions.replaceChildren();
  };
  const show = (record) => {
    const opened = Boolean(body.querySelector("#m-traceback[open]")); // kept open across polls
    body.replaceChildren(...messageDetails(record, opened));
    actions.replaceChildren(...messageActions(queue, record, feats, may, result, load));
    if (feats.events && !streaming && !FINAL.has(record.status)) { // live until final
      streaming = true;
      follow(queue, id, { record: show, deleted: gone }, viewId).finally(() => { streaming = false; });
    }
  };
  async function load() {
    const answer = await api("GET", messagePath(queue, id));
    if (viewId !== currentView()) return null;
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

function row(label, value, id) {
  return [el("dt", {}, label), el("dd", { id: id || null }, value)];
}

function messageDetails(m, tracebackOpen) {
  const out = [];
  const facts = el("dl", { class: "facts" },
    row("Status", [statusBadge(m.status), m.cancel_requested ? el("span", { class: "tag" }, "cancel requested") : null], "m-status"),
    row("Queue", m.queue),
    row("Attempts", String(m.attempts), "m-attempts"),
    m.lease ? row("Held by", leaseView(m), "m-lease") : null,
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
    // Only an admin's answer carries it (the gateway leaves it out for others); shown as text.
    if (typeof m.error.traceback === "string") {
      out.push(el("details", { class: "traceback", id: "m-traceback", open: tracebackOpen },
        el("summary", {}, "Traceback"), el("pre", {}, m.error.traceback)));
    }
  }
  if (m.result !== null && m.result !== undefined) out.push(el("h2", {}, "Result"), el("div", { id: "m-result" }, pretty(m.result)));
  if (Array.isArray(m.history)) out.push(el("h2", {}, "History"), timeline(m.history));
  return out;
}

/** Which worker holds an INPROGRESS message (its id in GET /workers), since when, and when
 * its lease lapses; "stalled" once that time has passed (the holder stopped renewing it). */
function leaseView(m) {
  const claims = (m.history || []).filter((h) => h.status === "INPROGRESS" && h.consumer === m.lease.owner);
  const since = claims.length ? claims[claims.length - 1].at : null;
  const lapsed = m.lease.until && Date.parse(m.lease.until) < Date.now();
  return el("span", {},
    el("a", { href: "#/workers", class: "mono", id: "m-holder" }, m.lease.owner),
    lapsed ? el("span", { class: "tag stalled", id: "m-stalled", title: "The lease lapsed: its worker stopped renewing it." }, "stalled") : null,
    since ? el("div", { class: "small" }, "claimed " + relative(since)) : null,
    m.lease.until ? el("div", { class: "small muted", id: "m-lease-until" }, (lapsed ? "lease lapsed " : "lease lapses ") + relative(m.lease.until) + (lapsed ? "" : " unless renewed")) : null);
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

/** The buttons `may` (roles.js) allows; a Retry the token's roles lack is a hint instead. */
function messageActions(queue, m, feats, may, result, reload) {
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
  if (m.status === "ERROR" && may.admin) buttons.push(act("Retry", "retry", "Run this ERROR message again from scratch?", "POST", "/retry", () => "Retried: a new run from scratch (attempts start again at 0)."));
  if (m.status === "ERROR" && !may.admin) {
    buttons.push(el("span", { class: "muted small", id: "retry-needs" }, "Retry needs role " + adminRoles(queue).join(" or ") + "."));
  }
  if (!may.write) return buttons;
  if (!FINAL.has(m.status) && feats.cancel !== false) {
    buttons.push(act("Cancel", "cancel", "Cancel this message? It will not run (a running one is asked to stop).", "POST", "/cancel",
      (a) => a.status === 202 ? "Cancel requested: the handler is asked to stop." : "Cancelled."));
  }
  buttons.push(act("Delete", "delete", "Delete this message and its record for good?", "DELETE", "", () => "Deleted."));
  return buttons;
}
