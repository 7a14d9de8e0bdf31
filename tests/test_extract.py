"""Archives are untrusted: crafted members must never land outside the destination."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from corrbench.data.extract import ExtractError, extract, list_members


def make_tar(path: Path, members: list[tuple[str, str, str]]) -> Path:
    """members: (name, kind, payload) with kind file|dir|sym|hard|fifo."""
    with tarfile.open(path, "w:gz") as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                data = payload.encode()
                info.size = len(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, payload
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, payload
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def make_zip(path: Path, members: list[tuple[str, str]], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members:
            zf.writestr(name, payload)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def test_good_archives_extract(tmp_path):
    tar = make_tar(tmp_path / "ok.tar.gz", [("SPair-71k", "dir", ""), ("SPair-71k/a.txt", "file", "A"),
                                            ("SPair-71k/link", "sym", "a.txt"), ("SPair-71k/hard", "hard", "SPair-71k/a.txt")])
    written = extract(tar, tmp_path / "out")
    assert (tmp_path / "out" / "SPair-71k" / "a.txt").read_text() == "A"
    assert (tmp_path / "out" / "SPair-71k" / "link").read_text() == "A"
    assert (tmp_path / "out" / "SPair-71k" / "hard").read_text() == "A"
    assert "SPair-71k/a.txt" in written
    archive = make_zip(tmp_path / "ok.zip", [("PF-dataset/x.csv", "1,2"), ("./PF-dataset/y.csv", "3")])
    extract(archive, tmp_path / "zout")
    assert (tmp_path / "zout" / "PF-dataset" / "y.csv").read_text() == "3"


@pytest.mark.parametrize(
    "members, why",
    [
        ([("/etc/evil", "file", "x")], "absolute path"),
        ([("ok/../../evil", "file", "x")], "contains '..'"),
        ([("../evil", "file", "x")], "contains '..'"),
        ([("link", "sym", "/etc")], "absolute path"),
        ([("d/link", "sym", "../../outside")], "pointing outside"),
        ([("hard", "hard", "../outside")], "contains '..'"),
        ([("hard", "hard", "not-in-archive")], "not a file of the archive"),
        ([("pipe", "fifo", "")], "special file"),
    ],
)
def test_crafted_tar_members_are_refused(tmp_path, members, why):
    archive = make_tar(tmp_path / "bad.tar.gz", [("good.txt", "file", "fine")] + members)
    destination = tmp_path / "root" / "data"
    with pytest.raises(ExtractError, match=why) as caught:
        extract(archive, destination)
    assert "\n" not in str(caught.value) and repr(members[0][0]) in str(caught.value)
    assert not (destination / "good.txt").exists()  # validated before anything is written
    assert not (tmp_path / "root" / "evil").exists() and not (tmp_path / "evil").exists()


def test_link_chain_escape_is_refused(tmp_path):
    # 'a/l' -> '..' stays inside lexically; 'b' -> 'a/l/..' looks inside but really is the parent.
    archive = make_tar(tmp_path / "chain.tar", [("a", "dir", ""), ("a/l", "sym", ".."), ("b", "sym", "a/l/.."),
                                                 ("b/escaped.txt", "file", "x")])
    destination = tmp_path / "root"
    with pytest.raises(ExtractError, match="outside"):
        extract(archive, destination)
    assert not (tmp_path / "escaped.txt").exists()
    assert not os.path.lexists(destination / "b")


def test_zip_absolute_dotdot_and_link_out(tmp_path):
    for name, why in (("/abs.txt", "absolute"), ("x/../../up.txt", "'..'"), ("C:/win.txt", "absolute")):
        archive = make_zip(tmp_path / "bad.zip", [(name, "x")])
        with pytest.raises(ExtractError, match=why):
            extract(archive, tmp_path / "zroot")
    archive = make_zip(tmp_path / "link.zip", [("a.txt", "x")], symlinks={"out": "../../etc"})
    with pytest.raises(ExtractError, match="'out'.*outside"):
        extract(archive, tmp_path / "zroot")


def test_corrupt_archive_is_one_line(tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ExtractError, match=r"cannot read archive .*broken.zip .*download again"):
        list_members(bad)


# --- integrity, size limits, rollback ------------------------------------------------------
def _tar_gz(path, files: dict[str, bytes], arcname_prefix: str = "") -> None:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(arcname_prefix + name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def test_flipped_byte_in_tar_gz_is_found_and_nothing_is_left(tmp_path):
    import os

    archive = tmp_path / "a.tar.gz"
    _tar_gz(archive, {"x/a.bin": os.urandom(200_000), "x/b.bin": os.urandom(200_000)})
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(ExtractError, match="corrupt"):
        extract(archive, out)
    assert not out.exists() or not any(out.rglob("*"))


def test_truncated_tar_gz_is_refused(tmp_path):
    archive = tmp_path / "a.tar.gz"
    _tar_gz(archive, {"a.txt": b"hello" * 1000})
    archive.write_bytes(archive.read_bytes()[:-12])  # the gzip trailer (CRC, size) is gone
    with pytest.raises(ExtractError, match="corrupt or truncated"):
        extract(archive, tmp_path / "out")


def test_zip_crc_error_is_one_line_and_leaves_no_partial_file(tmp_path):
    import zipfile

    archive = tmp_path / "a.zip"
    payload = bytes(range(256)) * 400
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("big.bin", payload)
    data = bytearray(archive.read_bytes())
    data[data.index(payload[:64]) + 5000] ^= 0x01  # stored data changes, the CRC in the header does not
    archive.write_bytes(bytes(data))
    with pytest.raises(ExtractError, match=r"CRC error in member 'big.bin'"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "big.bin").exists()


def test_zip_bomb_is_refused_before_writing(tmp_path):
    import zipfile

    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (64 * 2**20))
    assert archive.stat().st_size < 2**20
    with pytest.raises(ExtractError, match="decompression bomb"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_link_refused_mid_extraction_removes_what_was_written(tmp_path):
    import io
    import tarfile

    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tf:
        for name, data in (("first.txt", b"1"), ("second.txt", b"2")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("dir")
        link.type, link.linkname = tarfile.SYMTYPE, "."
        tf.addfile(link)
        inner = tarfile.TarInfo("dir")  # a folder where the link already stands
        inner.type = tarfile.DIRTYPE
        tf.addfile(inner)
    out = tmp_path / "out"
    with pytest.raises(ExtractError, match="earlier link"):
        extract(archive, out)
    assert not out.exists() or not list(out.iterdir())


def test_archive_made_with_tar_c_dir_dot_is_accepted(tmp_path):
    import subprocess

    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "x.txt").write_text("x")
    archive = tmp_path / "dot.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(source), "."], check=True)
    assert extract(archive, tmp_path / "out") == ["sub/x.txt"]
    assert (tmp_path / "out" / "sub" / "x.txt").read_text() == "x"
