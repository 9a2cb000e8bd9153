"""The synthetic rig: pinhole intrinsics of the rectified stereo pair and the camera's response.

Constants are KITTI's (Geiger et al. 2012, "Are we ready for autonomous driving?"; the tracking/raw
2011_09_26 calibration): 1242×375 px, f = 721.5377 px, 0.54 m baseline, camera 1.65 m above the road.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: KITTI colour camera (tracking/raw 2011_09_26 P2): 1242×375 px, f = 721.5377 px, principal point.
KITTI_SIZE = (375, 1242)
KITTI_FOCAL = 721.5377
KITTI_CX = 609.5593
KITTI_CY = 172.854
#: Stereo baseline in metres (KITTI rig, Geiger et al. 2012: 0.54 m).
BASELINE = 0.54
#: Camera height above the road in metres (KITTI rig: 1.65 m).
CAMERA_HEIGHT = 1.65
#: Default rendering size (H, W): half the KITTI resolution — models train at 147×37 or 310×94.
DEFAULT_SIZE = (188, 621)


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics of the rectified pair at one image size; focal/cx/cy in pixels."""

    height: int
    width: int
    focal: float
    cx: float
    cy: float
    baseline: float = BASELINE

    @classmethod
    def kitti_like(
        cls, size: tuple[int, int] = DEFAULT_SIZE, baseline: float = BASELINE, focal_scale: float = 1.0
    ) -> Camera:
        """KITTI's intrinsics scaled to ``size`` = (H, W) (pixel-centre convention); ``focal_scale``
        multiplies the focal length (another camera: a longer or shorter lens, same principal point)."""
        if not focal_scale > 0:
            raise ValueError(f"the focal scale must be > 0, got {focal_scale}")
        h, w = size
        sx, sy = w / KITTI_SIZE[1], h / KITTI_SIZE[0]
        focal = KITTI_FOCAL * sx * focal_scale
        return cls(h, w, focal, (KITTI_CX + 0.5) * sx - 0.5, (KITTI_CY + 0.5) * sy - 0.5, baseline)

    def projection(self, tx: float = 0.0) -> np.ndarray:
        """KITTI 3×4 projection matrix of a camera displaced by ``tx`` metres along x (P3: tx = -B)."""
        return np.array(
            [
                [self.focal, 0.0, self.cx, self.focal * tx],
                [0.0, self.focal, self.cy, 0.0],
                [0.0, 0.0, 1.0, 0.0],
            ]
        )


@dataclass(frozen=True)
class CameraModel:
    """A sequence's camera response (domain randomisation): exposure gain, white balance (RGB
    multipliers), gamma on [0, 1] radiance, Gaussian optical blur σ (px), sensor noise σ (grey levels
    of 255), vignetting strength (radiance × (1 − v·r²), r = 1 at the image corners), JPEG quality
    (0 = stored losslessly) and the per-frame auto-exposure jitter (± fraction of the gain)."""

    gain: float = 1.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gamma: float = 1.0
    blur: float = 0.0
    noise: float = 1.0
    vignette: float = 0.0
    jpeg: int = 0
    exposure_jitter: float = 0.0

    @classmethod
    def random(cls, rng: np.random.Generator, rich: bool = True) -> CameraModel:
        """Random response; ``rich`` adds vignetting, JPEG and per-frame exposure (generator v3)."""
        wb = rng.uniform(0.9, 1.1, 3)
        base = {
            "gain": float(rng.uniform(0.7, 1.35)),
            "white_balance": (float(wb[0]), float(wb[1]), float(wb[2])),
            "gamma": float(rng.uniform(0.8, 1.25)),
            "blur": float(rng.uniform(0.0, 0.9)),
            "noise": float(rng.uniform(0.5, 3.0)),
        }
        if not rich:
            return cls(**base)  # type: ignore[arg-type]
        return cls(
            **base,  # type: ignore[arg-type]
            vignette=float(rng.uniform(0.0, 0.35)),
            jpeg=int(rng.integers(60, 96)) if rng.random() < 0.6 else 0,
            exposure_jitter=float(rng.uniform(0.0, 0.12)),
        )


def camera_response(
    model: CameraModel, rgb: np.ndarray, seed: tuple[int, int], frame: int, view: int
) -> np.ndarray:
    """Linear radiance (H, W, 3) in [0, 1] (values above 1 saturate) → the 8-bit RGB image a camera
    records: the frame's exposure, vignetting, white balance, gamma, optical blur (the same in both
    views), sensor noise (independent per view), then JPEG compression. Deterministic in (``seed``,
    frame, view)."""
    h, w = rgb.shape[:2]
    frame_rng = np.random.default_rng([seed[0], seed[1], frame, 0xE0])  # the same for both views
    gain = model.gain * (1.0 + model.exposure_jitter * float(frame_rng.uniform(-1.0, 1.0)))
    out = rgb * np.float32(gain) * np.asarray(model.white_balance, np.float32)
    if model.vignette > 0:
        yy = (np.arange(h, dtype=np.float32) - (h - 1) / 2) / ((h - 1) / 2 if h > 1 else 1.0)
        xx = (np.arange(w, dtype=np.float32) - (w - 1) / 2) / ((w - 1) / 2 if w > 1 else 1.0)
        r2 = (yy[:, None] ** 2 + xx[None, :] ** 2) / 2.0
        out = out * (1.0 - np.float32(model.vignette) * r2)[..., None]
    out = (np.clip(out, 0.0, 1.0) ** np.float32(model.gamma)).astype(np.float32)
    if model.blur > 0.05:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), model.blur), np.float32)
    noise_rng = np.random.default_rng([seed[0], seed[1], frame, view, 0xA0])
    noise = noise_rng.standard_normal(out.shape, dtype=np.float32) * np.float32(model.noise)
    # A saturated pixel reads full scale whatever the noise (the sensor clips after it): an
    # over-exposed sky is flat white, as in real frames, not a field of random texture that a stereo
    # matcher would match.
    noise[out >= 0.999] = 0.0
    img = np.clip(out * 255.0 + noise + 0.5, 0, 255).astype(np.uint8)
    if model.jpeg:
        ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, model.jpeg])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            img = np.ascontiguousarray(decoded[:, :, ::-1])
    return img
