"""Colour-true fills (deocclude/fills/colour.py): a greyscale photo stays greyscale, a colour
fill's cast is pulled to the photo's skin without an edge at M_O's rim, nothing outside M_O moves."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from deocclude.fills import make_fill
from deocclude.fills.colour import ColourConfig, ColourTrue, from_ycc, monotone_chroma, to_ycc, true_colour
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR


def _disc(n: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n]
    return ((yy - n / 2) ** 2 + (xx - n / 2) ** 2 < radius ** 2).astype(np.float32)


def test_ycc_round_trip_and_grey_has_no_chroma() -> None:
    rgb = np.random.default_rng(0).uniform(0, 255, (50, 3))
    assert np.allclose(from_ycc(to_ycc(rgb)), rgb)
    grey = np.repeat(np.arange(0, 256, 15.0)[:, None], 3, 1)
    assert np.allclose(to_ycc(grey)[:, 1:], 0, atol=1e-9)


def test_monotone_photos_are_told_from_colour_ones() -> None:
    photo = read_image(REPO_DIR / "examples" / "astronaut.jpg")[:128, 128:256]
    everywhere = np.ones(photo.shape[:2], bool)
    assert monotone_chroma(photo, everywhere) is None  # a colour photo
    grey = np.repeat(np.asarray(Image.fromarray(photo).convert("L"))[..., None], 3, 2)
    assert np.allclose(monotone_chroma(grey, everywhere), 0)
    sepia = np.clip(grey * np.array([1.0, 0.9, 0.75]), 0, 255).astype(np.uint8)  # a multiplicative tint
    line = monotone_chroma(sepia, everywhere)
    assert line is not None and line[1, 1] > 10 and line[0, 1] < -10  # warmer as it brightens: Cr up, Cb down
    assert monotone_chroma(grey, np.zeros_like(everywhere)) is None  # nothing visible: no statistics


def test_a_greyscale_face_gets_a_greyscale_fill_and_nothing_else_moves() -> None:
    n = 64
    rng = np.random.default_rng(1)
    crop = np.repeat(rng.integers(60, 200, (n, n, 1), dtype=np.uint8), 3, 2)
    hole = _disc(n, 12)
    filled = crop / 255.0
    filled[hole > 0.5] = [0.8, 0.5, 0.6]  # a pink fill, as G painted on grey photos
    out = true_colour(filled, crop, hole, np.ones((n, n)), None)
    inside = hole > 0.5
    assert np.array_equal(out[~inside], filled[~inside])
    assert np.abs(out[inside] - out[inside].mean(axis=1, keepdims=True)).max() < 1e-6  # R = G = B
    luma = (0.299 * 0.8 + 0.587 * 0.5 + 0.114 * 0.6)
    assert np.allclose(out[inside], luma, atol=1e-6)  # the fill's own luma is kept


def test_a_colour_cast_is_pulled_to_the_render_prediction_fading_in_from_the_rim() -> None:
    n = 128
    rng = np.random.default_rng(2)
    skin = np.array([200.0, 150.0, 120.0])
    crop = np.clip(skin + rng.normal(0, 8, (n, n, 3)), 0, 255).astype(np.uint8)
    render = np.clip(skin * 0.9 + rng.normal(0, 3, (n, n, 3)), 0, 255).astype(np.uint8)
    hole = _disc(n, 30)
    filled = crop / 255.0
    cast = np.array([230.0, 120.0, 200.0]) / 255.0  # a pink-violet slab
    filled[hole > 0.5] = cast
    out = true_colour(filled, crop, hole, np.ones((n, n)), render)
    inside = hole > 0.5
    assert np.array_equal(out[~inside], filled[~inside])
    centre, rim = (n // 2, n // 2), (n // 2, n // 2 + 29)
    assert inside[rim] and not inside[n // 2, n // 2 + 31]
    assert np.allclose(out[rim], cast, atol=1 / 255)  # the rim keeps the fill: no step at M_O's edge
    chroma = to_ycc(np.array([out[centre] * 255, cast * 255, skin]))[:, 1:]
    assert np.abs(chroma[0] - chroma[2]).max() < np.abs(chroma[1] - chroma[2]).max() / 2  # nearer the skin
    capped = true_colour(filled, crop, hole, np.ones((n, n)), render, config=ColourConfig(max_shift=2.0))
    moved = np.abs(to_ycc(capped[centre] * 255)[1:] - to_ycc(cast * 255)[1:])
    assert moved.max() <= 2.0 + 1e-6


def test_without_a_render_a_colour_fill_is_left_alone() -> None:
    n = 64
    crop = np.random.default_rng(3).integers(0, 256, (n, n, 3), dtype=np.uint8)  # colourful
    filled = crop / 255.0
    filled[_disc(n, 10) > 0.5] = 0.3
    assert np.array_equal(true_colour(filled, crop, _disc(n, 10), np.ones((n, n)), None), filled)


def test_make_fill_wraps_every_fill_and_the_wrapper_is_transparent() -> None:
    fill = make_fill("telea")
    raw = make_fill("telea", true_colour=False)
    assert isinstance(fill, ColourTrue) and not isinstance(raw, ColourTrue)
    assert (fill.name, fill.label, fill.needs_render) == (raw.name, raw.label, raw.needs_render)


@pytest.mark.parametrize("fill", ["prior", "g"])
def test_a_greyscale_photo_comes_out_greyscale(tmp_path, fill: str) -> None:
    """The bundled sunglasses example in black and white, through the whole pipeline: the
    blend used to give blue-grey eyes and G a pink patch."""
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    photo = read_image(REPO_DIR / "examples" / "astronaut_sunglasses.jpg")
    grey = np.repeat(np.asarray(Image.fromarray(photo).convert("L"))[..., None], 3, 2)
    result = Deoccluder(DeoccluderConfig(fill=fill)).run(grey)
    assert result.faces and result.faces[0].status == "ok"
    assert result.changed_mask().sum() > 500  # the glasses were removed ...
    assert np.array_equal(result.photo.max(axis=2), result.photo.min(axis=2))  # ... in grey


def test_a_white_rims_glow_is_pulled_down_to_the_render_prediction_within_its_cap() -> None:
    """A blend over a white mask takes the rim's white as boundary: its mean luma is moved to the skin the render
    predicts (at most ``max_luma_shift``), fading in from the rim; ``max_luma_shift=0`` leaves the luma alone."""
    n = 128
    rng = np.random.default_rng(5)
    skin = np.array([190.0, 140.0, 115.0])
    crop = np.clip(skin + rng.normal(0, 6, (n, n, 3)), 0, 255).astype(np.uint8)
    render = np.clip(skin + rng.normal(0, 3, (n, n, 3)), 0, 255).astype(np.uint8)
    hole = _disc(n, 30)
    inside = hole > 0.5
    filled = crop / 255.0
    glow = np.clip(skin + 40.0, 0, 255) / 255.0  # the same tint, 40 levels too bright
    filled[inside] = glow
    centre = (n // 2, n // 2)
    luma = lambda rgb: float(to_ycc(np.asarray(rgb) * 255.0)[0])  # noqa: E731
    out = true_colour(filled, crop, hole, np.ones((n, n)), render)
    assert np.array_equal(out[~inside], filled[~inside])
    assert luma(glow) - luma(out[centre]) == pytest.approx(ColourConfig().max_luma_shift, abs=0.5)  # capped
    off = true_colour(filled, crop, hole, np.ones((n, n)), render, config=ColourConfig(max_luma_shift=0.0))
    assert luma(off[centre]) == pytest.approx(luma(glow), abs=0.5)


def test_the_fill_follows_the_skin_not_a_cap_left_on_the_face_surface() -> None:
    """M_R minus M_O also holds what M_O leaves in place on the face surface (a blue surgical cap over the
    forehead): with S's face class (``skin``) the fill is pulled to the skin's colour, without it to skin and cap."""
    n = 128
    rng = np.random.default_rng(6)
    skin_rgb, cap_rgb = np.array([200.0, 150.0, 125.0]), np.array([120.0, 190.0, 230.0])
    crop = np.clip(skin_rgb + rng.normal(0, 5, (n, n, 3)), 0, 255).astype(np.uint8)
    cap = np.zeros((n, n), bool)
    cap[: n // 3] = True
    crop[cap] = cap_rgb.astype(np.uint8)
    render = np.clip(skin_rgb + rng.normal(0, 3, (n, n, 3)), 0, 255).astype(np.uint8)
    hole = np.zeros((n, n), np.float32)
    hole[n // 2:, 16:-16] = 1.0
    filled = crop / 255.0
    filled[hole > 0.5] = np.array([175.0, 170.0, 175.0]) / 255.0  # a grey fill, as a white mask's rim leaves
    skin = (~cap).astype(np.float32)
    chroma = lambda rgb: to_ycc(np.asarray(rgb) * 255.0)[1:]  # noqa: E731
    centre = (n * 3 // 4, n // 2)
    with_skin = true_colour(filled, crop, hole, np.ones((n, n)), render, skin=skin)
    without = true_colour(filled, crop, hole, np.ones((n, n)), render)
    target = to_ycc(skin_rgb)[1:]
    assert np.abs(chroma(with_skin[centre]) - target).max() < 3.0
    assert np.abs(chroma(without[centre]) - target).max() > 8.0  # the cap's blue pulled it away
    too_little = np.zeros((n, n), np.float32)  # no skin seen: M_R outside M_O stands in, as without
    assert np.array_equal(true_colour(filled, crop, hole, np.ones((n, n)), render, skin=too_little), without)


def test_a_face_under_a_blue_cap_gets_skin_not_blue_grey(data_root) -> None:
    """RMFD ``0006_006``: a white mask under a blue surgical cap that covers the forehead (on M_R, not in M_O).
    The fill's chroma inside M_O was 14.6 / -16.6 (Cb / Cr) from the visible skin's, a blue-grey face; with the
    colour read on S's face class alone, -1.0 / 3.1."""
    from deocclude.pipeline import Deoccluder

    path = data_root / "real_occluded" / "rmfd" / "images" / "0006_006.jpg"
    if not path.is_file():
        pytest.skip(f"RMFD photos not found at {path.parent}")
    face = Deoccluder().run(read_image(path)).faces[0]
    assert face.status == "ok" and face.skin is not None and face.occlusion_mask is not None
    region, hole = face.face_region > 0.5, face.occlusion_mask > 0.5
    seen_skin = region & ~hole & (face.skin > 0.5)
    fill = to_ycc(face.restored[region & hole].astype(np.float64)).mean(0)
    skin = to_ycc(face.aligned.crop[seen_skin].astype(np.float64)).mean(0)
    assert np.abs(fill[1:] - skin[1:]).max() < 6.0
