"""Download, resume, checksum and the `corrbench download` command against a loopback server."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

import pytest

from corrbench.data.cards import load_card
from corrbench.cli import main as cli_main
from corrbench.data.download import fetch_dataset
from corrbench.fetching.http import DownloadError, download
from http_server import server  # noqa: F401  (fixture)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


PAYLOAD = os.urandom(300_000)


def test_download_verifies_and_renames_atomically(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    target = download(server.url("/a.bin"), tmp_path / "a.bin", sha256=sha(PAYLOAD), progress=False)
    assert target.read_bytes() == PAYLOAD and not (tmp_path / "a.bin.part").exists()
    download(server.url("/a.bin"), target, sha256=sha(PAYLOAD), progress=False)  # present and valid: no request
    assert len(server.requests) == 1


def test_broken_download_resumes_with_range(server, tmp_path):
    server.files["/big.bin"] = PAYLOAD
    server.cut_after["/big.bin"] = 100_000
    with pytest.raises(DownloadError, match="run the command again to resume"):
        download(server.url("/big.bin"), tmp_path / "big.bin", sha256=sha(PAYLOAD), progress=False)
    part = tmp_path / "big.bin.part"
    assert part.stat().st_size == 100_000 and not (tmp_path / "big.bin").exists()
    download(server.url("/big.bin"), tmp_path / "big.bin", sha256=sha(PAYLOAD), progress=False)
    assert (tmp_path / "big.bin").read_bytes() == PAYLOAD and not part.exists()
    assert server.requests[-1] == ("/big.bin", "bytes=100000-")


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    server.files["/x.bin"] = PAYLOAD
    (tmp_path / "x.bin.part").write_bytes(b"garbage" * 10)
    server.ignore_range = True
    download(server.url("/x.bin"), tmp_path / "x.bin", sha256=sha(PAYLOAD), progress=False)
    assert (tmp_path / "x.bin").read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_and_explains(server, tmp_path):
    server.files["/c.bin"] = PAYLOAD
    with pytest.raises(DownloadError, match=r"checksum mismatch for c.bin from http://127.0.0.1:\d+/c.bin: expected sha256 0{64}…, got "):
        download(server.url("/c.bin"), tmp_path / "c.bin", sha256="0" * 64, progress=False)
    assert not (tmp_path / "c.bin").exists() and not (tmp_path / "c.bin.part").exists()


def test_http_error_is_one_line(server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 404") as caught:
        download(server.url("/missing"), tmp_path / "m.bin", progress=False)
    assert "\n" not in str(caught.value)


@pytest.fixture()
def cards(tmp_path, monkeypatch):
    folder = tmp_path / "cards"
    folder.mkdir()
    monkeypatch.setenv("CORRBENCH_CARDS", str(folder))
    load_card.cache_clear()
    yield folder
    load_card.cache_clear()


def write_card(folder: Path, name: str, base_card: str, download_yaml: str) -> None:
    import yaml

    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "datasets" / f"{base_card}.yaml").read_text())
    data.pop("download")
    data["name"] = name
    text = yaml.safe_dump(data) + "download:\n" + download_yaml
    (folder / f"{name}.yaml").write_text(text)


@pytest.mark.shared
def test_corrbench_download_then_the_loader_works(server, tmp_path, cards, monkeypatch, shared_data, capsys):
    from dataset_roots import build_spair

    staging = tmp_path / "staging"
    build_spair(staging, shared_data, masks=False)
    archive = tmp_path / "SPair-71k.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(staging / "SPair-71k", arcname="SPair-71k")
    blob = archive.read_bytes()
    server.files["/SPair-71k.tar.gz"] = blob
    server.cut_after["/SPair-71k.tar.gz"] = len(blob) // 3  # the first attempt breaks off
    write_card(cards, "spair", "spair", f"  - url: {server.url('/SPair-71k.tar.gz')}\n    filename: SPair-71k.tar.gz\n    sha256: {sha(blob)}\n")
    monkeypatch.setenv("CORRBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("corrbench.cli.download_cmd",))
    assert cli_main.main(["download", "spair", "--no-progress"]) == 2
    assert "run the command again to resume" in capsys.readouterr().err
    assert cli_main.main(["download", "spair", "--no-progress"]) == 0
    assert "spair ready at" in capsys.readouterr().out
    assert server.requests[-1][1] == f"bytes={len(blob) // 3}-"

    from corrbench.data.spair import SPairDataset

    data = SPairDataset(split="test", subset=True)  # root from $CORRBENCH_DATA/spair (the 20-pair sample)
    assert len(data) == 20 and data[0].src_image.ndim == 3
    # a second run finds everything in place: no new request, no re-extraction
    count = len(server.requests)
    assert cli_main.main(["download", "spair", "--no-progress"]) == 0
    assert len(server.requests) == count


def test_google_drive_folder_entries_become_one_line_instructions(server, tmp_path, cards, monkeypatch, capsys):
    server.files["/list.csv"] = b"a,b\n"
    write_card(
        cards, "pfpascal", "pfpascal",
        f"  - url: {server.url('/list.csv')}\n    filename: PF-dataset-PASCAL/test_pairs.csv\n"
        "  - url: https://drive.google.com/drive/folders/1aBcDeFgHiJkLmNoPqRsTuVwXyZ\n"
        "    filename: PF-dataset-PASCAL/train_pairs_pf_pascal.csv\n",
    )
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("corrbench.cli.download_cmd",))
    assert cli_main.main(["download", "pfpascal", "--root", str(tmp_path / "pp"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Google Drive folder" in err[0] and "train_pairs_pf_pascal.csv" in err[0]
    assert (tmp_path / "pp" / "PF-dataset-PASCAL" / "test_pairs.csv").read_bytes() == b"a,b\n"
    assert all("drive.google" not in path for path, _ in server.requests)


def test_alternative_sources_of_one_file_are_tried_in_order(server, tmp_path, cards, monkeypatch):
    server.files["/mirror/list.csv"] = b"x,y\n"
    write_card(cards, "pfpascal", "pfpascal",
               f"  - url: {server.url('/gone/list.csv')}\n    filename: list.csv\n"
               f"  - url: {server.url('/mirror/list.csv')}\n    filename: list.csv\n")
    report = fetch_dataset("pfpascal", tmp_path / "pp", progress=False, log=lambda line: None)
    assert (tmp_path / "pp" / "list.csv").read_bytes() == b"x,y\n" and report.downloaded == [tmp_path / "pp" / "list.csv"]
    assert server.paths() == ["/gone/list.csv", "/mirror/list.csv"]


def test_dataset_downloads_come_from_the_mirror_folder_when_set(server, tmp_path, cards, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "datasets" / "pfpascal").mkdir(parents=True)
    (mirror / "datasets" / "pfpascal" / "list.csv").write_bytes(b"m,n\n")
    write_card(cards, "pfpascal", "pfpascal", f"  - url: {server.url('/origin/list.csv')}\n    filename: list.csv\n"
               f"    sha256: {sha(b'm,n' + bytes([10]))}\n")
    monkeypatch.setenv("CORRBENCH_MIRROR", str(mirror))
    fetch_dataset("pfpascal", tmp_path / "pp", progress=False, log=lambda line: None)
    assert (tmp_path / "pp" / "list.csv").read_bytes() == b"m,n\n" and server.requests == []


def test_unknown_dataset_and_unsafe_card_file_name(tmp_path, cards, monkeypatch, capsys):
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("corrbench.cli.download_cmd",))
    write_card(cards, "spair", "spair", "  - url: http://127.0.0.1:9/x.tar\n    filename: ../escape.tar\n")
    assert cli_main.main(["download", "spiar"]) == 2
    assert "Did you mean 'spair'" in capsys.readouterr().err
    with pytest.raises(Exception, match="must be a relative path inside the dataset root"):
        fetch_dataset("spair", tmp_path / "root", progress=False)


def test_without_a_published_checksum_the_first_digest_is_recorded_and_verified_later(server, tmp_path):
    server.files["/u.bin"] = PAYLOAD
    target = download(server.url("/u.bin"), tmp_path / "u.bin", progress=False)
    recorded = (tmp_path / "u.bin.sha256").read_text().split()[0]
    assert recorded == sha(PAYLOAD)
    download(server.url("/u.bin"), target, progress=False)  # unchanged: verified, no request
    assert len(server.requests) == 1
    data = bytearray(target.read_bytes())
    data[10] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(DownloadError, match="changed since its sha256 was recorded"):
        download(server.url("/u.bin"), target, progress=False)
