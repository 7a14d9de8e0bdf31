"""Inference computes only what the task reads, each distinct image encoded once, and the keypoints
and masks stay bit for bit those of the dense path it replaced (re-implemented here as the reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrbench.api import CorrespondenceField, Pair, Scored
from corrbench.eval.keypoints import transfer_queries
from corrbench_macosnet.geometry import compose_points
from corrbench_macosnet.method import MaCoSNetMethod, _mask_at
from corrbench_macosnet.model import Encoded
from corrbench_macosnet.preprocess import pixel_grid, to_input, to_pixels
from macosnet_fakes import TINY, blob_pair


def _reference(method: MaCoSNetMethod, pairs: list[Pair], mode: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Version 3's predict before the fast path: both images of every pair encoded in one batch
    (sources then targets), masks for both, the dense target->source field over every target pixel,
    then the evaluator's read of it at the query keypoints.  Returns (keypoints, src mask, trg mask)."""
    module, size, count = method.module.eval(), method.config.image_size, len(pairs)
    images = torch.stack([to_input(image, size, method.preprocessing)
                          for image in [p.src_image for p in pairs] + [p.trg_image for p in pairs]])
    with torch.no_grad():
        encoded = module.encode(images)
        f_src = Encoded([s[:count] for s in encoded.skips], encoded.match[:count])
        f_trg = Encoded([s[count:] for s in encoded.skips], encoded.match[count:])
        theta_st, corr_st = module.affine(f_src, f_trg)
        _, corr_ts = module.affine(f_trg, f_src)
        offset = method.config.mask_logit_offset
        masks_src = torch.sigmoid(module.mask_logits(f_src, corr_ts) + offset)
        masks_trg = torch.sigmoid(module.mask_logits(f_trg, corr_st) + offset)
        tps_st, _ = module.tps(images[:count], theta_st, f_trg)
    out = []
    for i, pair in enumerate(pairs):
        points = pixel_grid(pair.trg_size)
        mapped = compose_points(theta_st[i][None], tps_st[i][None], points[None], method.config.tps_reg_eval)[0]
        coords = to_pixels(mapped, pair.src_size).reshape(*pair.trg_size, 2)
        field = CorrespondenceField(coords.numpy(), pair.trg_size)
        out.append((transfer_queries(field, pair.trg_kps, mode), _mask_at(masks_src[i], pair.src_size),
                    _mask_at(masks_trg[i], pair.trg_size)))
    return out


def _pairs() -> list[Pair]:
    pairs = [blob_pair(f"p{i}", src_hw=(50 + 3 * i, 64), trg_hw=(58, 46 + 5 * i), seed=i) for i in range(3)]
    pairs[1].trg_kps[0] = [-2.0, 70.0]  # outside the target: clamped by the read
    pairs[2].trg_kps[1] = [45.0, 57.0]  # the last pixel
    return pairs


def _views(pairs: list[Pair], scored: Scored) -> list[Pair]:
    views = []
    for pair in pairs:
        view = Pair(pair.pair_id, pair.category, pair.src_image, pair.trg_image, np.full_like(pair.src_kps, np.nan),
                    pair.trg_kps, meta={"scored": scored})
        views.append(view)
    return views


@pytest.mark.parametrize("mode", ["none", "round_offset", "trunc"])
def test_keypoints_and_masks_equal_the_dense_path_bit_for_bit(mode):
    pairs, method = _pairs(), MaCoSNetMethod(**TINY, seed=2)
    reference = _reference(method, pairs, mode)
    fast = method.predict(_views(pairs, Scored(fields=False, masks=("src", "trg"), query_rounding=mode)),
                          directions=("trg_to_src",))
    for prediction, (kps, src_mask, trg_mask) in zip(fast, reference):
        assert prediction.trg_to_src is None and prediction.src_to_trg is None  # no dense field was built
        assert np.array_equal(prediction.points["trg_to_src"], kps)
        assert np.array_equal(prediction.src_mask, src_mask) and np.array_equal(prediction.trg_mask, trg_mask)


def test_masks_only_for_the_sides_the_task_scores():
    pairs, method = _pairs(), MaCoSNetMethod(**TINY, cache_mb=0)
    reference = _reference(method, pairs, "none")
    none = method.predict(_views(pairs, Scored(fields=False, masks=())), directions=("trg_to_src",))
    assert all(p.src_mask is None and p.trg_mask is None for p in none)
    views = _views(pairs, Scored(fields=False, masks=()))
    views[1].meta["scored"] = Scored(fields=False, masks=("trg",))
    mixed = method.predict(views, directions=("trg_to_src",))
    assert mixed[1].src_mask is None and mixed[0].trg_mask is None
    np.testing.assert_allclose(mixed[1].trg_mask, reference[1][2], atol=1e-6)  # decoder batch of 1, not 3
    for prediction, (kps, _, _) in zip(none, reference):
        assert np.array_equal(prediction.points["trg_to_src"], kps)


def test_each_distinct_image_is_encoded_once_and_then_cached():
    images = [blob_pair(f"i{i}", seed=i).src_image for i in range(3)]
    pairs = [Pair(f"{a}-{b}", "blob", images[a], images[b], np.zeros((2, 2)), np.full((2, 2), 9.5))
             for a in range(3) for b in range(3) if a != b]
    method = MaCoSNetMethod(**TINY)
    batches: list[int] = []
    method.module.encoder.register_forward_hook(lambda _m, args, _o: batches.append(args[0].shape[0]))
    scored = Scored(fields=False, masks=())
    first = method.predict(_views(pairs, scored), directions=("trg_to_src",))
    assert batches == [3, 6]  # the 3 distinct images, then the 6 affinely warped sources
    again = method.predict(_views(pairs, scored), directions=("trg_to_src",))
    assert batches == [3, 6, 6]  # all hits: only the warped sources
    fresh = MaCoSNetMethod(**TINY, cache_mb=0).predict(_views(pairs, scored), directions=("trg_to_src",))
    for a, b, c in zip(first, again, fresh):
        assert np.array_equal(a.points["trg_to_src"], b.points["trg_to_src"])
        np.testing.assert_allclose(a.points["trg_to_src"], c.points["trg_to_src"], atol=1e-5)
    with_masks = method.predict(_views(pairs, Scored(fields=False)), directions=("trg_to_src",))
    assert batches[3] == 3  # the skip features were not kept without masks: encoded again, once per image
    assert all(p.src_mask is not None for p in with_masks)
    method.predict(_views(pairs, Scored(fields=False)), directions=("trg_to_src",))
    assert batches[4:] == [6, 6]  # now everything is cached (warped sources, then the 2nd call's)


def test_training_clears_the_cache_so_new_weights_are_seen():
    pairs = _pairs()
    method = MaCoSNetMethod(**TINY)
    method.predict(_views(pairs, Scored(fields=False)), directions=("trg_to_src",))
    assert len(method.features.cache) > 0
    method.training_loss(pairs, step=0)
    assert len(method.features.cache) == 0
    with torch.no_grad():
        for parameter in method.module.encoder.parameters():
            parameter.mul_(1.5)
    cached = method.predict(_views(pairs, Scored(fields=False)), directions=("trg_to_src",))
    method.features.clear()
    recomputed = method.predict(_views(pairs, Scored(fields=False)), directions=("trg_to_src",))
    for a, b in zip(cached, recomputed):
        assert np.array_equal(a.points["trg_to_src"], b.points["trg_to_src"])


def test_dense_fields_when_asked_and_both_directions():
    pairs, method = _pairs(), MaCoSNetMethod(**TINY)
    dense = method.predict(_views(pairs, Scored(fields=True, masks=())))
    points = method.predict(_views(pairs, Scored(fields=False, masks=())))
    for pair, d, p in zip(pairs, dense, points):
        assert d.trg_to_src.coords.shape == (*pair.trg_size, 2) and d.src_to_trg.coords.shape == (*pair.src_size, 2)
        assert np.array_equal(p.points["trg_to_src"], transfer_queries(d.trg_to_src, pair.trg_kps, "none"))
        assert np.isnan(p.points["src_to_trg"]).all()  # its queries (source keypoints) are hidden here
