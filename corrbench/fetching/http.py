"""One verified, resumable download: ``download(url, destination, sha256=…, mirror_path=…)``.

A download goes to ``<file>.part``; an interrupted one resumes with an HTTP ``Range`` request (a
server that ignores it restarts the file).  The finished file is checked against the published
sha256 (a full digest, or a prefix of at least 8 hex digits as torchvision's file names carry) and
its published size, and only then renamed into place, so a file under its final name is always
complete; a mismatching file is deleted.  Where the publisher gives no checksum, the digest of the
first download is recorded beside the file (``<file>.sha256``) and verified on every later use.
With ``CORRBENCH_MIRROR`` set, the file comes from the mirror instead of its origin.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Callable, Iterator

from corrbench import __version__
from corrbench.errors import CorrbenchError
from corrbench.fetching import gdrive
from corrbench.fetching.mirror import MIRROR_ENV, mirror_base, mirror_source
from corrbench.io import atomic_write_text

CHUNK = 1 << 16
MIN_PREFIX = 8
PAGE_LIMIT = 1 << 20  # a confirm page is small; a "page" larger than this is the file itself


class DownloadError(CorrbenchError):
    """A file could not be fetched or failed its checksum."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_published_digest(digest: str | None, what: str) -> str | None:
    """A published sha256 (full or a prefix of >= 8 hex digits), lower-cased; anything else is an error."""
    if digest is None:
        return None
    text = str(digest).strip().lower()
    if len(text) < MIN_PREFIX or len(text) > 64 or any(c not in "0123456789abcdef" for c in text):
        raise CorrbenchError(f"{what}: sha256 {digest!r} must be 8 to 64 hex digits")
    return text


def digest_matches(actual: str, expected: str) -> bool:
    return actual.lower().startswith(expected.lower())


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


class _Progress:
    """A rich progress bar on a terminal; silence otherwise."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.enabled = enabled
        self.label = label
        self._bar = None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

            self._bar = Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                                 transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=None)
        return self

    def update(self, done: int, total: int | None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _chunks(response, size: int = CHUNK) -> Iterator[bytes]:
    while True:
        block = response.read(size)
        if not block:
            return
        yield block


def _verify_existing(target: Path, expected: str | None, published: bool) -> bool:
    """True when ``target`` is already the right file; records a first digest where none is known."""
    actual = sha256_of(target)
    if expected is None:
        record_digest(target, actual)  # first use of a file without a published checksum: remember it
        return True
    if digest_matches(actual, expected):
        if len(expected) < 64 and recorded_digest(target) is None:
            record_digest(target, actual)  # a published prefix: keep the full digest for later checks
        return True
    if published:
        return False  # a stale or broken file under the final name: fetch it again
    raise DownloadError(f"{target} changed since its sha256 was recorded on first download "
                        f"({expected[:16]}…, now {actual[:16]}…); delete it and its .sha256 file to "
                        "download it again")


def download(
    url: str,
    destination: str | os.PathLike[str],
    sha256: str | None = None,
    progress: bool | None = None,
    timeout: float = 60.0,
    on_chunk: Callable[[int], None] | None = None,
    *,
    size: int | None = None,
    mirror_path: str | None = None,
) -> Path:
    """Fetch ``url`` (or its copy under ``mirror_path`` on ``$CORRBENCH_MIRROR``) to ``destination``."""
    target = Path(destination)
    published = check_published_digest(sha256, target.name)
    recorded = recorded_digest(target)
    expected = recorded if published and recorded and digest_matches(recorded, published) else (published or recorded)
    if target.is_file() and _verify_existing(target, expected, published is not None):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    if progress is None:
        progress = sys.stderr.isatty()
    base = mirror_base() if mirror_path else None
    source = mirror_source(mirror_path, base) if base else gdrive.direct_url(url)
    where = f"{source} ({MIRROR_ENV})" if base else str(source)
    if isinstance(source, Path):
        _copy_local(source, partial, target, url, progress)
    else:
        _fetch_http(source, partial, target, where, timeout, progress, on_chunk)
    done = partial.stat().st_size
    if size is not None and done != int(size):
        partial.unlink()
        raise DownloadError(f"{target.name} from {where} has {done} bytes, {int(size)} published; the file was "
                            "deleted, run again (report it if it persists)")
    actual = sha256_of(partial)
    wanted = published or recorded  # a re-download of a file whose digest was recorded must match it
    if wanted is not None and not digest_matches(actual, wanted):
        partial.unlink()
        raise DownloadError(f"checksum mismatch for {target.name} from {where}: expected sha256 {wanted}…, "
                            f"got {actual}; the file was deleted, run again (report it if it persists)")
    os.replace(partial, target)
    if published is None or len(published) < 64:
        record_digest(target, actual)
    return target


def _copy_local(source: Path, partial: Path, target: Path, origin: str, progress: bool) -> None:
    if not source.is_file():
        raise DownloadError(f"the mirror has no {source}; copy {target.name} (from {origin}) there, "
                            f"or unset {MIRROR_ENV} to download from the origin")
    with open(source, "rb") as src, open(partial, "wb") as out, _Progress(target.name, progress):
        shutil.copyfileobj(src, out, CHUNK * 16)


def _open(opener: urllib.request.OpenerDirector, url: str, offset: int, timeout: float):
    headers = {"User-Agent": f"corrbench/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)


def _open_file(opener, url: str, offset: int, timeout: float, where: str):
    """The response that carries the file: Drive's confirm page, if any, followed once."""
    cookies = next(h.cookiejar for h in opener.handlers if isinstance(h, urllib.request.HTTPCookieProcessor))
    response = _open(opener, url, offset, timeout)
    if response.headers.get_content_type() != "text/html":
        return response
    with response:
        page = response.read(PAGE_LIMIT).decode("utf-8", "replace")
        page_url = response.geturl()
    confirm = gdrive.confirm_url(page, page_url, cookies)
    if confirm is None:
        raise DownloadError(f"{where} returned a web page instead of the file (a quota, login or removed "
                            "file); open it in a browser, save the file, and pass its path")
    response = _open(opener, confirm, offset, timeout)
    if response.headers.get_content_type() == "text/html":
        response.close()
        raise DownloadError(f"{where}: Google Drive refused the download after its confirmation page (quota "
                            "exceeded?); try later or save the file from a browser")
    return response


def _fetch_http(url: str, partial: Path, target: Path, where: str, timeout: float, progress: bool,
                on_chunk: Callable[[int], None] | None) -> None:
    offset = partial.stat().st_size if partial.is_file() else 0
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    try:
        response = _open_file(opener, url, offset, timeout, where)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the part is complete (or bogus): start over once
            partial.unlink()
            return _fetch_http(url, partial, target, where, timeout, progress, on_chunk)
        raise DownloadError(f"cannot download {where} (HTTP {error.code} {error.reason}); check the URL or try later") from error
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"cannot download {where} ({reason}); check your connection (or set {MIRROR_ENV}) "
                            "and run again") from error
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
            raise DownloadError(f"download of {where} broke off after {done} bytes ({error}); run the command "
                                "again to resume") from error
    if total is not None and done != total:
        raise DownloadError(f"download of {where} stopped at {done} of {total} bytes; run the command again to resume")
