"""Robust image reading and writing.

Every image inside deocclude is RGB ``uint8`` H×W×3. :func:`read_image` turns whatever a
user hands us (greyscale, 16-bit, RGBA, CMYK JPEG, EXIF-rotated) into that, or raises an
:class:`~deocclude.errors.ImageReadError` with a one-line reason.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deocclude.errors import DeoccludeError, ImageReadError


def _build_has(codec: str) -> bool:
    """Whether this OpenCV build decodes ``codec`` (its build information lists each image codec)."""
    for line in cv2.getBuildInformation().splitlines():
        name, _, value = line.strip().partition(":")
        if name == codec:
            return bool(value.strip()) and not value.strip().startswith("NO")
    return False


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff") + tuple(
    s for s, codec in ((".gif", "GIF"), (".avif", "AVIF")) if _build_has(codec))
"""Every suffix a folder scan picks up: exactly those this OpenCV build can decode (GIF and AVIF where readable)."""
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


_STDERR_LOCK = threading.Lock()


def _imdecode(data: np.ndarray, flags: int, path: Path) -> np.ndarray | None:
    """``cv2.imdecode`` with the decoders' own stderr lines dropped and OpenCV's exceptions turned into
    our one-line error.

    Why: libjpeg and libpng print to file descriptor 2 themselves ("Corrupt JPEG data: premature end
    of data segment", "libpng error: IDAT: CRC error"), bypassing OpenCV's log level, without the
    file's name and several times per file; and OpenCV raises instead of returning None for some
    headers (a BMP claiming a width past its limit). benchmarks/fuzz_reader.py found both on 24 %
    of 3,000 mutated files. A file that does not decode gets our one-line error; one that decodes
    despite damage is used as decoded, as before.
    """
    with _STDERR_LOCK:  # one save / restore of fd 2 at a time, or a thread could restore /dev/null
        saved = os.dup(2)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
            return cv2.imdecode(data, flags)
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1].split(") ")[-1][:120]
            raise ImageReadError(f"{path}: not a readable image (the decoder refused it: {reason})") from None
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def claimed_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as the file's header claims them, read without decoding the pixels; None when
    Pillow cannot parse the header (then OpenCV decides, and the check after decoding).

    Raises :class:`ImageReadError` for a header Pillow itself calls a decompression bomb."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own DecompressionBombWarning: we decide here
            with Image.open(path) as pil:
                return pil.size
    except Image.DecompressionBombError:
        raise ImageReadError(f"{path}: image too large (its header claims over {MAX_PIXELS} pixels)") from None
    except Exception:  # noqa: BLE001 - not for Pillow to judge: OpenCV decides after decoding
        return None


def _check_claimed_size(path: Path) -> None:
    """Refuse an image whose header claims more than :data:`MAX_PIXELS`, before anything is decoded.

    Why: ``cv2.imdecode`` allocates and decodes the whole image before its size can be seen, so
    the check after decoding came too late: a 290 KB PNG claiming 10000x10000 took 14 s and
    900 MB to be refused (found by benchmarks/fuzz_reader.py). Pillow's ``open`` reads the header
    only; a file Pillow cannot parse is left to OpenCV and the check after decoding.
    """
    size = claimed_size(path)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise ImageReadError(f"{path}: image too large ({size[0]}x{size[1]} px)")


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
    _check_claimed_size(path)
    # IMREAD_UNCHANGED keeps alpha and 16 bits but ignores EXIF orientation, so read twice
    # only when the file has an alpha channel; the colour read applies orientation. A JPEG has
    # neither alpha nor 16 bits (OpenCV decodes even CMYK ones to 3 channels), so it is decoded
    # once: an 80 MP photo held three decoded copies at once here (720 MB, issue 19).
    if not _is_jpeg(data):
        raw = _imdecode(data, cv2.IMREAD_UNCHANGED, path)
        if raw is None and data[4:8].tobytes() == b"ftyp" and data[8:12].tobytes() in HEIF_BRANDS:
            raise ImageReadError(f"{path}: HEIC/HEIF is not supported by this build; convert it to JPEG or PNG first")
        if raw is None:
            raise ImageReadError(f"{path}: not a readable image (unknown format or truncated)")
        if raw.ndim == 3 and raw.shape[2] == 4:
            rgba = _to_uint8(raw).astype(np.float32) / 255.0
            alpha = rgba[..., 3:4]
            bgr = rgba[..., :3] * alpha + (1.0 - alpha)
            image = (bgr[..., ::-1] * 255.0 + 0.5).astype(np.uint8)
            return _checked_size(path, np.ascontiguousarray(image))
        del raw  # not needed: freed before the colour read
    colour = _imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH, path)
    del data
    if colour is None:
        raise ImageReadError(f"{path}: not a readable image (unknown format or truncated)")
    colour = _to_uint8(colour)
    image = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB, dst=colour)  # in place: no second full-size copy
    return _checked_size(path, np.ascontiguousarray(image))


HEIF_BRANDS = (b"heic", b"heix", b"mif1", b"msf1")


def _is_jpeg(data: np.ndarray) -> bool:
    """Whether the file's bytes start with a JPEG's SOI marker (FF D8 FF)."""
    return data[:3].tobytes() == b"\xff\xd8\xff"


def _checked_size(path: Path, image: np.ndarray) -> np.ndarray:
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ImageReadError(f"{path}: image too large ({image.shape[1]}x{image.shape[0]} px)")
    return image


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
    atomic_write_bytes(path, buf.tobytes())


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """Write a mask in [0, 1] (or a boolean one) as an 8-bit PNG (0 / 255).

    A boolean mask goes straight to uint8 and a float one is scaled in place on one copy: a
    photo-sized mask (``_occlusion.png`` of an 80 MP photo) took four float copies, 1.3 GB (issue 19).
    """
    if mask.dtype == np.bool_:
        write_image(path, mask.view(np.uint8) * np.uint8(255))
        return
    scaled = np.clip(mask, 0.0, 1.0)
    scaled *= 255.0
    scaled += 0.5
    write_image(path, scaled.astype(np.uint8))


# --- keeping a photo's format: what `deocclude run` writes back -------------------------------

WRITE_FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif"}
"""``--format`` choices and the extension each writes."""
_SUFFIX_FORMAT = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff"}
JPEG_QUALITY = 95
"""High enough that re-encoding an unchanged JPEG region is visually lossless (4:4:4, no re-subsampling)."""


@dataclass(frozen=True)
class SourceImage:
    """A photo as read for ``deocclude run``: the RGB uint8 the networks see plus what must go back out.

    The networks only ever see ``rgb``; ``original`` (greyscale, 16-bit or with alpha, as stored)
    is kept so that every pixel the pipeline leaves alone is written back exactly as it came in.
    """

    path: Path
    rgb: np.ndarray
    original: np.ndarray | None
    """The stored pixels (H×W, H×W×3 RGB or H×W×4 RGBA, uint8 or uint16) when they differ from ``rgb``;
    None for plain 8-bit RGB."""
    format: str | None
    """png / jpeg / webp / tiff when we can write it back, else None (e.g. GIF, AVIF, BMP -> PNG)."""
    exif: bytes | None = None
    icc: bytes | None = None
    note: str | None = None
    """Why ``original`` could not be kept (e.g. 16-bit reduced), for the manifest."""

    @property
    def mode(self) -> str:
        """grey, rgb or rgba, with the bit depth: what a reader of the manifest needs to know."""
        if self.original is None:
            return "rgb8"
        channels = {2: "grey"}.get(self.original.ndim) or ("rgba" if self.original.shape[2] == 4 else "rgb")
        return f"{channels}{16 if self.original.dtype == np.uint16 else 8}"


def read_source(path: str | Path) -> SourceImage:
    """:func:`read_image` plus the stored pixels, EXIF and ICC profile, so the output can keep them."""
    path = Path(path)
    rgb = read_image(path)  # every check and one-line error lives there
    raw = None if _plain_colour_jpeg(path) else _imdecode(np.fromfile(str(path), dtype=np.uint8),
                                                          cv2.IMREAD_UNCHANGED, path)
    original, note = None, None
    if raw is not None and (raw.ndim == 2 or raw.shape[2] in (1, 4) or raw.dtype == np.uint16):
        if raw.ndim == 3 and raw.shape[2] == 1:
            raw = raw[..., 0]
        stored = (
            raw if raw.ndim == 2 else cv2.cvtColor(raw, cv2.COLOR_BGRA2RGBA if raw.shape[2] == 4 else cv2.COLOR_BGR2RGB)
        )
        if stored.dtype not in (np.uint8, np.uint16) or stored.shape[:2] != rgb.shape[:2]:
            note = f"stored as {stored.dtype} {stored.shape}: written as 8-bit RGB"  # e.g. EXIF-rotated: keep rgb
        else:
            as8 = _to_uint8(stored)
            shown = as8 if as8.ndim == 3 and as8.shape[2] == 3 else None
            if shown is not None and not np.array_equal(shown, rgb):
                note = "stored pixels differ from the displayed ones (EXIF rotation): written as 8-bit RGB"
            else:
                original = stored
    exif = icc = None
    fmt = _SUFFIX_FORMAT.get(path.suffix.lower())
    try:
        import warnings

        from PIL import Image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data" and the like (open warns too): metadata is a bonus
            with Image.open(path) as pil:
                icc = pil.info.get("icc_profile")
                exif_data = pil.getexif()
                if exif_data:
                    exif_data[0x0112] = 1  # the pixels we write are already upright
                    exif = exif_data.tobytes()
                fmt = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "TIFF": "tiff"}.get(pil.format or "", fmt)
    except Exception:  # noqa: BLE001 - metadata is a bonus; the pixels were read above
        pass
    return SourceImage(path=path, rgb=rgb, original=original, format=fmt, exif=exif, icc=icc, note=note)


def _plain_colour_jpeg(path: Path) -> bool:
    """A JPEG of 3 or 4 components, whose stored pixels are the RGB uint8 ``read_image`` returns.

    Why: its stored pixels (OpenCV's unchanged read: 3-channel uint8, CMYK included) can never
    become :attr:`SourceImage.original`, so decoding them again only to find that out held a
    second full-size copy (240 MB on 80 MP). Greyscale JPEGs (1 component) are still decoded:
    their stored grey is kept. The component count is the header's, as Pillow reads it.
    """
    import warnings

    from PIL import Image

    try:
        with open(path, "rb") as handle:
            if handle.read(3) != b"\xff\xd8\xff":
                return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as pil:
                return pil.format == "JPEG" and pil.mode in ("RGB", "CMYK", "YCbCr")
    except Exception:  # noqa: BLE001 - not for Pillow to judge: decode as before
        return False


def merge_into_source(source: SourceImage, processed: np.ndarray) -> np.ndarray:
    """The output at the source's own depth and channels: ``original`` wherever ``processed`` equals
    the RGB the networks saw, the processed pixels (grey, 16-bit and alpha put back) only where they changed.

    Why: the pipeline changes occluded face pixels only, so alpha, greyscale and 16-bit detail
    everywhere else are carried through exactly instead of being round-tripped through RGB uint8.
    """
    if source.original is None:
        return processed
    out = source.original.copy()
    changed = np.any(processed != source.rgb, axis=2)
    if not changed.any():
        return out
    values = processed[changed]  # (K, 3) uint8
    if out.ndim == 2:
        values = cv2.cvtColor(values[None], cv2.COLOR_RGB2GRAY)[0]
    if out.dtype == np.uint16:
        values = values.astype(np.uint16) * 257
    if out.ndim == 3 and out.shape[2] == 4:
        out[..., :3][changed] = values  # alpha untouched
    else:
        out[changed] = values
    return out


def output_format(source: SourceImage, requested: str = "keep") -> tuple[str, str]:
    """(format, extension) of the output: the input's own (its extension kept) unless ``requested``
    names one; inputs we cannot write back (GIF, AVIF, BMP) become PNG, which loses nothing."""
    if requested != "keep":
        return requested, WRITE_FORMATS[requested]
    if source.format in WRITE_FORMATS:
        suffix = source.path.suffix.lower()
        return source.format, suffix if _SUFFIX_FORMAT.get(suffix) == source.format else WRITE_FORMATS[source.format]
    return "png", ".png"


def encode_output(image: np.ndarray, fmt: str, source: SourceImage | None = None) -> tuple[bytes, str | None]:
    """Encode ``image`` (uint8 / uint16, grey / RGB / RGBA) as ``fmt``; returns the bytes and a note
    when something had to be reduced (16-bit into JPEG / WebP, alpha into JPEG)."""
    import io

    from PIL import Image

    note = None
    if image.dtype == np.uint16 and fmt in ("png", "tiff"):
        bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA if image.shape[2] == 4
                                                          else cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(WRITE_FORMATS[fmt], bgr)
        if not ok:
            raise DeoccludeError(f"could not encode a 16-bit {fmt}")
        return encoded.tobytes(), None  # cv2 writes 16 bits; ICC / EXIF are not carried in this case
    if image.dtype == np.uint16:
        image, note = _to_uint8(image), f"16-bit reduced to 8-bit ({fmt} has no 16-bit)"
    if fmt == "jpeg" and image.ndim == 3 and image.shape[2] == 4:
        rgb = image[..., :3].astype(np.float32)
        alpha = image[..., 3:4].astype(np.float32) / 255.0
        image = (rgb * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
        note = "alpha composited on white (JPEG has no alpha)"
    pil = Image.fromarray(image)
    options: dict = {}
    if source is not None and source.icc:
        options["icc_profile"] = source.icc
    if source is not None and source.exif and fmt in ("jpeg", "webp", "png", "tiff"):
        options["exif"] = source.exif
    if fmt == "jpeg":
        options |= {"quality": JPEG_QUALITY, "subsampling": 0}
    elif fmt == "webp":
        options |= {"quality": JPEG_QUALITY}
    elif fmt == "tiff":
        options |= {"compression": "tiff_deflate"}
    buf = io.BytesIO()
    pil.save(buf, format={"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF"}[fmt], **options)
    return buf.getvalue(), note


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary name next to ``path`` and rename it into place.

    Why: a run killed mid-write must never leave a half-written file under the final name,
    which a later ``--skip-existing`` (or a user) would take for a result.
    """
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise DeoccludeError(f"{path}: cannot write (Is a directory)")
    tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DeoccludeError(f"{path}: cannot write ({exc.strerror})") from None
