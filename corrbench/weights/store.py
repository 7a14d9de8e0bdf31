"""The weights cache: ``$CORRBENCH_CACHE/weights/<method>/<name>/<file>``, filled once, verified on use.

``<method>:<name>`` is the tag; one folder per tag keeps releases whose files share a name
(NeMF's ``model_best.pth`` + ``args.pkl`` per benchmark) apart.

The cache layout is also the mirror layout (``CORRBENCH_MIRROR``): copy a populated cache to
serve an air-gapped cluster.  Files arrive through the one verified download path.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from corrbench.errors import CheckpointError
from corrbench.fetching import gdrive
from corrbench.fetching.http import DownloadError, download, recorded_digest
from corrbench.fetching.mirror import MIRROR_ENV, mirror_base
from corrbench.io import CACHE_ENV, cache_root
from corrbench.weights.entry import WeightsEntry, WeightsFile

__all__ = ["CACHE_ENV", "cache_root", "cached_path", "fetch_entry", "is_cached", "mirror_path"]

def mirror_path(entry: WeightsEntry, file: WeightsFile) -> str:
    return f"weights/{entry.method}/{entry.tag.split(':', 1)[1]}/{file.filename}"


def cached_path(entry: WeightsEntry, file: WeightsFile | None = None) -> Path:
    return cache_root().joinpath(*mirror_path(entry, file or entry.main).split("/"))


def is_cached(entry: WeightsEntry) -> bool:
    return all(cached_path(entry, f).is_file() for f in entry.files)


def _log(line: str) -> None:
    print(f"corrbench: {line}", file=sys.stderr)


def fetch_entry(entry: WeightsEntry, progress: bool | None = None, log: Callable[[str], None] = _log) -> Path:
    """Every file of ``entry`` in the cache, verified; the path of the main file."""
    for file in entry.files:
        target = cached_path(entry, file)
        fresh = not target.is_file()
        urls = [u for u in file.urls if not gdrive.is_folder(u)]
        mirrored = mirror_base() is not None
        if fresh and not urls and not mirrored:
            raise CheckpointError(f"{entry.tag}: {file.filename} cannot be downloaded automatically; "
                                  f"{file.manual or 'fetch it by hand'}, and save it as {target} "
                                  f"(or set {MIRROR_ENV})")
        if fresh:
            log(f"{entry.tag}: fetching {file.filename} from {'the mirror' if mirrored else urls[0]}")
        _download_first(entry, file, target, (urls or list(file.urls))[:1] if mirrored else urls, progress)
        if fresh and (file.sha256 is None or len(file.sha256) < 64):
            digest = recorded_digest(target) or "?"
            what = "no published checksum" if file.sha256 is None else f"published sha256 prefix {file.sha256}"
            log(f"{entry.tag}: {file.filename}: {what}; sha256 {digest} recorded and verified on every later use")
    return cached_path(entry)


def _download_first(entry: WeightsEntry, file: WeightsFile, target: Path, urls: list[str],
                    progress: bool | None) -> None:
    """The first URL that downloads and verifies (the mirror, when set, replaces them all: one try)."""
    errors: list[DownloadError] = []
    for url in urls or [""]:
        try:
            download(url, target, file.sha256, progress=progress, size=file.size, mirror_path=mirror_path(entry, file))
            return
        except DownloadError as error:
            errors.append(error)
    raise errors[-1] if len(errors) == 1 else DownloadError(f"no source of {entry.tag} worked ({len(errors)} tried); "
                                                           f"last: {errors[-1]}")
