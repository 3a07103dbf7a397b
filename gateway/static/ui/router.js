/* Hash routing: `#/` the queues, `#/workers` the consumer processes, `#/queue/NAME` a queue
 * (`?status=…&cursor=…`), `#/queue/NAME/push` its push form, `#/queue/NAME/message/ID` a
 * message, `#/audit` the audit log (`?queue=…&cursor=…`); anything with a segment that names
 * nothing is the not-found page. The header's Audit link shows for tokens that may read the
 * log. */

import { currentView, nextView } from "./live.js";
import { auditPage } from "./pages/audit.js";
import { messagePage } from "./pages/message.js";
import { notFoundPage } from "./pages/not-found.js";
import { pushPage } from "./pages/push.js";
import { queuePage } from "./pages/queue.js";
import { queuesPage } from "./pages/queues.js";
import { workersPage } from "./pages/workers.js";
import { mayReadAudit } from "./roles.js";

/** A path segment that names something: not empty, not "." or ".." (the browser would
 * resolve those in the API path it goes into, and fetch another resource), no "/". */
function namesSomething(part) {
  return part !== "" && part !== "." && part !== ".." && !part.includes("/");
}

/** The hash's path segments (decoded) and query; `parts` is null when a segment names
 * nothing or does not decode: the not-found view, which fetches nothing. */
function parseHash(hash) {
  const [path, query] = hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const trimmed = path.replace(/^\//, "");
  if (!trimmed) return { parts: [], params };
  let parts;
  try {
    parts = trimmed.split("/").map(decodeURIComponent);
  } catch (_) {
    return { parts: null, params };
  }
  return { parts: parts.every(namesSomething) ? parts : null, params };
}

/** `app` for one view: a page that draws after the address changed again (its fetch answered
 * late) draws nothing, so it cannot cover the page now on show. */
function slotFor(app, view) {
  return {
    replaceChildren: (...nodes) => {
      if (view === currentView()) app.replaceChildren(...nodes);
    },
  };
}

/** Show the page the address names in `app`, stopping what the last one kept running. */
export function route(root) {
  const app = slotFor(root, nextView());
  const auditLink = document.getElementById("nav-audit");
  if (auditLink) auditLink.hidden = !mayReadAudit();
  const { parts, params } = parseHash(location.hash);
  if (parts === null) return notFoundPage(app);
  if (parts[0] === "workers" && parts.length === 1) return workersPage(app);
  if (parts[0] === "queue" && parts[1] && parts[2] === "message" && parts[3]) {
    return messagePage(app, parts[1], parts[3]);
  }
  if (parts[0] === "queue" && parts[1] && parts[2] === "push") return pushPage(app, parts[1]);
  if (parts[0] === "queue" && parts[1]) return queuePage(app, parts[1], params);
  if (parts[0] === "audit" && parts.length === 1) return auditPage(app, params);
  return queuesPage(app);
}
