/* The token form in the page's header: Use token checks the token with one authenticated call
 * (`GET /queues`, which answers 401 for a token the gateway rejects) and keeps it for this tab
 * only if the gateway did not reject it; Forget drops it. The header says what happened, and
 * the current page is shown again with what the token may see. */

import { forgetToken, setToken, token } from "../api.js";
import { forgetCatalog, loadQueues } from "../catalog.js";

const NO_TOKEN = "No token (only queues with auth off are visible).";

function say(text, kind) {
  const state = document.getElementById("token-state");
  state.textContent = text;
  state.className = kind || "";
}

/** Check the stored token (if any) and say what the gateway made of it. A rejected token (401)
 * is forgotten, so the pages show what no token may see instead of failing everywhere; the
 * header keeps the reason until another token is pasted. */
export async function checkToken() {
  forgetCatalog();
  if (!token()) return say(NO_TOKEN);
  say("Checking the token…");
  const answer = await loadQueues();
  if (answer.status === 200) return say("Token set for this tab.", "ok");
  const detail = (answer.body && answer.body.detail) || "no reason given";
  if (answer.status === 401) {
    forgetToken();
    forgetCatalog();
    return say("Token rejected: " + detail + ". It was not kept: paste another.", "rejected");
  }
  return say("Token kept but not checked (" + (answer.status || "no answer") + ": " + detail + ").", "unchecked");
}

/** Wire the form and check a token kept from before; `changed` runs once the token was
 * checked, set or forgotten. */
export async function setupToken(changed) {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    input.value = "";
    if (!value) return;
    setToken(value);
    await checkToken();
    changed();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    forgetToken();
    forgetCatalog();
    say(NO_TOKEN);
    changed();
  });
  await checkToken();
}
