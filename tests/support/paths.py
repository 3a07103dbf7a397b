"""Where things are: the checkout, the queue fixtures (tests/fixtures/queues/), artifacts."""

from __future__ import annotations

from pathlib import Path

#: The checkout's root, and the tests package.
REPO = Path(__file__).parents[2]
TESTS = REPO / "tests"
#: Folders of test queues (definitions and handlers), each copied where a test needs it.
FIXTURES = TESTS / "fixtures" / "queues"
QUEUES_DIR = FIXTURES / "default"  # every behaviour test's Conveyor starts with these
EXTRA_DIR = FIXTURES / "extra"  # handlers only, added per test with add_queue(handler=...)
RELOAD_DIR = FIXTURES / "reload"  # versioned handlers for the hot-reload tests
RETRY_DIR = FIXTURES / "retry"  # handlers of the retry tests
UI_DIR = FIXTURES / "ui"  # the dashboard's browser test
WAIT_DIR = FIXTURES / "wait"  # ?wait= and listing tests: definitions sharing handler.py
#: The seed's queues as the repository ships them.
SEED_HANDLERS_DIR = REPO / "handlers"
#: Screenshots of the browser tests (git-ignored).
ARTIFACTS = TESTS / "artifacts"
