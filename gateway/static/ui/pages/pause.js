/* A queue's pause state on its page (`pause` of `GET /queues`), and for admins
 * (roles.js mayPause) the Pause / Resume button: `POST /{queue}/pause` or `/resume`, whose
 * answer is the new state. A paused queue's consumers take no new message; pushes wait
 * (or get 503 with `"when_paused": "refuse"`). */

import { api, explain, queuePath } from "../api.js";
import { el, notice } from "../dom.js";
import { when } from "../format.js";
import { mayPause } from "../roles.js";

/** The state line and (admins only) the button; `info` is the queue of `GET /queues`. */
export function pauseControl(name, info) {
  const box = el("div", { class: "pause-control", id: "pause-control" });
  const show = (state, problem) => {
    const paused = Boolean(state && state.paused);
    const line = paused
      ? el("span", { class: "status status-paused", id: "pause-state" }, "Paused since ", when(state.paused_at),
        state.paused_by ? [" by ", el("span", { class: "mono" }, state.paused_by)] : "")
      : el("span", { class: "muted", id: "pause-state" }, "Running: consumers take its messages.");
    const button = mayPause(info)
      ? el("button", { id: "pause-toggle", class: paused ? "" : "danger", onclick: async () => {
        button.disabled = true;
        const answer = await api("POST", queuePath(name) + (paused ? "/resume" : "/pause"));
        if (answer.status === 200) show(answer.body);
        else show(state, explain(answer, paused ? "Resume" : "Pause"));
      } }, paused ? "Resume" : "Pause")
      : null;
    box.replaceChildren(...[line, button, problem ? notice(problem, "error") : null].filter(Boolean));
  };
  show(info && info.pause);
  return box;
}
