"""Render one synthetic image (a warped canonical object on a background crop) with exact GT.

Rendering inverts the forward map canonical -> image at every pixel of the object's box, so
each object pixel knows its canonical coordinates; those are what the dense flow of a pair is
built from (see :func:`flow_between`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from corrbench.data.shapes import CANVAS, CategoryAsset
from corrbench.data.warps import Affine, Warp

HEIGHT_RANGE = (176, 224)
WIDTH_RANGE = (208, 256)
ANGLE_DEG = 30.0
SIZE_RANGE = (0.5, 0.8)  # object extent as a fraction of the image's short side (before rotation)
ASPECT_LOG = 0.15
SHEAR = 0.12
TPS_GRID = 4  # control points per side of the canonical canvas
TPS_SIGMA = 6.0  # canonical pixels; displacements clipped at 2 sigma
PLACEMENT_SPREAD = 0.1  # fraction of the free room the object centre may wander off-centre
CUT_OFF = 0.06  # fraction of the object's box that may leave the image ...
CUT_OFF_RARE = (0.15, 0.3)  # ... except in this fraction of images, where this much may
MIN_KPS_IN_IMAGE = 8  # per image; so a pair keeps at least 6 of 10 keypoints visible
INVERSE_TOL = 1e-4  # image pixels
BACKGROUND_SHORT_SIDE = 320


@dataclass
class View:
    """One rendered image and everything needed to derive its ground truth."""

    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool
    canonical: np.ndarray  # (H, W, 2) canonical (x, y) of object pixels, NaN elsewhere
    warp: Warp
    keypoints: np.ndarray  # (K, 2) image (x, y), possibly outside the image
    params: dict[str, Any]

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])

    def inside(self, points: np.ndarray, pad: float = 0.0) -> np.ndarray:
        return inside_image(points, self.size, pad)


def inside_image(points: np.ndarray, size: tuple[int, int], pad: float = 0.0) -> np.ndarray:
    """Points within [-pad, W-1+pad] x [-pad, H-1+pad] of an image of (H, W) ``size``."""
    h, w = size
    x, y = points[:, 0], points[:, 1]
    return (x >= -pad) & (x <= w - 1 + pad) & (y >= -pad) & (y <= h - 1 + pad)


@lru_cache(maxsize=None)
def background_photo(name: str) -> np.ndarray:
    """A skimage.data photo as float32 RGB in [0, 1], rescaled to a short side of 320 px."""
    import skimage.data
    from skimage.transform import resize

    photo = getattr(skimage.data, name)()
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=-1)
    photo = photo[..., :3].astype(np.float32) / 255.0
    factor = BACKGROUND_SHORT_SIDE / min(photo.shape[:2])
    shape = (round(photo.shape[0] * factor), round(photo.shape[1] * factor))
    out = resize(photo, shape, order=1, anti_aliasing=factor < 1).astype(np.float32)
    out.setflags(write=False)
    return out


def _hue_rotation(degrees: float) -> np.ndarray:
    """3x3 rotation of RGB about the grey axis (a cheap hue shift that keeps grey grey)."""
    theta = np.deg2rad(degrees)
    u = np.full(3, 1 / np.sqrt(3))
    cross = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    return np.cos(theta) * np.eye(3) + np.sin(theta) * cross + (1 - np.cos(theta)) * np.outer(u, u)


def _bilinear(texture: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Sample an (H, W, C) image at (N, 2) float positions, clamped to its border."""
    h, w = texture.shape[:2]
    x = np.clip(xy[:, 0], 0, w - 1)
    y = np.clip(xy[:, 1], 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.intp), w - 2)
    y0 = np.minimum(np.floor(y).astype(np.intp), h - 2)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = texture[y0, x0] * (1 - fx) + texture[y0, x0 + 1] * fx
    bottom = texture[y0 + 1, x0] * (1 - fx) + texture[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _sample_tps(rng: np.random.Generator, asset: CategoryAsset) -> tuple[np.ndarray, np.ndarray]:
    """Control points on a grid over the canvas and their smooth random displacements."""
    ticks = np.linspace(CANVAS * 0.1, CANVAS * 0.9, TPS_GRID)
    controls = np.stack(np.meshgrid(ticks, ticks), axis=-1).reshape(-1, 2)
    shift = np.clip(rng.normal(0.0, TPS_SIGMA, controls.shape), -2 * TPS_SIGMA, 2 * TPS_SIGMA)
    return controls, controls + shift


@lru_cache(maxsize=None)
def _boundary_points(category: str) -> np.ndarray:
    """Corners of the canonical mask's border pixels: their image bounds the warped object."""
    from scipy.ndimage import binary_erosion

    from corrbench.data.shapes import category_asset

    mask = category_asset(category).mask
    rows, cols = np.nonzero(mask & ~binary_erosion(mask))
    centres = np.stack([cols, rows], axis=1).astype(np.float64)
    corners = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
    return (centres[:, None, :] + corners[None]).reshape(-1, 2)


def _sample_warp(asset: CategoryAsset, size: tuple[int, int],
                 rng: np.random.Generator) -> tuple[Warp, np.ndarray, np.ndarray, dict[str, Any]]:
    """Random affine ∘ spline, placed so that most keypoints land in the image.

    Returns the warp, the object's image box (x0, y0, x1, y1), the keypoints and parameters.
    """
    height, width = size
    angle = float(rng.uniform(-ANGLE_DEG, ANGLE_DEG))
    scale = float(rng.uniform(*SIZE_RANGE) * min(height, width) / asset.extent)
    aspect = float(np.exp(rng.uniform(-ASPECT_LOG, ASPECT_LOG)))
    shear = float(rng.uniform(-SHEAR, SHEAR))
    controls, displaced = _sample_tps(rng, asset)
    centre = np.argwhere(asset.mask)[:, ::-1].mean(0)
    linear = Affine.from_params(angle, scale, aspect, shear, tuple(centre), (0.0, 0.0))
    at_origin = Warp.build(controls, displaced, linear)
    outline = at_origin.forward(_boundary_points(asset.name))
    low, high = outline.min(0), outline.max(0)
    room = np.maximum(np.array([width, height]) - (high - low), 0.0) / 2
    cut_off = CUT_OFF_RARE[1] if rng.random() < CUT_OFF_RARE[0] else CUT_OFF
    reach = room * PLACEMENT_SPREAD + cut_off * (high - low)
    for attempt in range(20):  # redraw the placement until enough keypoints are in the image
        offset = rng.uniform(-1.0, 1.0, 2) * reach if attempt < 19 else np.zeros(2)
        shift = np.array([width - 1, height - 1]) / 2 - (low + high) / 2 + offset
        warp = Warp(tps=at_origin.tps, tps_guess=at_origin.tps_guess,
                    affine=Affine(linear.matrix, linear.offset + shift))
        keypoints = warp.forward(asset.keypoints)
        if inside_image(keypoints, size).sum() >= MIN_KPS_IN_IMAGE:
            break
    params = {
        "size": [height, width], "angle_deg": angle, "scale": scale, "aspect": aspect,
        "shear": shear, "translation": [float(v) for v in warp.affine.offset],
        "affine_matrix": warp.affine.matrix.tolist(),
        "tps_max_shift": float(np.abs(displaced - controls).max()),
    }
    return warp, np.concatenate([low + shift, high + shift]), keypoints, params


def _invert_object(warp: Warp, asset: CategoryAsset, box: np.ndarray,
                   size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, float]:
    """Object pixels (N, 2) in the image, their canonical coordinates, and the worst residual.

    A cheap interpolated inverse over the object's box (plus a margin) picks the pixels near
    the object; only those get the exact Newton inverse and the nearest-neighbour mask test.
    """
    height, width = size
    x0, y0 = np.maximum(np.floor(box[:2]).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(box[2:]).astype(int) + 3, [width, height])
    guess = warp.inverse_guess_on_box(x0, y0, x1, y1).reshape(-1, 2)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    pixels = np.stack([xs.ravel(), ys.ravel()], axis=1)
    near = np.rint(guess).astype(np.intp)
    keep = ((near >= 0) & (near < CANVAS)).all(1)
    keep[keep] = asset.near_mask[near[keep, 1], near[keep, 0]]
    pixels, guess = pixels[keep], guess[keep]
    canon, residual = warp.inverse(pixels.astype(np.float64), tol=INVERSE_TOL, initial=guess)
    nearest = np.rint(canon).astype(np.intp)
    on_canvas = ((nearest >= 0) & (nearest < CANVAS)).all(1)
    on_object = np.zeros(len(pixels), bool)
    on_object[on_canvas] = asset.mask[nearest[on_canvas, 1], nearest[on_canvas, 0]]
    worst = float(residual[on_object].max()) if on_object.any() else 0.0
    if worst > 1e-3:
        raise RuntimeError(f"thin-plate-spline inverse did not converge ({worst:.2e} px)")
    return pixels[on_object], canon[on_object], worst


def render_view(asset: CategoryAsset, background: str, rng: np.random.Generator) -> View:
    """Warp ``asset`` with fresh random parameters and paste it on a crop of ``background``."""
    height = int(rng.integers(HEIGHT_RANGE[0], HEIGHT_RANGE[1] + 1))
    width = int(rng.integers(WIDTH_RANGE[0], WIDTH_RANGE[1] + 1))
    if width == height:  # keep every image non-square
        width += 1
    warp, box, keypoints, params = _sample_warp(asset, (height, width), rng)
    pixels, canon, residual = _invert_object(warp, asset, box, (height, width))

    # Colours: category texture with a small per-instance brightness/contrast/hue jitter.
    contrast = float(rng.uniform(0.8, 1.2))
    brightness = float(rng.uniform(-0.08, 0.08))
    hue = float(rng.uniform(-15.0, 15.0))
    colours = _bilinear(asset.texture, canon) @ _hue_rotation(hue).T
    colours = (colours - 0.5) * contrast + 0.5 + brightness

    # Background: a random crop of the photo, maybe mirrored, with a small colour tint.
    photo = background_photo(background)
    top = int(rng.integers(0, photo.shape[0] - height + 1))
    left = int(rng.integers(0, photo.shape[1] - width + 1))
    flip = bool(rng.random() < 0.5)
    tint = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    canvas = photo[top:top + height, left:left + width] * tint
    canvas = np.ascontiguousarray(canvas[:, ::-1] if flip else canvas)
    obj_x, obj_y = pixels[:, 0], pixels[:, 1]
    canvas[obj_y, obj_x] = colours
    image = np.rint(np.clip(canvas, 0.0, 1.0) * 255).astype(np.uint8)

    mask = np.zeros((height, width), bool)
    mask[obj_y, obj_x] = True
    canonical = np.full((height, width, 2), np.nan)
    canonical[obj_y, obj_x] = canon
    params.update({
        "background": background, "crop": [top, left], "flip": flip,
        "tint": [float(v) for v in tint],
        "jitter": {"contrast": contrast, "brightness": brightness, "hue_deg": hue},
        "inverse_residual_px": residual,
    })
    return View(image, mask, canonical, warp, keypoints, params)


def flow_between(source: View, target: View) -> np.ndarray:
    """Absolute target (x, y) of every source object pixel: f_trg(f_src^-1(p)); NaN elsewhere.

    NaN also where the target point falls outside the target image's pixel area.
    """
    flow = np.full(source.canonical.shape, np.nan)
    rows, cols = np.nonzero(source.mask)
    mapped = target.warp.forward(source.canonical[rows, cols])
    keep = target.inside(mapped, pad=0.5)
    flow[rows[keep], cols[keep]] = mapped[keep]
    return flow


def tight_box(mask: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) of the outermost True pixel centres."""
    rows, cols = np.nonzero(mask)
    return np.array([cols.min(), rows.min(), cols.max(), rows.max()], dtype=np.float64)
