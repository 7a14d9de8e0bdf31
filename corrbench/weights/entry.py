"""What a weights table says about one released checkpoint (timm's pretrained configs, for correspondence).

A plugin declares a tuple of :class:`WeightsEntry` in a small module of its own (no torch import)
and names it under the ``corrbench.weights`` entry point group; corrbench's core declares the
ImageNet backbones the paper configurations start from the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from corrbench.errors import CorrbenchError


@dataclass(frozen=True)
class WeightsFile:
    """One file of a release.

    ``urls`` are the origins in order of preference (Google Drive file links are followed through
    their confirm page); an empty ``urls`` with ``manual`` set means only a person can fetch it (a
    Drive *folder*), though a mirror can still serve it.  ``sha256`` is the published digest, full
    or a prefix of >= 8 hex digits (torchvision's file names); None where the publisher gives none.
    """

    filename: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    size: int | None = None
    manual: str | None = None

    @property
    def automatic(self) -> bool:
        """Whether a URL can be fetched without a browser (a Drive folder cannot)."""
        from corrbench.fetching.gdrive import is_folder

        return any(not is_folder(url) for url in self.urls)

    def __post_init__(self) -> None:
        if not self.filename or "/" in self.filename or "\\" in self.filename or self.filename in (".", ".."):
            raise CorrbenchError(f"weights file name {self.filename!r} must be a plain file name")
        if not self.urls and not self.manual:
            raise CorrbenchError(f"weights file {self.filename}: give its URL(s) or a manual instruction")


@dataclass(frozen=True)
class WeightsEntry:
    """A named release: ``tag`` (``method:benchmark``), its files (the first is what the method loads).

    ``preset``/``protocol``/``dataset`` say how the paper used it (``corrbench run`` suggests them),
    ``source`` is the page the links come from, ``licence`` what the authors say about reuse.
    ``method`` is the plugin that loads it; backbones use ``kind="backbone"`` and the library that
    builds them (``torchvision``/``timm``) as ``method``.
    """

    tag: str
    method: str
    files: tuple[WeightsFile, ...]
    licence: str
    source: str
    trained_on: str = ""
    preset: str | None = None
    protocol: str | None = None
    dataset: str | None = None
    options: dict[str, object] = field(default_factory=dict)
    notes: str = ""
    kind: Literal["official", "backbone"] = "official"

    def __post_init__(self) -> None:
        if ":" not in self.tag or self.tag.startswith(":") or self.tag.endswith(":") or " " in self.tag:
            raise CorrbenchError(f"weights tag {self.tag!r} must read '<method>:<name>'")
        if not self.files:
            raise CorrbenchError(f"weights {self.tag}: no files")
        names = [f.filename for f in self.files]
        if len(set(names)) != len(names):
            raise CorrbenchError(f"weights {self.tag}: file names repeat ({', '.join(names)})")

    @property
    def main(self) -> WeightsFile:
        return self.files[0]

    @property
    def checksums(self) -> str:
        """'published', 'partial' (some files or prefixes) or 'none' (recorded on first use)."""
        known = [f.sha256 for f in self.files if f.sha256]
        if not known:
            return "none"
        full = all(f.sha256 and len(f.sha256) == 64 for f in self.files)
        return "published" if full else "partial"

    @property
    def total_size(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(int(s) for s in sizes)  # type: ignore[arg-type]
