"""The protocol registry: the built-in presets, always there, plus what a user registers.

Built-ins come from :mod:`corrbench.eval.presets` (plain data) the first time the registry is asked
anything, not at import; registering a custom protocol first never hides them.  A preset that names
the datasets it is meant for is refused on any other dataset.
"""

from __future__ import annotations

from typing import Iterable

from corrbench.errors import UsageError
from corrbench.eval.protocol import METHOD_SEES_EXTRAS, Frame, Protocol, Side, ThresholdRef

__all__ = ["METHOD_SEES_EXTRAS", "PROTOCOLS", "Frame", "Protocol", "ProtocolRegistry", "Side", "ThresholdRef",
           "get_protocol", "list_protocols", "register_protocol"]


class ProtocolRegistry:
    """Named protocols; ``get`` resolves ``<family>`` to ``<family>/<dataset>`` and checks the dataset."""

    def __init__(self, builtins: Iterable[Protocol] | None = None) -> None:
        self._builtins = None if builtins is None else tuple(builtins)
        self._protocols: dict[str, Protocol] = {}
        self._loaded = False

    def _ensure(self) -> dict[str, Protocol]:
        if not self._loaded:
            if self._builtins is None:
                from corrbench.eval.presets import BUILTIN_PRESETS

                self._builtins = BUILTIN_PRESETS
            user = self._protocols
            self._protocols = {p.name: p for p in self._builtins}
            for name, protocol in user.items():
                self._protocols[name] = protocol
            self._loaded = True
        return self._protocols

    def register(self, protocol: Protocol, replace: bool = False) -> Protocol:
        """Add a protocol; a name already taken (a built-in included) needs ``replace=True``."""
        protocols = self._ensure()
        if protocol.name in protocols and not replace and protocols[protocol.name] != protocol:
            raise UsageError(f"protocol '{protocol.name}' already exists; give yours another name "
                             "(or pass replace=True to shadow it deliberately)")
        protocols[protocol.name] = protocol
        return protocol

    def list(self) -> list[Protocol]:
        protocols = self._ensure()
        return [protocols[name] for name in sorted(protocols)]

    def get(self, name_or_protocol: "str | Protocol", dataset: str | None = None,
            any_dataset: bool = False) -> Protocol:
        """Look a protocol up by name (close-name suggestions on a typo).

        A convention whose details differ per benchmark (e.g. DHPF's threshold is the image side on
        PF-PASCAL but the box on SPair) is registered once per dataset as ``<family>/<dataset>``;
        asking for ``<family>`` with ``dataset`` given resolves to that concrete preset.  A preset
        meant for other datasets is refused unless ``any_dataset`` (a dataset's own default).
        A :class:`Protocol` object is returned as it is: its caller built it on purpose.
        """
        if isinstance(name_or_protocol, Protocol):
            return name_or_protocol
        protocols = self._ensure()
        name = str(name_or_protocol)
        if dataset and f"{name}/{dataset}" in protocols and name not in protocols:
            name = f"{name}/{dataset}"
        if name not in protocols:
            from corrbench.registry import suggest

            families = sorted({key.split("/")[0] for key in protocols} | set(protocols))
            raise UsageError(
                f"unknown protocol '{name}'"
                + (f" for dataset '{dataset}'" if dataset else "")
                + f".{suggest(name, families)} See `corrbench list protocols`."
            )
        protocol = protocols[name]
        if dataset and protocol.datasets and dataset not in protocol.datasets and not any_dataset:
            family = name.split("/")[0]
            alternative = f"{family}/{dataset}"
            hint = (f"use '{alternative}'" if alternative in protocols
                    else "see `corrbench list protocols` for the presets of this dataset")
            raise UsageError(f"protocol '{name}' is defined for {', '.join(protocol.datasets)}, not '{dataset}'; "
                             f"{hint}")
        return protocol


PROTOCOLS = ProtocolRegistry()


def register_protocol(protocol: Protocol, replace: bool = False) -> Protocol:
    return PROTOCOLS.register(protocol, replace=replace)


def list_protocols() -> list[Protocol]:
    return PROTOCOLS.list()


def get_protocol(name_or_protocol: "str | Protocol", dataset: str | None = None,
                 any_dataset: bool = False) -> Protocol:
    return PROTOCOLS.get(name_or_protocol, dataset=dataset, any_dataset=any_dataset)
