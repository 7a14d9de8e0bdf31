"""Shared fixtures.  Tests that read ../shared skip in a user's clone but fail in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def _require_shared() -> Path:
    data = SHARED / "data"
    if not data.is_dir():
        reason = f"real benchmark files not found at {data} (only present in CI and dev machines)"
        if os.environ.get("CORRBENCH_REQUIRE_SHARED") == "1":
            pytest.fail(reason + " but CORRBENCH_REQUIRE_SHARED=1")
        pytest.skip(reason)
    return data


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data`` (real annotation files)."""
    return _require_shared()
