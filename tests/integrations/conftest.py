"""Fixtures for integration tests: a Vigil container with a frozen clock and the recording HTTPS fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integrations.platform import Platform, make_platform


@pytest.fixture
async def platform(db_url: str, ca_bundle: Path) -> AsyncIterator[Platform]:
    p = await make_platform(db_url, ca_bundle)
    yield p
    await p.container.aclose()
