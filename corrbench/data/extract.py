"""Extraction of downloaded archives, treating them as untrusted.

Every member is checked before anything is written: absolute names, ``..`` components, links
whose target leaves the destination, hard links to outside names and device files are refused
with a one-line :class:`ExtractError` naming the member.  Files are then written by this module
(never ``extractall``), each one re-checked against the real path of the destination so a link
extracted earlier cannot redirect a later member.
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


class ExtractError(CorrbenchError):
    """An archive is unsafe or unreadable."""


@dataclass(frozen=True)
class Member:
    name: str  # normalised, relative, '/'-separated
    kind: str  # "dir" | "file" | "symlink" | "hardlink"
    link: str = ""  # symlink target as stored, or the hard link's member name
    mode: int = 0o644


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
                    name = _clean_name(path, info.filename)
                    mode = (info.external_attr >> 16) & 0xFFFF
                    if info.is_dir():
                        members.append(Member(name, "dir"))
                    elif stat.S_ISLNK(mode):
                        link = zf.read(info).decode("utf-8", "replace")
                        members.append(Member(name, "symlink", link))
                    else:
                        members.append(Member(name, "file", mode=(mode & 0o777) or 0o644))
        else:
            with tarfile.open(path) as tf:
                for info in tf.getmembers():
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
                        members.append(Member(name, "file", mode=(info.mode & 0o777) or 0o644))
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


def extract(archive: str | os.PathLike[str], destination: str | os.PathLike[str]) -> list[str]:
    """Extract ``archive`` into ``destination`` safely; returns the member names written."""
    path = Path(archive)
    members = list_members(path)  # validate everything before writing anything
    root = Path(destination)
    root.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.realpath(root))

    def place(name: str) -> Path:
        """Real path for ``name``, refusing one that an earlier link sends outside ``root``."""
        parent, _, base = name.rpartition("/")
        real_parent = os.path.realpath(root / parent) if parent else str(root)
        if not _inside(root, real_parent):
            raise _refuse(path, name, "would be written through a link outside the destination")
        Path(real_parent).mkdir(parents=True, exist_ok=True)
        return Path(real_parent) / base

    is_zip = path.name.lower().endswith(".zip")
    written = []
    with (zipfile.ZipFile(path) if is_zip else tarfile.open(path)) as handle:
        infos = handle.infolist() if is_zip else handle.getmembers()
        for info, member in zip(infos, members):
            target = place(member.name)
            if member.kind == "dir":
                if target.is_symlink():
                    raise _refuse(path, member.name, "is a folder that an earlier link already occupies")
                target.mkdir(exist_ok=True)
                continue
            if target.is_symlink() or target.is_file():
                target.unlink()
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
                    shutil.copyfileobj(source, out, length=1 << 20)
                os.chmod(target, member.mode | stat.S_IRUSR | stat.S_IWUSR)
            written.append(member.name)
    return written
