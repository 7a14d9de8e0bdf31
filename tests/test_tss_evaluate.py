"""evaluate_tss: a Method on the TSS loader, scored and saved in the kit layout."""

from __future__ import annotations

import pytest

from corrbench.api import CorrespondenceField, Method, Prediction

pytestmark = pytest.mark.shared


class Oracle(Method):
    """Answers with the ground truth, optionally on a coarser grid (cell-centre samples)."""

    name = "oracle"

    def __init__(self, truth, stride=1, masks=True):
        super().__init__()
        self.truth, self.stride, self.masks = truth, stride, masks

    def predict(self, pairs, directions=("src_to_trg", "trg_to_src")):
        out = []
        for pair in pairs:
            assert pair.flow_src_to_trg is None and pair.src_mask is None  # the method is blind
            gt = self.truth[pair.pair_id]
            s = self.stride
            fields = [CorrespondenceField(coords[s // 2::s, s // 2::s], size)
                      for coords, size in ((gt.flow_src_to_trg, pair.src_size), (gt.flow_trg_to_src, pair.trg_size))]
            masks = (gt.src_mask[::s, ::s].astype(float), gt.trg_mask[::s, ::s].astype(float)) if self.masks else (None, None)
            out.append(Prediction(src_to_trg=fields[0], trg_to_src=fields[1], src_mask=masks[0], trg_mask=masks[1]))
        return out


@pytest.fixture(scope="module")
def dataset(shared_data):
    from corrbench.data.tss import TSSDataset

    return TSSDataset(str(shared_data / "tss"))


@pytest.fixture(scope="module")
def truth(dataset):
    return {dataset[i].pair_id: dataset[i] for i in range(len(dataset))}


def test_oracle_scores_one(dataset, truth):
    from corrbench.tss.evaluate import evaluate_tss

    seen = []
    result = evaluate_tss(Oracle(truth), dataset, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4, 4)
    assert all(r["seg_iou"] == 1.0 and r["T1"] == 1.0 and r["T50"] == 1.0 for r in result.rows)
    assert result.summary["tss_T5"] == 1.0 and result.summary["n_pairs"] == 4
    assert set(result.per_class) == {"FG3DCar", "JODS", "PASCAL"}
    assert result.provenance["method"] == "oracle" and result.provenance["kit"] == "cpp"


@pytest.mark.parametrize("kit", ["cpp", "matlab"])
def test_saved_predictions_score_the_same_from_disk(dataset, truth, tmp_path, kit, shared_data):
    from corrbench.tss.flo import read_flo
    from corrbench.tss.evaluate import evaluate_folder, evaluate_tss

    coarse = Oracle(truth, stride=4)
    result = evaluate_tss(coarse, dataset, save_predictions=str(tmp_path), kit=kit, limit=3)
    assert sum(s.n_pairs for s in result.subsets.values()) == 3
    saved = tmp_path / "FG3DCar" / "001_005"
    assert sorted(p.name for p in saved.iterdir()) == ["flow1.flo", "flow2.flo", "mask1.png", "mask2.png"]
    assert read_flo(saved / "flow1.flo").shape == (600, 800, 2)  # written at GT resolution
    again = evaluate_folder(shared_data / "tss", tmp_path, kit=kit, missing="skip")
    assert [r for r in again.rows] == [r for r in result.rows]
    t5 = [r["T5"] for r in result.rows]
    assert min(t5) > 0.9 and max(t5) <= 1.0  # a coarse copy of the truth is close, not exact


def test_without_masks_the_kit_estimates_them(dataset, truth):
    from corrbench.tss.evaluate import evaluate_tss

    result = evaluate_tss(Oracle(truth, masks=False), dataset, limit=1)
    rows = result.rows
    assert [r["mask_source"] for r in rows] == ["flows", "flows"]
    assert all(0.9 < r["seg_iou"] < 1.0 and r["T1"] == 1.0 for r in rows)


class Noisy(Method):
    """Random fields from torch's global generator: the runner's seeding must make them repeat."""

    name = "noisy"

    def predict(self, pairs, directions=("src_to_trg", "trg_to_src")):
        import torch

        out = []
        for pair in pairs:
            fields = [CorrespondenceField(torch.rand(*size, 2).numpy() * max(other), size)
                      for size, other in ((pair.src_size, pair.trg_size), (pair.trg_size, pair.src_size))]
            out.append(Prediction(src_to_trg=fields[0], trg_to_src=fields[1]))
        return out


def test_seeded_tss_runs_repeat_bit_for_bit(dataset):
    from corrbench.tss.evaluate import evaluate_tss

    first, again = (evaluate_tss(Noisy(), dataset, seed=3).rows for _ in range(2))
    other = evaluate_tss(Noisy(), dataset, seed=4).rows
    assert first == again and first != other


def test_tss_resume_reuses_records_to_identical_scores(dataset, tmp_path):
    import corrbench

    fresh = corrbench.evaluate(Noisy(), dataset, seed=1, runs_dir=str(tmp_path))
    resumed = corrbench.evaluate(Noisy(), dataset, seed=1, runs_dir=str(tmp_path))
    assert resumed.provenance["resumed_pairs"] == 4
    assert resumed.summary == fresh.summary and resumed.per_class == fresh.per_class
