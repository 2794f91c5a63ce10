"""Robust image reading and writing.

Every image inside deocclude is RGB ``uint8`` H×W×3. :func:`read_image` turns whatever a
user hands us (greyscale, 16-bit, RGBA, CMYK JPEG, EXIF-rotated) into that, or raises an
:class:`~deocclude.errors.ImageReadError` with a one-line reason.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deocclude.errors import DeoccludeError, ImageReadError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# OpenCV's own decoder warnings ("IHDR chunk shall be first") would repeat, without the
# file name, what our one-line errors already say.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

MAX_PIXELS = 80_000_000  # refuse decompression bombs; 10000×8000 still passes


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise ImageReadError(f"unsupported pixel type {image.dtype}")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8, EXIF orientation applied, alpha composited on white."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image")
    size = path.stat().st_size
    if size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes)")
    data = np.fromfile(str(path), dtype=np.uint8)
    if data[:8].tobytes() == b"\x89PNG\r\n\x1a\n" and data.tobytes().rfind(b"IEND") < 0:
        # caught here because libpng would also print its own line on stderr
        raise ImageReadError(f"{path}: not a readable image (truncated PNG: no IEND chunk)")
    # IMREAD_UNCHANGED keeps alpha and 16 bits but ignores EXIF orientation, so read twice
    # only when the file has an alpha channel; the colour read applies orientation.
    raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ImageReadError(f"{path}: not a readable image (unknown format or truncated)")
    if raw.ndim == 3 and raw.shape[2] == 4:
        rgba = _to_uint8(raw).astype(np.float32) / 255.0
        alpha = rgba[..., 3:4]
        bgr = rgba[..., :3] * alpha + (1.0 - alpha)
        image = (bgr[..., ::-1] * 255.0 + 0.5).astype(np.uint8)
    else:
        colour = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
        if colour is None:
            raise ImageReadError(f"{path}: not a readable image (unknown format or truncated)")
        image = cv2.cvtColor(_to_uint8(colour), cv2.COLOR_BGR2RGB)
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ImageReadError(f"{path}: image too large ({image.shape[1]}x{image.shape[0]} px)")
    return np.ascontiguousarray(image)


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an RGB (or single-channel) uint8 image; the format follows the suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.dtype != np.uint8:
        image = _to_uint8(image)
    out = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buf = cv2.imencode(path.suffix or ".png", out)
    if not ok:
        raise DeoccludeError(f"{path}: could not encode image")
    try:
        buf.tofile(str(path))
    except OSError as exc:
        raise DeoccludeError(f"{path}: cannot write ({exc.strerror})") from None


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """Write a mask in [0, 1] as an 8-bit PNG (0 / 255)."""
    write_image(path, (np.clip(mask, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
