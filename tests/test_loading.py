"""Pairs read ahead in DataLoader workers: same records as inline loading, errors stay one line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import corrbench
from corrbench.api import Dataset
from corrbench.data import base
from corrbench.errors import DatasetNotFound
from corrbench.eval.runner import evaluate


class PidNoting(Dataset):
    """The synthetic val split, noting which process loaded each pair (a file per pid)."""

    name = "synthetic"
    version = "pid-noting"
    default_protocol = "synthetic"

    def __init__(self, folder: str, fail_at: int | None = None) -> None:
        super().__init__(split="test")
        self.inner = corrbench.load_dataset("synthetic", split="val", size=6)
        self.folder, self.fail_at = folder, fail_at

    @property
    def categories(self) -> list[str]:
        return self.inner.categories

    def __len__(self) -> int:
        return len(self.inner)

    def pair_ids(self) -> list[str]:
        return self.inner.pair_ids()

    def __getitem__(self, index: int):
        Path(self.folder, str(os.getpid())).touch()
        if index == self.fail_at:
            raise DatasetNotFound(f"pair {index}: image file gone; re-download the dataset")
        return self.inner[index]


def test_workers_give_the_records_of_inline_loading_and_really_load_elsewhere(tmp_path):
    method = corrbench.load_method("feature-nn")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    inline = evaluate(method, PidNoting(str(tmp_path / "a")), batch_size=2)
    ahead = evaluate(method, PidNoting(str(tmp_path / "b")), batch_size=2, workers=2)
    assert inline.records == ahead.records and inline.summary == ahead.summary
    assert {p.name for p in (tmp_path / "a").iterdir()} == {str(os.getpid())}
    loaders = {p.name for p in (tmp_path / "b").iterdir()}
    assert loaders and str(os.getpid()) not in loaders  # every pair came from a worker


def test_an_error_in_a_worker_is_the_loaders_own_one_line_error(tmp_path):
    with pytest.raises(DatasetNotFound, match=r"^pair 3: image file gone; re-download the dataset$"):
        evaluate(corrbench.load_method("identity"), PidNoting(str(tmp_path), fail_at=3), batch_size=2, workers=2)


def test_a_distinct_image_is_decoded_once_and_each_caller_gets_its_own_copy(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    Image.fromarray(np.full((8, 9, 3), 100, np.uint8)).save(path)
    calls = []
    real = base._decode_image
    monkeypatch.setattr(base, "_decode_image", lambda p, d: calls.append(p) or real(p, d))
    monkeypatch.setattr(base, "_DECODED", None)
    first = base.read_image(path, "test")
    first[:] = 0  # a caller scribbling on its copy
    second = base.read_image(path, "test")
    assert len(calls) == 1 and (second == 100).all()
    Image.fromarray(np.full((8, 9, 3), 7, np.uint8)).save(path)  # the file changed: decoded again
    os.utime(path, ns=(1, 10**18))
    assert (base.read_image(path, "test") == 7).all() and len(calls) == 2
