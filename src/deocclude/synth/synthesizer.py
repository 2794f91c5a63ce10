"""The occlusion synthesizer: one random occluder of a category, placed on a face.

``OcclusionSynthesizer(config, split)(image, landmarks, rng, category)`` draws an
occluder, places it by the category's rule (eyewear on the eye band, masks fitted to the
jaw and nose with the MaskTheFace homography, surgical / KN95 masks and thin glasses drawn
from the landmarks with ear loops and temples (synth.facemask, synth.glasses), hats on the
forehead, hands / objects anywhere over the face with a bias to the lower half, hair from
the top), varies it
(scale, rotation, shear, flip, colour jitter, re-texturing, alpha-edge blur) and
composes it with eq. 2. All randomness comes from the caller's ``numpy`` Generator, in a
fixed order, so the same seed gives the same bytes on any machine.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from deocclude.synth.bank import BankItem, OccluderBank
from deocclude.synth.compose import Occlusion, compose
from deocclude.synth.config import CATEGORIES, PROCEDURAL_CATEGORIES, SynthConfig
from deocclude.synth.eyewear import draw_glasses, random_design
from deocclude.synth.facemask import draw_kn95_mask, draw_surgical_mask
from deocclude.synth.geometry import FaceFrame, eye_centres, face_box, face_frame, mask_anchor_points
from deocclude.synth.glasses import draw_thin_glasses
from deocclude.synth.hair import HairBank, draw_procedural_hair
from deocclude.synth.params import pick
from deocclude.synth.shapes import draw_blob, draw_cloth_mask, draw_scarf
from deocclude.synth.sprite import Sprite, blur_alpha, jitter_colour, similarity, two_point_similarity, warp_sprite
from deocclude.synth.textures import TextureBank, procedural_texture, random_colour, retexture

Layer = tuple[np.ndarray, np.ndarray, str]

# Size of each bank category's long side, in interocular distances, and its rotation range.
_OBJECT_RULES: dict[str, tuple[tuple[float, float], float]] = {
    "hand": ((1.3, 2.6), 45.0),
    "cup": ((1.0, 2.0), 25.0),
    "microphone": ((1.0, 2.2), 35.0),
    "phone": ((1.0, 2.0), 35.0),
    "food": ((0.8, 1.8), 40.0),
    "object": ((0.8, 2.2), 40.0),
}


@lru_cache(maxsize=4)
def _load_bank(root: str, max_side: int) -> OccluderBank:
    """Banks are read-only once loaded, so synthesizers over the same folder share one."""
    return OccluderBank(root, max_side)


@lru_cache(maxsize=4)
def _load_hair(root: str, split: str) -> HairBank:
    return HairBank(root, split)


def _resolve(path: Path | None, shared: Path | None, sub: str) -> Path | None:
    if path is not None:
        return Path(path)
    if shared is not None and (shared / sub).exists():
        return shared / sub
    return None


def _brim(alpha: np.ndarray) -> np.ndarray:
    """Centre of a hat's widest row (its brim or rim) in sprite px; ``alpha`` uint8.

    The alpha box's bottom would be wrong for helmets whose chin strap hangs below the rim.
    """
    solid = alpha > 127
    y = int(np.argmax(solid.sum(axis=1)))
    xs = np.nonzero(solid[y])[0]
    x = (xs.min() + xs.max() + 1) / 2 if len(xs) else alpha.shape[1] / 2
    return np.array([float(x), y + 0.5])


class OcclusionSynthesizer:
    """Draws synthetic occlusions; see the module docstring.

    ``split="test"`` uses only the held-out bank items (``split`` column of the bank's
    index), held-out texture files, held-out hair donors (val faces) and the held-out
    parameter sub-ranges of the procedural occluders.
    """

    def __init__(self, config: SynthConfig | None = None, split: str = "train") -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        self.config = config = config or SynthConfig()
        self.split = split
        shared = None
        if config.use_shared_data:
            from deocclude.paths import data_root

            shared = data_root() if data_root().is_dir() else None
        occ = _resolve(config.occluder_root, shared, "occluders")
        tex = _resolve(config.texture_root, shared, "textures")
        hair = _resolve(config.hair_root, shared, "faces/utkface")
        self.bank = _load_bank(str(occ.resolve()), config.max_side) if occ is not None else None
        self.textures = TextureBank(tex) if tex is not None else None
        self.hair_bank = (_load_hair(str(hair.resolve()), split)
                          if hair is not None and (hair / "landmarks.npz").is_file() else None)
        self.categories = tuple(c for c in config.categories if self._available(c))
        if not self.categories:
            raise ValueError("no occluder category is available (no bank and no procedural category selected)")
        w = config.weights or tuple(1.0 for _ in config.categories)
        self.weights = tuple(wi for c, wi in zip(config.categories, w) if c in self.categories)

    def _available(self, category: str) -> bool:
        if category in PROCEDURAL_CATEGORIES:
            return True
        return self.bank is not None and bool(self.bank.choices(category, self.split))

    # ------------------------------------------------------------------ public
    def __call__(self, image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
                 category: str | None = None) -> Occlusion:
        """Occlude ``image`` (H, W, 3) float in [0, 1] given its landmarks (468, 2|3) px."""
        img = np.asarray(image, dtype=np.float32)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3), got {img.shape}")
        lm = np.asarray(landmarks, dtype=np.float64)[:, :2]
        h, w = img.shape[:2]
        frame = face_frame(lm)
        if category is None:
            category = pick(rng, self.categories, self.weights)
        elif category not in self.categories:
            known = category in CATEGORIES
            raise ValueError(f"occluder category {category!r} is " + ("not available here (no bank items for it)"
                             if known else f"unknown; known: {', '.join(CATEGORIES)}"))
        colour, alpha, source = getattr(self, f"_draw_{category}")(h, w, lm, frame, rng, img)
        lo, hi = self.config.alpha_blur
        alpha = blur_alpha(alpha.astype(np.float32), rng.uniform(lo, hi) * frame.iod / 40.0)
        alpha = np.clip(alpha, 0.0, 1.0)
        alpha[alpha < 0.5 / 255] = 0.0  # exact zeros away from the object
        colour = np.clip(colour, 0.0, 1.0).astype(np.float32)
        return Occlusion(image=compose(img, colour, alpha), alpha=alpha.astype(np.float32), colour=colour,
                         category=category, source=source)

    # ------------------------------------------------------------------ helpers
    def _texture(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        hue = (0.8, 1.0) if self.split == "test" else (0.0, 0.8)
        if self.textures is not None and rng.random() >= self.config.p_procedural_texture:
            t = self.textures.sample(h, w, rng, self.split)
            if t is not None:
                return t
        return procedural_texture(h, w, rng, hue_range=hue)

    def _vary_sprite(self, sprite: Sprite, rng: np.random.Generator, p_retexture: float,
                     jitter: float = 1.0) -> Sprite:
        colour = sprite.colour
        if rng.random() < p_retexture:
            h, w = sprite.size
            colour = retexture(colour, sprite.alpha, self._texture(h, w, rng))
        colour = jitter_colour(colour, rng, jitter * self.config.colour_jitter)
        return Sprite(colour, sprite.alpha, sprite.name)

    def _object_matrix(self, item: BankItem, frame: FaceFrame, rng: np.random.Generator,
                       size: tuple[float, float], rot: float, pos: np.ndarray,
                       src_pt: np.ndarray | None = None, by_width: bool = False) -> np.ndarray:
        cfg = self.config
        x0, y0, x1, y1 = item.bbox()
        extent = (x1 - x0) if by_width else max(x1 - x0, y1 - y0)
        target = rng.uniform(*size) * (1 + rng.uniform(-cfg.scale_jitter, cfg.scale_jitter)) * frame.iod
        angle = frame.angle_deg + rng.uniform(-rot, rot)
        shear = rng.uniform(-cfg.max_shear, cfg.max_shear)
        flip = bool(rng.random() < cfg.p_flip)
        aspect = 1 + rng.uniform(-0.1, 0.1)
        src = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) if src_pt is None else src_pt
        return similarity(src, frame.to_image(pos), target / max(extent, 1.0), angle, shear, flip, aspect)

    def _paste(self, item: BankItem, matrix: np.ndarray, h: int, w: int, rng: np.random.Generator,
               p_retexture: float, jitter: float = 1.0) -> Layer:
        m3 = np.vstack([matrix, [0.0, 0.0, 1.0]]) if matrix.shape[0] == 2 else matrix / matrix[2, 2]
        scale = float(np.sqrt(abs(np.linalg.det(m3[:2, :2]))))
        small, f = item.sprite_for_scale(scale)
        m3 = m3 @ np.diag([1.0 / f, 1.0 / f, 1.0])
        sprite = self._vary_sprite(small, rng, p_retexture, jitter)
        colour, alpha = warp_sprite(sprite, m3[:2] if matrix.shape[0] == 2 else m3, h, w)
        return colour, alpha, item.name

    @staticmethod
    def _lower_biased(rng: np.random.Generator) -> np.ndarray:
        """A point over the face, biased to the lower half (face frame: eyes y=0, chin ~1.7)."""
        return np.array([float(np.clip(rng.normal(0, 0.55), -1.5, 1.5)), -0.8 + 2.9 * float(rng.beta(2.0, 1.6))])

    def _bank_item(self, category: str, rng: np.random.Generator) -> BankItem:
        assert self.bank is not None
        item = self.bank.sample(category, self.split, rng)
        if item is None:  # guarded by _available
            raise ValueError(f"no {category} occluders in the bank for split {self.split}")
        return item

    # ------------------------------------------------------------------ categories
    def _draw_bank_object(self, category: str, h: int, w: int, frame: FaceFrame, rng: np.random.Generator) -> Layer:
        item = self._bank_item(category, rng)
        size, rot = _OBJECT_RULES[category]
        m = self._object_matrix(item, frame, rng, size, rot, self._lower_biased(rng))
        # skin keeps plausible tones: hands get half the colour jitter and no re-texturing
        skin = category == "hand"
        return self._paste(item, m, h, w, rng, 0.0 if skin else self.config.p_retexture_other, 0.5 if skin else 1.0)

    def _draw_hand(self, h, w, lm, frame, rng, img) -> Layer:
        return self._draw_bank_object("hand", h, w, frame, rng)

    def _draw_cup(self, h, w, lm, frame, rng, img) -> Layer:
        return self._draw_bank_object("cup", h, w, frame, rng)

    def _draw_microphone(self, h, w, lm, frame, rng, img) -> Layer:
        return self._draw_bank_object("microphone", h, w, frame, rng)

    def _draw_phone(self, h, w, lm, frame, rng, img) -> Layer:
        return self._draw_bank_object("phone", h, w, frame, rng)

    def _draw_food(self, h, w, lm, frame, rng, img) -> Layer:
        return self._draw_bank_object("food", h, w, frame, rng)

    def _draw_object(self, h, w, lm, frame, rng, img) -> Layer:
        return self._draw_bank_object("object", h, w, frame, rng)

    def _draw_hat(self, h, w, lm, frame, rng, img) -> Layer:
        item = self._bank_item("hat", rng)
        brim = _brim(item.rgba[..., 3])
        # drop what hangs below the brim (chin straps, ribbons): it would float over the mouth
        cut = int(np.ceil(brim[1] + 0.06 * item.size[0]))
        rgba = item.rgba.copy()
        rgba[cut:] = 0  # premultiplied: colour goes with alpha
        item = replace(item, rgba=rgba)
        pos = np.array([rng.normal(0, 0.1), rng.uniform(-0.7, 0.05)])  # brows ~ -0.25, eyes 0
        m = self._object_matrix(item, frame, rng, (2.2, 3.2), 10.0, pos, src_pt=brim, by_width=True)
        return self._paste(item, m, h, w, rng, self.config.p_retexture_other)

    def _draw_eyewear(self, h, w, lm, frame, rng, img) -> Layer:
        cfg = self.config
        left, right = eye_centres(lm)
        if self.bank is not None and self.bank.choices("eyewear", self.split) and rng.random() < cfg.eyewear.p_bank:
            item = self._bank_item("eyewear", rng)
            m = self._object_matrix(item, frame, rng, (1.7, 2.2), 5.0, np.array([0.0, rng.uniform(0, 0.12)]),
                                    by_width=True)
            return self._paste(item, m, h, w, rng, cfg.p_retexture_other)
        design = random_design(rng, self.split, cfg.eyewear)
        sprite, centres = draw_glasses(design, 1.25 * frame.iod, rng)  # slight supersampling
        sep = rng.uniform(0.95, 1.12)
        down = rng.uniform(0.0, 0.12) * frame.iod * frame.uy
        mid = (left + right) / 2
        dst = np.stack([mid + sep * (left - mid), mid + sep * (right - mid)]) + down
        m = two_point_similarity(centres, dst)
        a = np.radians(rng.uniform(-4, 4))
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        m = np.hstack([rot @ m[:, :2], (rot @ (m[:, 2] - mid) + mid)[:, None]])
        colour, alpha = warp_sprite(sprite, m, h, w)
        lens = "clear" if design.opacity == 0 else f"op{design.opacity:.2f}"
        return colour, alpha, f"glasses_{design.shape}_{lens}"

    def _draw_mask(self, h, w, lm, frame, rng, img) -> Layer:
        cfg = self.config
        bank_ok = self.bank is not None and any(self.bank.items[i].anchors is not None
                                                for i in self.bank.choices("mask", self.split))
        if bank_ok and rng.random() < 0.8:
            assert self.bank is not None
            item = self.bank.sample("mask", self.split, rng, require_anchors=True)
            assert item is not None
            item = self._best_view(item, lm, frame)
            assert item.anchors is not None  # _best_view picks among templates with anchors
            dst = mask_anchor_points(lm) + rng.normal(0, 0.03, (6, 2)) * frame.iod
            hom, _ = cv2.findHomography(item.anchors, dst, 0)
            if hom is not None and np.all(np.isfinite(hom)):
                return self._paste(item, hom, h, w, rng, cfg.p_retexture_mask)
        alpha, shade, name = draw_cloth_mask(h, w, lm, frame, rng)
        if rng.random() < cfg.p_retexture_mask:
            colour = self._texture(h, w, rng)
        else:
            base = pick(rng, ((0.93, 0.94, 0.95), (0.55, 0.75, 0.9), (0.1, 0.1, 0.12), (0.6, 0.85, 0.8)))
            colour = np.broadcast_to(np.asarray(base, np.float32), (h, w, 3)).copy()
        return jitter_colour(colour * shade[..., None], rng, cfg.colour_jitter), alpha, name

    def _best_view(self, item: BankItem, lm: np.ndarray, frame: FaceFrame) -> BankItem:
        """Front / left / right template whose nose position best matches the face's yaw."""
        assert self.bank is not None and item.anchors is not None
        base = item.name.removesuffix("_left").removesuffix("_right")
        views = [self.bank.items[i] for i in self.bank.choices("mask", self.split)
                 if self.bank.items[i].anchors is not None
                 and self.bank.items[i].name.removesuffix("_left").removesuffix("_right") == base]
        f = frame.to_face(mask_anchor_points(lm))
        r_face = (f[1, 0] - f[0, 0]) / max(f[2, 0] - f[0, 0], 1e-6)

        def ratio(it: BankItem) -> float:
            a = it.anchors
            assert a is not None  # ``views`` holds only templates with anchors
            return float((a[1, 0] - a[0, 0]) / max(a[2, 0] - a[0, 0], 1e-6))

        return min(views, key=lambda it: (abs(ratio(it) - r_face), it.name))

    def _draw_surgical_mask(self, h, w, lm, frame, rng, img) -> Layer:
        return draw_surgical_mask(h, w, lm, frame, rng, self.split, img, self.config.colour_jitter)

    def _draw_kn95_mask(self, h, w, lm, frame, rng, img) -> Layer:
        return draw_kn95_mask(h, w, lm, frame, rng, self.split, img, self.config.colour_jitter)

    def _draw_thin_glasses(self, h, w, lm, frame, rng, img) -> Layer:
        return draw_thin_glasses(h, w, lm, frame, rng, self.split)

    def _draw_scarf_cloth(self, h, w, lm, frame, rng, img) -> Layer:
        cfg = self.config
        if self.bank is not None and self.bank.choices("scarf_cloth", self.split) and rng.random() < 0.3:
            item = self._bank_item("scarf_cloth", rng)
            pos = np.array([rng.normal(0, 0.3), rng.uniform(1.0, 2.3)])
            m = self._object_matrix(item, frame, rng, (1.8, 3.2), 20.0, pos)
            return self._paste(item, m, h, w, rng, cfg.p_retexture_other)
        alpha, kind = draw_scarf(h, w, frame, rng, self.split)
        colour = self._texture(h, w, rng)
        # soft folds so the cloth is not flat
        yy = np.arange(h, dtype=np.float32)[:, None] / max(frame.iod, 1.0)
        xx = np.arange(w, dtype=np.float32)[None, :] / max(frame.iod, 1.0)
        folds = 1 + 0.12 * np.sin(2 * np.pi * (yy * rng.uniform(1, 3) + xx * rng.uniform(-1, 1) + rng.random()))
        return jitter_colour(colour * folds[..., None], rng, cfg.colour_jitter), alpha, kind

    def _draw_hair(self, h, w, lm, frame, rng, img) -> Layer:
        if self.hair_bank is not None and rng.random() < self.config.p_real_hair:
            got = self.hair_bank.draw(h, w, lm, rng)
            if got is not None:
                colour, alpha, name = got
                return jitter_colour(colour, rng, 0.5 * self.config.colour_jitter), alpha, name
        return draw_procedural_hair(h, w, frame, rng, self.split)

    def _draw_blob(self, h, w, lm, frame, rng, img) -> Layer:
        alpha, kind = draw_blob(h, w, frame, rng, self.split, face_box(lm, frame))
        if rng.random() < 0.5:
            colour = self._texture(h, w, rng)
        else:
            hue = (0.8, 1.0) if self.split == "test" else (0.0, 0.8)
            c = random_colour(rng, hue, (0.0, 1.0), (0.05, 1.0))
            shade = procedural_texture(h, w, rng, "noise")[..., :1]
            colour = c * (0.8 + 0.4 * shade)
        return colour.astype(np.float32), alpha, kind

