"""A paper recipe run for a few updates with a tiny model, on stand-in data laid out as the real dataset.

The recipe's own data, split, dataset options, schedule, optimiser and validation are kept; only the
numbers that cost time shrink (epochs, batch, pairs per epoch, validation pairs), and the loaders get
``subset=True`` because the stand-in lists are short.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from corrbench.training import TrainConfig


def register_voc_masks(monkeypatch) -> None:
    """An install older than this checkout lacks the ``voc-masks`` entry point (``setup.cfg`` declares it,
    ``tests/test_voc_masks.py`` checks that): stand in for the reinstall, in this process only."""
    from importlib.metadata import EntryPoint

    from corrbench import registry

    real = registry._entry_points
    if "voc-masks" in real(registry.DATASET_GROUP):
        return
    entry = EntryPoint("voc-masks", "corrbench.data.voc_masks:VOCMasksDataset", registry.DATASET_GROUP)

    def with_voc_masks(group: str):
        found = real(group)
        return {**found, "voc-masks": [entry]} if group == registry.DATASET_GROUP else found

    monkeypatch.setattr(registry, "_entry_points", with_voc_masks)


def quick(recipe: TrainConfig, *, epochs: int = 2, batch_size: int = 2, steps: int = 1,
          val_limit: int = 2) -> TrainConfig:
    """The recipe cut to ``epochs`` x ``steps`` updates of ``batch_size`` pairs, validating on ``val_limit`` pairs."""
    validation = recipe.validation
    if validation is not None:
        validation = replace(validation, limit=val_limit, every=1, options={**validation.options, "subset": True})
    return replace(recipe, epochs=epochs, batch_size=batch_size, pairs_per_epoch=batch_size * steps,
                   dataset_options={**recipe.dataset_options, "subset": True}, validation=validation)


def recipe_data(config: TrainConfig, root: Path):
    """The recipe's training dataset, read from ``root``."""
    import corrbench

    return corrbench.load_dataset(config.dataset, root=str(root), split=config.split, **config.dataset_options)


def recipe_validation(config: TrainConfig, root: Path):
    from corrbench.training.selection import load_validation_data

    return load_validation_data(config.validation, root=str(root))
