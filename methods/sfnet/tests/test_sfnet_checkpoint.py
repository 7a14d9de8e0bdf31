"""Weights: the official checkpoint's key names and shapes, corrbench checkpoints, backbone files."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from corrbench.training.checkpoints import save_checkpoint
from corrbench.errors import CheckpointError, UsageError
from corrbench_sfnet.checkpoint import load_official, map_official_state
from corrbench_sfnet.config import build_config
from corrbench_sfnet.method import SFNetMethod
from corrbench_sfnet.model import SFNetModel
from sfnet_fakes import TINY, masked_pair


def official_state(c3: int, c4: int, k3: int, k4: int, seed: int = 0) -> dict:
    """A state dict laid out as the released ``best_checkpoint.pt`` (spec §5), random values."""
    generator = torch.Generator().manual_seed(seed)

    def layer(channels: int, kernel: int) -> dict:
        state = {}
        for block in ("conv1", "conv2"):
            state[f"{block}.0.weight"] = torch.randn(channels, channels, kernel, kernel, generator=generator) * 0.01
            state[f"{block}.0.bias"] = torch.randn(channels, generator=generator) * 0.01
            state[f"{block}.1.weight"] = torch.rand(channels, generator=generator) + 0.5
            state[f"{block}.1.bias"] = torch.randn(channels, generator=generator) * 0.1
            state[f"{block}.1.running_mean"] = torch.randn(channels, generator=generator) * 0.1
            state[f"{block}.1.running_var"] = torch.rand(channels, generator=generator) + 0.5
            state[f"{block}.1.num_batches_tracked"] = torch.tensor(1234)
        return state

    return {"state_dict1": layer(c3, k3), "state_dict2": layer(c4, k4)}


def test_official_names_and_shapes_fit_the_paper_model():
    """The paper-size model (ResNet-101, 1024/2048 channels, 5x5 and 3x3) accepts the official
    key set and shapes; built on the meta device so no 500 MB are allocated."""
    with torch.device("meta"):
        model = SFNetModel(build_config("paper"))
        payload = official_state(1024, 2048, 5, 3)
    own = model.state_dict()
    mapped = map_official_state(payload)
    assert {k for k in own if k.startswith(("adap3.", "adap4."))} == set(mapped)
    assert all(tuple(own[k].shape) == tuple(v.shape) for k, v in mapped.items())
    assert own["adap3.conv1.0.weight"].shape == (1024, 1024, 5, 5)
    assert own["adap4.conv2.0.weight"].shape == (2048, 2048, 3, 3)


def test_official_file_loads_values_and_changes_predictions(tmp_path):
    method = SFNetMethod(**TINY)  # RegNetX stages: 56 and 152 channels
    payload = official_state(56, 152, 5, 3, seed=1)
    del payload["state_dict2"]["conv2.1.num_batches_tracked"]  # tolerated, as in older torch files
    path = tmp_path / "best_checkpoint.pt"
    save_checkpoint(payload, path)
    before = method.predict([masked_pair()])[0].trg_to_src.coords
    loaded = SFNetMethod(**TINY, weights=str(path))
    assert torch.equal(loaded.module.adap3.conv1[0].weight, payload["state_dict1"]["conv1.0.weight"])
    assert torch.equal(loaded.module.adap4.conv2[1].running_var, payload["state_dict2"]["conv2.1.running_var"])
    assert loaded.weights_kind == "official"
    assert re.fullmatch(r"best_checkpoint\.pt@[0-9a-f]{8}\+random-init-backbone", loaded.weights_tag())
    after = loaded.predict([masked_pair()])[0].trg_to_src.coords
    assert np.abs(after - before).max() > 1e-3


def test_official_file_of_wrong_shape_or_keys_is_refused(tmp_path):
    path = tmp_path / "bad.pt"
    save_checkpoint(official_state(56, 152, 3, 3), path)  # adap3 kernel 3 instead of 5
    with pytest.raises(CheckpointError, match="shape"):
        SFNetMethod(**TINY, weights=str(path))
    payload = official_state(56, 152, 5, 3)
    payload["state_dict1"]["conv3.0.weight"] = torch.zeros(1)
    save_checkpoint(payload, path)
    with pytest.raises(CheckpointError, match="unexpected"):
        SFNetMethod(**TINY, weights=str(path))
    save_checkpoint({"something": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="neither"):
        SFNetMethod(**TINY, weights=str(path))


def test_corrbench_checkpoint_rebuilds_the_same_model(tmp_path):
    trained = SFNetMethod(**TINY, seed=4)
    path = tmp_path / "sfnet.pth"
    save_checkpoint(trained.checkpoint_payload(), path)
    loaded = SFNetMethod(weights=str(path))  # options come from the checkpoint
    assert loaded.options == trained.options and loaded.weights_kind == "corrbench"
    pair = masked_pair()
    np.testing.assert_array_equal(loaded.predict([pair])[0].trg_to_src.coords,
                                  trained.predict([pair])[0].trg_to_src.coords)
    with pytest.raises(UsageError, match=r"kernels=\[3, 3\] contradicts its architecture"):
        SFNetMethod(weights=str(path), kernels=[3, 3])


def test_backbone_weights_file(tmp_path):
    donor = SFNetMethod(**TINY, seed=11)
    path = tmp_path / "backbone.pth"
    save_checkpoint({**donor.module.backbone.net.state_dict(), "head.fc.weight": torch.zeros(3)}, path)
    method = SFNetMethod(**TINY, seed=12, backbone_weights=str(path))
    for a, b in zip(method.module.backbone.parameters(), donor.module.backbone.parameters()):
        assert torch.equal(a, b)
    assert method.provenance()["backbone_weights"] == "backbone.pth"
    save_checkpoint({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="missing"):
        SFNetMethod(**TINY, backbone_weights=str(path))


def test_committed_embedded_checkpoint_is_small_and_loads():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "checkpoints" / "sfnet-synthetic.pth"
    assert path.stat().st_size < 5 * 2**20
    method = SFNetMethod(weights=str(path))
    assert method.options["config"] == "embedded" and method.weights_kind == "corrbench"
    coords = method.predict([masked_pair()])[0].trg_to_src.coords
    assert np.isfinite(coords).all()


def test_explicit_config_contradicting_the_checkpoint_is_refused(tmp_path):
    path = tmp_path / "sfnet.pth"
    save_checkpoint(SFNetMethod(**TINY).checkpoint_payload(), path)
    with pytest.raises(UsageError, match="sfnet.pth was trained with config=embedded; config=paper contradicts it"):
        SFNetMethod(weights=str(path), config="paper")
