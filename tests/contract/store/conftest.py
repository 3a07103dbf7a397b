"""The ``store`` fixture every store contract test takes: one SQLite store, one MongoDB store.

``sqlite`` is a file in tmp_path; ``mongo`` is a database of the test's own on the session's
MongoDB wire server, dropped afterwards. The wire server can be slow (~100 writes a second),
so each case writes only a handful of records; the sweeps page by 3 so that paging is
exercised with a handful.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import shared.adapters.sqlite.sweeps as sqlite_sweeps
from shared.ports import Store
from tests.support.stores import STORE_KINDS, Raw, open_store, own_database

SMALL_PAGE = 3


@pytest.fixture(params=STORE_KINDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Store]:
    """An open store of each kind (the test runs once per adapter)."""
    monkeypatch.setattr(sqlite_sweeps, "PAGE", SMALL_PAGE)
    kw = {"page": SMALL_PAGE} if request.param == "mongo" else {}
    async with open_store(request.param, request, tmp_path, **kw) as adapter:
        yield adapter


@pytest.fixture
async def mongo_db(mongo_url: str) -> AsyncIterator[Raw]:
    """A MongoDB database of the test's own, with a driver handle on its messages."""
    async with own_database(mongo_url) as db:
        yield db
