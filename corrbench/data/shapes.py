"""Canonical objects of the synthetic benchmark: an exact mask, a fixed texture, fixed keypoints.

Every category lives on a ``CANVAS`` x ``CANVAS`` canonical frame.  The mask is a boolean
image (the object is exactly its True pixels, sampled by nearest neighbour), the texture is a
fixed crop of a photo shipped inside scikit-image (so a category has one stable appearance),
and the keypoints are chosen once, deterministically, by farthest-point sampling inside the
mask: it picks extremities (tips, corners, hooves of the silhouette) first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

CANVAS = 256
#: Keypoints keep this canonical distance from the mask border, so that a keypoint's pixel
#: neighbourhood stays on the object after the warp (bilinear reads of dense ground truth).
KEYPOINT_MARGIN = 4.0
NUM_KEYPOINTS = 10
NEAR_MARGIN = 3.0


@dataclass(frozen=True)
class CategoryAsset:
    name: str
    mask: np.ndarray  # (CANVAS, CANVAS) bool
    texture: np.ndarray  # (CANVAS, CANVAS, 3) float32 in [0, 1]
    keypoints: np.ndarray  # (NUM_KEYPOINTS, 2) canonical (x, y)
    near_mask: np.ndarray  # mask dilated by NEAR_MARGIN: where rendering must invert exactly

    @property
    def extent(self) -> float:
        """Longest side of the mask's bounding box (canonical pixels)."""
        rows, cols = np.nonzero(self.mask)
        return float(max(rows.max() - rows.min(), cols.max() - cols.min()) + 1)


def _photo(name: str) -> np.ndarray:
    import skimage.data

    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3]


def _resize(image: np.ndarray, shape: tuple[int, int], order: int = 1) -> np.ndarray:
    from skimage.transform import resize

    return resize(image, shape, order=order, anti_aliasing=order > 0, preserve_range=True)


def _texture(name: str, rows: slice, cols: slice) -> np.ndarray:
    crop = _photo(name)[rows, cols].astype(np.float64) / 255.0
    return _resize(crop, (CANVAS, CANVAS)).astype(np.float32)


def _fit_to_canvas(mask: np.ndarray, image: np.ndarray | None = None, fill: float = 0.86):
    """Crop ``mask`` (and ``image``) to the mask's box, scale its long side to fill·CANVAS."""
    rows, cols = np.nonzero(mask)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    factor = fill * CANVAS / max(r1 - r0, c1 - c0)
    h, w = round((r1 - r0) * factor), round((c1 - c0) * factor)
    top, left = (CANVAS - h) // 2, (CANVAS - w) // 2
    out_mask = np.zeros((CANVAS, CANVAS), bool)
    out_mask[top:top + h, left:left + w] = _resize(mask[r0:r1, c0:c1].astype(float), (h, w)) > 0.5
    if image is None:
        return out_mask, None
    out_image = np.ones((CANVAS, CANVAS, 3), np.float32)
    out_image[top:top + h, left:left + w] = _resize(image[r0:r1, c0:c1] / 255.0, (h, w))
    return out_mask, out_image


def _polygon(points_xy: list[tuple[float, float]]) -> np.ndarray:
    from skimage.draw import polygon

    mask = np.zeros((CANVAS, CANVAS), bool)
    xs, ys = zip(*points_xy)
    mask[polygon(ys, xs, mask.shape)] = True
    return mask


def _ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0) -> np.ndarray:
    from skimage.draw import ellipse

    mask = np.zeros((CANVAS, CANVAS), bool)
    mask[ellipse(cy, cx, ry, rx, mask.shape, rotation=np.deg2rad(angle))] = True
    return mask


def _horse() -> tuple[np.ndarray, np.ndarray]:
    import skimage.data

    mask, _ = _fit_to_canvas(~skimage.data.horse())  # the silhouette is the False pixels
    return mask, _texture("chelsea", slice(20, 300), slice(80, 400))


def _logo() -> tuple[np.ndarray, np.ndarray]:
    import skimage.data
    from skimage.morphology import convex_hull_image

    logo = skimage.data.logo()
    # The shipped alpha channel is fully opaque; the object is the disc of non-white pixels.
    disc = convex_hull_image(logo[..., :3].min(-1) < 230)
    return _fit_to_canvas(disc, logo[..., :3].astype(np.float64))


def _star() -> tuple[np.ndarray, np.ndarray]:
    angles = np.deg2rad(-90 + 36 * np.arange(10))
    radii = np.where(np.arange(10) % 2 == 0, 112.0, 46.0)
    points = [(128 + r * np.cos(a), 132 + r * np.sin(a)) for r, a in zip(radii, angles)]
    return _polygon(points), _texture("colorwheel", slice(0, 370), slice(0, 371))


def _fish() -> tuple[np.ndarray, np.ndarray]:
    mask = _ellipse(140, 128, 86, 50)
    mask |= _polygon([(72, 128), (14, 66), (30, 128), (14, 196)])  # tail
    mask |= _polygon([(110, 86), (150, 36), (180, 88)])  # dorsal fin
    mask |= _polygon([(130, 170), (150, 204), (165, 172)])  # ventral fin
    return mask, _texture("immunohistochemistry", slice(100, 400), slice(60, 360))


def _plane() -> tuple[np.ndarray, np.ndarray]:
    mask = _ellipse(128, 128, 15, 114)  # fuselage, nose up
    mask |= _polygon([(120, 92), (14, 150), (14, 168), (120, 140), (136, 140), (242, 168),
                      (242, 150), (136, 92)])  # swept wings
    mask |= _polygon([(122, 205), (80, 236), (80, 246), (134, 232), (176, 246), (176, 236),
                      (134, 205)])  # tail plane
    return mask, _texture("astronaut", slice(220, 500), slice(120, 400))


def _cup() -> tuple[np.ndarray, np.ndarray]:
    mask = _polygon([(40, 56), (182, 56), (164, 196), (58, 196)])  # body
    ring = _ellipse(182, 118, 52, 44) & ~_ellipse(182, 118, 32, 25)
    ring[:, :170] = False
    mask |= ring  # handle
    mask |= _ellipse(112, 206, 100, 18)  # saucer
    return mask, _texture("coffee", slice(0, 400), slice(100, 520))


BUILDERS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "horse": _horse,
    "logo": _logo,
    "star": _star,
    "fish": _fish,
    "plane": _plane,
    "cup": _cup,
}


def farthest_point_keypoints(mask: np.ndarray, count: int = NUM_KEYPOINTS,
                             margin: float = KEYPOINT_MARGIN) -> np.ndarray:
    """``count`` (x, y) points over ``margin`` inside ``mask``, spread by farthest-point sampling.

    The first point is the one farthest from the mask's centroid; each next one is the farthest
    from all chosen so far.  Ties go to the first pixel in row-major order: deterministic.
    """
    from scipy.ndimage import distance_transform_edt

    inside = distance_transform_edt(mask) > margin
    rows, cols = np.nonzero(inside)
    if len(rows) < count:
        raise ValueError(f"mask has only {len(rows)} pixels more than {margin} px inside")
    points = np.stack([cols, rows], axis=1).astype(np.float64)
    centroid = np.argwhere(mask)[:, ::-1].mean(0)
    chosen = [int(np.argmax(((points - centroid) ** 2).sum(1)))]
    dist = ((points - points[chosen[0]]) ** 2).sum(1)
    for _ in range(count - 1):
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, ((points - points[chosen[-1]]) ** 2).sum(1))
    return points[chosen]


@lru_cache(maxsize=None)
def category_asset(name: str) -> CategoryAsset:
    """Build (once per process) the canonical object of category ``name``."""
    if name not in BUILDERS:
        raise KeyError(f"no synthetic category '{name}'; known: {', '.join(BUILDERS)}")
    mask, texture = BUILDERS[name]()
    mask.setflags(write=False)
    texture = np.ascontiguousarray(texture, dtype=np.float32)
    texture.setflags(write=False)
    keypoints = farthest_point_keypoints(mask)
    keypoints.setflags(write=False)
    from scipy.ndimage import distance_transform_edt

    near_mask = distance_transform_edt(~mask) <= NEAR_MARGIN
    near_mask.setflags(write=False)
    return CategoryAsset(name=name, mask=mask, texture=texture, keypoints=keypoints,
                         near_mask=near_mask)
