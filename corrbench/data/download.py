"""Fetching the files a dataset card lists: resumable HTTP, checksums, safe extraction.

A download goes to ``<file>.part``; an interrupted one resumes with an HTTP ``Range`` request
(a server that ignores it restarts the file).  The finished file is checked against the card's
sha256 when one is known and only then renamed into place, so a file under its final name is
always complete.  Archives are extracted by :mod:`corrbench.data.extract` into the dataset root.
Google Drive links cannot be fetched reliably with plain HTTP (confirmation pages, quotas), so
they are reported as a manual step instead of being attempted.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlparse

from corrbench import __version__
from corrbench.data.cards import DownloadSource, load_card
from corrbench.errors import CorrbenchError
from corrbench.data.extract import extract, is_archive
from corrbench.io import atomic_write_text

CHUNK = 1 << 16
MANUAL_HOSTS = ("drive.google.com", "docs.google.com")


class DownloadError(CorrbenchError):
    """A file could not be fetched or failed its checksum."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def needs_manual_download(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return any(host == h or host.endswith("." + h) for h in MANUAL_HOSTS)


class _Progress:
    """A rich progress bar on a terminal; silence otherwise."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.enabled = enabled
        self.label = label
        self._bar = None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

            self._bar = Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=None)
        return self

    def update(self, done: int, total: int | None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": f"corrbench/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _chunks(response, size: int = CHUNK) -> Iterator[bytes]:
    while True:
        block = response.read(size)
        if not block:
            return
        yield block


def download(
    url: str,
    destination: str | os.PathLike[str],
    sha256: str | None = None,
    progress: bool | None = None,
    timeout: float = 60.0,
    on_chunk: Callable[[int], None] | None = None,
) -> Path:
    """Fetch ``url`` to ``destination`` (resuming a ``.part`` file); returns the final path."""
    target = Path(destination)
    recorded = recorded_digest(target)
    if target.is_file():
        actual = sha256_of(target)
        expected = (sha256 or recorded or "").lower()
        if not expected:  # first use of a file without a published checksum: trust it, remember it
            record_digest(target, actual)
            return target
        if actual == expected:
            return target
        if sha256 is None:
            raise DownloadError(f"{target} changed since its sha256 was recorded on first download "
                                f"({expected[:16]}…, now {actual[:16]}…); delete it and its .sha256 file to "
                                "download it again")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    offset = partial.stat().st_size if partial.is_file() else 0
    if progress is None:
        progress = sys.stderr.isatty()
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the part is complete (or bogus): start over once
            partial.unlink()
            return download(url, destination, sha256, progress, timeout, on_chunk)
        raise DownloadError(f"cannot download {url} (HTTP {error.code} {error.reason}); check the URL or try later") from error
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"cannot download {url} ({reason}); check your connection and run again") from error
    with response:
        resumed = offset > 0 and getattr(response, "status", 200) == 206
        if not resumed:
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        done = offset
        try:
            with open(partial, "ab" if resumed else "wb") as out, _Progress(target.name, progress) as bar:
                for block in _chunks(response):
                    out.write(block)
                    done += len(block)
                    bar.update(done, total)
                    if on_chunk is not None:
                        on_chunk(done)
        except (OSError, urllib.error.URLError, http.client.HTTPException) as error:
            raise DownloadError(
                f"download of {url} broke off after {done} bytes ({error}); run the command again to resume"
            ) from error
    if total is not None and done != total:
        raise DownloadError(f"download of {url} stopped at {done} of {total} bytes; run the command again to resume")
    if sha256 is not None:
        actual = sha256_of(partial)
        if actual != sha256.lower():
            partial.unlink()
            raise DownloadError(
                f"checksum mismatch for {target.name}: expected sha256 {sha256.lower()}, got {actual}; "
                "the file was deleted, run again (report it if it persists)"
            )
    os.replace(partial, target)
    if sha256 is None:
        record_digest(target, sha256_of(target))
    return target


def digest_file(target: Path) -> Path:
    """Where the digest of a file without a published checksum is kept (trust on first use)."""
    return target.with_name(target.name + ".sha256")


def recorded_digest(target: Path) -> str | None:
    path = digest_file(target)
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8").split()
    return text[0].lower() if text else None


def record_digest(target: Path, digest: str) -> None:
    atomic_write_text(digest_file(target), f"{digest}  {target.name}\n")


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
    for source in card.download:
        target = destination_of(root, source)
        if needs_manual_download(source.url):
            line = (
                f"{target.name}: Google Drive only, which plain HTTP cannot fetch reliably; open {source.url} "
                f"in a browser and save it as {target}"
            )
            if not target.is_file():
                report.manual.append(line)
            continue
        if force and target.is_file():
            target.unlink()
        log(f"fetching {source.url}")
        download(source.url, target, source.sha256, progress=progress)
        if source.sha256 is None:
            log(f"  {target.name}: no published checksum; sha256 {sha256_of(target)} recorded in "
                f"{digest_file(target).name} and verified on every later use")
        report.downloaded.append(target)
        if is_archive(target):
            marker = target.with_name(f".{target.name}.extracted")
            if force or not marker.is_file():
                log(f"extracting {target.name}")
                extract(target, root)
                atomic_write_text(marker, sha256_of(target) + "\n")
            report.extracted.append(target)
    return report
