"""Smooth, invertible 2-D warps for the synthetic benchmark: affine ∘ thin-plate spline.

The synthetic ground truth is only exact if the map used to render an image is the map used
to move keypoints and flow.  So every image is rendered by *inverting* its forward map per
pixel (Newton's method on the spline, exact inverse of the affine part), and the very same
canonical coordinates are then pushed through the other image's forward map.

Points are ``(N, 2)`` arrays of ``(x, y)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _tps_kernel(sq_dist: np.ndarray) -> np.ndarray:
    """U(r) = r² log r, written with d = r² as d·log(d)/2 (0 at d = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sq_dist > 0, 0.5 * sq_dist * np.log(sq_dist), 0.0)


def _sq_dist(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    dx = points[:, 0, None] - centers[None, :, 0]
    dy = points[:, 1, None] - centers[None, :, 1]
    return dx * dx + dy * dy


@dataclass(frozen=True)
class ThinPlateSpline:
    """f(p) = a0 + A p + Σ_k w_k U(|p - c_k|): the smoothest map through given control points."""

    centers: np.ndarray  # (K, 2)
    weights: np.ndarray  # (K, 2)
    affine: np.ndarray  # (3, 2): rows are [constant, d/dx, d/dy]

    @classmethod
    def fit(cls, src: np.ndarray, dst: np.ndarray) -> "ThinPlateSpline":
        """Interpolating spline with f(src[k]) = dst[k]."""
        src = np.asarray(src, dtype=np.float64)
        dst = np.asarray(dst, dtype=np.float64)
        k = len(src)
        sq = _sq_dist(src, src)
        poly = np.hstack([np.ones((k, 1)), src])
        system = np.zeros((k + 3, k + 3))
        system[:k, :k] = _tps_kernel(sq)
        system[:k, k:] = poly
        system[k:, :k] = poly.T
        rhs = np.zeros((k + 3, 2))
        rhs[:k] = dst
        solution = np.linalg.solve(system, rhs)
        return cls(centers=src, weights=solution[:k], affine=solution[k:])

    def __call__(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        sq = _sq_dist(points, self.centers)
        return self.affine[0] + points @ self.affine[1:] + _tps_kernel(sq) @ self.weights

    def jacobian(self, points: np.ndarray) -> np.ndarray:
        """(N, 2, 2) with J[n, i, j] = d f_i / d p_j."""
        return self.value_and_jacobian(points)[1]

    def value_and_jacobian(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """f(points) and its Jacobian, sharing the pairwise distances (Newton's inner loop)."""
        points = np.asarray(points, dtype=np.float64)
        dx = points[:, 0, None] - self.centers[None, :, 0]  # (N, K)
        dy = points[:, 1, None] - self.centers[None, :, 1]
        sq = dx * dx + dy * dy
        positive = sq > 0
        log_sq = np.log(np.where(positive, sq, 1.0))
        kernel = np.where(positive, 0.5 * sq * log_sq, 0.0)
        radial = np.where(positive, log_sq + 1.0, 0.0)  # dU/dp = diff * (log d + 1)
        value = self.affine[0] + points @ self.affine[1:] + kernel @ self.weights
        jac = np.empty((len(points), 2, 2))
        for j, delta in enumerate((dx, dy)):  # column j: derivatives along p_j
            jac[:, :, j] = (delta * radial) @ self.weights + self.affine[1 + j]
        return value, jac


@dataclass(frozen=True)
class Affine:
    """p -> matrix @ p + offset."""

    matrix: np.ndarray  # (2, 2)
    offset: np.ndarray  # (2,)

    @classmethod
    def from_params(cls, angle_deg: float, scale: float, aspect: float, shear: float,
                    center: tuple[float, float], target: tuple[float, float]) -> "Affine":
        """Rotate/scale/shear about ``center`` (canonical) and move it to ``target`` (image).

        ``aspect`` stretches x by sqrt(aspect) and y by 1/sqrt(aspect); ``shear`` is x += shear·y.
        """
        theta = np.deg2rad(angle_deg)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        stretch = np.diag([np.sqrt(aspect), 1.0 / np.sqrt(aspect)])
        shear_m = np.array([[1.0, shear], [0.0, 1.0]])
        matrix = scale * rot @ shear_m @ stretch
        offset = np.asarray(target, np.float64) - matrix @ np.asarray(center, np.float64)
        return cls(matrix=matrix, offset=offset)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, np.float64) @ self.matrix.T + self.offset

    def inverse(self) -> "Affine":
        inv = np.linalg.inv(self.matrix)
        return Affine(matrix=inv, offset=-inv @ self.offset)


@dataclass(frozen=True)
class Warp:
    """Forward map canonical -> image: ``affine(tps(c))``, with a numerical inverse."""

    tps: ThinPlateSpline
    affine: Affine
    tps_guess: ThinPlateSpline  # spline fitted the other way round: a close first guess

    @classmethod
    def build(cls, controls: np.ndarray, displaced: np.ndarray, affine: Affine) -> "Warp":
        return cls(tps=ThinPlateSpline.fit(controls, displaced), affine=affine,
                   tps_guess=ThinPlateSpline.fit(displaced, controls))

    def forward(self, canonical: np.ndarray) -> np.ndarray:
        return self.affine(self.tps(canonical))

    def inverse(self, image_points: np.ndarray, tol: float = 1e-4, max_iter: int = 20,
                initial: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Canonical coordinates of ``image_points`` and the residual |forward(c) - p| in pixels.

        Newton's method on the spline, started from ``initial`` or the reverse-fitted spline;
        stops when every residual is below ``tol`` image pixels (callers check the residual).
        """
        image_points = np.asarray(image_points, np.float64)
        target = self.affine.inverse()(image_points)
        if initial is None:
            canonical = self.tps_guess(target)
        else:
            canonical = np.array(initial, dtype=np.float64)
        active = np.arange(len(canonical))
        residual = np.zeros(len(canonical))
        for _ in range(max_iter + 1):
            value, jac = self.tps.value_and_jacobian(canonical[active])
            error = value - target[active]
            image_error = error @ self.affine.matrix.T
            residual[active] = np.hypot(image_error[:, 0], image_error[:, 1])
            keep = residual[active] >= tol
            if not keep.any():
                break
            active, error, jac = active[keep], error[keep], jac[keep]
            canonical[active] -= np.linalg.solve(jac, error[..., None])[..., 0]
        return canonical, residual

    def inverse_guess_on_box(self, x0: int, y0: int, x1: int, y1: int,
                             step: int = 4) -> np.ndarray:
        """Canonical coordinates of every pixel of [x0, x1) x [y0, y1), shape (y1-y0, x1-x0, 2).

        Exact (Newton) on a grid every ``step`` pixels, bilinear in between: the map is smooth,
        so this is a first guess within a few hundredths of a pixel and one Newton step finishes.
        """
        gx = np.arange(x0, x1 + step, step, dtype=np.float64)
        gy = np.arange(y0, y1 + step, step, dtype=np.float64)
        grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
        coarse = self.inverse(grid)[0].reshape(len(gy), len(gx), 2)
        fx = (np.arange(x0, x1) - x0) / step
        fy = (np.arange(y0, y1) - y0) / step
        ix, iy = np.floor(fx).astype(np.intp), np.floor(fy).astype(np.intp)
        wx, wy = (fx - ix)[None, :, None], (fy - iy)[:, None, None]
        rows_top, rows_bottom = coarse[iy], coarse[iy + 1]
        top = rows_top[:, ix] * (1 - wx) + rows_top[:, ix + 1] * wx
        bottom = rows_bottom[:, ix] * (1 - wx) + rows_bottom[:, ix + 1] * wx
        return top * (1 - wy) + bottom * wy

    def min_jacobian_det(self, points: np.ndarray) -> float:
        """Smallest det of the spline's Jacobian at ``points`` (> 0 means no local fold)."""
        return float(np.linalg.det(self.tps.jacobian(points)).min())
