/* Element helpers for the dashboard's pages. Every value goes into the page as text (a text
 * node or textContent), never as markup: nothing from a message is ever parsed as HTML. */

/** `<tag attrs>children</tag>`: `class`, `text`, `on<event>` handlers, other attributes as
 * strings (true: present, null/undefined/false: absent); children are nodes or text. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function statusBadge(status) {
  return el("span", { class: "status status-" + String(status).replace(/[^A-Z]/g, "") }, status);
}

/** A JSON value, indented. */
export function pretty(value) {
  return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

/** A message to the user; `kind` is info (the default), ok or error (an alert). */
export function notice(text, kind) {
  return el("p", { class: "notice " + (kind || "info"), role: kind === "error" ? "alert" : "status" }, text);
}

/** Breadcrumbs from [text, href] pairs; the last usually has no href. */
export function crumbs(...links) {
  return el("nav", { class: "crumbs", "aria-label": "breadcrumbs" },
    links.map(([text, href], i) => [i ? " / " : "", href ? el("a", { href }, text) : el("span", {}, text)]));
}

/** An inline confirmation: the question, then Confirm (runs act, shows what it returns). */
export function confirmBox(question, act, id) {
  const box = el("div", { class: "confirm", role: "alertdialog", id: id ? id + "-confirm" : null });
  const yes = el("button", { class: "danger", id: id ? id + "-yes" : null, onclick: async () => {
    yes.disabled = true;
    const shown = await act();
    box.replaceWith(shown || "");
  } }, "Confirm");
  const no = el("button", { onclick: () => box.remove() }, "Keep");
  box.append(el("p", {}, question), yes, " ", no);
  return box;
}
