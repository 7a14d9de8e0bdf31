"""Every malformed answer, and every crash inside ``predict``, is one line naming the plugin and the pair."""

from __future__ import annotations

import numpy as np
import pytest

import corrbench
from corrbench.api import CorrespondenceField, Method, Prediction
from corrbench.baselines.identity import IdentityMethod
from corrbench.cli.main import main
from corrbench.errors import MethodError
from tests.fake_plugins import activate, write_distribution
from tests.helpers import ListDataset, make_pair


def _data(n: int = 2) -> ListDataset:
    return ListDataset([make_pair(f"p{i}", "a", seed=i) for i in range(n)])


def _field(coords_hw, image_size):
    return CorrespondenceField(np.zeros((*coords_hw, 2), np.float32), image_size)


class Answering(Method):
    """Returns whatever ``make(pairs)`` builds."""

    name = "bad"
    version = "7"

    def __init__(self, make=None, **kw) -> None:
        super().__init__(**kw)
        self.make = make

    def predict(self, pairs, directions=()):
        return self.make(pairs)


def _wrong_shape(pairs):
    predictions = IdentityMethod().predict(pairs)
    predictions[0].trg_to_src.coords = np.zeros((4, 4, 3), np.float32)  # changed after construction
    return predictions


BAD_ANSWERS = {
    "too few": (lambda pairs: [], "returned 0 predictions for 1 pair"),
    "too many": (lambda pairs: IdentityMethod().predict(pairs * 2), "returned 2 predictions for 1 pair"),
    "None": (lambda pairs: None, "returned NoneType"),
    "a None entry": (lambda pairs: [None], "returned NoneType for pair p0"),
    "wrong type": (lambda pairs: [{"trg_to_src": 1}], "returned dict for pair p0"),
    "field of wrong shape": (_wrong_shape, r"field has shape \(4, 4, 3\)"),
    "field over the wrong image": (lambda pairs: [Prediction(trg_to_src=_field((3, 3), (10, 10)))],
                                   r"is over an image of size \(10, 10\), but the target image is \(90, 70\)"),
    "field that is not a field": (lambda pairs: [Prediction(trg_to_src=np.zeros((3, 3, 2)))],
                                  "is a ndarray, not a CorrespondenceField"),
    "wrong number of points": (lambda pairs: [Prediction(points={"trg_to_src": np.zeros((3, 2))})],
                               r"has shape \(3, 2\); expected \(5, 2\)"),
    "points not numbers": (lambda pairs: [Prediction(points={"trg_to_src": [["a", "b"]] * 5})],
                           "is not an array of numbers"),
    "no answer": (lambda pairs: [Prediction()], "no trg_to_src answer"),
    "mask not 2-D": (lambda pairs: [Prediction(trg_to_src=IdentityMethod().predict(pairs)[0].trg_to_src,
                                               src_mask=np.zeros(5))], r"src_mask has shape \(5,\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_bad_answer_is_one_line_naming_method_version_and_pair(case):
    make, message = BAD_ANSWERS[case]
    with pytest.raises(MethodError, match=message) as caught:
        corrbench.evaluate(Answering(make=make), _data(1))
    text = str(caught.value)
    assert "\n" not in text
    assert "method 'bad'" in text and "method version 7" in text and "p0" in text


def test_nan_answers_are_scored_wrong_not_rejected():
    nan = lambda pairs: [Prediction(points={"trg_to_src": np.full((5, 2), np.nan)}) for _ in pairs]  # noqa: E731
    summary = corrbench.evaluate(Answering(make=nan), _data(2)).summary
    assert summary["pck@0.1"] == 0.0 and summary["n_nonfinite"] == 10


def test_crash_inside_predict_names_the_plugin():
    def crash(pairs):
        raise IndexError("index 3 is out of bounds")

    with pytest.raises(MethodError, match=r"method 'bad' .* raised IndexError: index 3 is out of bounds on "
                                          r"pair\(s\) p0.*--debug"):
        corrbench.evaluate(Answering(make=crash), _data(1))


@pytest.fixture
def crashing_plugin(tmp_path, monkeypatch):
    source = '''
        from corrbench.baselines.identity import IdentityMethod

        class Crashing(IdentityMethod):
            name = "crashing"
            version = "3"

            def predict(self, pairs, directions=()):
                return {}["missing key"]
    '''
    site = write_distribution(tmp_path / "site", "corrbench-crashing", "0.4.2",
                              {"corrbench.methods": {"crashing": "corrbench_crashing:Crashing"}},
                              {"corrbench_crashing.py": source})
    activate(site, monkeypatch)


def test_cli_crash_is_one_line_with_distribution_and_traceback_only_with_debug(crashing_plugin, capsys,
                                                                                 monkeypatch):
    args = ["run", "--method", "crashing", "--dataset", "synthetic", "--limit", "1", "--no-resume",
            "--no-leaderboard"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "method 'crashing' (corrbench-crashing 0.4.2, method version 3) raised KeyError" in err
    assert "test-0000" in err
    assert main(["--debug", *args]) == 2
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("CORRBENCH_DEBUG", "1")
    assert main(args) == 2
    assert "Traceback" in capsys.readouterr().err


def test_out_of_memory_inside_predict_is_one_line_with_the_size():
    def oom(pairs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 107374182400 bytes. Error code 12 (Cannot allocate memory)")

    with pytest.raises(MethodError, match=r"ran out of memory on pair\(s\) p0 on cpu \(it asked for "
                                          r"107374182400 bytes\); lower --batch-size"):
        corrbench.evaluate(Answering(make=oom), _data(1))


def test_a_methods_distribution_is_read_from_its_entry_point_without_scanning_every_install(monkeypatch):
    """Every run records the plugin's distribution; reading every installed file list cost ~0.3 s a process."""
    import importlib.metadata

    from corrbench.eval import validation

    calls = []
    real = importlib.metadata.packages_distributions
    monkeypatch.setattr(importlib.metadata, "packages_distributions", lambda: calls.append(1) or real())
    validation._distributions.cache_clear()
    try:
        assert validation.method_distribution(IdentityMethod())[0] == "corrbench" and not calls
        assert validation.method_distribution(Unregistered()) == ("?", "?") and calls  # no entry point: the scan
    finally:
        validation._distributions.cache_clear()


class Unregistered(IdentityMethod):
    pass


Unregistered.__module__ = "not_a_plugin_package.method"
