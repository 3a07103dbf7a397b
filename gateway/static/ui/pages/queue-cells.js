/* Cells of the queue page's message table that read more than one field of a record: the
 * state (status, and for a PENDING one whether it is queued, delayed, or waiting for a
 * retry), the error (type and message) and the last run's duration (from `history`). */

import { el, statusBadge } from "../dom.js";
import { relative } from "../format.js";

const FINAL = new Set(["COMPLETE", "ERROR", "CANCELLED"]);

/** What a PENDING record waits for: "retrying" (an attempt failed and another is due),
 * "delayed" (a start time not reached), or "queued"; null for other statuses. */
export function waitingKind(m) {
  if (m.status !== "PENDING") return null;
  if (m.delivery === "parked") return "parked";
  if (m.attempts > 0 && m.error) return "retrying";
  return m.delivery === "delayed" ? "delayed" : "queued";
}

/** The status badge, with a label for a retrying, delayed or parked PENDING record (and its
 * due time). */
export function stateCell(m) {
  const kind = waitingKind(m);
  const due = m.not_before && Date.parse(m.not_before) > Date.now() ? " " + relative(m.not_before) : "";
  const label = kind === "retrying" ? el("span", { class: "badge badge-retrying", title: "attempt " + m.attempts + " failed; next attempt" + due }, "retrying" + due)
    : kind === "delayed" ? el("span", { class: "badge badge-delayed", title: "starts at " + m.not_before }, "delayed" + due)
      : kind === "parked" ? el("span", { class: "badge badge-parked", title: "its queue is paused: it runs after the resume" }, "parked")
        : null;
  return el("span", {}, statusBadge(m.status), label);
}

/** The error's type and message (cut), or nothing. */
export function errorCell(m) {
  if (!m.error) return "";
  const text = String(m.error.message || "");
  return el("span", {}, el("strong", { class: "error-type" }, String(m.error.type || "Error")),
    text ? ": " + (text.length > 80 ? text.slice(0, 79) + "…" : text) : "");
}

/** Milliseconds of the last run from `history`: its last INPROGRESS transition to the
 * next one (final, or back to PENDING for a retry); for a running record, up to now
 * (`running` true); null when there is no run in the history. */
export function lastRun(history, now) {
  if (!Array.isArray(history)) return null;
  for (let i = history.length - 1; i >= 0; i -= 1) {
    if (history[i].status !== "INPROGRESS") continue;
    const started = Date.parse(history[i].at);
    const end = history[i + 1];
    if (!end) return { ms: now - started, running: true };
    return { ms: Date.parse(end.at) - started, running: false, final: FINAL.has(end.status) };
  }
  return null;
}

/** "12 ms", "3.4 s", "2 min 5 s". */
export function span(ms) {
  if (ms < 1000) return Math.max(0, Math.round(ms)) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}

export function durationCell(m) {
  const run = lastRun(m.history, Date.now());
  if (!run) return "—";
  return run.running ? "running " + span(run.ms) : span(run.ms);
}
