/* Conveyor dashboard (/ui): plain JavaScript modules over the public HTTP API, no build step.
 *
 * Rules every module keeps:
 * - The bearer token lives in this tab's sessionStorage and leaves only in an
 *   Authorization header (never in a URL, and never persisted beyond the tab): api.js.
 * - Every value that comes from the API is put into the page as text (textContent,
 *   through dom.js's el()); nothing from a message is ever parsed as markup.
 * - Features other releases may lack are detected, never assumed: catalog.js.
 * - Actions the token's roles cannot perform are not offered (roles.js), but only the
 *   gateway decides: the token's payload is read unverified, to choose buttons.
 *
 * This module starts it: the token form (checking a token kept from before), then the page
 * the address names (router.js), again on every change of the address's #fragment.
 */

import { setupToken } from "./pages/token.js";
import { route } from "./router.js";

const show = () => route(document.getElementById("app"));

window.addEventListener("hashchange", show);
setupToken(show).then(show);
