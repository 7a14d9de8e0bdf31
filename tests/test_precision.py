"""--precision: autocast around predict, recorded in the identity and keying the leaderboard row."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pytest
import torch

import corrbench
from corrbench.api import DIRECTIONS, Method, Pair, Prediction
from corrbench.errors import UsageError
from corrbench.eval.runner import evaluate
from corrbench.leaderboard.tables import rows_from_result, run_label


class AutocastProbe(Method):
    """Answers the identity transfer and notes whether predict ran under CPU autocast, and with what dtype."""

    name = "autocast-probe"
    takes_weights = False

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device=device)
        self.seen: list[tuple[bool, torch.dtype]] = []

    def predict(self, pairs: Sequence[Pair], directions=DIRECTIONS) -> list[Prediction]:
        self.seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        x = torch.ones(2, 2) @ torch.ones(2, 2)  # a matmul: autocast's dtype shows in its result
        self.seen.append((False, x.dtype))
        return [Prediction(points={d: (p.src_kps if d == "trg_to_src" else p.trg_kps).copy() for d in directions})
                for p in pairs]


@pytest.fixture()
def data():
    return corrbench.load_dataset("synthetic", split="val", size=4)


def test_bf16_runs_predict_under_autocast_and_is_another_run(data):
    probe = AutocastProbe()
    low = evaluate(probe, data, precision="bf16")
    assert probe.seen[0] == (True, torch.bfloat16) and probe.seen[1][1] == torch.bfloat16
    plain_probe = AutocastProbe()
    plain = evaluate(plain_probe, data)
    assert plain_probe.seen[0][0] is False and plain_probe.seen[1][1] == torch.float32
    assert low.identity["precision"] == "bf16" and plain.identity["precision"] == "fp32"
    assert low.identity["key"] != plain.identity["key"]
    low_row, plain_row = rows_from_result(low)[0], rows_from_result(plain)[0]
    assert '"precision":"bf16"' in low_row["options"] and plain_row["options"] == "{}"
    assert run_label("autocast-probe", low_row["options"]) == "autocast-probe [precision=bf16]"


def test_fp32_keys_are_unchanged_by_the_precision_field(data):
    from corrbench.eval.identity import RunIdentity

    result = evaluate(AutocastProbe(), data)
    identity = dict(result.identity)
    identity.pop("key")
    without = {k: v for k, v in identity.items() if k != "precision"}
    assert RunIdentity(**identity).key() == result.identity["key"]
    import hashlib, json

    without.pop("distribution_version")
    digest = hashlib.sha256(json.dumps(without, sort_keys=True, default=str).encode()).hexdigest()[:16]
    assert result.identity["key"].endswith(digest)


def test_an_unknown_precision_is_one_line(data):
    with pytest.raises(UsageError, match="precision 'fp8' is not one of fp32, bf16, fp16"):
        evaluate(AutocastProbe(), data, precision="fp8")


@pytest.mark.parametrize("name, options", [
    ("sfnet", {"config": "embedded", "feature_size": 8}), ("rtn", {"config": "embedded"}),
    ("macosnet", {"config": "embedded"}), ("feature-nn", {}),
    ("nemf", {"config": "embedded", "grid_max_side": 8, "patchmatch_iters": 2, "opt_steps": 2}),
    ("dinov2", {"model": "vits14", "pretrained": False, "size": 112})])
def test_every_method_runs_in_bf16_on_cpu(data, name, options):
    """float32 numpy answers whatever the autocast dtype inside (a bf16 tensor has no numpy form)."""
    result = evaluate(corrbench.load_method(name, **options), data, precision="bf16", limit=2)
    assert np.isfinite(result.summary["pck@0.1"]) and result.identity["precision"] == "bf16"
