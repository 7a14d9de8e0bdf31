"""``CORRBENCH_MIRROR``: one variable that replaces the origin of every download.

Clusters without internet serve corrbench's files from their own mirror: a base URL
(``http(s)://…``) or a local folder (a path or ``file://…``).  Files sit under the same relative
paths as in corrbench's cache (``weights/<method>/<name>/<file>`` for tag ``<method>:<name>``, ``datasets/<name>/<file>``), so a
copy of a populated ``$CORRBENCH_CACHE`` on a machine with internet is a valid mirror.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from corrbench.errors import UsageError

MIRROR_ENV = "CORRBENCH_MIRROR"


def mirror_base() -> str | None:
    """The mirror named by the environment, or None when downloads go to their origin."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return value or None


def mirror_source(relative: str, base: str | None = None) -> str | Path:
    """Where ``relative`` (e.g. ``weights/sfnet/pfpascal/best_checkpoint.pt``) is on the mirror: a URL or a local path."""
    base = base if base is not None else mirror_base()
    if base is None:
        raise UsageError(f"{MIRROR_ENV} is not set")
    parts = [part for part in relative.replace("\\", "/").split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        raise UsageError(f"mirror path {relative!r} must be a relative path without '..'")
    scheme = urlparse(base).scheme.lower()
    if scheme in ("http", "https"):
        return base.rstrip("/") + "/" + "/".join(quote(part) for part in parts)
    if scheme == "file":
        folder = Path(unquote(urlparse(base).path))
    elif scheme and len(scheme) > 1:  # e.g. ftp:// or s3://; a Windows drive letter is one character
        raise UsageError(f"{MIRROR_ENV}={base} is neither an http(s) URL nor a local folder; "
                         "set it to e.g. https://mirror.example/corrbench or /srv/corrbench-mirror")
    else:
        folder = Path(base).expanduser()
    if not folder.is_dir():
        raise UsageError(f"{MIRROR_ENV}={base} is not a folder; create it or point the variable at your mirror")
    return folder.joinpath(*parts)
