"""Fixtures shared by every test area. Keep this small: each area has its own conftest."""

from __future__ import annotations

import os

import pytest

POSTGRES_ENV = "CSFLOW_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL test database, or a visible skip when none is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if not url and os.environ.get("CSFLOW_REQUIRE_POSTGRES"):
        pytest.fail(f"CSFLOW_REQUIRE_POSTGRES is set (CI) but {POSTGRES_ENV} is not")
    if not url:
        pytest.skip(
            f"PostgreSQL not configured: set {POSTGRES_ENV}, "
            "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    return url
