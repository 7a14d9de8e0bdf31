"""Pairs in memory as a dataset: what a user evaluates their own pairs with."""

from __future__ import annotations

import corrbench
from corrbench.baselines.identity import IdentityMethod
from corrbench.data.pair_list import PairList
from tests.helpers import make_pair


def test_own_pairs_evaluate_per_category():
    pairs = [make_pair("p0", "dog", seed=0), make_pair("p1", "cat", seed=1), make_pair("p2", "dog", seed=2)]
    data = PairList(pairs)
    assert len(data) == 3 and data[1] is pairs[1] and data.categories == ["cat", "dog"]
    result = corrbench.evaluate(IdentityMethod(), data)
    assert set(result.per_class) == {"cat", "dog"} and result.summary["n_pairs"] == 3
