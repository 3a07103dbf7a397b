/* A message's Server-Sent Events (`GET /{queue}/{id}/events`), read with fetch: EventSource
 * cannot send the Authorization header. */

import { headers, messagePath } from "./api.js";
import { FINAL } from "./catalog.js";
import { currentView, holdStream } from "./live.js";

/** Follow the message while view `viewId` is on show: `status`/`progress` events carry the
 * record (to `handlers.record`), `deleted` ends it (`handlers.deleted`); a stream that ends
 * before the final status (its time limit) is reopened with Last-Event-ID, so nothing comes
 * twice. Returns when the message is final or gone, the view changed, or the stream failed. */
export async function follow(queue, id, handlers, viewId) {
  let lastId = null;
  let final = false;
  while (!final && viewId === currentView()) {
    const controller = new AbortController();
    holdStream(controller);
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
        if (done || viewId !== currentView()) break;
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
