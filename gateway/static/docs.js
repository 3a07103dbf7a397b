/*
 * Conveyor's /docs page: Swagger UI on the gateway's OpenAPI document.
 *
 * The document and the queues need a bearer token. The user types it into the form above
 * Swagger UI; it is kept in this tab's sessionStorage only (never in a URL or a cookie) and
 * sent as "Authorization: Bearer <token>" by Swagger UI's requestInterceptor on every request
 * to this page's own origin: the fetch of the document itself and "Try it out". Swagger UI's
 * Authorize dialog is kept in step, so the operations show as authorized; a token set there
 * takes precedence for the operations it covers.
 *
 * Served as a static file (no inline script), so /docs runs under a strict CSP.
 */
(function () {
  "use strict";

  var STORAGE_KEY = "conveyor.docs.token";
  var SCHEME = "bearerAuth";

  var container = document.getElementById("swagger-ui");
  var form = document.getElementById("conveyor-token");
  var input = document.getElementById("conveyor-token-input");
  var forget = document.getElementById("conveyor-token-forget");
  var state = document.getElementById("conveyor-token-state");
  var specUrl = new URL(container.getAttribute("data-openapi-url"), window.location.href).href;

  function stored() {
    try {
      return window.sessionStorage.getItem(STORAGE_KEY) || "";
    } catch (e) {
      return ""; // storage disabled: the token lasts until the page is left
    }
  }

  function store(value) {
    try {
      if (value) {
        window.sessionStorage.setItem(STORAGE_KEY, value);
      } else {
        window.sessionStorage.removeItem(STORAGE_KEY);
      }
    } catch (e) {
      // storage disabled: keep it in memory only
    }
  }

  var token = stored();

  function sameOrigin(url) {
    try {
      return new URL(url, window.location.href).origin === window.location.origin;
    } catch (e) {
      return false;
    }
  }

  function hasAuthorization(headers) {
    return Object.keys(headers).some(function (name) {
      return name.toLowerCase() === "authorization";
    });
  }

  // Never send the token to another origin, and let a header Swagger UI set win.
  function requestInterceptor(request) {
    if (token && sameOrigin(request.url)) {
      request.headers = request.headers || {};
      if (!hasAuthorization(request.headers)) {
        request.headers.Authorization = "Bearer " + token;
      }
    }
    return request;
  }

  // Swagger UI is created once there is something to show: a token, or a document that
  // needs none. Without either, a short explanation stands in for Swagger UI's "Failed to
  // load API definition" (the page used to open on that error). Swagger UI is created once
  // and then only hidden or reloaded: it is a React tree that must keep its element.
  var ui = null;
  var note = document.createElement("p");
  note.id = "conveyor-needs-token";
  note.className = "conveyor-needs-token";
  note.hidden = true;
  note.textContent =
    "This API description needs a bearer token: paste one above " +
    "(for example from: conveyor token --sub me --roles system_admin).";
  container.parentNode.insertBefore(note, container);

  function showUi() {
    note.hidden = true;
    container.hidden = false;
    if (ui) {
      reloadDocument();
      return;
    }
    ui = window.SwaggerUIBundle({
      url: specUrl,
      dom_id: "#swagger-ui",
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      requestInterceptor: requestInterceptor,
      persistAuthorization: false, // it would keep the token in localStorage
      validatorUrl: null, // no third-party validator badge
      deepLinking: false,
      displayRequestDuration: true,
    });
  }

  function explain() {
    container.hidden = true;
    note.hidden = false;
  }

  // Load (or reload) the document: with a token, into Swagger UI; without one, ask the
  // server first, and explain instead of failing when it wants a token.
  function load() {
    if (token) {
      showUi();
      syncAuthorizeDialog();
      return;
    }
    syncAuthorizeDialog();
    window
      .fetch(specUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (token) {
          return; // a token arrived meanwhile: its own load runs
        }
        if (response.status === 401) {
          explain();
        } else {
          showUi(); // public, or another error: Swagger UI shows it
        }
      })
      .catch(function () {
        if (!token) {
          showUi(); // unreachable: let Swagger UI say so
        }
      });
  }

  // Show the token as the bearerAuth authorization in Swagger UI's Authorize dialog. (Its
  // auth state exists only once something was authorized: log out only what we set.)
  var authorizedHere = false;
  function syncAuthorizeDialog() {
    if (!ui) {
      return; // nothing authorized yet
    }
    if (token) {
      var security = {};
      security[SCHEME] = {
        name: SCHEME,
        schema: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        value: token,
      };
      ui.authActions.authorize(security);
      authorizedHere = true;
    } else if (authorizedHere) {
      ui.authActions.logout([SCHEME]);
      authorizedHere = false;
    }
  }

  function showState() {
    state.textContent = token
      ? "Token set for this tab."
      : "No token: paste one to load the API description and try the operations.";
    forget.disabled = !token;
  }

  function reloadDocument() {
    ui.specActions.updateUrl(specUrl);
    ui.specActions.download(specUrl);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    token = input.value.trim();
    input.value = "";
    store(token);
    showState();
    load();
  });

  forget.addEventListener("click", function () {
    token = "";
    store("");
    showState();
    load();
  });

  showState();
  load();
})();
