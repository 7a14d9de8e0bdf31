"""Repository-wide test setup: tests never write into the user's cache.

``CORRBENCH_CACHE`` points at one folder under the system temp dir (shared by xdist workers and by
later sessions: its contents are content-addressed, so reuse is always correct), unless set.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

if not os.environ.get("CORRBENCH_CACHE"):
    os.environ["CORRBENCH_CACHE"] = str(Path(tempfile.gettempdir()) / "corrbench-test-cache")
