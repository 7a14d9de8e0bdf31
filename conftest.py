"""Repository-wide test setup: tests never write into the user's cache; ``shared_data`` for every test.

``CORRBENCH_CACHE`` points at one folder under the system temp dir (shared by xdist workers and by
later sessions: its contents are content-addressed, so reuse is always correct), unless set.
``shared_data`` (``../shared/data``, real annotation files) serves the core's and the plugins'
tests alike; tests that read it skip in a user's clone but fail in CI.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

if not os.environ.get("CORRBENCH_CACHE"):
    os.environ["CORRBENCH_CACHE"] = str(Path(tempfile.gettempdir()) / "corrbench-test-cache")

REPO_ROOT = Path(__file__).resolve().parent
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
