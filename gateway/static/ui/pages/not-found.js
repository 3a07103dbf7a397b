/* An address that names no page (a segment empty, "." or "..", or holding a "/"): it says
 * so and fetches nothing. */

import { crumbs, el, notice } from "../dom.js";

export function notFoundPage(app) {
  app.replaceChildren(el("section", { id: "not-found" },
    crumbs(["Queues", "#/"], ["Not found"]),
    el("h1", {}, "Not found"),
    notice("This address names no page of the dashboard: a part of it is empty, \".\" or \"..\", or holds a \"/\".", "error")));
}
