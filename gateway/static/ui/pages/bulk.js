/* The queue page's bulk actions (`POST /{queue}/bulk/{action}`): retry ERROR messages, cancel
 * PENDING ones or delete, optionally only those created before a time, and only those the
 * page's search selects (`where`); the panel counts the matching messages first (a dry run:
 * `"dry_run": true` answers `{"count": N}`) and asks before it acts. */

import { api, explain, queuePath } from "../api.js";
import { confirmBox, el, notice } from "../dom.js";

const BULK_ACTIONS = {
  retry: { label: "Retry ERROR messages", status: "ERROR" },
  cancel: { label: "Cancel PENDING (waiting or delayed) messages", status: "PENDING" },
  delete: { label: "Delete messages", status: "" },
};

/** The panel, folded; `feats.bulk` null (unknown) says so in its title; `where`: the page's
 * search terms, which every action keeps to. */
export function bulkPanel(queue, feats, where) {
  where = where || [];
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
    if (where.length) filter.where = where;
    out.replaceChildren(el("p", { class: "muted" }, "Counting…"));
    const matched = await countMatching(queue, action.value, filter);
    if (typeof matched === "string") return out.replaceChildren(notice(matched, "error"));
    if (!matched) return out.replaceChildren(notice("No message matches.", "info"));
    const verb = action.value[0].toUpperCase() + action.value.slice(1);
    const what = (chosen.status ? chosen.status + " " : "") + "message" + (matched === 1 ? "" : "s");
    const which = where.length ? " where " + where.join(" and ") : "";
    out.replaceChildren(confirmBox(verb + " " + matched + " " + what + " of " + queue + which + "?",
      async () => {
        const answer = await api("POST", queuePath(queue) + "/bulk/" + action.value, filter);
        if (answer.status !== 200) return notice(explain(answer, "Bulk " + action.value), "error");
        const done = (answer.body.ids || answer.body.acted || answer.body.done || []).length;
        const skipped = (answer.body.skipped || []).length;
        return notice("Done: " + done + " acted on, " + skipped + " skipped.", "ok");
      }, "bulk"));
  };
  return el("details", { class: "bulk", id: "bulk", open: false },
    el("summary", {}, "Bulk actions" + (where.length ? " on the search results" : "")
      + (feats.bulk === null ? " (if this gateway has them)" : "")),
    el("form", { class: "inline", onsubmit: count }, action,
      el("label", {}, "created before ", before), el("label", {}, "at most ", limit),
      el("button", { type: "submit", id: "bulk-count" }, "Count")), out);
}

/** How many messages the bulk filter matches: the gateway's dry run (one count query), or,
 * from a gateway without dry runs (422) and with no search terms, counted with the listing
 * API; an error answer, explained, as a string. */
async function countMatching(queue, action, filter) {
  const dry = await api("POST", queuePath(queue) + "/bulk/" + action, Object.assign({ dry_run: true }, filter));
  if (dry.status === 200 && dry.body && typeof dry.body.count === "number") return dry.body.count;
  if (dry.status !== 422 || filter.where) return explain(dry);
  return countByListing(queue, filter);
}

async function countByListing(queue, filter) {
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
