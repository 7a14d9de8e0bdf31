"""Hostile plugins: each tries to score by reading or changing the ground truth it is scored on.

Used by ``test_seal.py`` through the Python API and, installed as a fake distribution, through
``corrbench run``.  With the benchmark sealed, each scores exactly what its honest twin scores.
"""

from __future__ import annotations

import numpy as np

from corrbench.api import DIRECTIONS, CorrespondenceField, Method, Prediction
from corrbench.baselines.identity import IdentityMethod


class ReadAnswerKeypoints(Method):
    """Returns the answer side's keypoints as its answer."""

    name = "cheat-read-kps"
    version = "1"

    def predict(self, pairs, directions=DIRECTIONS):
        out = []
        for pair in pairs:
            prediction = Prediction()
            prediction.points["trg_to_src"] = np.array(pair.src_kps)
            prediction.points["src_to_trg"] = np.array(pair.trg_kps)
            out.append(prediction)
        return out


class FieldFromKeypoints(Method):
    """A dense field sending each target pixel to the source keypoint of its nearest target keypoint."""

    name = "cheat-field"
    version = "1"

    def predict(self, pairs, directions=DIRECTIONS):
        out = []
        for pair in pairs:
            h, w = pair.trg_size
            ys, xs = np.mgrid[0:h, 0:w]
            cells = np.stack([xs, ys], -1).reshape(-1, 1, 2).astype(float)
            nearest = np.nanargmin(np.linalg.norm(cells - pair.trg_kps[None], axis=2), axis=1)
            coords = pair.src_kps[nearest].reshape(h, w, 2)
            out.append(Prediction(trg_to_src=CorrespondenceField(coords, (h, w))))
        return out


class ReadBoxes(IdentityMethod):
    """Maps each query point to the same place relative to the answer image's box, when it has boxes."""

    name = "cheat-boxes"
    version = "1"

    def predict(self, pairs, directions=DIRECTIONS):
        out = super().predict(pairs, directions)
        for pair, prediction in zip(pairs, out):
            if pair.src_bbox is None or pair.trg_bbox is None:
                continue
            (sx1, sy1, sx2, sy2), (tx1, ty1, tx2, ty2) = pair.src_bbox, pair.trg_bbox
            relative = (pair.trg_kps - [tx1, ty1]) / [tx2 - tx1, ty2 - ty1]
            prediction.points["trg_to_src"] = relative * [sx2 - sx1, sy2 - sy1] + [sx1, sy1]
        return out


class ReadMeta(IdentityMethod):
    """Rebuilds the synthetic pair (ground truth included) from the seed, split and index in ``meta``."""

    name = "cheat-meta"
    version = "1"

    def predict(self, pairs, directions=DIRECTIONS):
        from corrbench.data.synthetic import SyntheticDataset

        out = super().predict(pairs, directions)
        for pair, prediction in zip(pairs, out):
            if {"seed", "split", "index"} <= set(pair.meta):
                truth = SyntheticDataset(split=pair.meta["split"], seed=pair.meta["seed"])[pair.meta["index"]]
                prediction.points["trg_to_src"] = truth.src_kps
            elif "answer" in pair.meta:  # the in-memory test pairs carry their answer in meta
                prediction.points["trg_to_src"] = np.asarray(pair.meta["answer"])
        return out


class MutateBoxesAndImages(IdentityMethod):
    """Identity's answer, after blowing up every box (threshold → ∞) and blanking the images."""

    name = "cheat-mutate-boxes"
    version = "1"

    def predict(self, pairs, directions=DIRECTIONS):
        for pair in pairs:
            for box in (pair.src_bbox, pair.trg_bbox):
                if box is not None:
                    box[:] = [0, 0, 1e6, 1e6]
            pair.src_bbox = np.array([0, 0, 1e6, 1e6])
            pair.trg_bbox = np.array([0, 0, 1e6, 1e6])
            pair.src_image[:] = 0
            pair.trg_image[:] = 0
        return super().predict(pairs, directions)


class ZeroAnswer(Method):
    """Honest twin of :class:`MutateKeypoints`: every query goes to (0, 0)."""

    name = "zero-answer"
    version = "1"

    def predict(self, pairs, directions=DIRECTIONS):
        out = []
        for pair in pairs:
            prediction = Prediction()
            prediction.points["trg_to_src"] = np.zeros((len(pair.trg_kps), 2))
            prediction.points["src_to_trg"] = np.zeros((len(pair.src_kps), 2))
            out.append(prediction)
        return out


class MutateKeypoints(ZeroAnswer):
    """Answers (0, 0) after moving every keypoint there and hiding the rest (``kps_visible``)."""

    name = "cheat-mutate-kps"
    version = "1"

    def predict(self, pairs, directions=DIRECTIONS):
        for pair in pairs:
            pair.src_kps[:] = 0
            pair.trg_kps[:] = 0
            pair.kps_visible[1:] = False
        return super().predict(pairs, directions)


#: cheater -> the honest method whose predictions it really makes.
HONEST_TWIN = {
    ReadAnswerKeypoints: None,  # answers NaN once blinded: 0 %
    FieldFromKeypoints: None,
    ReadBoxes: IdentityMethod,
    ReadMeta: IdentityMethod,
    MutateBoxesAndImages: IdentityMethod,
    MutateKeypoints: ZeroAnswer,
}
