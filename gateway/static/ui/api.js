/* The public HTTP API, from the dashboard: fetch with the bearer token, and what an error
 * answer (RFC 9457 problem+json) means in a sentence.
 *
 * The token lives in this tab's sessionStorage and leaves only in an Authorization header
 * to this origin: never in a URL or a cookie, and never kept beyond the tab. */

const TOKEN_KEY = "conveyor.ui.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The request headers: JSON accepted, the token when there is one, then `extra`. */
export function headers(extra) {
  const out = Object.assign({ Accept: "application/json" }, extra || {});
  const t = token();
  if (t) out.Authorization = "Bearer " + t;
  return out;
}

/** `{status, body, headers}`; never throws: status 0 when the gateway cannot be reached,
 * and a body that is not JSON becomes `{detail: text}`. */
export async function api(method, path, body, extra) {
  const init = { method, headers: headers(extra), cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    return { status: 0, body: { detail: "the gateway cannot be reached (" + err.message + ")" } };
  }
  let parsed = null;
  const text = await resp.text();
  if (text) {
    try { parsed = JSON.parse(text); } catch (_) { parsed = { detail: text }; }
  }
  return { status: resp.status, body: parsed, headers: resp.headers };
}

export function queuePath(queue) {
  return "/" + encodeURIComponent(queue);
}

export function messagePath(queue, id) {
  return queuePath(queue) + "/" + encodeURIComponent(id);
}

/** What an error answer means, in a sentence; a 403 names the roles the token lacks. */
export function explain(answer, action) {
  const body = answer.body || {};
  const detail = body.detail || "";
  if (answer.status === 401) return "Not signed in: paste a valid token above (" + detail + ").";
  if (answer.status === 403) {
    const roles = body.required_roles || rolesFromDetail(detail);
    const what = action ? action + ": y" : "Y";
    return roles.length
      ? what + "our token lacks role " + roles.join(" or ") + "."
      : what + "our token lacks the role needed (" + detail + ").";
  }
  if (answer.status === 0) return detail;
  return (action ? action + " failed: " : "") + answer.status + " " + (body.title || "") + (detail ? " — " + detail : "");
}

function rolesFromDetail(detail) {
  const match = /roles?:\s*(.+)$/.exec(detail);
  return match ? match[1].split(",").map((r) => r.trim()).filter(Boolean) : [];
}
