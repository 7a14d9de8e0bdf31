"""The MatConvNet checkpoint mapping, on a synthetic ``net.params`` with the official names and shapes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from corrbench.errors import CheckpointError
from corrbench_rtn.checkpoint import convert_official, load_official_into, read_matconvnet_params
from corrbench_rtn.ops import bilinear_kernel

VGG = [("conv1_1", 3, 64), ("conv1_2", 64, 64), ("conv2_1", 64, 128), ("conv2_2", 128, 128),
       ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256),
       ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512), ("conv4_4", 512, 512),
       ("conv5_1", 512, 512)]
GEO = [("conv1", 9, 81, 64), ("conv1b", 3, 64, 64), ("conv2", 3, 64, 128), ("conv2b", 3, 128, 128),
       ("conv3", 3, 128, 256), ("conv3b", 3, 256, 256), ("conv4", 3, 256, 512), ("conv4b", 3, 512, 512),
       ("conv5", 3, 512, 512), ("conv5b", 3, 512, 512), ("conv6", 3, 1024, 512), ("conv6b", 3, 512, 512),
       ("conv7", 3, 768, 256), ("conv7b", 3, 256, 256), ("conv8", 3, 384, 128), ("conv8b", 3, 128, 128),
       ("conv9", 3, 192, 64), ("conv9b", 3, 64, 64), ("conv10", 9, 64, 6)]


def _bank(channels):
    bank = np.zeros((4, 4, channels, channels), np.float32)
    for c in range(channels):
        bank[:, :, c, c] = bilinear_kernel(1)[0, 0].numpy()
    return bank


def official_params(seed=0):
    """70 entries in the official order (spec §5), MatConvNet layouts: conv [h w in out], bias [out 1]."""
    rng = np.random.default_rng(seed)
    params = {}

    def conv(name_f, name_b, k, cin, cout):
        params[name_f] = rng.standard_normal((k, k, cin, cout)).astype(np.float32) * 0.01
        params[name_b] = rng.standard_normal((cout, 1)).astype(np.float32)

    for name, cin, cout in VGG:
        conv(f"{name}f", f"{name}b", 3, cin, cout)
    deconvs = {"conv5b": ("geo_deconv1_f", 512), "conv6b": ("geo_deconv2_f", 512),
               "conv7b": ("geo_deconv3_f", 256), "conv8b": ("geo_deconv4_f", 128)}
    for name, k, cin, cout in GEO:
        conv(f"geo_{name}_f", f"geo_{name}_b", k, cin, cout)
        if name in deconvs:
            bank_name, channels = deconvs[name]
            params[bank_name] = _bank(channels)
    params["deconv_aff_x2"] = _bank(6)
    params["deconv_f_x2"] = _bank(2)
    return params


def test_official_layout_has_seventy_parameters():
    assert len(official_params()) == 70


@pytest.fixture(scope="module")
def paper_method():
    import corrbench

    return corrbench.load_method("rtn", config="paper", iterations=1)


def test_mapping_fills_every_weight_of_the_paper_model(paper_method):
    params = official_params()
    state = convert_official(params)
    module = paper_method.module
    module.load_state_dict(state, strict=True)
    # conv [h w in out] -> (out, in, h, w): spot-check one element of a VGG conv and a geo conv
    np.testing.assert_array_equal(module.backbone.conv_fine.weight[7, 3, 0, 2].item(), params["conv4_1f"][0, 2, 3, 7])
    np.testing.assert_array_equal(module.backbone.features[0].weight[5, 2, 1, 0].item(), params["conv1_1f"][1, 0, 2, 5])
    np.testing.assert_array_equal(module.geo.conv1.weight[9, 40, 4, 8].item(), params["geo_conv1_f"][4, 8, 40, 9])
    np.testing.assert_array_equal(module.geo.conv10.bias.detach().numpy(), params["geo_conv10_b"].ravel())
    assert module.backbone.conv_coarse is module.backbone.features[28]  # transformer shares conv5_1


def test_mapping_rejects_missing_names_and_wrong_banks():
    params = official_params()
    del params["geo_conv7b_f"]
    with pytest.raises(CheckpointError, match="lacks 1 parameter"):
        convert_official(params)
    params = official_params()
    params["deconv_aff_x2"] = np.ones((4, 4, 6, 6), np.float32)
    with pytest.raises(CheckpointError, match="deconv_aff_x2"):
        convert_official(params)


def test_reads_a_matconvnet_dagnn_file(tmp_path):
    from scipy.io import savemat

    params = official_params(seed=1)
    records = np.zeros((1, len(params)), dtype=[("name", object), ("value", object), ("learningRate", object)])
    for i, (name, value) in enumerate(params.items()):
        records[0, i] = (name, value, 1.0)
    path = tmp_path / "net-epoch.mat"
    savemat(path, {"net": {"params": records, "meta": {"note": "synthetic"}}})
    read = read_matconvnet_params(path)
    assert set(read) == set(params)
    np.testing.assert_array_equal(read["geo_conv6_f"], params["geo_conv6_f"])
    import corrbench

    method = corrbench.load_method("rtn", weights=str(path), iterations=1)  # a .mat selects config=paper
    assert method.options["config"] == "paper" and re.fullmatch(r"net-epoch\.mat@[0-9a-f]{8}", method.weights_tag())
    assert torch.equal(method.module.geo.conv6.weight, torch.from_numpy(params["geo_conv6_f"]).permute(3, 2, 0, 1))


def test_official_weights_need_the_paper_model(tmp_path):
    import corrbench

    small = corrbench.load_method("rtn")  # embedded preset: tiny backbone
    with pytest.raises(CheckpointError, match="does not fit"):
        load_official_into(small.module, _write(tmp_path))


def _write(tmp_path):
    from scipy.io import savemat

    params = official_params()
    records = np.zeros((1, len(params)), dtype=[("name", object), ("value", object)])
    for i, item in enumerate(params.items()):
        records[0, i] = item
    path = tmp_path / "net.mat"
    savemat(path, {"net": {"params": records}})
    return path
