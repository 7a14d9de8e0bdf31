"""The official checkpoint formats (MaCoSNet-pytorch / weakalign), mapped key by key.

* MaCoSNet ``save_model``: a flat ``WeakMatchNet.state_dict()`` with keys
  ``FeatureExtraction.model.<i>.*``, ``FeatureRegression.*`` (affine) and
  ``FeatureRegression2.*`` (TPS); a fixed ``WeakCosegNet`` adds ``Decoder.*``.
* weakalign: the same keys under ``payload['state_dict']`` (plus ``epoch``/``args``/...; a file
  with a pickled ``argparse.Namespace`` must be re-saved as a plain state dict, since corrbench
  loads with ``weights_only=True``).

No MaCoSNet weights were ever published; the mapping follows the key table of the spec.
"""

from __future__ import annotations

from typing import Any

import torch

from corrbench.training.checkpoints import load_mapped_state

#: official prefix -> our prefix
PREFIXES = {
    "FeatureExtraction.model.": "encoder.model.",
    "FeatureRegression.": "regress_affine.",
    "FeatureRegression2.": "regress_tps.",
    "Decoder.": "decoder.",
}


def official_state(payload: Any) -> dict[str, torch.Tensor] | None:
    """The official state dict inside ``payload`` (flat or under 'state_dict'), else None."""
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]
    if not isinstance(payload, dict):
        return None
    keys = [k.removeprefix("module.") for k in payload if isinstance(k, str)]
    if any(k.startswith("FeatureExtraction.model.") for k in keys):
        return {k.removeprefix("module."): v for k, v in payload.items()}
    return None


def map_official_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename official keys to ours; keys of no known module are dropped (e.g. ``vgg``)."""
    mapped = {}
    for key, value in state.items():
        # FeatureRegression2. must be tested before its prefix FeatureRegression.
        for prefix in sorted(PREFIXES, key=len, reverse=True):
            if key.startswith(prefix):
                mapped[PREFIXES[prefix] + key[len(prefix):]] = value
                break
    return mapped


def load_official(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> list[str]:
    """Load the encoder and both regressors strictly (the decoder too when present).

    Missing ``num_batches_tracked`` counters (old checkpoints) are tolerated; returns the list of
    our modules that the file did not contain (e.g. ``['decoder']`` for a matching-only file)."""
    mapped = map_official_state(state)
    own = module.state_dict()
    absent_modules = [] if any(k.startswith("decoder.") for k in mapped) else ["decoder"]
    loaded = tuple(sorted({key.split(".", 1)[0] + "." for key in own} - {p + "." for p in absent_modules}))
    load_mapped_state(module, mapped, source, own_prefixes=loaded, what="MaCoSNet",
                      hint="official files fit config=paper")
    return absent_modules
