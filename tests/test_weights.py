"""Official weights by tag: the verified cache, Google Drive's confirm page, resume, mirrors — all offline."""

from __future__ import annotations

import hashlib
import os

import pytest
import torch

from corrbench.errors import CheckpointError, CorrbenchError, UsageError
from corrbench.fetching.http import DownloadError
from corrbench.weights import WeightsEntry, WeightsFile, fetch_entry
from corrbench.weights import registry as weights_registry
from corrbench.weights.store import cached_path
from http_server import server  # noqa: F401  (fixture)

PAYLOAD = os.urandom(200_000)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry(*files: WeightsFile, tag: str = "fake:bench", method: str = "fake") -> WeightsEntry:
    return WeightsEntry(tag=tag, method=method, files=files, licence="test", source="tests")


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CORRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CORRBENCH_MIRROR", raising=False)
    return tmp_path / "cache"


def test_fetch_verifies_caches_and_reuses_without_a_request(server, cache):
    server.files["/w.pth"] = PAYLOAD
    e = entry(WeightsFile("w.pth", urls=(server.url("/w.pth"),), sha256=sha(PAYLOAD), size=len(PAYLOAD)))
    lines: list[str] = []
    path = fetch_entry(e, progress=False, log=lines.append)
    assert path == cache / "weights" / "fake" / "bench" / "w.pth" and path.read_bytes() == PAYLOAD
    assert fetch_entry(e, progress=False, log=lines.append) == path
    assert len(server.requests) == 1 and len(lines) == 1  # the second call neither downloads nor logs


def test_drive_confirm_form_is_followed(server, cache):
    form = (f'<html><body>Google Drive can\'t scan this file for viruses.<form id="download-form" '
            f'action="{server.url("/download")}" method="get"><input type="hidden" name="id" value="ABC">'
            '<input type="hidden" name="export" value="download"><input type="hidden" name="confirm" value="t">'
            '<input type="hidden" name="uuid" value="u-1"><input type="submit" value="Download anyway"></form>'
            '</body></html>').encode()
    server.files["/uc"], server.types["/uc"] = form, "text/html; charset=utf-8"
    server.files["/download"] = PAYLOAD
    server.need_query["/download"] = {"id": "ABC", "confirm": "t", "uuid": "u-1"}
    path = fetch_entry(entry(WeightsFile("d.pth", urls=(server.url("/uc?export=download&id=ABC"),),
                                         sha256=sha(PAYLOAD))), progress=False, log=lambda line: None)
    assert path.read_bytes() == PAYLOAD and server.paths() == ["/uc", "/download"]


def test_drive_cookie_token_is_followed(server, cache):
    """Older Drive pages: no form, a ``download_warning`` cookie whose token goes into ``confirm=``."""
    server.files["/uc"], server.types["/uc"] = b"<html>virus scan warning</html>", "text/html"
    server.cookies["/uc"] = "download_warning_123=TOKEN9; Path=/"
    server.variants["/uc"] = ({"id": "X", "confirm": "TOKEN9"}, PAYLOAD)
    path = fetch_entry(entry(WeightsFile("c.pth", urls=(server.url("/uc?id=X"),), sha256=sha(PAYLOAD))),
                       progress=False, log=lambda line: None)
    assert path.read_bytes() == PAYLOAD
    assert [p for p, _ in server.requests] == ["/uc?id=X", "/uc?id=X&confirm=TOKEN9"]


def test_drive_refusing_after_confirmation_leaves_nothing(server, cache):
    server.files["/uc"], server.types["/uc"] = b"<html>virus scan warning</html>", "text/html"
    server.cookies["/uc"] = "download_warning_123=TOKEN9; Path=/"
    with pytest.raises(DownloadError, match="refused the download after its confirmation page"):
        fetch_entry(entry(WeightsFile("c.pth", urls=(server.url("/uc?id=X"),))), progress=False, log=lambda line: None)
    assert not any((cache / "weights" / "fake" / "bench").glob("c.pth*"))


def test_a_page_without_confirmation_is_one_line_and_leaves_nothing(server, cache):
    server.files["/quota"], server.types["/quota"] = b"<html>Quota exceeded</html>", "text/html"
    with pytest.raises(DownloadError, match="returned a web page instead of the file") as caught:
        fetch_entry(entry(WeightsFile("q.pth", urls=(server.url("/quota"),))), progress=False, log=lambda line: None)
    assert "\n" not in str(caught.value) and not (cache / "weights" / "fake" / "bench" / "q.pth").exists()


def test_a_transfer_cut_half_way_resumes(server, cache):
    server.files["/big.pth"] = PAYLOAD
    server.cut_after["/big.pth"] = len(PAYLOAD) // 2
    e = entry(WeightsFile("big.pth", urls=(server.url("/big.pth"),), sha256=sha(PAYLOAD)))
    with pytest.raises(DownloadError, match="run the command again to resume"):
        fetch_entry(e, progress=False, log=lambda line: None)
    assert (cache / "weights" / "fake" / "bench" / "big.pth.part").stat().st_size == len(PAYLOAD) // 2
    assert fetch_entry(e, progress=False, log=lambda line: None).read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/big.pth", f"bytes={len(PAYLOAD) // 2}-")


@pytest.mark.parametrize("published", ["0" * 64, "deadbeef"])
def test_a_wrong_checksum_is_refused_and_nothing_is_left(server, cache, published):
    server.files["/w.pth"] = PAYLOAD
    e = entry(WeightsFile("w.pth", urls=(server.url("/w.pth"),), sha256=published))
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch_entry(e, progress=False, log=lambda line: None)
    assert not any((cache / "weights" / "fake" / "bench").iterdir())


def test_a_wrong_size_is_refused(server, cache):
    server.files["/w.pth"] = PAYLOAD
    e = entry(WeightsFile("w.pth", urls=(server.url("/w.pth"),), size=len(PAYLOAD) + 1))
    with pytest.raises(DownloadError, match=f"has {len(PAYLOAD)} bytes, {len(PAYLOAD) + 1} published"):
        fetch_entry(e, progress=False, log=lambda line: None)
    assert not any((cache / "weights" / "fake" / "bench").iterdir())


def test_without_a_published_checksum_the_digest_is_recorded_printed_and_verified(server, cache):
    server.files["/u.pth"] = PAYLOAD
    e = entry(WeightsFile("u.pth", urls=(server.url("/u.pth"),)))
    lines: list[str] = []
    path = fetch_entry(e, progress=False, log=lines.append)
    assert any(sha(PAYLOAD) in line and "no published checksum" in line for line in lines)
    path.write_bytes(b"tampered" + PAYLOAD[8:])
    with pytest.raises(DownloadError, match="changed since its sha256 was recorded"):
        fetch_entry(e, progress=False, log=lines.append)


def test_a_published_prefix_is_checked_and_the_full_digest_recorded(server, cache):
    server.files["/resnet-x.pth"] = PAYLOAD
    e = entry(WeightsFile("resnet-x.pth", urls=(server.url("/resnet-x.pth"),), sha256=sha(PAYLOAD)[:8]))
    path = fetch_entry(e, progress=False, log=lambda line: None)
    assert (path.parent / "resnet-x.pth.sha256").read_text().split()[0] == sha(PAYLOAD)


def test_the_mirror_replaces_the_origin_folder_and_server(server, cache, tmp_path, monkeypatch):
    e = entry(WeightsFile("m.pth", urls=("https://origin.invalid/m.pth",), sha256=sha(PAYLOAD)))
    folder = tmp_path / "mirror"
    (folder / "weights" / "fake" / "bench").mkdir(parents=True)
    (folder / "weights" / "fake" / "bench" / "m.pth").write_bytes(PAYLOAD)
    monkeypatch.setenv("CORRBENCH_MIRROR", str(folder))
    assert fetch_entry(e, progress=False, log=lambda line: None).read_bytes() == PAYLOAD
    cached_path(e).unlink()
    server.files["/corrbench/weights/fake/bench/m.pth"] = PAYLOAD
    monkeypatch.setenv("CORRBENCH_MIRROR", server.url("/corrbench"))
    assert fetch_entry(e, progress=False, log=lambda line: None).read_bytes() == PAYLOAD
    assert server.paths() == ["/corrbench/weights/fake/bench/m.pth"]  # the origin was never asked


def test_a_mirror_without_the_file_says_where_to_put_it(cache, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("CORRBENCH_MIRROR", str(tmp_path / "empty"))
    with pytest.raises(DownloadError, match=r"the mirror has no .*weights/fake/bench/n.pth"):
        fetch_entry(entry(WeightsFile("n.pth", urls=("https://origin.invalid/n.pth",))), progress=False,
                    log=lambda line: None)
    monkeypatch.setenv("CORRBENCH_MIRROR", "ftp://nowhere")
    with pytest.raises(UsageError, match="neither an http"):
        fetch_entry(entry(WeightsFile("n.pth", urls=("https://origin.invalid/n.pth",))), progress=False,
                    log=lambda line: None)


def test_a_drive_folder_is_a_manual_step_unless_a_mirror_serves_it(cache, tmp_path, monkeypatch):
    e = entry(WeightsFile("model_best.pth", urls=("https://drive.google.com/drive/folders/XYZ",),
                          manual="open the authors' Drive folder"))
    with pytest.raises(CheckpointError, match="cannot be downloaded automatically; open the authors' Drive folder, "
                                              "and save it as .*model_best.pth"):
        fetch_entry(e, progress=False, log=lambda line: None)
    (tmp_path / "mirror" / "weights" / "fake" / "bench").mkdir(parents=True)
    (tmp_path / "mirror" / "weights" / "fake" / "bench" / "model_best.pth").write_bytes(PAYLOAD)
    monkeypatch.setenv("CORRBENCH_MIRROR", str(tmp_path / "mirror"))
    assert fetch_entry(e, progress=False, log=lambda line: None).read_bytes() == PAYLOAD


def test_entries_refuse_bad_declarations():
    with pytest.raises(CorrbenchError, match="must read '<method>:<name>'"):
        entry(WeightsFile("a.pth", urls=("http://x/a",)), tag="nocolon")
    with pytest.raises(CorrbenchError, match="plain file name"):
        WeightsFile("../a.pth", urls=("http://x/a",))
    with pytest.raises(CorrbenchError, match="8 to 64 hex"):
        from corrbench.fetching.http import check_published_digest

        check_published_digest("xyz", "a.pth")


def test_tags_resolve_and_unknown_ones_suggest_close_names(monkeypatch):
    fake = entry(WeightsFile("a.pth", urls=("http://x/a",)), tag="sfnet:pfpascal", method="sfnet")
    monkeypatch.setattr(weights_registry, "all_entries", lambda: {fake.tag: fake})
    with pytest.raises(UsageError, match=r"unknown weights tag 'sfnet:pfpacal'. Did you mean 'sfnet:pfpascal'"):
        weights_registry.resolve_weights("sfnet", "sfnet:pfpacal", fetch=False)
    with pytest.raises(UsageError, match="are for sfnet"):
        weights_registry.resolve_weights("nemf", "sfnet:pfpascal", fetch=False)
    with pytest.raises(CheckpointError, match="no such file"):
        weights_registry.resolve_weights("sfnet", "missing/file.pth", fetch=False)
    assert weights_registry.resolve_weights("sfnet", "sfnet:pfpascal", fetch=False).entry is fake


def test_the_installed_registry_has_the_backbones_and_unique_tags():
    entries = weights_registry.all_entries()
    assert {"torchvision:resnet101", "timm:vit_small_patch14_dinov2.lvd142m"} <= set(entries)
    assert all(e.kind in ("official", "backbone") for e in entries.values())


def test_pretrained_backbones_go_through_the_cache(cache, tmp_path, monkeypatch):
    """``pretrained=true`` loads the cached file (here served by a mirror folder), not timm's own cache."""
    import timm
    from safetensors.torch import save_file

    from corrbench.training.pretrained import timm_model

    reference = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.normal_()
    folder = tmp_path / "mirror" / "weights" / "timm" / "resnet10t.c3_in1k"
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(folder / "resnet10t.c3_in1k.safetensors"))
    monkeypatch.setenv("CORRBENCH_MIRROR", str(tmp_path / "mirror"))
    built = timm_model("resnet10t", pretrained=True, num_classes=0)
    assert torch.equal(built.conv1[0].weight, reference.conv1[0].weight)
    assert (cache / "weights" / "timm" / "resnet10t.c3_in1k" / "resnet10t.c3_in1k.safetensors").is_file()


def test_a_torchvision_backbone_with_another_digest_is_refused(cache, tmp_path, monkeypatch):
    from corrbench.training.pretrained import torchvision_model

    folder = tmp_path / "mirror" / "weights" / "torchvision" / "resnet50"
    folder.mkdir(parents=True)
    torch.save({"not": torch.zeros(1)}, folder / "resnet50-0676ba61.pth")  # not torchvision's file
    monkeypatch.setenv("CORRBENCH_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(CheckpointError, match="cannot get pretrained torchvision:resnet50 weights: checksum mismatch"):
        torchvision_model("resnet50", pretrained=True)
    assert not (cache / "weights" / "torchvision" / "resnet50" / "resnet50-0676ba61.pth").exists()
