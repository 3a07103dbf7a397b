/* What the dashboard knows of this gateway: the message statuses, its optional features and
 * its queues. Features other releases may lack (cancel, bulk actions, the event stream, stats) are
 * detected from /openapi.json; schedules, progress and history from the records themselves. */

import { api } from "./api.js";

const BASE_STATUSES = ["PENDING", "INPROGRESS", "COMPLETE", "ERROR"];
export const FINAL = new Set(["COMPLETE", "ERROR", "CANCELLED"]);

let knownFeatures = null;
let knownQueues = null;

/** Which optional API features this gateway has, from its OpenAPI document. */
export async function features() {
  if (knownFeatures) return knownFeatures;
  const found = { cancel: null, bulk: null, events: null, stats: null };
  const answer = await api("GET", "/openapi.json");
  if (answer.status === 200 && answer.body && answer.body.paths) {
    const paths = Object.keys(answer.body.paths);
    found.cancel = paths.some((p) => p.endsWith("/{id}/cancel"));
    found.bulk = paths.some((p) => /\/bulk(\/|$)/.test(p));
    found.events = paths.some((p) => p.endsWith("/{id}/events"));
    found.stats = paths.some((p) => p.endsWith("/stats")); // the queue page's charts
    knownFeatures = found;
  }
  return found; // null entries: unknown (no document without a token); try and see
}

/** Ask /openapi.json and /queues again next time (the token changed: it may see more, or
 * less, now). */
export function forgetCatalog() {
  knownFeatures = null;
  knownQueues = null;
}

/** `GET /queues`, the answer; the list is kept for the pages that need a queue's details. */
export async function loadQueues() {
  const answer = await api("GET", "/queues");
  if (answer.status === 200) knownQueues = answer.body.queues;
  return answer;
}

/** The queues last listed (null before the first listing). */
export function queues() {
  return knownQueues;
}

/** A queue as last listed (listing once if never), or null. */
export async function queueInfo(name) {
  if (!knownQueues) await loadQueues();
  return (knownQueues || []).find((q) => q.name === name) || null;
}

/** The base statuses, then any other the queues count. */
export function statusesOf(listed) {
  const seen = new Set(BASE_STATUSES);
  for (const q of listed || []) for (const s of Object.keys(q.messages || {})) seen.add(s);
  return [...seen];
}
