/* The token form in the page's header: Use token keeps it for this tab, Forget drops it;
 * either shows the current page again with what the new token may see. */

import { forgetToken, setToken, token } from "../api.js";
import { forgetFeatures } from "../catalog.js";

function showTokenState() {
  document.getElementById("token-state").textContent = token()
    ? "Token set for this tab."
    : "No token (only queues with auth off are visible).";
}

/** Wire the form; `changed` runs after the token was set or forgotten. */
export function setupToken(changed) {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (value) setToken(value);
    input.value = "";
    forgetFeatures();
    showTokenState();
    changed();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    forgetToken();
    forgetFeatures();
    showTokenState();
    changed();
  });
  showTokenState();
}
