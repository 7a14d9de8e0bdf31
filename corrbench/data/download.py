"""Fetching the files a dataset card lists: verified downloads, then safe extraction.

Several card entries may name the same file (the official host, then mirrors such as Google
Drive): they are alternatives, tried in order until one succeeds.  Downloads go through
:func:`corrbench.fetching.http.download` (resume, checksums, ``CORRBENCH_MIRROR`` under
``datasets/<name>/<file>``, Drive's confirm page); Drive *folder* links cannot be fetched and are
reported as a manual step.  Archives are extracted by :mod:`corrbench.data.extract`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

from corrbench.data.cards import DownloadSource, load_card
from corrbench.data.extract import extract, is_archive
from corrbench.errors import CorrbenchError
from corrbench.fetching import gdrive
from corrbench.fetching.http import DownloadError, digest_file, download, sha256_of
from corrbench.fetching.mirror import mirror_base
from corrbench.io import atomic_write_text

__all__ = ["DownloadError", "FetchReport", "destination_of", "download", "fetch_dataset"]


@dataclass
class FetchReport:
    root: Path
    downloaded: list[Path] = field(default_factory=list)
    extracted: list[Path] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)  # one-line instructions


def destination_of(root: Path, source: DownloadSource) -> Path:
    """Where a card entry lands; card file names may hold a sub-folder but never leave ``root``."""
    name = source.filename or Path(urlparse(source.url).path).name
    parts = Path(name.replace("\\", "/")).parts
    if not name or Path(name).is_absolute() or ".." in parts:
        raise CorrbenchError(f"dataset card file name {name!r} must be a relative path inside the dataset root")
    return root.joinpath(*parts)


def fetch_dataset(
    name: str,
    root: Path,
    force: bool = False,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> FetchReport:
    """Download, verify and extract everything card ``name`` lists into ``root``."""
    card = load_card(name)
    if not card.download:
        raise CorrbenchError(f"dataset '{name}' lists nothing to download in its card")
    report = FetchReport(root=root)
    root.mkdir(parents=True, exist_ok=True)
    alternatives: dict[Path, list[DownloadSource]] = {}
    for source in card.download:
        alternatives.setdefault(destination_of(root, source), []).append(source)
    for target, sources in alternatives.items():
        if force and target.is_file():
            target.unlink()
        fetched = _fetch_one(name, target, sources, report, progress, log)
        if fetched is None:
            continue
        report.downloaded.append(target)
        if is_archive(target):
            marker = target.with_name(f".{target.name}.extracted")
            if force or not marker.is_file():
                log(f"extracting {target.name}")
                extract(target, root)
                atomic_write_text(marker, sha256_of(target) + "\n")
            report.extracted.append(target)
    return report


def _fetch_one(name: str, target: Path, sources: list[DownloadSource], report: FetchReport,
               progress: bool | None, log: Callable[[str], None]) -> Path | None:
    """The first source of ``target`` that downloads and verifies; None when only manual ones are left."""
    mirror_path = f"datasets/{name}/{target.name}"
    fetchable = [s for s in sources if not gdrive.is_folder(s.url)]
    if mirror_base() is not None and sources:
        fetchable = fetchable[:1] or sources[:1]  # the mirror replaces every origin: one attempt
    errors: list[str] = []
    for source in fetchable:
        log(f"fetching {target.name} from {'the mirror' if mirror_base() else source.url}")
        try:
            download(source.url, target, source.sha256, progress=progress, mirror_path=mirror_path)
        except DownloadError as error:
            errors.append(str(error))
            continue
        if source.sha256 is None:
            log(f"  {target.name}: no published checksum; sha256 {sha256_of(target)} recorded in "
                f"{digest_file(target).name} and verified on every later use")
        return target
    if target.is_file():
        return target
    folders = [s for s in sources if gdrive.is_folder(s.url)]
    if folders and not errors:
        report.manual.append(f"{target.name}: in a Google Drive folder, which cannot be fetched without a browser; "
                             f"open {folders[0].url} and save the file as {target}")
        return None
    raise DownloadError(errors[-1] if len(errors) == 1 else
                        f"no source of {target.name} worked ({len(errors)} tried); last: {errors[-1]}")
