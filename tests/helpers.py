"""Small in-memory datasets and methods for testing the core without any download."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from corrbench.api import DIRECTIONS, CorrespondenceField, Direction, Method, Pair, Prediction
from corrbench.data.pair_list import PairList


def make_pair(pair_id: str = "p0", category: str = "a", src_hw=(60, 80), trg_hw=(90, 70), n_kps: int = 5,
              seed: int = 0) -> Pair:
    rng = np.random.default_rng(seed)
    src_kps = rng.uniform([5, 5], [src_hw[1] - 5, src_hw[0] - 5], size=(n_kps, 2))
    trg_kps = rng.uniform([5, 5], [trg_hw[1] - 5, trg_hw[0] - 5], size=(n_kps, 2))
    return Pair(
        pair_id=pair_id, category=category,
        src_image=rng.integers(0, 255, (*src_hw, 3), dtype=np.uint8),
        trg_image=rng.integers(0, 255, (*trg_hw, 3), dtype=np.uint8),
        src_kps=src_kps, trg_kps=trg_kps,
        src_bbox=np.array([2, 3, src_hw[1] - 10, src_hw[0] - 4], float),
        trg_bbox=np.array([1, 1, trg_hw[1] - 3, trg_hw[0] - 20], float),
    )


class ListDataset(PairList):
    name = "list"  # the core tests' leaderboards are written under this name


class OracleMethod(Method):
    """Answers every query with the ground-truth keypoint (plus an optional fixed offset).

    The evaluator blinds what ``predict`` gets, so the oracle is told the answers out of band
    (:meth:`knowing`) and looks them up by pair id.
    """

    name = "oracle"
    version = "1"

    def __init__(self, offset=(0.0, 0.0), **kw) -> None:
        super().__init__(**kw)
        self.truth: dict[str, Pair] = {}
        self.offset = np.asarray(offset, float)

    def knowing(self, dataset) -> "OracleMethod":
        self.truth = {dataset[i].pair_id: dataset[i] for i in range(len(dataset))}
        return self

    def predict(self, pairs: Sequence[Pair], directions: Sequence[Direction] = DIRECTIONS) -> list[Prediction]:
        out = []
        for pair in pairs:
            known = self.truth[pair.pair_id]
            pred = Prediction()
            pred.points["trg_to_src"] = known.src_kps + self.offset
            pred.points["src_to_trg"] = known.trg_kps + self.offset
            out.append(pred)
        return out


class ConstantFieldMethod(Method):
    """Returns fields that map everything to one point (to exercise field transfer)."""

    name = "constant"

    def __init__(self, point=(3.0, 4.0), **kw) -> None:
        super().__init__(**kw)
        self.point = np.asarray(point, np.float32)

    def predict(self, pairs, directions=DIRECTIONS):
        out = []
        for pair in pairs:
            s2t = CorrespondenceField(np.broadcast_to(self.point, (4, 5, 2)).copy(), pair.src_size)
            t2s = CorrespondenceField(np.broadcast_to(self.point, (3, 3, 2)).copy(), pair.trg_size)
            out.append(Prediction(src_to_trg=s2t, trg_to_src=t2s))
        return out
