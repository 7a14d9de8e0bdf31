"""Install throw-away plugin distributions (a dist-info folder + modules on sys.path) for tests.

Entry points are the only way plugins are declared, so tests of hostile or clashing plugins go
through exactly that path: ``importlib.metadata`` finds the fake distribution like a real one.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from pathlib import Path


def write_distribution(site: Path, name: str, version: str, entry_points: dict[str, dict[str, str]],
                       modules: dict[str, str]) -> Path:
    """A minimal installed distribution under ``site``; returns ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, targets in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in targets.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    (info / "top_level.txt").write_text("\n".join(m.removesuffix(".py") for m in modules) + "\n")
    for filename, source in modules.items():
        (site / filename).write_text(textwrap.dedent(source))
    return site


def activate(site: Path, monkeypatch) -> dict[str, str]:
    """Put ``site`` on this process's path and return an environment for subprocesses that does too."""
    from corrbench.eval import validation

    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    validation._distributions.cache_clear()
    monkeypatch.setattr(sys, "path", sys.path)  # restored after the test
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
