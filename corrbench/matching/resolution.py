"""Where a feature grid lies on its image, and the input resolution policies that decide it.

A backbone sees an image resized (and maybe padded) to a size its patch grid accepts; the matcher
reads and answers in the image's own pixels.  :class:`GridPlacement` is the one affine map between
the two (per axis), so fields and point answers never disagree on half-pixel offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from corrbench.errors import UsageError

ResolutionPolicy = Literal["long_side_pad", "square", "original"]


@dataclass(frozen=True)
class GridPlacement:
    """An ``(h, w)`` grid over an image of size ``(H, W)``: cell ``(c, r)`` is centred at image pixel
    ``x = (c + 0.5) * cell_size[0] - 0.5 - shift[0]`` (likewise ``y``), pixel centres at integers.

    ``shift`` is the padding before the image, in image pixels (non-zero only for padded inputs).
    """

    image_size: tuple[int, int]
    grid: tuple[int, int]
    cell_size: tuple[float, float]
    shift: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def covering(cls, image_size: tuple[int, int], grid: tuple[int, int]) -> "GridPlacement":
        """A grid spread exactly over the whole image (the ``CorrespondenceField`` convention)."""
        (height, width), (rows, cols) = image_size, grid
        return cls((int(height), int(width)), (int(rows), int(cols)), (width / cols, height / rows))

    @property
    def covers_image(self) -> bool:
        """True when the grid is exactly the image (no padding), so a field can use it as is."""
        (height, width), (rows, cols) = self.image_size, self.grid
        return (self.shift == (0.0, 0.0) and abs(self.cell_size[0] * cols - width) < 1e-6 * width
                and abs(self.cell_size[1] * rows - height) < 1e-6 * height)

    def field_grid(self) -> tuple[int, int]:
        """The grid of a field over the image alone with (about) this grid's cell size."""
        (height, width) = self.image_size
        return max(1, round(height / self.cell_size[1])), max(1, round(width / self.cell_size[0]))

    def to_pixels(self, cells: torch.Tensor) -> torch.Tensor:
        """(N, 2) fractional cells (col, row) -> image pixels (x, y)."""
        scale = torch.tensor(self.cell_size, dtype=cells.dtype, device=cells.device)
        pixels = (cells + 0.5) * scale - 0.5
        if self.shift != (0.0, 0.0):
            pixels = pixels - torch.tensor(self.shift, dtype=cells.dtype, device=cells.device)
        return pixels

    def to_cells(self, pixels: torch.Tensor) -> torch.Tensor:
        """(N, 2) image pixels (x, y) -> fractional cells (col, row); inverse of :meth:`to_pixels`."""
        scale = torch.tensor(self.cell_size, dtype=pixels.dtype, device=pixels.device)
        shift = torch.tensor(self.shift, dtype=pixels.dtype, device=pixels.device)
        return (pixels + 0.5 + shift) / scale - 0.5

    def containing_cell(self, pixels: torch.Tensor) -> torch.Tensor:
        """(N,) row-major index of the cell each pixel falls in (clamped to the grid)."""
        rows, cols = self.grid
        cells = torch.floor(self.to_cells(pixels) + 0.5).long()
        col = cells[:, 0].clamp(0, cols - 1)
        row = cells[:, 1].clamp(0, rows - 1)
        return row * cols + col


@dataclass(frozen=True)
class InputPlan:
    """How one image becomes backbone input: resized to ``resized`` (H, W), pasted at ``offset``
    (left, top) on an ``input_size`` canvas, and where the resulting patch grid lies."""

    resized: tuple[int, int]
    offset: tuple[int, int]
    input_size: tuple[int, int]
    placement: GridPlacement


@dataclass(frozen=True)
class Resolution:
    """An input resolution policy for a patch backbone (patch size ``patch``).

    * ``long_side_pad``: isotropic resize so the long side is ``size``, centred zero padding to
      ``size``x``size`` (GeoAware-SC's 840 for DINOv2);
    * ``square``: anisotropic resize to ``size``x``size``;
    * ``original``: each side rounded to the nearest multiple of the patch (``size`` unused).
    """

    policy: ResolutionPolicy = "long_side_pad"
    size: int = 840
    patch: int = 14

    def __post_init__(self) -> None:
        if self.policy != "original" and (self.size < self.patch or self.size % self.patch):
            lower = max(self.patch, self.size // self.patch * self.patch)
            raise UsageError(f"resolution size {self.size} is not a multiple of the patch size {self.patch} "
                             f"(try {lower} or {lower + self.patch})")

    def plan(self, image_size: tuple[int, int]) -> InputPlan:
        height, width = int(image_size[0]), int(image_size[1])
        p = self.patch
        if self.policy == "long_side_pad":
            factor = self.size / max(height, width)
            new_h, new_w = max(1, round(height * factor)), max(1, round(width * factor))
            left, top = (self.size - new_w) // 2, (self.size - new_h) // 2
            input_size = (self.size, self.size)
        elif self.policy == "square":
            new_h = new_w = self.size
            left = top = 0
            input_size = (self.size, self.size)
        else:
            new_h, new_w = max(p, round(height / p) * p), max(p, round(width / p) * p)
            left = top = 0
            input_size = (new_h, new_w)
        scale_x, scale_y = new_w / width, new_h / height  # resized pixels per image pixel
        placement = GridPlacement((height, width), (input_size[0] // p, input_size[1] // p),
                                  (p / scale_x, p / scale_y), (left / scale_x, top / scale_y))
        return InputPlan((new_h, new_w), (left, top), input_size, placement)

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, GridPlacement]:
        """The (input_h, input_w, 3) uint8 backbone input of ``image`` and its grid placement."""
        from PIL import Image

        plan = self.plan(image.shape[:2])
        resized = image
        if plan.resized != tuple(image.shape[:2]):
            resized = np.asarray(Image.fromarray(image).resize(plan.resized[::-1], Image.LANCZOS))
        if plan.input_size == plan.resized:
            return np.ascontiguousarray(resized), plan.placement
        canvas = np.zeros((*plan.input_size, 3), dtype=np.uint8)
        left, top = plan.offset
        canvas[top: top + plan.resized[0], left: left + plan.resized[1]] = resized
        return canvas, plan.placement
