/* Values as short text: a request's preview, ages and times (ISO 8601 from the API). */

/** The value as JSON, cut to `length` characters. */
export function preview(value, length) {
  const text = JSON.stringify(value);
  return text.length > length ? text.slice(0, length - 1) + "…" : text;
}

/** How long ago, in the largest whole unit: "42 s", "3 min", "5 h", "2 d". */
export function age(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return Math.floor(seconds) + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min";
  if (seconds < 86400) return Math.floor(seconds / 3600) + " h";
  return Math.floor(seconds / 86400) + " d";
}

/** A time in UTC, with how far off it is. */
export function when(iso) {
  if (!iso) return "—";
  return iso.replace("T", " ").replace("Z", " UTC") + " (" + relative(iso) + ")";
}

/** A time to the minute (a schedule's next run), with how far off it is. */
export function minute(iso) {
  return iso.slice(0, 16).replace("T", " ") + " UTC (" + relative(iso) + ")";
}

/** "in 5 min" or "5 min ago". */
export function relative(iso) {
  const delta = Date.parse(iso) - Date.now();
  return delta > 0 ? "in " + age(new Date(Date.now() - delta).toISOString()) : age(iso) + " ago";
}
