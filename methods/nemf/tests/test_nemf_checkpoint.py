"""Weights: the official release format (key layout of the spec, args.pkl) and corrbench's own."""

from __future__ import annotations

import argparse
import os
import pickle
import re

import pytest
import torch

from corrbench.errors import CheckpointError
from corrbench_nemf.checkpoint import read_official_args
from corrbench_nemf.method import NeMFMethod
from nemf_fakes import TINY


def _official_name(key: str) -> str:
    """Our key -> the official attribute path (the spec's §5 table), written independently of
    the loader's mapping."""
    for ours, theirs in (("backbone.net.", "feature_extraction.backbone."), ("aggregator.", "decoder."),
                         ("field.decoder.", "mlp_model.mlp.0."),
                         ("field.cost_embedding.", "mlp_model.cost_embedding.embedder.conv4d.0.")):
        if key.startswith(ours):
            return theirs + key[len(ours):]
    return re.sub(r"^corr_embedder\.(\d+)\.blocks\.", r"corr_embedder.\1.embedder.conv4d.", key)


@pytest.fixture(scope="module")
def paper_method():
    return NeMFMethod(config="paper", seed=1)


def _official_state(method: NeMFMethod) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    state = {_official_name(k): torch.randn_like(v) if v.is_floating_point() else v
             for k, v in method.module.state_dict().items()}
    backbone = {k: v for k, v in state.items() if k.startswith("feature_extraction.backbone.")}
    state["feature_extraction.backbone.fc.weight"] = torch.randn(1000, 2048)
    state["feature_extraction.backbone.fc.bias"] = torch.randn(1000)
    for k, v in list(backbone.items()) + [("feature_extraction.backbone.fc.weight", torch.zeros(1000, 2048)),
                                          ("feature_extraction.backbone.fc.bias", torch.zeros(1000))]:
        state["mlp_model.backbone.backbone." + k[len("feature_extraction.backbone."):]] = v
    return state


def test_official_key_layout_has_the_spec_counts(paper_method):
    state = _official_state(paper_method)
    non_backbone = [k for k in state if "backbone." not in k]
    assert len(non_backbone) == 188 and len(state) == 1440
    assert state["decoder.pos_embed_x"].shape == (1, 4, 1, 16, 192)
    assert state["proj.3.weight"].shape == (128, 2048)
    assert state["corr_embedder.3.embedder.conv4d.0.0.query_conv.weight"].shape == (1, 4, 3, 3)  # transposed
    assert state["mlp_model.cost_embedding.embedder.conv4d.0.0.supp_conv.weight"].shape == (64, 65, 3, 3)
    assert state["mlp_model.mlp.0.fc_p.weight"].shape == (256, 84)


def test_official_checkpoint_and_args_load(paper_method, tmp_path):
    state = _official_state(paper_method)
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "model_best.pth")
    with open(tmp_path / "args.pkl", "wb") as handle:
        pickle.dump(argparse.Namespace(feature_size=16, feature_proj_dim=128, depth=4, num_heads=6, mlp_ratio=4,
                                       hyperpixel="[3,7,30,33]", lr=3e-5), handle)
    method = NeMFMethod(weights=str(tmp_path / "model_best.pth"))
    assert method.weights_kind == "official" and method.provenance()["weights"].startswith("model_best.pth")
    own = method.module.state_dict()
    assert torch.equal(own["aggregator.blocks.2.attn.qkv.weight"], state["decoder.blocks.2.attn.qkv.weight"])
    assert torch.equal(own["backbone.net.layer3.7.conv2.weight"],
                       state["feature_extraction.backbone.layer3.7.conv2.weight"])
    assert torch.equal(own["field.decoder.blocks.1.fc_1.weight"], state["mlp_model.mlp.0.blocks.1.fc_1.weight"])
    assert torch.equal(own["x_normal"], state["x_normal"])
    # a wrong architecture is refused with one line
    state["proj.0.weight"] = torch.randn(128, 64)
    torch.save({"state_dict": state}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="shape"):
        NeMFMethod(weights=str(tmp_path / "bad.pth"))


def test_args_pickle_is_read_without_running_code(tmp_path):
    good = tmp_path / "args.pkl"
    good.write_bytes(pickle.dumps(argparse.Namespace(feature_size=16, hyperpixel="[0, 8, 21, 31]", depth=2)))
    assert read_official_args(good) == {"feature_size": 16, "hyperpixel": (0, 8, 21, 31), "depth": 2}

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="argparse.Namespace"):
        read_official_args(bad)


def test_corrbench_checkpoint_round_trip(tmp_path):
    from corrbench.training.checkpoints import save_checkpoint

    method = NeMFMethod(seed=4, **TINY)
    save_checkpoint(method.checkpoint_payload(), tmp_path / "c.pth")
    again = NeMFMethod(weights=str(tmp_path / "c.pth"))
    budget = {"patchmatch_iters", "grid_max_side", "chunk_points"}  # evaluation settings: from the preset
    restored = {k: v for k, v in again.config.to_options().items() if k not in budget}
    assert restored == {k: v for k, v in method.config.to_options().items() if k not in budget}
    assert again.weights_kind == "corrbench"
    preset = NeMFMethod(config="embedded").config
    assert (again.config.patchmatch_iters, again.config.grid_max_side) == (preset.patchmatch_iters, preset.grid_max_side)
    assert method.config.patchmatch_iters != preset.patchmatch_iters  # TINY's own budget was not imposed
    for key, value in method.module.state_dict().items():
        assert torch.equal(value, again.module.state_dict()[key])


def test_corrbench_checkpoint_with_an_explicit_preset(tmp_path):
    from corrbench.training.checkpoints import save_checkpoint

    method = NeMFMethod(seed=4, **TINY)
    save_checkpoint(method.checkpoint_payload(), tmp_path / "c.pth")
    again = NeMFMethod(weights=str(tmp_path / "c.pth"), config="embedded", opt_steps=2)
    assert again.config.feature_size == TINY["feature_size"] and again.config.opt_steps == 2
