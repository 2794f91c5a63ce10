"""The web page's server: one HTML page, one JSON endpoint, the same :class:`Deoccluder` as ``deocclude run``.

Endpoints (all on the one origin the page came from; nothing else is ever fetched):

``GET /``
    the page (``index.html`` beside this file, inline CSS and JS).
``GET /api/options``
    the fills, sizes and defaults the page offers, from :class:`DeoccluderConfig` itself.
``POST /api/deocclude?fill=...&size=...&extend=0|1&remove_hair=0|1``
    the raw bytes of one photo (``X-Filename`` header: its name, for the download's name);
    answers JSON with the result (PNG), the occlusion mask M_O (PNG, 255 = replaced), a preview
    of M_O and the face boxes over the photo (JPEG), and per face its manifest ``status`` and
    ``method`` and ``crops``: the N×N aligned crop, M_O in red over it, R's render I_R and the
    restored crop (PNG each; a key is absent when its stage did not run); or
    ``{"error": "one line"}`` with status 400 (bad photo or option), 413 (too large) or 500 (a bug).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from deocclude.errors import DeoccludeError

if TYPE_CHECKING:
    from deocclude.pipeline import Deoccluder, DeoccluderConfig, FaceResult

PAGE = Path(__file__).with_name("index.html")
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
"""Larger uploads are refused before they are read (a phone photo is 3-12 MB)."""
PREVIEW_SIDE = 1600
"""The JPEG previews (input, M_O overlay) are shrunk to this side; result and mask stay full size."""
SIZES = (128, 256)
"""Crop sizes the page offers: 128 is what S, R and G were trained at; 256 works unchanged, slower."""
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:; "
       "connect-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
"""The browser may load nothing but this page, its own inline code and the pictures it made: no CDN,
no font host, no telemetry, even if a future edit tried."""


def fill_choices() -> tuple[str, ...]:
    """The ``--fill`` choices exactly as ``deocclude run`` offers them.

    Why from run's flag and not from a list here: run builds its flags from :class:`DeoccluderConfig`
    (and whatever registry of fills the pipeline has), so the page can never offer a fill the
    pipeline lacks, nor miss a new one.
    """
    import argparse

    from deocclude.commands.run import _add_config_flags

    parser = argparse.ArgumentParser(add_help=False)
    _add_config_flags(parser)
    action = next(a for a in parser._actions if a.dest == "fill")
    return tuple(action.choices or ())


class WebApp:
    """What the page does, without HTTP: decode an uploaded photo, run the pipeline, encode the pictures.

    One :class:`Deoccluder` per option set is kept (the last three), so switching fill back and
    forth does not reload weights; a lock runs one photo at a time, since the models are shared and
    a 2-core CPU gains nothing from two at once.
    """

    def __init__(self, config: DeoccluderConfig, fills: Sequence[str] | None = None) -> None:
        self.config = config
        self.fills = tuple(fills) if fills is not None else fill_choices()
        self._deoccluders: OrderedDict[DeoccluderConfig, Deoccluder] = OrderedDict()
        self._lock = threading.Lock()

    def options(self) -> dict[str, Any]:
        """What the page's controls offer, with the server's own config (its flags) as defaults."""
        return {"fills": list(self.fills), "sizes": sorted({*SIZES, self.config.size}),
                "defaults": {"fill": self.config.fill, "size": self.config.size, "extend": self.config.extend,
                             "remove_hair": self.config.remove_hair}}

    def config_for(self, query: dict[str, list[str]]) -> DeoccluderConfig:
        """The server's config with the page's choices applied; a bad value is a one-line error."""
        changes: dict[str, Any] = {}
        if "fill" in query:
            fill = query["fill"][-1]
            if fill not in self.fills:
                raise DeoccludeError(f"fill {fill!r}: choose one of {', '.join(self.fills)}")
            changes["fill"] = fill
        if "size" in query:
            try:
                changes["size"] = int(query["size"][-1])
            except ValueError:
                raise DeoccludeError(f"size {query['size'][-1]!r} is not a whole number") from None
        for flag in ("extend", "remove_hair"):
            if flag in query:
                changes[flag] = query[flag][-1].lower() in ("1", "true", "on", "yes")
        return dataclasses.replace(self.config, **changes)  # DeoccluderConfig validates (size, ...)

    def deoccluder(self, config: DeoccluderConfig) -> Deoccluder:
        """The (cached) :class:`Deoccluder` for ``config``; built once at start-up for the defaults."""
        from deocclude.pipeline import Deoccluder

        if config not in self._deoccluders:
            self._deoccluders[config] = Deoccluder(config)
            while len(self._deoccluders) > 3:
                self._deoccluders.popitem(last=False)
        self._deoccluders.move_to_end(config)
        return self._deoccluders[config]

    def process(self, data: bytes, filename: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """De-occlude one uploaded photo; every picture comes back base64-encoded in the JSON answer."""
        from deocclude.imageio import read_image

        config = self.config_for(query)
        name = Path(filename).name or "photo"
        stem = Path(name).stem or "photo"
        with tempfile.TemporaryDirectory(prefix="deocclude-web-") as tmp:
            # through a file so that the upload gets exactly read_image's checks and one-line errors
            path = Path(tmp) / f"upload{Path(name).suffix.lower()[:10]}"
            path.write_bytes(data)
            try:
                photo = read_image(path)
            except DeoccludeError as exc:
                raise DeoccludeError(str(exc).replace(str(path), name)) from None
        started = time.perf_counter()
        with self._lock:
            deoccluder = self.deoccluder(config)
            result = deoccluder.run(photo)
        seconds = time.perf_counter() - started
        mask = result.occlusion_mask()
        faces = [{"index": f.index, "status": f.status, "method": f.method,
                  "occluded_fraction": round(float(f.occluded_fraction), 4), "crops": _face_crops(f)}
                 for f in result.faces]
        notes = [] if deoccluder.can_remove_occlusions else [
            "no segmentation weights installed: faces path only, the photo comes out unchanged"]
        if not result.faces:
            notes.append("no face found: the photo is unchanged")
        print(f"{name}: {len(faces)} face(s), {int(mask.sum())} px replaced, {seconds:.2f} s", file=sys.stderr,
              flush=True)
        return {
            "name": stem, "width": int(photo.shape[1]), "height": int(photo.shape[0]),
            "faces": faces, "notes": notes, "seconds": round(seconds, 3),
            "changed": bool(np.any(result.photo != photo)),
            "config": {"fill": config.fill, "size": config.size, "extend": config.extend,
                       "remove_hair": config.remove_hair, "device": deoccluder.device},
            "input": _encode(_preview(photo), ".jpg"),
            "overlay": _encode(_preview(_overlay(photo, mask, result.faces)), ".jpg"),
            "result": _encode(result.photo, ".png"),
            "mask": _encode((mask > 0).astype(np.uint8) * 255, ".png"),
        }


def _preview(image: np.ndarray) -> np.ndarray:
    """Shrunk to :data:`PREVIEW_SIDE` for the page (a 24-megapixel photo would be a 70 MB answer)."""
    side = max(image.shape[:2])
    if side <= PREVIEW_SIDE:
        return image
    scale = PREVIEW_SIDE / side
    return cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                      interpolation=cv2.INTER_AREA)


def _tint(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask`` (True = occluded) in red over ``image``, the rest dimmed: a bare black-and-white mask says
    little until one sees which pixels of the face it covers."""
    red = np.array([255.0, 40.0, 40.0], np.float32)
    out = image.astype(np.float32)
    return np.where(mask[..., None], out * 0.45 + red * 0.55, out * 0.8).astype(np.uint8)


def _face_crops(face: FaceResult) -> dict[str, str]:
    """One face as the networks saw it, base64 PNGs: ``crop`` (the aligned N×N crop), ``occlusion``
    (its M_O in red over it), ``render`` (R's render I_R) and ``restored`` (the fill's crop, the crop
    itself for a face the gate left untouched). A key is left out when its stage did not run (no S or
    no R weights), so the page shows only what was computed. Why per face: the photo-sized overlay
    cannot show whether a wrong result came from S (M_O), from R (I_R) or from the fill."""
    crops = {"crop": _encode(face.aligned.crop, ".png")}
    if face.occlusion_mask is not None:
        crops["occlusion"] = _encode(_tint(face.aligned.crop, face.occlusion_mask > 0.5), ".png")
    if face.render is not None:
        crops["render"] = _encode(face.render, ".png")
    if face.restored is not None:
        crops["restored"] = _encode(face.restored, ".png")
    return crops


def _overlay(photo: np.ndarray, mask: np.ndarray, faces: list[FaceResult]) -> np.ndarray:
    """M_O in red over the photo and each detected face's box with its index, so a user sees at a glance
    which faces were found and where pixels were replaced."""
    out = _tint(photo, mask > 0)
    thickness = max(2, round(max(photo.shape[:2]) / 400))
    for face in faces:
        if face.detection is None:
            continue
        x0, y0, x1, y1 = (int(round(float(v))) for v in face.detection.box)
        colour = (60, 220, 90) if face.status == "ok" else (255, 200, 0)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thickness)
        cv2.putText(out, str(face.index), (x0 + 2 * thickness, y0 + 12 * thickness), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness, colour, max(1, thickness // 2), cv2.LINE_AA)
    return out


def _encode(image: np.ndarray, ext: str) -> str:
    """base64 of the image encoded as ``ext`` (RGB or single-channel uint8)."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, bgr, params)
    if not ok:
        raise DeoccludeError(f"could not encode a {ext} picture")
    return base64.b64encode(buf.tobytes()).decode("ascii")


class _Handler(BaseHTTPRequestHandler):
    """HTTP for :class:`WebApp`; its ``app`` attribute is set by :func:`make_server`."""

    app: WebApp
    server_version = "deocclude"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per photo is printed by WebApp.process; per-request lines would drown it

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, PAGE.read_bytes(), "text/html; charset=utf-8")
        elif path == "/api/options":
            self._json(HTTPStatus.OK, self.app.options())
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"{path}: no such page"})

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        from urllib.parse import unquote

        url = urlsplit(self.path)
        if url.path != "/api/deocclude":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"{url.path}: no such endpoint"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length <= 0:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "no photo in the request (empty upload)"})
            return
        if length > MAX_UPLOAD_BYTES:
            self.close_connection = True  # the unread body must not be taken for the next request
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                       {"error": f"photo too large ({length / 2**20:.0f} MB; at most {MAX_UPLOAD_BYTES // 2**20} MB)"})
            return
        data = self.rfile.read(length)
        filename = unquote(self.headers.get("X-Filename") or "photo")
        try:
            answer = self.app.process(data, filename, parse_qs(url.query))
        except DeoccludeError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - a bug: one line for the page, the server keeps serving
            print(f"{filename}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {type(exc).__name__}: {exc}"})
        else:
            self._json(HTTPStatus.OK, answer)


def make_server(app: WebApp, host: str = "127.0.0.1", port: int = 7860) -> ThreadingHTTPServer:
    """A threading HTTP server for ``app`` bound to ``host:port`` (port 0 = any free port; see
    ``server.server_address`` for the one taken). A port in use is a one-line :class:`DeoccludeError`."""
    handler = type("Handler", (_Handler,), {"app": app})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        hint = "; pick another with --port (0 = any free port)" if exc.errno in (98, 48) else ""
        raise DeoccludeError(f"cannot listen on {host}:{port} ({exc.strerror}){hint}") from None
    server.daemon_threads = True
    return server
