"""``deocclude serve`` in a real browser: Debian's headless Chromium driven by Playwright.

No browser is downloaded (Playwright gets ``executable_path=/usr/bin/chromium``); the test
skips, saying why, where that Chromium is absent. Every request the page makes that is not to
the local server is aborted and recorded, and the test fails if there is one: the page must work
offline. Set ``DEOCCLUDE_WEB_SCREENSHOT=docs/web.png`` to refresh the README's screenshot.
"""

from __future__ import annotations

import base64
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from deocclude.imageio import read_image

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "astronaut_sunglasses.jpg"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"{CHROMIUM} not found: the browser test needs Debian's chromium "
           "(tools/setup.sh installs it when run as root: apt-get install -y chromium chromium-driver)")


@pytest.fixture()
def server_url() -> Iterator[str]:
    """``deocclude serve --port 0`` as a user starts it; the URL is the one it prints."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deocclude", "serve", "--port", "0", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        line = lines.get(timeout=120)
    except queue.Empty:
        proc.kill()
        pytest.fail(f"deocclude serve printed no address in 120 s: {proc.stderr.read()}")  # type: ignore[union-attr]
    match = re.search(r"http://\S+/", line)
    assert match, line
    try:
        yield match.group(0)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        assert proc.returncode == 0, proc.stderr.read()  # type: ignore[union-attr]


def _png(b64: str) -> np.ndarray:
    import cv2

    image = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


def _encode_png(image: np.ndarray) -> str:
    import cv2

    return base64.b64encode(cv2.imencode(".png", image)[1].tobytes()).decode()


def test_the_answer_has_each_faces_crop_mask_render_and_restored_crop() -> None:
    """The JSON for the bundled example, without HTTP: one face, its four crops N×N PNGs that show what
    each stage made (M_O in red over the crop, I_R, the fill's crop differing from the crop only inside M_O)."""
    from deocclude.pipeline import DeoccluderConfig
    from deocclude.web import WebApp

    answer = WebApp(DeoccluderConfig(device="cpu")).process(EXAMPLE.read_bytes(), EXAMPLE.name, {})
    assert len(answer["faces"]) == 1 and answer["faces"][0]["status"] == "ok"
    crops = {key: _png(b64) for key, b64 in answer["faces"][0]["crops"].items()}
    assert sorted(crops) == ["crop", "occlusion", "render", "restored"]
    assert all(image.shape == (128, 128, 3) and image.dtype == np.uint8 for image in crops.values())
    crop, occlusion, render, restored = (crops[k].astype(int) for k in ("crop", "occlusion", "render", "restored"))
    red = (occlusion[..., 0] - occlusion[..., 1] > 60) & (crop[..., 0] - crop[..., 1] < 30)  # tinted, not red before
    assert 0.02 < red.mean() < 0.5, red.mean()  # the sunglasses, in red over the crop
    assert np.abs(occlusion - crop)[~red].mean() < 40  # elsewhere the crop, dimmed: a picture, not a bare mask
    assert np.abs(render - crop).mean() > 5 and np.abs(restored - crop).mean() > 1  # I_R and the fill, not copies
    assert np.abs(restored - crop)[red].mean() > 3 * np.abs(restored - crop)[~red].mean()  # changed inside M_O


def test_a_stage_that_did_not_run_has_no_crop() -> None:
    """No S (or no R) weights: the face has no M_O (I_R); its key is absent, not a blank picture."""
    from deocclude.faces.align import AlignedFace
    from deocclude.pipeline import FaceResult
    from deocclude.web.app import _face_crops

    crop = np.full((32, 32, 3), 120, np.uint8)
    aligned = AlignedFace(crop=crop, valid=np.ones((32, 32), np.float32), matrix=np.eye(2, 3),
                          landmarks=np.zeros((5, 3), np.float32))
    face = FaceResult(index=0, detection=None, landmarks=aligned.landmarks, aligned=aligned,
                      face_region=np.ones((32, 32), np.float32), restored=crop)
    assert sorted(_face_crops(face)) == ["crop", "restored"]
    face.occlusion_mask = np.zeros((32, 32), np.float32)
    face.occlusion_mask[:8] = 1.0
    tinted = _png(_face_crops(face)["occlusion"]).astype(int)
    assert (tinted[:8, :, 0] > tinted[:8, :, 1] + 60).all() and (tinted[8:] == 96).all()


@needs_chromium
def test_upload_in_chromium_shows_mask_result_download_and_face_status(server_url: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
    )
    outside: list[str] = []

    def only_local(route) -> None:  # noqa: ANN001 - a playwright Route
        url = route.request.url
        if url.startswith(server_url) or url.startswith(("blob:", "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 900}, accept_downloads=True)
        try:
            context.route("**/*", only_local)
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(server_url)
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            page.set_input_files("#file", str(EXAMPLE))
            page.wait_for_selector("body[data-state='done']", timeout=120_000)

            # what the page shows: the result <img> and the mask behind "Mask (PNG)", as bytes
            shown = page.evaluate("""async () => {
                const b64 = async (url) => {
                    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
                    let s = ''; for (const b of bytes) s += String.fromCharCode(b);
                    return btoa(s);
                };
                const img = document.getElementById('result');
                return {width: img.naturalWidth, height: img.naturalHeight, result: await b64(img.src),
                        mask: await b64(document.getElementById('download-mask').href),
                        overlay: document.getElementById('overlay').naturalWidth};
            }""")
            assert (shown["width"], shown["height"]) == (512, 512) and shown["overlay"] > 0
            photo, result, mask = read_image(EXAMPLE), _png(shown["result"]), _png(shown["mask"]) > 0
            assert result.shape == photo.shape and 0.005 < mask.mean() < 0.3
            inside = np.abs(result.astype(int) - photo.astype(int))[mask]
            assert inside.mean() > 10  # the sunglasses are gone, not a copy of the input
            np.testing.assert_array_equal(result[~mask], photo[~mask])  # nothing changed outside M_O

            faces = page.locator("#faces .face-status").all_inner_texts()
            assert len(faces) == 1, faces
            assert re.match(r"face 0: ok — S \+ R \+ .+, occluded fraction 0\.\d{3}$", faces[0]), faces
            assert "1 face(s), occlusion removed" in page.inner_text("#status")
            # the face's row: crop | M_O over it | I_R | restored, each a decoded picture with its caption
            row = page.evaluate("""() => [...document.querySelectorAll('#faces .face figure')].map((f) => ({
                crop: f.dataset.crop, caption: f.querySelector('figcaption').innerText,
                width: f.querySelector('img').naturalWidth, height: f.querySelector('img').naturalHeight,
                shown: f.querySelector('img').getBoundingClientRect().width}))""")
            assert [f["crop"] for f in row] == ["crop", "occlusion", "render", "restored"], row
            assert [f["caption"] for f in row] == ["aligned crop", "M_O over the crop", "3D render I_R",
                                                   "restored crop"], row
            assert all(f["width"] == f["height"] == 128 and f["shown"] > 100 for f in row), row

            with page.expect_download() as download:
                page.click("#download")
            assert download.value.suggested_filename == "astronaut_sunglasses_deoccluded.png"
            assert Path(download.value.path()).read_bytes() == base64.b64decode(shown["result"])

            shot = tmp_path / "web.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("DEOCCLUDE_WEB_SCREENSHOT"):
                shutil.copyfile(shot, REPO / os.environ["DEOCCLUDE_WEB_SCREENSHOT"])

            # a narrow window (a phone): nothing runs off the side, the face's four crops wrap onto two rows
            page.set_viewport_size({"width": 420, "height": 900})
            narrow = page.evaluate("""() => ({scroll: document.documentElement.scrollWidth,
                tops: [...document.querySelectorAll('#faces .face figure')].map(
                    (f) => Math.round(f.getBoundingClientRect().top))})""")
            assert narrow["scroll"] <= 420 and len(set(narrow["tops"])) == 2, narrow

            # a toggle reruns the photo with it: the answer says which fill and extend it used
            page.select_option("#fill", "telea")
            page.uncheck("#extend")
            page.wait_for_function("() => document.getElementById('status').innerText.includes("
                                   "'fill telea, crop 128, not extended')", timeout=120_000)
            page.wait_for_selector("body[data-state='done']", timeout=120_000)
            line = page.inner_text("#faces .face-status")
            assert re.search(r"— S \+ R \+ OpenCV Telea,", line), line

            # a face the do-no-harm gate left alone: its reason in amber, its "restored" crop said to be none
            page.evaluate("""(b64) => document.getElementById('faces').replaceChildren(facePanel({index: 3,
                status: 'untouched: 57% of the occlusion mask lies on the background', method: 'S + R',
                occluded_fraction: 0.2, crops: {crop: b64, occlusion: b64, render: b64, restored: b64}}))""",
                          _encode_png(np.zeros((8, 8, 3), np.uint8)))
            untouched = page.locator("#faces .face.untouched .face-status")
            assert untouched.is_visible() and "untouched: 57% of the occlusion mask" in untouched.inner_text()
            assert untouched.evaluate("(e) => getComputedStyle(e).color") == "rgb(181, 71, 8)"  # --warn
            assert "none, the face keeps its pixels" in page.inner_text("#faces figure[data-crop='restored']")

            # a broken file dropped on the drop zone: one line on the page, no traceback, the server keeps serving
            dropped = page.evaluate_handle("""(b64) => {
                const dt = new DataTransfer();
                dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'broken.jpg',
                                      {type: 'image/jpeg'}));
                return dt;
            }""", base64.b64encode(EXAMPLE.read_bytes()[:200]).decode())
            page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
            page.wait_for_selector("body[data-state='error']", timeout=60_000)
            status = page.inner_text("#status")
            assert "broken.jpg: not a readable image" in status and "Traceback" not in status
        finally:
            context.close()
    assert outside == [], f"the page tried to reach other hosts: {outside}"


def test_the_http_api_answers_bad_requests_with_one_line_and_the_page_is_self_contained() -> None:
    """No browser, no model load: the error paths answer before the pipeline is needed."""
    import json
    import urllib.error
    import urllib.request

    from deocclude.pipeline import DeoccluderConfig
    from deocclude.web import WebApp, make_server

    server = make_server(WebApp(DeoccluderConfig(device="cpu")), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def call(path: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict, str]:
        request = urllib.request.Request(base + path, data=data, headers=headers or {},
                                         method="POST" if data is not None else "GET")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()

    try:
        status, headers, page = call("/")
        assert status == 200 and "default-src 'none'" in headers["Content-Security-Policy"]
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)  # no asset from anywhere else
        status, _, body = call("/api/options")
        assert status == 200 and json.loads(body)["defaults"]["fill"] == "auto"
        for data, query, code, words in ((b"not an image", "", 400, "cat.jpg: not a readable image"),
                                         (b"", "", 400, "no photo"),
                                         (EXAMPLE.read_bytes(), "?fill=crayon", 400, "fill 'crayon'"),
                                         (EXAMPLE.read_bytes(), "?size=100", 400, "--size must be a multiple of 32")):
            status, _, body = call(f"/api/deocclude{query}", data, {"X-Filename": "cat.jpg"})
            error = json.loads(body)["error"]
            assert status == code and words in error and "\n" not in error, (status, error)
        status, _, body = call("/api/deocclude", b"x", {"Content-Length": str(2**31)})
        assert status == 413 and "too large" in json.loads(body)["error"]
        assert call("/nowhere")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
