"""Registry: entry points only, close-name suggestions, broken plugins named with their distribution."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

import corrbench
from corrbench import registry
from corrbench.errors import PluginImportError, UsageError


def test_unknown_method_suggests_close_name():
    with pytest.raises(UsageError, match=r"unknown method 'idenity'\. Did you mean 'identity'\?"):
        corrbench.load_method("idenity")


def test_unknown_name_without_close_match_lists_installed():
    with pytest.raises(UsageError, match="Installed methods: .*identity"):
        corrbench.load_method("zzzzzz")


def test_bad_option_is_a_usage_error():
    with pytest.raises(UsageError, match="bad option for method 'identity'.*no_such_option"):
        corrbench.load_method("identity", no_such_option=3)


def test_broken_plugin_names_its_origin(monkeypatch):
    broken = EntryPoint(name="broken", value="corrbench_no_such_module_xyz:Method", group=registry.METHOD_GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda group: {"broken": [broken]})
    with pytest.raises(PluginImportError, match="plugin 'broken' from corrbench_no_such_module_xyz:Method "
                                                "failed to import \\(ModuleNotFoundError"):
        corrbench.load_method("broken")


def test_listing_imports_no_plugin():
    code = (
        "import sys; from corrbench.cli.main import main; main(['list']);"
        "loaded = [m for m in sys.modules if m.startswith(('corrbench.baselines', 'corrbench_', 'torch'))];"
        "print('LOADED', loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out
    assert "identity" in out and "feature-nn" in out


def test_two_distributions_registering_one_name_is_an_error_naming_both(tmp_path, monkeypatch, capsys):
    from corrbench.cli.main import main
    from tests.fake_plugins import activate, write_distribution

    source = '''
        from corrbench.baselines.identity import IdentityMethod

        class Impostor(IdentityMethod):
            name = "identity"
    '''
    site = write_distribution(tmp_path / "site", "evil-identity", "9.9", {
        registry.METHOD_GROUP: {"identity": "corrbench_impostor:Impostor"},
        registry.DATASET_GROUP: {"synthetic": "corrbench_impostor:Impostor"}},
        {"corrbench_impostor.py": source})
    activate(site, monkeypatch)
    with pytest.raises(UsageError, match=r"method name 'identity' is registered by more than one distribution: "
                                         r".*(corrbench \S+ .*evil-identity 9\.9|evil-identity 9\.9 .*corrbench \S+)"):
        corrbench.load_method("identity")
    with pytest.raises(UsageError, match="dataset name 'synthetic' is registered by more than one"):
        corrbench.load_dataset("synthetic")
    assert main(["run", "--method", "identity", "--dataset", "synthetic", "--limit", "1", "--no-leaderboard"]) == 2
    assert "evil-identity" in capsys.readouterr().err
    monkeypatch.setenv("COLUMNS", "250")  # rich would shorten the cells of a narrow table
    assert main(["list", "methods"]) == 0
    listing = capsys.readouterr().out
    assert "evil-identity" in listing and "corrbench.baselines.identity:IdentityMethod" in listing
    assert "name clash" in listing
    assert corrbench.load_method("feature-nn").name == "feature-nn"  # other names are unaffected


def test_a_bug_inside_a_constructor_is_not_passed_off_as_a_bad_option(monkeypatch):
    from corrbench.baselines.identity import IdentityMethod

    class Buggy(IdentityMethod):
        def __init__(self, stride: int = 1, **kw):
            super().__init__(**kw)
            len(None)  # a TypeError inside the plugin: a bug, with its traceback

    monkeypatch.setattr(registry, "resolve", lambda group, name: Buggy)
    with pytest.raises(TypeError, match="NoneType"):
        corrbench.load_method("buggy", stride=2)


def test_a_mistyped_option_suggests_the_close_name():
    with pytest.raises(UsageError, match=r"no option\(s\) strid\. Did you mean 'stride'\?"):
        corrbench.load_method("feature-nn", strid=4)
