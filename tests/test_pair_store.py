"""Rendered synthetic pairs cached on disk: identical to a fresh render, keyed by the generator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from corrbench.data import pair_store
from corrbench.data.synthetic import SyntheticDataset


def assert_same(a, b) -> None:
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), field.name
        else:
            assert x == y, field.name


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CORRBENCH_CACHE", str(tmp_path))
    monkeypatch.delenv(pair_store.DISABLE_ENV, raising=False)
    return tmp_path


def test_a_stored_pair_equals_a_fresh_render_and_is_read_back(cache):
    first = SyntheticDataset(split="val", size=3)
    rendered = [first[i] for i in range(3)]
    files = sorted((cache / "pairs").glob("*/*.npz"))
    assert len(files) == 3
    second = SyntheticDataset(split="val", size=3)
    stored = [second[i] for i in range(3)]
    assert second._store().hits == 3
    for a, b in zip(rendered, stored):
        assert_same(a, b)
    for a, i in zip(stored, range(3)):
        assert_same(a, first._render(i))


def test_another_seed_or_a_changed_generator_gets_another_folder(cache, monkeypatch):
    SyntheticDataset(split="val", size=1)[0]
    SyntheticDataset(split="val", size=1, seed=1)[0]
    assert len(list((cache / "pairs").iterdir())) == 2
    real = pair_store.generator_key
    monkeypatch.setattr("corrbench.data.synthetic.generator_key", lambda sources, *inputs: real(sources, "edited", *inputs))
    fresh = SyntheticDataset(split="val", size=1)
    fresh[0]
    assert fresh._store().hits == 0 and len(list((cache / "pairs").iterdir())) == 3


def test_a_damaged_file_is_rendered_again_and_replaced(cache):
    dataset = SyntheticDataset(split="val", size=1)
    pair = dataset[0]
    (path,) = (cache / "pairs").glob("*/*.npz")
    path.write_bytes(b"torn")
    again = SyntheticDataset(split="val", size=1)
    assert_same(again[0], pair)
    assert again._store().hits == 0 and path.stat().st_size > 1000


def test_the_cache_can_be_switched_off(cache, monkeypatch):
    monkeypatch.setenv(pair_store.DISABLE_ENV, "1")
    SyntheticDataset(split="val", size=1)[0]
    assert not (cache / "pairs").exists()
