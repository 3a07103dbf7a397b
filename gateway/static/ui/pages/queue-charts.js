/* The queue page's charts: completions, failures and retries per minute, and the p50/p95
 * run time per minute, over the last hour, from `GET /{queue}/stats` (the rollups consumers
 * write every few seconds). Minutes without a finished run have no row there: they are
 * drawn as zero counts and as gaps in the run-time lines. */

import { api, explain, queuePath } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { el, notice } from "../dom.js";

export const WINDOW_MINUTES = 60;

/** The ISO minutes of the last `count` minutes, oldest first, the current one last. */
export function lastMinutes(count, now) {
  const current = Math.floor(now / 60000) * 60000;
  return Array.from({ length: count }, (_, i) => new Date(current - (count - 1 - i) * 60000).toISOString().replace(".000Z", "Z"));
}

/** The section that holds the charts; `refresh()` fetches and redraws them. */
export function queueCharts(name) {
  const box = el("section", { id: "charts", class: "charts" }, el("p", { class: "muted" }, "Loading charts…"));
  const refresh = async () => {
    const answer = await api("GET", queuePath(name) + "/stats?minutes=" + WINDOW_MINUTES);
    if (answer.status !== 200) return box.replaceChildren(notice("Charts: " + explain(answer), "error"));
    const byMinute = new Map(answer.body.series.map((p) => [p.minute, p]));
    const minutes = lastMinutes(WINDOW_MINUTES, Date.now());
    const pick = (key) => minutes.map((m) => (byMinute.has(m) ? byMinute.get(m)[key] : null));
    const counts = (key) => pick(key).map((v) => v || 0);
    const error = Math.round(answer.body.quantile_error * 100);
    box.replaceChildren(
      el("h2", {}, "Last hour"),
      el("div", { class: "chart-row" },
        barChart("chart-outcomes", "Finished per minute", minutes, [
          { name: "completed", cls: "c-complete", values: counts("completed") },
          { name: "failed", cls: "c-error", values: counts("failed") },
          { name: "retried", cls: "c-retry", values: counts("retried") },
          { name: "cancelled", cls: "c-cancelled", values: counts("cancelled") },
        ]),
        lineChart("chart-runtime", "Run time per minute (±" + error + " %)", minutes, [
          { name: "p50", cls: "c-p50", values: pick("p50_ms") },
          { name: "p95", cls: "c-p95", values: pick("p95_ms") },
        ], " ms")));
  };
  return { box, refresh };
}
