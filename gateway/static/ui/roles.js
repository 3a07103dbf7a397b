/* Which actions to offer: the token's roles, read from its payload WITHOUT verifying it, only
 * to leave out buttons the gateway would refuse. The gateway still decides every request (a
 * 403 says which role is missing); nothing here grants anything.
 *
 * The rules mirror gateway/auth/queue_access.py and shared/queues/roles.py: Retry and the bulk
 * actions need `system_admin` or `<queue>_admin`; Cancel and Delete need a role the queue
 * allows (`roles.allowed` of `GET /queues`, unless `roles.needsRole` is false). A queue with
 * auth off offers everything; so does a token whose roles are not in the `roles` or `role`
 * claim (the gateway may read them from another claim, --roles-claim), a token that does not
 * decode, and a queue the dashboard knows nothing of. */

import { token } from "./api.js";

/** The token's roles from its `roles`/`role` claims; null when unknown (no token, a payload
 * that does not decode, or neither claim present). */
export function tokenRoles() {
  const claims = payload(token());
  if (!claims || (!("roles" in claims) && !("role" in claims))) return null;
  return new Set([...asRoles(claims.roles), ...asRoles(claims.role)]);
}

/** `{admin, write}`: whether to offer the admin actions (Retry, bulk) and the writer ones
 * (Cancel, Delete) on `info` (a queue of `GET /queues`, or null). */
export function allowedActions(info) {
  const everything = { admin: true, write: true };
  const roles = tokenRoles();
  if (!info || !info.auth || roles === null) return everything;
  const admin = roles.has("system_admin") || roles.has(info.name + "_admin");
  const rules = info.roles;
  const write = !rules || !rules.needsRole || (rules.allowed || []).some((r) => roles.has(r));
  return { admin, write };
}

/** Whether to offer Pause / Resume on `info` (a queue of `GET /queues`): its admins, as
 * Retry and the bulk actions (`POST /{queue}/pause` and `/resume` need the same roles). */
export function mayPause(info) {
  return allowedActions(info).admin;
}

/** Whether the token administers queue `name` (auth on or off: what reading its audit
 * entries needs); true when its roles are unknown. */
export function administers(name) {
  const roles = tokenRoles();
  return roles === null || roles.has("system_admin") || roles.has(name + "_admin");
}

/** Whether to offer the audit log (`GET /audit`): a token with `system_admin` or any
 * `<queue>_admin` role, or whose roles are unknown; never without a token (it answers 401). */
export function mayReadAudit() {
  if (!token()) return false;
  const roles = tokenRoles();
  return roles === null || [...roles].some((r) => r === "system_admin" || (r.endsWith("_admin") && r.length > 6));
}

/** The roles that administer `queue`, for the hint shown in place of a hidden action. */
export function adminRoles(queue) {
  return [queue + "_admin", "system_admin"];
}

function payload(jwt) {
  const parts = (jwt || "").split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(b64 + "===".slice((b64.length + 3) % 4)), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" && !Array.isArray(claims) ? claims : null;
  } catch (_) {
    return null;
  }
}

function asRoles(value) {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((r) => typeof r === "string") : [];
}
