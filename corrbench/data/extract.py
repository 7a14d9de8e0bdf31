"""Extraction of downloaded archives, treating them as untrusted.

Every member is checked before anything is written: absolute names, ``..`` components, links
whose target leaves the destination, hard links to outside names and device files are refused
with a one-line :class:`ExtractError` naming the member.  The compressed stream is read through
once first, so a gzip/bz2/xz checksum error or a truncated file is found before any write (tarfile
alone stops at the end-of-archive block and never reads gzip's CRC).  Declared sizes are capped
(:data:`MAX_TOTAL_BYTES`, :data:`MAX_RATIO` to the archive's size) and every copy is counted
against its member's declared size, so a zip bomb stops early.  Files are then written by this
module (never ``extractall``), each one re-checked against the real path of the destination so a
link extracted earlier cannot redirect a later member.  On any failure everything this call wrote
is removed again.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from corrbench.errors import CorrbenchError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
#: The largest total the members of one archive may declare (SPair-71k unpacks to about 2 GB).
MAX_TOTAL_BYTES = 64 * 2**30
#: The largest ratio of declared to compressed size (real image datasets are near 1; bombs are 1000+).
MAX_RATIO = 200


class ExtractError(CorrbenchError):
    """An archive is unsafe or unreadable."""


@dataclass(frozen=True)
class Member:
    name: str  # normalised, relative, '/'-separated
    kind: str  # "dir" | "file" | "symlink" | "hardlink"
    link: str = ""  # symlink target as stored, or the hard link's member name
    mode: int = 0o644
    size: int = 0  # declared uncompressed size of a file member


def is_archive(path: str | os.PathLike[str]) -> bool:
    name = str(path).lower()
    return name.endswith(ARCHIVE_SUFFIXES)


def _refuse(archive: Path, member: str, why: str) -> ExtractError:
    return ExtractError(f"refusing to extract {archive.name}: member {member!r} {why}; the archive is unsafe or corrupt")


def _clean_name(archive: Path, raw: str) -> str:
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or raw.startswith("\\"):
        raise _refuse(archive, raw, "has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(archive, raw, "contains '..'")
    if not parts:
        raise _refuse(archive, raw, "has an empty name")
    return "/".join(parts)


def _is_root(raw: str) -> bool:
    return not [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".")] and not raw.startswith("/")


def _check_stream(path: Path) -> None:
    """Read the whole compressed stream once: CRC/checksum errors and truncation surface here."""
    import bz2
    import gzip
    import lzma

    name = path.name.lower()
    opener = (gzip.open if name.endswith((".gz", ".tgz")) else bz2.open if name.endswith(".bz2")
              else lzma.open if name.endswith(".xz") else None)
    try:
        if opener is not None:
            with opener(path, "rb") as stream:
                while stream.read(1 << 20):
                    pass
        elif name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
            if bad is not None:
                raise ExtractError(f"archive {path} is corrupt (CRC error in member {bad!r}); delete it and "
                                   "download again")
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, ValueError) as error:
        raise ExtractError(f"archive {path} is corrupt or truncated ({error}); delete it and download again") from error


def _check_sizes(path: Path, members: list[Member]) -> None:
    declared = sum(m.size for m in members if m.kind == "file")
    compressed = max(1, path.stat().st_size)
    if declared > MAX_TOTAL_BYTES:
        raise ExtractError(f"refusing to extract {path.name}: its members declare {declared / 2**30:.1f} GiB, "
                           f"over the {MAX_TOTAL_BYTES / 2**30:.0f} GiB limit")
    if declared > 16 * 2**20 and declared / compressed > MAX_RATIO:
        raise ExtractError(f"refusing to extract {path.name}: {compressed} bytes would unpack to {declared} "
                           f"(ratio {declared / compressed:.0f} > {MAX_RATIO}); it looks like a decompression bomb")
    free = shutil.disk_usage(path.parent).free
    if declared > free:
        raise ExtractError(f"cannot extract {path.name}: it needs {declared / 2**30:.1f} GiB, only "
                           f"{free / 2**30:.1f} GiB are free; make room and run again")


def _check_symlink(archive: Path, member: Member) -> None:
    target = member.link.replace("\\", "/")
    if target.startswith("/") or (len(target) > 1 and target[1] == ":"):
        raise _refuse(archive, member.name, f"is a link to the absolute path {member.link!r}")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member.name), target))
    if resolved == ".." or resolved.startswith("../"):
        raise _refuse(archive, member.name, f"is a link pointing outside the destination ({member.link!r})")


def list_members(archive: str | os.PathLike[str]) -> list[Member]:
    """The checked member list of ``archive`` (raises :class:`ExtractError` on the first bad one)."""
    path = Path(archive)
    members: list[Member] = []
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if info.is_dir() and _is_root(info.filename):
                        members.append(Member("", "root"))
                        continue
                    name = _clean_name(path, info.filename)
                    mode = (info.external_attr >> 16) & 0xFFFF
                    if info.is_dir():
                        members.append(Member(name, "dir"))
                    elif stat.S_ISLNK(mode):
                        link = zf.read(info).decode("utf-8", "replace")
                        members.append(Member(name, "symlink", link))
                    else:
                        members.append(Member(name, "file", mode=(mode & 0o777) or 0o644, size=info.file_size))
        else:
            with tarfile.open(path) as tf:
                for info in tf.getmembers():
                    if info.isdir() and _is_root(info.name):
                        members.append(Member("", "root"))  # `tar -C dir .` stores the folder itself as "."
                        continue
                    name = _clean_name(path, info.name)
                    if info.isdir():
                        members.append(Member(name, "dir"))
                    elif info.issym():
                        members.append(Member(name, "symlink", info.linkname))
                    elif info.islnk():
                        try:
                            link = _clean_name(path, info.linkname)
                        except ExtractError:
                            raise _refuse(path, info.name, f"is a hard link to {info.linkname!r}, outside the destination (contains '..' or is absolute)") from None
                        members.append(Member(name, "hardlink", link))
                    elif info.isfile():
                        members.append(Member(name, "file", mode=(info.mode & 0o777) or 0o644, size=info.size))
                    else:
                        raise _refuse(path, info.name, "is a device, FIFO or other special file")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as error:
        raise ExtractError(f"cannot read archive {path} ({error}); delete it and download again") from error
    for member in members:
        if member.kind == "symlink":
            _check_symlink(path, member)
    files = {m.name for m in members if m.kind == "file"}
    for member in members:
        if member.kind == "hardlink" and member.link not in files:
            raise _refuse(path, member.name, f"is a hard link to {member.link!r}, which is not a file of the archive")
    return members


def _inside(root: Path, target: str) -> bool:
    return target == str(root) or target.startswith(str(root) + os.sep)


def _copy_counted(source, out, limit: int, archive: Path, name: str) -> None:
    """Copy at most the member's declared size: a member that inflates beyond it is refused."""
    written = 0
    while True:
        block = source.read(1 << 20)
        if not block:
            return
        written += len(block)
        if written > limit:
            raise _refuse(archive, name, f"unpacks to more than its declared {limit} bytes")
        out.write(block)


def extract(archive: str | os.PathLike[str], destination: str | os.PathLike[str]) -> list[str]:
    """Extract ``archive`` into ``destination`` safely; returns the member names written.

    All or nothing: on any error the files, links and folders this call created are removed.
    """
    path = Path(archive)
    members = list_members(path)  # validate everything before writing anything
    _check_sizes(path, members)
    _check_stream(path)
    root = Path(destination)
    created: list[Path] = []
    missing = [p for p in (root, *root.parents) if not p.exists()]
    root.mkdir(parents=True, exist_ok=True)
    created += reversed(missing)
    root = Path(os.path.realpath(root))
    try:
        return _write_members(path, members, root, created)
    except BaseException as error:
        for item in reversed(created):
            try:
                if item.is_symlink() or item.is_file():
                    item.unlink()
                elif item.is_dir():
                    item.rmdir()
            except OSError:
                pass
        if isinstance(error, (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError)) and not isinstance(error, ExtractError):
            raise ExtractError(f"extracting {path.name} failed ({error}); nothing was left behind: delete the "
                               "archive and download again") from error
        raise


def _write_members(path: Path, members: list[Member], root: Path, created: list[Path]) -> list[str]:
    def place(name: str) -> Path:
        """Real path for ``name``, refusing one that an earlier link sends outside ``root``."""
        parent, _, base = name.rpartition("/")
        real_parent = os.path.realpath(root / parent) if parent else str(root)
        if not _inside(root, real_parent):
            raise _refuse(path, name, "would be written through a link outside the destination")
        folder = Path(real_parent)
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        created.extend(reversed(missing))
        return folder / base

    is_zip = path.name.lower().endswith(".zip")
    written = []
    with (zipfile.ZipFile(path) if is_zip else tarfile.open(path)) as handle:
        infos = handle.infolist() if is_zip else handle.getmembers()
        for info, member in zip(infos, members):
            if member.kind == "root":
                continue
            target = place(member.name)
            if member.kind == "dir":
                if target.is_symlink():
                    raise _refuse(path, member.name, "is a folder that an earlier link already occupies")
                if not target.exists():
                    target.mkdir()
                    created.append(target)
                continue
            if target.is_symlink() or target.is_file():
                target.unlink()
            created.append(target)
            if member.kind == "symlink":
                if not _inside(root, os.path.realpath(target.parent / member.link)):
                    raise _refuse(path, member.name, f"is a link that resolves outside the destination ({member.link!r})")
                os.symlink(member.link, target)
            elif member.kind == "hardlink":
                source_path = os.path.realpath(place(member.link))
                if not _inside(root, source_path):
                    raise _refuse(path, member.name, "is a hard link that resolves outside the destination")
                shutil.copyfile(source_path, target)
            else:
                source = handle.open(info) if is_zip else handle.extractfile(info)
                if source is None:
                    raise _refuse(path, member.name, "has no data")
                with source, open(target, "wb") as out:
                    _copy_counted(source, out, member.size, path, member.name)
                os.chmod(target, member.mode | stat.S_IRUSR | stat.S_IWUSR)
            written.append(member.name)
    return written
