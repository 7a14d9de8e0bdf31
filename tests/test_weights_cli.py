"""``--weights TAG`` end to end, offline: the registry entry sfnet:pfpascal served by a loopback mirror."""

from __future__ import annotations

import json

import pytest
import torch

from corrbench.cli import main as cli_main
from http_server import server  # noqa: F401  (fixture)


def sfnet_official_file(c3: int = 56, c4: int = 152, k3: int = 5, k4: int = 3) -> bytes:
    """A file laid out as SFNet's released best_checkpoint.pt (state_dict1/2), sized for the embedded preset."""
    import io

    generator = torch.Generator().manual_seed(0)

    def layer(channels: int, kernel: int) -> dict:
        state = {}
        for block in ("conv1", "conv2"):
            state[f"{block}.0.weight"] = torch.randn(channels, channels, kernel, kernel, generator=generator) * 0.01
            state[f"{block}.0.bias"] = torch.zeros(channels)
            state[f"{block}.1.weight"] = torch.ones(channels)
            state[f"{block}.1.bias"] = torch.zeros(channels)
            state[f"{block}.1.running_mean"] = torch.zeros(channels)
            state[f"{block}.1.running_var"] = torch.ones(channels)
            state[f"{block}.1.num_batches_tracked"] = torch.tensor(1)
        return state

    buffer = io.BytesIO()
    torch.save({"state_dict1": layer(c3, k3), "state_dict2": layer(c4, k4)}, buffer)
    return buffer.getvalue()


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CORRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CORRBENCH_MIRROR", raising=False)
    return tmp_path


def test_run_with_a_weights_tag_fetches_verifies_caches_and_uses_the_file(server, env, monkeypatch, capsys):
    server.files["/mirror/weights/sfnet/pfpascal/best_checkpoint.pt"] = sfnet_official_file()
    monkeypatch.setenv("CORRBENCH_MIRROR", server.url("/mirror"))
    out = env / "r.json"
    argv = ["run", "--method", "sfnet", "--dataset", "synthetic", "--weights", "sfnet:pfpascal",
            "-o", "config=embedded", "-o", "feature_size=8", "-o", "pretrained=false", "--limit", "2",
            "--no-leaderboard", "--no-resume", "--json", str(out)]
    assert cli_main.main(argv) == 0
    err = capsys.readouterr().err
    assert "no published checksum; sha256" in err  # the digest is printed on first use
    cached = env / "cache" / "weights" / "sfnet" / "pfpascal" / "best_checkpoint.pt"
    assert cached.is_file() and (cached.parent / "best_checkpoint.pt.sha256").is_file()
    identity = json.loads(out.read_text())["identity"]
    assert identity["weights"].startswith("sfnet:pfpascal@") and identity["options"]["config"] == "embedded"
    assert server.paths() == ["/mirror/weights/sfnet/pfpascal/best_checkpoint.pt"]
    assert cli_main.main(argv) == 0  # second run: from the cache, verified, no request
    assert len(server.requests) == 1


def test_an_unknown_tag_fails_before_any_work_with_suggestions(env, capsys):
    code = cli_main.main(["run", "--method", "sfnet", "--dataset", "synthetic", "--weights", "sfnet:pfpacsal",
                          "--no-leaderboard"])
    err = capsys.readouterr().err
    assert code == 2 and "Did you mean 'sfnet:pfpascal'" in err and len(err.strip().splitlines()) == 1


def test_a_tag_of_another_method_is_refused(env, capsys):
    assert cli_main.main(["run", "--method", "nemf", "--dataset", "synthetic", "--weights", "sfnet:pfpascal"]) == 2
    assert "are for sfnet" in capsys.readouterr().err


def test_a_drive_folder_release_explains_the_manual_step(env, capsys):
    code = cli_main.main(["run", "--method", "nemf", "--dataset", "synthetic", "--weights", "nemf:spair",
                          "--no-leaderboard", "--limit", "1"])
    err = capsys.readouterr().err
    assert code != 0 and "cannot be downloaded automatically" in err and "SPAIR-NEMF/model_best.pth" in err
    assert str(env / "cache" / "weights" / "nemf" / "spair" / "model_best.pth") in err


def test_corrbench_weights_lists_every_official_release_and_the_cache(server, env, monkeypatch, capsys):
    assert cli_main.main(["weights"]) == 0
    listing = capsys.readouterr().out
    for tag in ("sfnet:pfpascal", "nemf:pfpascal", "nemf:spair", "rtn:pfpascal", "rtn:synthetic"):
        assert tag in listing
    assert "torchvision:resnet101" not in listing
    assert cli_main.main(["weights", "--all"]) == 0
    assert "torchvision:resnet101" in capsys.readouterr().out
    server.files["/m/weights/rtn/synthetic/net-epoch.mat"] = b"matlab bytes"
    monkeypatch.setenv("CORRBENCH_MIRROR", server.url("/m"))
    assert cli_main.main(["weights", "fetch", "rtn:synthetic"]) == 0
    path = capsys.readouterr().out.strip()
    assert path.endswith("weights/rtn/synthetic/net-epoch.mat")
    assert cli_main.main(["weights", "path", "rtn:synthetic"]) == 0 and capsys.readouterr().out.strip() == path
    assert cli_main.main(["weights", "path", "rtn:pfpascal"]) == 2
    assert "not in the cache" in capsys.readouterr().err


def test_nemf_on_pfpascal_turns_the_official_padding_on_and_says_so(capsys):
    import argparse

    from corrbench.cli.run_cmd import build_method

    args = argparse.Namespace(method="nemf", weights=None, device="cpu", dataset="pfpascal",
                              option=["config=embedded", "feature_size=4", "input_size=64", "feature_proj_dim=16",
                                      "level_channels=4"])
    method = build_method(args)
    assert method.config.pad_to_same_shape
    assert "pad_to_same_shape=true, as the paper's test path" in capsys.readouterr().err
