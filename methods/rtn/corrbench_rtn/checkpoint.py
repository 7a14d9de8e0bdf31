"""The official MatConvNet checkpoint (``data/RTNs/net-epoch.mat``) mapped onto this model.

Layout (spec §5): a DagNN ``net`` struct whose ``params`` carry ``name`` and ``value``; conv filters
are ``[h w in out]``, biases vectors.  Parameters are looked up by name; the six fixed bilinear
banks are checked against the kernel this model recomputes and then dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from corrbench.errors import CheckpointError
from corrbench_rtn.ops import bilinear_kernel

#: MatConvNet VGG-19 conv names and their index in ``torchvision.models.vgg19().features``.
VGG_CONVS = {
    "conv1_1": 0, "conv1_2": 2, "conv2_1": 5, "conv2_2": 7,
    "conv3_1": 10, "conv3_2": 12, "conv3_3": 14, "conv3_4": 16,
    "conv4_1": 19, "conv4_2": 21, "conv4_3": 23, "conv4_4": 25, "conv5_1": 28,
}
GEO_CONVS = [f"conv{i}{suffix}" for i in range(1, 10) for suffix in ("", "b")] + ["conv10"]
FIXED_BANKS = ("geo_deconv1_f", "geo_deconv2_f", "geo_deconv3_f", "geo_deconv4_f", "deconv_aff_x2", "deconv_f_x2")


def official_key_map() -> dict[str, str]:
    """Official parameter name -> this model's state_dict key."""
    mapping = {}
    for name, index in VGG_CONVS.items():
        mapping[f"{name}f"] = f"backbone.features.{index}.weight"
        mapping[f"{name}b"] = f"backbone.features.{index}.bias"
    for name in GEO_CONVS:
        mapping[f"geo_{name}_f"] = f"geo.{name}.weight"
        mapping[f"geo_{name}_b"] = f"geo.{name}.bias"
    return mapping


def _conv_weight(value: np.ndarray) -> torch.Tensor:
    array = np.asarray(value, dtype=np.float32)
    array = array.reshape(array.shape + (1,) * (4 - array.ndim))  # MATLAB drops trailing singleton dims
    return torch.from_numpy(np.ascontiguousarray(np.transpose(array, (3, 2, 0, 1))))


def _is_bilinear_bank(value: np.ndarray) -> bool:
    array = np.asarray(value, dtype=np.float32)
    array = array.reshape(array.shape + (1,) * (4 - array.ndim))
    channels = array.shape[2]
    if array.shape[:2] != (4, 4) or array.shape[3] != channels:
        return False
    expected = np.zeros_like(array)
    kernel = bilinear_kernel(1)[0, 0].numpy()
    for c in range(channels):
        expected[:, :, c, c] = kernel
    return bool(np.allclose(array, expected, atol=1e-6))


def convert_official(params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Official ``{name: value}`` -> this model's state_dict (conv ``[h w in out]`` -> ``(out, in, h, w)``)."""
    mapping = official_key_map()
    missing = sorted(set(mapping) - set(params))
    if missing:
        raise CheckpointError(f"official RTN checkpoint lacks {len(missing)} parameter(s), e.g. {missing[:3]}")
    for name in FIXED_BANKS:
        if name in params and not _is_bilinear_bank(params[name]):
            raise CheckpointError(f"official RTN checkpoint: '{name}' is not the fixed bilinear kernel bank")
    state = {}
    for name, key in mapping.items():
        value = params[name]
        if key.endswith(".weight"):
            state[key] = _conv_weight(value)
        else:
            state[key] = torch.from_numpy(np.asarray(value, dtype=np.float32).reshape(-1).copy())
    return state


def read_matconvnet_params(path: str | Path) -> dict[str, np.ndarray]:
    """``{name: value}`` of the ``net.params`` of a MatConvNet DagNN ``.mat`` file (v7, not v7.3)."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path), struct_as_record=False, squeeze_me=False)
    except NotImplementedError as error:
        raise CheckpointError(f"{path} is a MATLAB v7.3 file; re-save it in MATLAB with save(..., '-v7')") from error
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot read {path} as a MATLAB file: {error}") from error
    if "net" not in mat:
        raise CheckpointError(f"{path} holds no 'net' struct (keys: {', '.join(k for k in mat if not k.startswith('__'))})")
    net = np.asarray(mat["net"]).reshape(-1)[0]
    params = {}
    for entry in np.asarray(net.params).reshape(-1):
        name = np.asarray(entry.name).reshape(-1)
        params[str(name[0])] = np.asarray(entry.value)
    return params


def load_official_into(module: torch.nn.Module, path: str | Path) -> None:
    """Load ``net-epoch.mat`` into a paper-configuration RTN (every mapped key must fit)."""
    load_official_params(module, read_matconvnet_params(path))


def load_official_params(module: torch.nn.Module, params: dict[str, np.ndarray]) -> None:
    """Load the ``net.params`` of ``net-epoch.mat`` into a paper-configuration RTN (every mapped key must fit)."""
    state = convert_official(params)
    own = module.state_dict()
    for key, value in state.items():
        if key not in own or own[key].shape != value.shape:
            got = tuple(own[key].shape) if key in own else "no such key"
            raise CheckpointError(f"official RTN weight {key} {tuple(value.shape)} does not fit the model ({got}); "
                                  "use -o config=paper")
    module.load_state_dict(state, strict=True)
