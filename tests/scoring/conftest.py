"""The scoring tests need no Django: they replace the web tests' autouse settings fixture."""

import pytest


@pytest.fixture(autouse=True)
def _files_in_tmp() -> None:
    """Scoring touches no media or static files, and may run without pytest-django."""
