"""The plugin contract: what a dataset hands a method and what a method hands back.

Coordinates are always ``(x, y)`` in ORIGINAL pixel units of the image they live in, with
0-based pixel centres (pixel ``(0, 0)`` covers ``[-0.5, 0.5]²``).  Keeping one convention in
the contract means protocols (which may rescale) and methods (which may run at any internal
resolution) never have to guess what the other did.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Mapping, Any, ClassVar, Literal, Sequence

import numpy as np

Direction = Literal["src_to_trg", "trg_to_src"]
DIRECTIONS: tuple[Direction, Direction] = ("src_to_trg", "trg_to_src")


@dataclass
class Pair:
    """One source/target pair with whatever ground truth its benchmark provides.

    ``kps_visible[i]`` is True when keypoint ``i`` is annotated in BOTH images; PCK only looks
    at those.  Dense ground truth ``flow_src_to_trg`` holds absolute target coordinates for
    every source pixel (NaN where undefined), and ``flow_trg_to_src`` the converse.
    """

    pair_id: str
    category: str
    src_image: np.ndarray  # (H_s, W_s, 3) uint8
    trg_image: np.ndarray  # (H_t, W_t, 3) uint8
    src_kps: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    trg_kps: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    kps_visible: np.ndarray | None = None  # (N,) bool; None means all visible
    src_bbox: np.ndarray | None = None  # (4,) x1, y1, x2, y2
    trg_bbox: np.ndarray | None = None
    src_mask: np.ndarray | None = None  # (H_s, W_s) bool foreground
    trg_mask: np.ndarray | None = None
    flow_src_to_trg: np.ndarray | None = None  # (H_s, W_s, 2) target xy, NaN = invalid
    flow_trg_to_src: np.ndarray | None = None  # (H_t, W_t, 2) source xy, NaN = invalid
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.src_kps = np.asarray(self.src_kps, dtype=np.float64).reshape(-1, 2)
        self.trg_kps = np.asarray(self.trg_kps, dtype=np.float64).reshape(-1, 2)
        if self.src_kps.shape != self.trg_kps.shape:
            raise ValueError(
                f"pair {self.pair_id}: {len(self.src_kps)} source vs {len(self.trg_kps)} target keypoints"
            )
        if self.kps_visible is None:
            self.kps_visible = np.ones(len(self.src_kps), dtype=bool)
        self.kps_visible = np.asarray(self.kps_visible, dtype=bool).reshape(-1)

    @property
    def src_size(self) -> tuple[int, int]:
        """(height, width) of the source image."""
        return int(self.src_image.shape[0]), int(self.src_image.shape[1])

    @property
    def trg_size(self) -> tuple[int, int]:
        return int(self.trg_image.shape[0]), int(self.trg_image.shape[1])

    def image(self, side: Literal["src", "trg"]) -> np.ndarray:
        return self.src_image if side == "src" else self.trg_image

    def kps(self, side: Literal["src", "trg"]) -> np.ndarray:
        return self.src_kps if side == "src" else self.trg_kps

    def bbox(self, side: Literal["src", "trg"]) -> np.ndarray | None:
        return self.src_bbox if side == "src" else self.trg_bbox


@dataclass
class CorrespondenceField:
    """A dense map from a regular grid over one image to pixel positions in the other image.

    ``coords`` has shape ``(h, w, 2)``; ``coords[i, j]`` is the (x, y) position in the OTHER
    image (original pixels) matched to grid cell ``(i, j)`` of the grid image.  The grid covers
    the whole grid image: cell centres sit at ``x = (j + 0.5) * W / w - 0.5`` (the
    ``align_corners=False`` convention), so a field at full resolution is indexed by pixel.
    ``image_size`` is the (H, W) of the image the grid covers.  NaN marks "no match".
    """

    coords: np.ndarray
    image_size: tuple[int, int]

    def __post_init__(self) -> None:
        self.coords = np.asarray(self.coords, dtype=np.float32)
        if self.coords.ndim != 3 or self.coords.shape[2] != 2:
            raise ValueError(f"field coords must be (h, w, 2), got {self.coords.shape}")
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))


@dataclass
class Prediction:
    """What a method returns for one pair.

    Dense methods fill one or both fields; the framework transfers keypoints through them.
    Point-query methods fill ``points[direction]`` instead: the query keypoints of that
    direction (source keypoints for ``src_to_trg``) mapped into the other image.
    Masks are foreground probabilities in [0, 1] at any resolution.
    """

    src_to_trg: CorrespondenceField | None = None
    trg_to_src: CorrespondenceField | None = None
    points: dict[str, np.ndarray] = field(default_factory=dict)
    src_mask: np.ndarray | None = None
    trg_mask: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def field_for(self, direction: Direction) -> CorrespondenceField | None:
        return self.src_to_trg if direction == "src_to_trg" else self.trg_to_src


@dataclass(frozen=True)
class Scored:
    """What the evaluator will read of one pair's :class:`Prediction`, so a method may skip the rest.

    Handed over as ``meta['scored']`` of the pair a method sees (absent when ``predict`` is called
    directly: then compute everything).  Skipping what is not listed cannot change a score.

    * ``fields``: False when only the query keypoints of the asked directions are read (keypoint
      protocols): ``points`` then suffice.  Read at ``query_rounding`` (the protocol's), so a method
      with an analytic field can answer exactly what its dense field would have scored
      (:func:`corrbench.eval.keypoints.transfer_queries_at`).
    * ``masks``: the sides ("src", "trg") whose predicted mask is scored (ground truth has them).
    """

    fields: bool = True
    masks: tuple[str, ...] = ("src", "trg")
    query_rounding: str = "none"

    @staticmethod
    def of(pair: "Pair") -> "Scored":
        """The pair's ``meta['scored']``, or everything when the caller did not say."""
        scored = pair.meta.get("scored")
        return scored if isinstance(scored, Scored) else Scored()


class RecordsOptions:
    """Remembers the keyword options an object was built with, so results can name them.

    Captured in ``__new__`` (before any subclass ``__init__`` runs), so it holds for every way of
    building a method or dataset: the CLI, :func:`corrbench.load_method`, or direct construction.
    """

    #: Constructor arguments that are not options (where the data or weights are, which device).
    not_options: ClassVar[tuple[str, ...]] = ()

    def __new__(cls, *args: Any, **kwargs: Any):
        self = super().__new__(cls)
        self._init_arguments = (args, dict(kwargs))
        return self

    def init_options(self) -> dict[str, Any]:
        """The options given to the constructor (not ``weights``/``device``), as the caller wrote them."""
        import inspect

        args, kwargs = getattr(self, "_init_arguments", ((), {}))
        parameters = inspect.signature(type(self).__init__).parameters
        try:
            bound = inspect.signature(type(self).__init__).bind(self, *args, **kwargs)
        except TypeError:
            bound = None
        if bound is None:
            options = dict(kwargs)
        else:
            options = {}
            for name, value in list(bound.arguments.items())[1:]:
                kind = parameters[name].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    options.update(value)
                elif kind is not inspect.Parameter.VAR_POSITIONAL:
                    options[name] = value
        for name in self.not_options:
            options.pop(name, None)
        return options


class Method(RecordsOptions, ABC):
    """Base class of every method plugin.

    Subclasses set ``name`` and ``version`` (bump the version whenever predictions change, so
    leaderboard checks can tell a regression from an intended change) and implement
    :meth:`predict`.  ``weights`` is ``None`` (random init or weight-free) or a checkpoint path.

    **What ``predict`` sees.**  The evaluator hands every method a fresh, blinded copy of each
    pair (:func:`corrbench.eval.blinding.blind_pair`) and scores the loader's own untouched pair,
    so nothing a method reads or changes can reach its score.  The copy holds:

    * both images (copies, in the protocol's frame), hence both image sizes;
    * ``pair_id`` and ``category`` (every paper's test path knows the class);
    * the query side's keypoints (the side the protocol transfers from) and ``kps_visible``;
      the answer side's keypoints keep their shape but are all NaN;
    * ``meta['frame']`` (how the protocol resized the images) and no other dataset ``meta`` key;
    * no boxes, masks or flows, unless the protocol names one in ``method_sees``
      (e.g. ``query_bbox``), which the result then records with the protocol.
    * ``meta['scored']``: a :class:`Scored` saying what of the answer the task will read (dense
      fields or only the query keypoints, which masks), so a method may skip the rest.  It is the
      task's, not the dataset's: ``masks`` names the sides with a ground-truth mask, nothing more.

    The options a method was built with are recorded by this base class (:meth:`init_options`),
    so every result and leaderboard row names them whichever way the method was constructed.
    """


    name: ClassVar[str] = "method"
    version: ClassVar[str] = "0"
    not_options: ClassVar[tuple[str, ...]] = ("weights", "device")
    #: Directions the method can answer; the evaluator asks only for what the protocol needs.
    directions: ClassVar[tuple[Direction, ...]] = DIRECTIONS
    #: True when ``predict`` gains from several pairs at once (the evaluator then batches).
    supports_batching: ClassVar[bool] = False
    #: False for weight-free methods: ``--weights`` is then refused instead of silently recorded.
    takes_weights: ClassVar[bool] = True
    #: Per-benchmark steps of the paper's own test path, as option defaults (dataset name -> options),
    #: e.g. NeMF's zero-padding to a common size on PF-PASCAL/PF-WILLOW.  Applied by
    #: ``load_method(..., for_dataset=NAME)`` (and ``corrbench run``) unless given explicitly; they
    #: are options, so they are recorded in the result like any other.
    benchmark_options: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(self, weights: str | None = None, device: str = "cpu", **options: Any) -> None:
        if options:
            from corrbench.errors import UsageError

            unknown = ", ".join(sorted(options))
            raise UsageError(f"bad option for method '{self.name}': it has no option(s) {unknown}")
        self.weights = weights
        self.device = device

    @abstractmethod
    def predict(
        self, pairs: Sequence[Pair], directions: Sequence[Direction] = DIRECTIONS
    ) -> list[Prediction]:
        """Return one :class:`Prediction` per pair, covering at least ``directions``."""

    def provenance(self) -> dict[str, Any]:
        """What produced these numbers: recorded in every result."""
        return {"method": self.name, "method_version": self.version, "weights": self.weights_tag()}

    def weights_tag(self) -> str:
        """Short label of the weights for leaderboards: file name plus a content hash (a retrained
        checkpoint under the same name is a different row), 'random-init' or 'none'.  Weights named by
        a registry tag (``weights_entry``, set by :func:`corrbench.load_method`) are labelled by the tag."""
        if self.weights is None:
            return "none"
        from corrbench.io import file_digest

        name = getattr(self, "weights_entry", None) or str(self.weights).replace("\\", "/").rsplit("/", 1)[-1]
        digest = file_digest(self.weights)
        return f"{name}@{digest[:8]}" if digest else name


class Dataset(RecordsOptions, ABC):
    """Base of every dataset loader: an indexable, deterministic sequence of :class:`Pair`."""

    name: ClassVar[str] = "dataset"
    not_options: ClassVar[tuple[str, ...]] = ("root", "split")
    version: ClassVar[str] = "0"
    splits: ClassVar[tuple[str, ...]] = ("test",)
    default_protocol: ClassVar[str] = "default"
    #: What the benchmark scores: "keypoints" (PCK), "flow" (dense flow + masks, TSS kit) or
    #: "coseg" (foreground masks only, Internet).  The evaluator dispatches on it.
    task: ClassVar[str] = "keypoints"

    def __init__(self, root: str | None = None, split: str = "test") -> None:
        if split not in self.splits:
            from corrbench.errors import UsageError

            raise UsageError(
                f"dataset '{self.name}' has no split '{split}'; choose one of: {', '.join(self.splits)}"
            )
        self.root = root
        self.split = split

    @property
    @abstractmethod
    def categories(self) -> list[str]:
        """Category names in the benchmark's canonical order."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __getitem__(self, index: int) -> Pair: ...

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    def pair_ids(self) -> list[str]:
        """Stable identifiers of all pairs (override when cheaper than loading each pair)."""
        return [self[i].pair_id for i in range(len(self))]

    def provenance(self) -> dict[str, Any]:
        return {"dataset": self.name, "dataset_version": self.version, "split": self.split}
