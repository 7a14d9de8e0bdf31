"""A non-editable install (a built wheel) carries the dataset cards and finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_every_card_and_loads_it_outside_the_checkout(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            str(REPO), "-w", str(tmp_path / "wheel")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "wheel").glob("corrbench-*.whl")
    cards = sorted(p.name for p in (REPO / "datasets").glob("*.yaml"))
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(Path(n).name for n in archive.namelist() if n.startswith("corrbench/data/dataset_cards/"))
        archive.extractall(tmp_path / "site")
    assert shipped == cards
    code = ("import corrbench, sys; from corrbench.data.cards import load_card; "
            "assert corrbench.__file__.startswith(sys.argv[1]), corrbench.__file__; "
            f"print(','.join(load_card(n[:-5]).name for n in {cards!r}))")
    loaded = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site")], capture_output=True, text=True,
                            cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"})
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == ",".join(n[:-5] for n in cards)


def test_top_of_the_package_stays_small():
    modules = sorted(p.name for p in (REPO / "corrbench").glob("*.py"))
    assert len(modules) <= 10, modules
