"""The operators' dashboard ``/ui`` in a real browser: headless Chromium (Debian's
``chromium``, driven by Playwright) against a real ``conveyor serve``.

Through the page: a token pasted once (kept in sessionStorage, sent as a bearer header, never
in a URL or cookie); queue counts that change after pushes without a reload; a failed
message opened from its queue and retried until it completes; a delayed message cancelled
(when the gateway has the cancel endpoint; otherwise the page offers no Cancel); a push that
breaks the schema showing the 422 paths next to the fields; the push form's prefill accepted
by every queue's schema; an XSS payload rendered as text;
a token the gateway rejects said so in the header (and not kept), a valid one "Token set";
a writer-only token offered no Retry and no bulk actions (an admin is), a token whose roles
sit in a custom claim offered them and told by the 403 which role it lacks; a failed
message's traceback shown to an admin (as text), not to a writer; no token: the auth-off queue
only;
an address with an empty, ``.`` or ``..`` segment shows "Not found" and fetches nothing.
Every page runs under its Content-Security-Policy without a violation. Screenshots of each
page (laptop and phone widths) go to ``tests/artifacts/``.

Select with ``-m browser``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import Browser, expect

from tests.support.api_client import http_call
from tests.support.browser import (
    LAPTOP,
    PHONE,
    Watched,
    final,
    paste_token,
    push,
    serve_process,
    shot,
    token_for,
)
from tests.support.paths import QUEUES_DIR, SEED_HANDLERS_DIR, UI_DIR
from tests.support.queues import queue_files
from tests.support.serve import ServeProcess
from tests.support.tokens import HS_SECRET, claims

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROLES_CLAIM = "realm_access.roles"  # where test_roles_in_a_custom_claim's token keeps them
TOKEN_KEY = "conveyor.ui.token"  # the sessionStorage key gateway/static/ui/api.js uses
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    """``conveyor serve`` with the seed's queues, the auth-off ``open`` and ``flaky``."""
    sources = [SEED_HANDLERS_DIR, *queue_files(QUEUES_DIR, "open"), UI_DIR]
    with serve_process(tmp_path, sources, "--roles-claim", ROLES_CLAIM) as proc:
        yield proc


def has_route(served: ServeProcess, token: str, suffix: str) -> bool:
    status, doc = http_call("GET", f"{served.url}/openapi.json", token=token)
    assert status == 200, doc
    return any(path.endswith(suffix) for path in doc["paths"])


def test_dashboard_as_an_admin(served: ServeProcess, browser: Browser, tmp_path: Path) -> None:
    admin = token_for(["system_admin"])
    watched = Watched(browser, LAPTOP)
    page = watched.page

    # No token: only the queue with auth off is listed.
    page.goto(f"{served.url}/ui")
    expect(page.locator("#queues tbody tr")).to_have_count(1)
    expect(page.locator('tr[data-queue="open"]')).to_be_visible()
    shot(page, "ui-no-token.png")

    # The token, pasted once: every queue, with counts that follow pushes without a reload.
    paste_token(page, admin)
    for name in ("myQueue", "orders", "flaky", "open"):
        expect(page.locator(f'tr[data-queue="{name}"]')).to_be_visible()
    orders = page.locator('tr[data-queue="orders"]')
    expect(orders.locator(".count-COMPLETE")).to_have_text("0")
    for quantity in (1, 2, 3):
        final(
            served,
            "orders",
            push(served, "orders", {"sku": "apple", "quantity": quantity}, admin),
            admin,
        )
    final(served, "orders", push(served, "orders", {"sku": "kiwi", "quantity": 1}, admin), admin)
    expect(orders.locator(".count-COMPLETE")).to_have_text("3", timeout=15_000)
    expect(orders.locator(".count-ERROR")).to_have_text("1")
    expect(orders.locator(".rate")).to_have_text("0.6")
    expect(orders.locator('td[data-label="Consumers"]')).to_have_text("1 live")
    schedule = page.locator('tr[data-queue="nightly"] li[data-schedule="nightly-report"]')
    expect(schedule).to_contain_text("0 3 * * * Europe/Paris")
    status, listed = http_call("GET", f"{served.url}/queues", token=admin)
    assert status == 200, listed
    [nightly] = [q for q in listed["queues"] if q["name"] == "nightly"]
    next_run = nightly["schedules"][0]["next_run"]
    expect(schedule).to_contain_text(f"next {next_run[:10]} {next_run[11:16]} UTC (in ")
    shot(page, "ui-queues.png")

    # A failed message: found from its queue (filtered to ERROR), opened, retried to COMPLETE.
    marker = tmp_path / "fixed"
    failed = push(served, "flaky", {"marker": str(marker), "note": "retry me"}, admin)
    assert final(served, "flaky", failed, admin)["status"] == "ERROR"
    page.locator('tr[data-queue="flaky"] a.qname').click()
    page.locator("#status-filter").select_option("ERROR")
    expect(page.locator("#message-list tbody tr")).to_have_count(1)
    shot(page, "ui-queue.png")
    page.locator(f'tr[data-id="{failed}"] a').click()
    expect(page.locator("#m-status")).to_contain_text("ERROR")
    expect(page.locator(".crumbs")).to_have_text(f"Queues / flaky / {failed}")
    expect(page.locator("#m-error")).to_contain_text("MarkerMissing: fixed is missing")
    shot(page, "ui-message-error.png")
    marker.write_text("the bug is fixed")
    page.locator("#action-retry").click()
    page.locator("#retry-yes").click()
    expect(page.locator("#m-status")).to_contain_text("COMPLETE", timeout=15_000)
    expect(page.locator("#m-result")).to_contain_text('"fixed": true')
    expect(page.locator("#m-attempts")).to_have_text("1")
    record = final(served, "flaky", failed, admin)
    if "history" in record:  # the timeline: pushed, ran, failed, redriven, ran, completed
        expect(page.locator("#m-history li")).to_have_count(len(record["history"]))
        assert len(record["history"]) >= 6
        expect(page.locator("#m-history li").first).to_contain_text("COMPLETE")
        expect(page.locator("#m-history li").last).to_contain_text("PENDING")
    if record.get("progress"):
        expect(page.locator("#m-progress")).to_contain_text("50 % — halfway")
    shot(page, "ui-message.png")

    # A running message, followed live (stream or poll): its progress, then its end.
    go = tmp_path / "go"
    running = push(served, "steps", {"marker": str(go)}, admin)
    page.goto(f"{served.url}/ui#/queue/steps/message/{running}")
    expect(page.locator("#m-status")).to_contain_text("INPROGRESS", timeout=15_000)
    if "progress" in http_call("GET", f"{served.url}/steps/{running}", token=admin)[1]:
        expect(page.locator("#m-progress")).to_contain_text("25 % — started", timeout=15_000)
        shot(page, "ui-message-progress.png")
    go.write_text("go")
    expect(page.locator("#m-status")).to_contain_text("COMPLETE", timeout=15_000)
    expect(page.locator("#m-result")).to_contain_text('"done": true')
    if has_route(served, admin, "/{id}/events"):  # followed through the event stream
        streams = [r for r in watched.requests if r.url.endswith(f"/steps/{running}/events")]
        assert streams, "the message page did not open the event stream"
        assert streams[0].headers["authorization"] == f"Bearer {admin}"
        assert streams[0].headers["accept"] == "text/event-stream"

    # Jump to an id from the queue page.
    page.goto(f"{served.url}/ui#/queue/flaky")
    page.locator("#jump-id").fill(failed)
    page.locator("#jump button").click()
    expect(page.locator("#m-status")).to_contain_text("COMPLETE")

    # A delayed message: Cancel when the gateway has it, else no Cancel button at all.
    delayed = push(served, "orders", {"sku": "pear", "quantity": 1}, admin, "?delay=3600")
    page.goto(f"{served.url}/ui#/queue/orders/message/{delayed}")
    expect(page.locator("#m-status")).to_contain_text("PENDING")
    expect(page.locator("#m-not-before")).to_contain_text("UTC")
    if has_route(served, admin, "/{id}/cancel"):
        page.locator("#action-cancel").click()
        page.locator("#cancel-yes").click()
        expect(page.locator("#m-status")).to_contain_text("CANCELLED", timeout=10_000)
        shot(page, "ui-message-cancelled.png")
    else:
        expect(page.locator("#action-cancel")).to_have_count(0)
        expect(page.locator("#action-delete")).to_be_visible()

    # Bulk: retry every ERROR order, with the count shown before confirming.
    page.goto(f"{served.url}/ui#/queue/orders")
    if has_route(served, admin, "/bulk/{action}"):
        for _ in range(2):
            final(
                served,
                "orders",
                push(served, "orders", {"sku": "fig", "quantity": 1}, admin),
                admin,
            )
        page.locator("#bulk summary").click()
        page.locator("#bulk-action").select_option("retry")
        page.locator("#bulk-count").click()
        expect(page.locator("#bulk-confirm")).to_contain_text("Retry 3 ERROR messages of orders?")
        shot(page, "ui-queue-bulk.png")
        page.locator("#bulk-yes").click()
        expect(page.locator("#bulk-result")).to_contain_text("Done: 3 acted on, 0 skipped.")
    else:
        expect(page.locator("#message-list")).to_be_visible()
        expect(page.locator("#bulk")).to_have_count(0)

    # Push with schema errors: the API's 422 paths, each next to its field.
    page.goto(f"{served.url}/ui#/queue/orders/push")
    expect(page.locator("#push-fields")).to_contain_text("$.quantity")
    page.locator("#push-body").fill('{"sku": "", "quantity": 0, "colour": "red"}')
    page.locator("#push-send").click()
    errors = page.locator("#push-errors")
    expect(errors).to_contain_text("$.sku")
    expect(errors).to_contain_text("$.quantity")
    expect(page.locator('td[data-path="$.quantity"]')).to_contain_text("minimum")
    expect(page.locator('td[data-path="$.sku"]')).not_to_be_empty()
    expect(page.locator('td[data-path="$"]')).to_contain_text("colour")
    shot(page, "ui-push-422.png")
    page.locator("#push-body").fill('{"sku": "apple", "quantity": 2}')
    page.locator("#push-send").click()
    page.locator("#pushed-link").click()
    expect(page.locator("#m-status")).to_contain_text("COMPLETE", timeout=15_000)

    # An XSS payload in a request is shown as text, in the list and on the message page.
    evil = push(served, "myQueue", {"hello": XSS, "world": "</pre><b>bold</b>"}, admin)
    page.goto(f"{served.url}/ui#/queue/myQueue")
    expect(page.locator(f'tr[data-id="{evil}"] .preview')).to_contain_text("<img src=x")
    page.locator(f'tr[data-id="{evil}"] a').click()
    expect(page.locator("#m-request")).to_contain_text(XSS.replace('"', '\\"'))
    expect(page.locator("#m-request")).to_contain_text("</pre><b>bold</b>")
    assert page.locator("#app img, #app script, #app b").count() == 0
    assert page.evaluate("window.__xss") is None
    shot(page, "ui-xss.png")

    # Delete with confirmation: back to the queue, the message gone.
    page.locator("#action-delete").click()
    page.locator("#delete-yes").click()
    expect(page.locator("#queue-page")).to_be_visible()
    assert http_call("GET", f"{served.url}/myQueue/{evil}", token=admin)[0] == 404

    # The token: this tab's sessionStorage only.
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") == admin
    assert page.evaluate("localStorage.length") == 0
    watched.assert_clean(admin)
    watched.close()


def test_dashboard_for_a_writer_on_a_phone(served: ServeProcess, browser: Browser) -> None:
    writer = token_for(["tester"])
    failed = push(served, "flaky", {"marker": "/nonexistent/marker"}, writer)
    assert final(served, "flaky", failed, writer)["status"] == "ERROR"
    watched = Watched(browser, PHONE)
    page = watched.page
    page.goto(f"{served.url}/ui")
    paste_token(page, writer)

    # A writer-only token sees the queues it has a role on (not the seed's replace-role ones).
    expect(page.locator('tr[data-queue="flaky"]')).to_be_visible()
    expect(page.locator('tr[data-queue="open"]')).to_be_visible()
    expect(page.locator('tr[data-queue="myQueue"]')).to_have_count(0)
    expect(page.locator("#load-errors")).to_have_count(0)
    shot(page, "ui-queues-phone.png")

    # Retry needs an admin role: not offered, the page says which role it needs.
    page.goto(f"{served.url}/ui#/queue/flaky/message/{failed}")
    expect(page.locator("#m-status")).to_contain_text("ERROR")
    expect(page.locator("#retry-needs")).to_have_text(
        "Retry needs role flaky_admin or system_admin."
    )
    expect(page.locator("#action-retry")).to_have_count(0)
    expect(page.locator("#action-delete")).to_be_visible()
    shot(page, "ui-message-writer-phone.png")

    # A queue it has no role on: the API's 403, explained.
    page.goto(f"{served.url}/ui#/queue/myQueue")
    expect(page.locator("#messages")).to_contain_text(
        "Your token lacks role one or system_admin or two."
    )
    watched.assert_clean(writer)
    watched.close()


def test_the_message_page_shows_the_traceback_to_admins_only(
    served: ServeProcess, browser: Browser
) -> None:
    admin, writer = token_for(["system_admin"]), token_for(["tester"])
    markup = '<img src=x onerror="window.__xss=4">'  # in the exception's message
    failed = push(served, "flaky", {"marker": f"/nonexistent/{markup}"}, writer)
    assert final(served, "flaky", failed, writer)["status"] == "ERROR"
    for token, admin_view in ((writer, False), (admin, True)):
        watched = Watched(browser, LAPTOP)
        page = watched.page
        page.goto(f"{served.url}/ui")
        paste_token(page, token)
        page.goto(f"{served.url}/ui#/queue/flaky/message/{failed}")
        expect(page.locator("#m-error")).to_contain_text(f"MarkerMissing: {markup} is missing")
        if admin_view:
            details = page.locator("details#m-traceback")
            expect(details.locator("summary")).to_have_text("Traceback")
            details.locator("summary").click()
            trace = details.locator("pre")
            expect(trace).to_be_visible()
            expect(trace).to_contain_text("Traceback (most recent call last):")
            expect(trace).to_contain_text('flaky.py", line ')
            expect(trace).not_to_contain_text("registry.py")  # from the handler's frame on
            expect(trace).to_contain_text(f"MarkerMissing: {markup} is missing")
            assert page.locator("#app img, #app script").count() == 0
            assert page.evaluate("window.__xss") is None
            shot(page, "ui-message-traceback.png")
        else:
            expect(page.locator("#m-traceback")).to_have_count(0)
            assert "Traceback" not in page.locator("#message").inner_text()
            shot(page, "ui-message-no-traceback.png")
        watched.assert_clean(token)
        watched.close()


@pytest.mark.parametrize(
    "fragment",
    [
        "#/queue/./message/myQueue",  # fetched /./myQueue, which the browser made /myQueue
        "#/queue/../myQueue",
        "#/queue/%2E%2E/message/myQueue",
        "#/queue//message/myQueue",
        "#/queue/a%2Fb",
    ],
)
def test_hash_routes_with_dot_or_empty_segments_show_not_found_and_fetch_nothing(
    served: ServeProcess, browser: Browser, fragment: str
) -> None:
    admin = token_for(["system_admin"])
    watched = Watched(browser, LAPTOP)
    page = watched.page
    page.goto(f"{served.url}/ui")
    paste_token(page, admin)
    expect(page.locator('tr[data-queue="myQueue"]')).to_be_visible()
    watched.requests.clear()

    page.goto(f"{served.url}/ui{fragment}")
    expect(page.locator("#not-found")).to_be_visible()
    expect(page.locator("#not-found h1")).to_have_text("Not found")
    # Requests are reported in order: once this marker is seen, any fetch the route made
    # would have been recorded before it.
    with page.expect_request(lambda request: request.url.endswith("/healthz?marker")):
        page.evaluate("fetch('/healthz?marker')")
    fetched = [r.url for r in watched.requests if not r.url.endswith("/healthz?marker")]
    assert not [url for url in fetched if "/ui" not in url], fetched
    if fragment == "#/queue/./message/myQueue":
        shot(page, "ui-not-found.png")
    watched.assert_clean(admin)
    watched.close()


def test_the_push_form_prefill_is_accepted_by_each_queue(
    served: ServeProcess, browser: Browser
) -> None:
    """The message the push form starts with, sent unchanged, passes the queue's own schema
    (orders: a non-empty sku and a quantity of at least 1; myQueue: its required hello)."""
    admin = token_for(["system_admin"])
    status, listed = http_call("GET", f"{served.url}/queues", token=admin)
    assert status == 200, listed
    names = [q["name"] for q in listed["queues"]]
    assert {"myQueue", "orders", "open", "flaky", "steps", "nightly"} <= set(names), names
    watched = Watched(browser, LAPTOP)
    page = watched.page
    page.goto(f"{served.url}/ui")
    paste_token(page, admin)
    for name in names:
        page.goto(f"{served.url}/ui#/queue/{name}/push")
        expect(page.locator("#push-page h1")).to_have_text(f"Push to {name}")
        prefill = page.locator("#push-body").input_value()
        page.locator("#push-send").click()
        # On a failure the actual text shows the 422's errors (or another refusal).
        expect(page.locator("#push-result")).to_contain_text("Pushed: ")
        if name == "orders":
            assert json.loads(prefill) == {"sku": "example", "quantity": 1}, prefill
            shot(page, "ui-push-prefill-orders.png")
    watched.assert_clean(admin)
    watched.close()


def test_the_header_says_whether_the_gateway_accepts_the_token(
    served: ServeProcess, browser: Browser
) -> None:
    """A token the gateway answers 401 for: "Token rejected: <its reason>", not kept (the
    pages show what no token may see); a valid one: "Token set". A token kept from before is
    checked on load too."""
    forged = jwt.encode(
        claims(["system_admin"], ttl=900), "another-" + HS_SECRET, algorithm="HS256"
    )
    expired = jwt.encode(claims(["system_admin"], ttl=-3600), HS_SECRET, algorithm="HS256")
    watched = Watched(browser, LAPTOP)
    page = watched.page
    page.goto(f"{served.url}/ui")
    expect(page.locator("#token-state")).to_have_text(
        "No token (only queues with auth off are visible)."
    )

    page.locator("#token-input").fill(forged)
    page.locator("#token-use").click()
    expect(page.locator("#token-state")).to_have_text(
        "Token rejected: invalid token: Signature verification failed. It was not kept: "
        "paste another."
    )
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None
    expect(page.locator('tr[data-queue="open"]')).to_be_visible()  # what no token sees
    expect(page.locator("#queues tbody tr")).to_have_count(1)
    shot(page, "ui-token-rejected.png")

    paste_token(page, token_for(["system_admin"]))
    expect(page.locator('tr[data-queue="myQueue"]')).to_be_visible()
    shot(page, "ui-token-set.png")

    # Kept from before but expired since: checked on load, rejected, forgotten.
    page.evaluate(f"sessionStorage.setItem({TOKEN_KEY!r}, {expired!r})")
    page.reload()
    expect(page.locator("#token-state")).to_contain_text("Token rejected: invalid token: ")
    expect(page.locator("#token-state")).to_contain_text("expired")
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None
    watched.assert_clean(expired)
    watched.close()


def test_actions_a_token_cannot_perform_are_not_offered(
    served: ServeProcess, browser: Browser
) -> None:
    """flaky's writer (role tester) sees no Retry on an ERROR message and no bulk panel, but
    Delete; an admin sees all three."""
    admin, writer = token_for(["system_admin"]), token_for(["tester"])
    failed = push(served, "flaky", {"marker": "/nonexistent/marker"}, writer)
    assert final(served, "flaky", failed, writer)["status"] == "ERROR"
    for token, role in ((writer, "writer"), (admin, "admin")):
        watched = Watched(browser, LAPTOP)
        page = watched.page
        page.goto(f"{served.url}/ui")
        paste_token(page, token)
        page.goto(f"{served.url}/ui#/queue/flaky/message/{failed}")
        expect(page.locator("#m-status")).to_contain_text("ERROR")
        expect(page.locator("#action-delete")).to_be_visible()
        if role == "admin":
            expect(page.locator("#action-retry")).to_be_visible()
            expect(page.locator("#retry-needs")).to_have_count(0)
        else:
            expect(page.locator("#action-retry")).to_have_count(0)
            expect(page.locator("#retry-needs")).to_have_text(
                "Retry needs role flaky_admin or system_admin."
            )
        shot(page, f"ui-actions-message-{role}.png")
        page.goto(f"{served.url}/ui#/queue/flaky")
        expect(page.locator(f'tr[data-id="{failed}"]')).to_be_visible()
        has_bulk = has_route(served, admin, "/bulk/{action}")
        expect(page.locator("#bulk")).to_have_count(1 if role == "admin" and has_bulk else 0)
        shot(page, f"ui-actions-queue-{role}.png")
        watched.assert_clean(token)
        watched.close()


def test_roles_in_a_custom_claim_are_left_to_the_gateway(
    served: ServeProcess, browser: Browser
) -> None:
    """A token whose roles only the gateway finds (``--roles-claim realm_access.roles``): the
    page cannot tell, so it offers Retry and the bulk panel, and the gateway's 403 says which
    role the token lacks."""
    writer = jwt.encode(
        {**claims(None, ttl=900), "realm_access": {"roles": ["tester"]}},
        HS_SECRET,
        algorithm="HS256",
    )
    failed = push(served, "flaky", {"marker": "/nonexistent/marker"}, writer)
    assert final(served, "flaky", failed, writer)["status"] == "ERROR"
    watched = Watched(browser, LAPTOP)
    page = watched.page
    page.goto(f"{served.url}/ui")
    paste_token(page, writer)
    page.goto(f"{served.url}/ui#/queue/flaky/message/{failed}")
    expect(page.locator("#m-status")).to_contain_text("ERROR")
    page.locator("#action-retry").click()
    page.locator("#retry-yes").click()
    expect(page.locator("#action-result")).to_contain_text(
        "Retry: your token lacks role flaky_admin or system_admin."
    )
    shot(page, "ui-actions-custom-claim-403.png")
    page.goto(f"{served.url}/ui#/queue/flaky")
    if has_route(served, writer, "/bulk/{action}"):
        expect(page.locator("#bulk")).to_have_count(1)
    watched.assert_clean(writer)
    watched.close()
