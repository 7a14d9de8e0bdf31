"""The named protocol presets of PF-PASCAL, PF-WILLOW, SPair-71k and Internet."""

from __future__ import annotations

import re

import pytest

from corrbench.data.cards import load_card
from corrbench.eval.protocols import get_protocol, list_protocols
from corrbench.errors import UsageError

DATASETS = ("pfpascal", "pfwillow", "spair")


def test_every_card_default_resolves_per_dataset():
    for name in (*DATASETS, "internet"):
        card = load_card(name)
        protocol = get_protocol(card.default_protocol, dataset=name)
        assert protocol.name == f"{card.default_protocol}/{name}" and name in protocol.datasets


def test_default_presets_follow_densematching():
    pascal, willow, spair = (get_protocol("densematching", dataset=d) for d in DATASETS)
    for p in (pascal, willow, spair):
        assert (p.direction, p.frame, p.comparison, p.threshold_side) == ("trg_to_src", "original", "le", "source")
        assert p.bucket_alpha == 0.1 and 0.1 in p.alphas and not p.extent_pad_bug
    assert (pascal.threshold, willow.threshold, spair.threshold) == ("image", "kps_extent", "bbox")
    assert spair.buckets == ("viewpoint_variation", "scale_variation", "truncation", "occlusion")
    assert pascal.buckets == willow.buckets == ()


@pytest.mark.parametrize(
    "family, dataset, expected",
    [
        ("cats", "pfpascal", dict(frame="square", frame_size=256, direction="trg_to_src", threshold_side="source", query_rounding="trunc")),
        ("cats", "spair", dict(frame_size=256, threshold="bbox", threshold_side="source")),
        ("dhpf", "pfpascal", dict(frame_size=240, direction="src_to_trg", threshold="image", threshold_side="target")),
        ("dhpf", "spair", dict(frame_size=240, direction="src_to_trg", threshold="bbox", threshold_side="target")),
        ("ncnet_scnet", "pfpascal", dict(frame_size=224, threshold="frame", alphas=(0.1,))),
        ("sfnet", "pfpascal", dict(frame_size=288, threshold="frame", query_rounding="round")),
        ("sfnet", "pfwillow", dict(frame="original", threshold="kps_extent", threshold_side="source")),
        ("geoaware", "spair", dict(frame="long_side_pad", frame_size=840, comparison="lt", direction="src_to_trg", threshold="bbox", threshold_side="target")),
        ("geoaware", "pfpascal", dict(frame="long_side_pad", frame_size=840, comparison="lt", threshold="frame")),
        ("nemf", "spair", dict(frame="original", threshold="bbox", threshold_side="source", alphas=(0.01, 0.03, 0.05, 0.07, 0.1, 0.15))),
        ("weakalign_pf", "pfpascal", dict(frame="original", threshold="kps_extent", threshold_side="source")),
    ],
)
def test_family_conventions(family, dataset, expected):
    protocol = get_protocol(family, dataset=dataset)
    for field, value in expected.items():
        assert getattr(protocol, field) == value, field


def test_only_geoaware_is_strict():
    strict = {p.name for p in list_protocols() if p.comparison == "lt"}
    assert strict == {"geoaware/spair", "geoaware/pfpascal"}


def test_pfwillow_pad_bug_only_in_explicit_legacy_presets():
    buggy = {p.name for p in list_protocols() if p.extent_pad_bug}
    assert buggy == {"cats_pad_bug/pfwillow", "dhpf_pad_bug/pfwillow"}
    for name in buggy:
        assert get_protocol(name).description.startswith("LEGACY")
    assert not get_protocol("cats", dataset="pfwillow").extent_pad_bug
    assert not get_protocol("dhpf", dataset="pfwillow").extent_pad_bug
    assert get_protocol("dhpf_pad_bug/pfwillow").threshold_side == "target"
    assert get_protocol("cats_pad_bug/pfwillow").threshold_side == "source"


def test_every_preset_cites_its_source_convention():
    cited = re.compile(r"\.py|spec|datasets\.md|CVPR")
    for protocol in list_protocols():
        if protocol.name == "synthetic":
            continue
        assert cited.search(protocol.description), protocol.name
        family, _, dataset = protocol.name.partition("/")
        assert dataset and protocol.datasets == (dataset,)


def test_coseg_preset_and_unknown_family():
    coseg = get_protocol("coseg", dataset="internet")
    assert coseg.jaccard_empty_gt == "skip" and coseg.to_dict()["jaccard_empty_gt"] == "skip"
    with pytest.raises(UsageError, match="Did you mean 'dhpf'"):
        get_protocol("dhpff", dataset="spair")


def test_registering_a_protocol_first_keeps_every_builtin():
    from corrbench.eval.protocols import Protocol, ProtocolRegistry

    registry = ProtocolRegistry()
    registry.register(Protocol(name="mine", threshold="image"))
    assert registry.get("synthetic").name == "synthetic"
    assert {"mine", "synthetic", "dhpf/spair"} <= {p.name for p in registry.list()}
    with pytest.raises(UsageError, match="protocol 'synthetic' already exists"):
        registry.register(Protocol(name="synthetic"))


def test_a_preset_is_refused_on_a_dataset_it_was_not_made_for():
    with pytest.raises(UsageError, match=r"protocol 'sfnet/pfpascal' is defined for pfpascal, not 'spair'"):
        get_protocol("sfnet/pfpascal", dataset="spair")
    assert get_protocol("sfnet/pfpascal", dataset="pfpascal").name == "sfnet/pfpascal"


def test_the_protocol_version_is_recorded_in_results_and_rows(tmp_path):
    import corrbench
    from corrbench.baselines.identity import IdentityMethod
    from corrbench.leaderboard.tables import read_rows, update_leaderboard
    from tests.helpers import ListDataset, make_pair

    protocol = get_protocol("synthetic")
    assert protocol.version == "1" and protocol.to_dict()["version"] == "1"
    result = corrbench.evaluate(IdentityMethod(), ListDataset([make_pair()]))
    assert result.identity["protocol_version"] == "1"
    update_leaderboard(tmp_path, result)
    assert set(read_rows(tmp_path, "list")["protocol_version"]) == {"1"}
