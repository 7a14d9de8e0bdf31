"""The dinov2 plugin offline: random-init ViTs, weights from the mirror or a file, the one-line offline error, the CLI."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import torch

from corrbench.api import Pair
from corrbench.errors import CheckpointError, UsageError
from corrbench.eval.transfer import identity_grid
from corrbench_dinov2 import method as method_module
from corrbench_dinov2.backbone import block_tokens, build_vit, timm_name
from corrbench_dinov2.method import DINOv2Method

SMALL = dict(model="vits14", size=56, pretrained=False)


def noise(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def randomised(model: torch.nn.Module, seed: int = 7) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.02)
    return model


@pytest.mark.parametrize("registers", [False, True])
def test_block_tokens_are_the_hooked_block_output_without_class_and_register_tokens(registers):
    vit = build_vit(timm_name("vits14", registers), pretrained=False).eval()
    hooked = []
    handle = vit.blocks[4].register_forward_hook(lambda module, args, output: hooked.append(output))
    with torch.no_grad():
        tokens = block_tokens(vit, torch.randn(2, 3, 56, 70), 4)
    handle.remove()
    assert vit.num_prefix_tokens == (5 if registers else 1)
    assert tokens.shape == (2, 384, 4, 5)
    expected = hooked[0][:, vit.num_prefix_tokens:].reshape(2, 4, 5, 384).permute(0, 3, 1, 2)
    assert torch.equal(tokens, expected)


def test_an_image_matched_with_itself_lands_on_its_own_tokens():
    image = noise(56, 84, 0)
    kps = np.array([[3.0, 4.0], [40.2, 30.9], [83.0, 55.0]])
    pair = Pair("p", "noise", image, image, kps, np.full_like(kps, np.nan))
    prediction = DINOv2Method(**SMALL, resolution="original", readout="nn").predict([pair], ("src_to_trg",))[0]
    np.testing.assert_allclose(prediction.src_to_trg.coords, identity_grid((56, 84), (4, 6)), atol=1e-4)
    token_centres = (np.floor((kps + 0.5) / 14) + 0.5) * 14 - 0.5
    np.testing.assert_allclose(prediction.points["src_to_trg"], token_centres, atol=1e-6)


def test_each_distinct_image_goes_through_the_vit_once_in_backbone_batches():
    a, b, c = noise(40, 60, 1), noise(50, 45, 2), noise(56, 56, 3)
    pairs = [Pair("ab", "n", a, b), Pair("ba", "n", b, a), Pair("ac", "n", a.copy(), c)]
    method = DINOv2Method(**SMALL, backbone_batch=2)
    batches = []
    original = method.vit.forward_intermediates
    method.vit.forward_intermediates = lambda images, **kw: batches.append(len(images)) or original(images, **kw)
    method.predict(pairs)
    assert method.images_embedded == 3 and batches == [2, 1]  # long_side_pad: one input size, 3 images
    assert (method.cache.misses, method.cache.hits) == (3, 3)
    method.predict(pairs)
    assert method.images_embedded == 3 and method.cache.hits == 9
    uncached = DINOv2Method(**SMALL, cache_mb=0)
    uncached.predict(pairs)
    uncached.predict(pairs)
    assert uncached.images_embedded == 6


def test_random_init_is_a_function_of_the_seed_and_leaves_the_callers_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first, again, other = (DINOv2Method(**SMALL, seed=s).vit for s in (0, 0, 1))
    assert torch.equal(torch.rand(1), expected_next)
    assert torch.equal(first.blocks[0].attn.qkv.weight, again.blocks[0].attn.qkv.weight)
    assert not torch.equal(first.blocks[0].attn.qkv.weight, other.blocks[0].attn.qkv.weight)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CORRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CORRBENCH_MIRROR", raising=False)
    return tmp_path / "cache"


def test_pretrained_weights_come_through_the_mirror_and_the_cache(cache, tmp_path, monkeypatch):
    import timm
    from safetensors.torch import save_file

    name = "vit_small_patch14_dinov2.lvd142m"
    reference = randomised(timm.create_model(name, pretrained=False))
    folder = tmp_path / "mirror" / "weights" / "timm" / name
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(folder / f"{name}.safetensors"))
    monkeypatch.setenv("CORRBENCH_MIRROR", str(tmp_path / "mirror"))
    method = DINOv2Method(model="vits14", size=56)  # pretrained=true is the default
    assert torch.equal(method.vit.blocks[3].mlp.fc1.weight, reference.blocks[3].mlp.fc1.weight)
    assert (cache / "weights" / "timm" / name / f"{name}.safetensors").is_file()
    assert method.weights_tag() == f"timm:{name}"


def test_pretrained_offline_without_a_mirror_is_a_one_line_checkpoint_error(cache, monkeypatch):
    def offline(*args, **kwargs):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    with pytest.raises(CheckpointError) as error:
        DINOv2Method(model="vits14")
    message = str(error.value)
    assert "\n" not in message and "timm:vit_small_patch14_dinov2.lvd142m" in message
    assert "pretrained=false" in message and "CORRBENCH_MIRROR" in message


def test_a_weights_file_in_the_official_layout_loads_and_a_wrong_one_is_refused(tmp_path):
    reference = randomised(build_vit(timm_name("vits14", False), pretrained=False))
    official = {**reference.state_dict(), "mask_token": torch.zeros(1, 384)}  # as dinov2_vits14_pretrain.pth
    path = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(official, path)
    method = DINOv2Method(weights=str(path), model="vits14", size=56)
    assert torch.equal(method.vit.blocks[11].ls2.gamma, reference.blocks[11].ls2.gamma)
    assert method.weights_tag().startswith("dinov2_vits14_pretrain.pth@")
    with pytest.raises(CheckpointError, match="does not fit timm vit_small_patch14_reg4_dinov2.lvd142m.*registers="):
        DINOv2Method(weights=str(path), model="vits14", registers=True, size=56)


@pytest.mark.parametrize("options, message", [
    ({"layer": 12}, "vits14 has blocks 0..11 (or -12..-1 from the end), got 12"),
    ({"size": 850}, "size 850 is not a multiple of the patch size 14"),
    ({"readout": "softargmx"}, "option readout: expected one of 'nn'"),
    ({"model": "vitg14"}, "option model: expected one of 'vits14', 'vitb14', 'vitl14'"),
])
def test_bad_options_are_refused_before_the_model_is_built(options, message, monkeypatch):
    monkeypatch.setattr(method_module, "build_vit", lambda *a, **k: pytest.fail("built the model"))
    with pytest.raises(UsageError) as error:
        DINOv2Method(**{"model": "vits14", **options})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_defaults_are_geoaware_zero_shot_dinov2():
    method = DINOv2Method(pretrained=False)
    assert method.timm_name == "vit_base_patch14_dinov2.lvd142m" and method.block == 11 == len(method.vit.blocks) - 1
    assert method.resolution.plan((375, 500)).placement.grid == (60, 60)
    readout = method.readout
    assert (readout.name, readout.window, readout.window_shape, readout.window_outside, readout.temperature) == (
        "window_softargmax", 5.0, "square", "zero", 0.02)
    assert method.matching.points and not method.matching.mutual


def test_corrbench_run_with_random_weights_on_synthetic(tmp_path, capsys):
    from corrbench.cli.main import main

    out = tmp_path / "result.json"
    assert main(["run", "--method", "dinov2", "-o", "pretrained=false", "-o", "model=vits14", "-o", "size=112",
                 "--dataset", "synthetic", "--limit", "4", "--no-resume", "--no-leaderboard", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert len(result["records"]) == 4 and 0.0 <= result["summary"]["pck@0.1"] <= 1.0
    assert result["identity"]["weights"] == "random-init" and result["identity"]["options"]["pretrained"] is False
    assert result["provenance"]["backbone"] == "vit_small_patch14_dinov2.lvd142m"
