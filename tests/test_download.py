"""Download, resume, checksum and the `corrbench download` command against a loopback server."""

from __future__ import annotations

import hashlib
import http.server
import os
import tarfile
import threading
from pathlib import Path

import pytest

from corrbench.data.cards import load_card
from corrbench.cli import main as cli_main
from corrbench.data.download import DownloadError, download, fetch_dataset


class Server:
    """``http.server`` on 127.0.0.1 (ephemeral port) serving bytes, with Range support."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_after: dict[str, int] = {}  # path -> bytes sent before dropping the connection (once)
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                wanted = self.headers.get("Range")
                server.requests.append((self.path, wanted))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if wanted and not server.ignore_range:
                    start = int(wanted.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                cut = server.cut_after.pop(self.path, None)
                self.wfile.write(body[start:cut] if cut is not None else body[start:])
                if cut is not None:
                    self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture()
def server():
    srv = Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(timeout=5)


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
    with pytest.raises(DownloadError, match=r"checksum mismatch for c.bin: expected sha256 0{64}, got "):
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


def test_google_drive_entries_become_one_line_instructions(server, tmp_path, cards, monkeypatch, capsys):
    server.files["/list.csv"] = b"a,b\n"
    write_card(
        cards, "pfpascal", "pfpascal",
        f"  - url: {server.url('/list.csv')}\n    filename: PF-dataset-PASCAL/test_pairs.csv\n"
        "  - url: https://drive.google.com/uc?id=111tpXshLiJ4qudBHoGK3HbMSNr9vVRq9\n"
        "    filename: PF-dataset-PASCAL/train_pairs_pf_pascal.csv\n",
    )
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("corrbench.cli.download_cmd",))
    assert cli_main.main(["download", "pfpascal", "--root", str(tmp_path / "pp"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Google Drive only" in err[0] and "train_pairs_pf_pascal.csv" in err[0]
    assert (tmp_path / "pp" / "PF-dataset-PASCAL" / "test_pairs.csv").read_bytes() == b"a,b\n"
    assert all("drive.google" not in path for path, _ in server.requests)


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
