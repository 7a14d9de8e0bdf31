"""Dataset cards: the YAML files under ``datasets/`` that describe each benchmark.

A card is the single place for a dataset's name, version, categories, splits, default protocol
and download sources; loaders read it instead of repeating those facts in code.
The cards ship inside the package (``corrbench/data/dataset_cards`` links to the repository's
``datasets/`` folder, and wheels carry copies), read through :mod:`importlib.resources`, so every
kind of install finds them; ``$CORRBENCH_CARDS`` names a folder searched first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from corrbench.errors import CorrbenchError


@dataclass(frozen=True)
class DownloadSource:
    url: str
    filename: str | None = None
    sha256: str | None = None
    note: str = ""


@dataclass(frozen=True)
class DatasetCard:
    name: str
    version: str
    description: str
    categories: tuple[str, ...]
    splits: tuple[str, ...]
    default_protocol: str
    download: tuple[DownloadSource, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


CARD_FOLDER = "dataset_cards"


def card_dirs() -> list[Any]:
    """Where cards are looked for, in order: ``$CORRBENCH_CARDS``, then the package's own cards."""
    from importlib.resources import files

    dirs: list[Any] = []
    if os.environ.get("CORRBENCH_CARDS"):
        dirs.append(Path(os.environ["CORRBENCH_CARDS"]))
    dirs.append(files("corrbench.data") / CARD_FOLDER)
    return dirs


@lru_cache(maxsize=None)
def load_card(name: str) -> DatasetCard:
    """Read ``<name>.yaml`` from the first card folder that has it."""
    for folder in card_dirs():
        path = folder / f"{name}.yaml"
        if path.is_file():
            return parse_card(yaml.safe_load(path.read_text(encoding="utf-8")), source=str(path))
    raise CorrbenchError(
        f"no dataset card '{name}.yaml' in {', '.join(map(str, card_dirs()))}; reinstall corrbench"
    )


def parse_card(data: dict[str, Any], source: str = "<card>") -> DatasetCard:
    required = ("name", "version", "categories", "splits", "default_protocol")
    missing = [key for key in required if key not in data]
    if missing:
        raise CorrbenchError(f"dataset card {source} lacks {', '.join(missing)}")
    known = {*required, "description", "download"}
    return DatasetCard(
        name=str(data["name"]),
        version=str(data["version"]),
        description=str(data.get("description", "")).strip(),
        categories=tuple(str(c) for c in data["categories"]),
        splits=tuple(str(s) for s in data["splits"]),
        default_protocol=str(data["default_protocol"]),
        download=tuple(DownloadSource(**item) for item in data.get("download") or ()),
        extra={key: value for key, value in data.items() if key not in known},
    )
