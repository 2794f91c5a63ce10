"""The ``Deoccluder`` API: a photo in, the same photo out with the occlusions removed.

Per face: detect → 468 landmarks → align to an N×N crop → S gives the visible face M_F,
the face surface M_R says where the face should be → occlusion mask
M_O = M_R ⊙ (1 − M_F), extended past M_R where the occluder goes on (``extend``; the
paper's §4.5 limitation) → fill M_O → paste the filled crop back into the photo.

Which parts run depends on which weights are installed (each face's ``method`` says what
ran): without S only the faces path runs (crops, landmarks, lossless paste back); without
R, M_R is the surface of the detected 468-point mesh and there is no I_R (the fill is then
OpenCV Telea instead of the blend of I_R). Faces are processed independently: a face that fails keeps the
original pixels and reports why.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.face_batch import FaceBatch, tensor_to_images
from deocclude.faces.align import AlignedFace, canonical_template, warp_points, working_frame
from deocclude.faces.detect import DetectorConfig, FaceDetection
from deocclude.faces.find import FaceFinder
from deocclude.faces.mesh import mesh_mask
from deocclude.faces.paste_back import PasteConfig, paste_back_weighted
from deocclude.faces.person import PersonSegmenter
from deocclude.faces.refit import MaskedFaceRefit
from deocclude.fills import Fill, fill_choices, make_fill
from deocclude.masks import DEFAULT_DILATE
from deocclude.masks.blobs import DEFAULT_MAX_BLOB, drop_skin_blobs
from deocclude.masks.extend import brow_line, extend_occlusion
from deocclude.masks.frame import (
    crop_exits,
    fill_past_crop,
    grow_past_crop,
    in_frame,
    lower_face_band,
    off_face_at_edge,
)
from deocclude.masks.glasses import Glasses, find_glasses, lone_lens
from deocclude.masks.occlusion import (
    DEFAULT_EDGE_CONTRAST,
    DEFAULT_EDGE_GROW,
    DEFAULT_HOLE_CONFIDENCE,
    DEFAULT_RIM_CONFIDENCE,
    shape_occlusion,
)
from deocclude.masks.outline import DEFAULT_OUTLINE_BAND, DEFAULT_RIM_DEPTH
from deocclude.timing import timed


@dataclass(frozen=True)
class DeoccluderConfig:
    """Everything a run can be configured with; the CLI maps its flags onto these fields."""

    size: int = 128
    """Side of the aligned face crop the networks see (128 on CPU; 256 works unchanged)."""
    detector: Literal["auto", "short", "full"] = "auto"
    """BlazeFace model: short range (large faces), full range (small faces), or both as needed."""
    min_face_score: float = 0.5
    rescue: bool = True
    """Look again for faces the detector misses or whose mesh it cannot place (masked, cut-off, small: faces/rescue.py).
    Off = MediaPipe's thresholds only (the refit of masked faces still runs): finding faces 5x cheaper (300 clean
    LFW photos: 47.7 -> 9.7 ms per photo; every central face still found, 13 of 33 faces beside it lost), RMFD
    photos with a masked face found 83.5 % -> 80.8 % (on a busy 2-core machine, session 8)."""
    only_largest_face: bool = False
    mask_threshold: float = 0.5
    """Visible-face probability below which a face-surface pixel counts as occluded."""
    dilate: int = DEFAULT_DILATE
    """Grow the occlusion mask by this many crop pixels so occluder edges are removed too."""
    rim_confidence: float = DEFAULT_RIM_CONFIDENCE
    """The ``dilate`` ring takes only pixels S is less than this sure are visible face (masks/occlusion.py:
    an occluder's soft rim and shadow go, clear skin beside a sharp edge stays); 1 = plain dilation.
    Off by default, measured both ways (blend, 64 faces, 1 → 0.97 → 0.9): synthetic sunglasses L1 0.0767 →
    0.0738 → 0.0736, M_O precision 0.646 → 0.699 → 0.766 at recall 0.994 → 0.994 → 0.993; mixed L1 0.0898 →
    0.0878 → 0.0906; clean real faces unchanged (do_no_harm 3.8 % / 1.9 %); but on the real masked photos
    (benchmarks/real_masks.py) S is sure of the mask's top edge, so at 0.97 and 0.9 a line of it stays
    across the nose and cheeks that the plain disk removes."""
    edge_grow: int = DEFAULT_EDGE_GROW
    """After ``dilate``, grow the occlusion mask up to this many more crop pixels, but only over pixels whose
    colour is unlike the skin beside them (``edge_contrast``, masks/occlusion.py): the occluder's soft edge,
    its shadow, a face mask's top edge; clear skin along a sharp edge stays."""
    edge_contrast: float = DEFAULT_EDGE_CONTRAST
    """CIE Lab distance (ΔE76) from the nearby skin S is sure of at which ``edge_grow`` takes a pixel."""
    outline_band: int = DEFAULT_OUTLINE_BAND
    """Within this many crop pixels of the face outline, M_O is kept only where it continues
    occlusion found deeper inside (masks/outline.py): the outline is not repainted where
    R's face overshoots S's; 0 = keep the whole ring."""
    rim_depth: float = DEFAULT_RIM_DEPTH
    """An occlusion that touches the face outline must reach this share of the crop side into the
    face (0.1 = 12.8 px at 128), else it is the neck, shadow or background where the face mesh
    overshoots the real jaw or cheek, and it is left alone (masks/outline.py); 0 = keep them.
    Mixed protocol, 64 faces, 0 → 0.1 → 0.125: M_O precision 0.592 → 0.618 → 0.635, recall
    0.932 → 0.922 → 0.888 (scarves along the jaw are shallow too: their recall 0.948 → 0.948 → 0.781);
    blend L1 0.1054 → 0.1058 → 0.1115."""
    hole_confidence: float = DEFAULT_HOLE_CONFIDENCE
    """Visible pixels that the occlusion encloses on every side (a lens inside its frame) are kept only
    where S is this sure they are face on average, else they are filled with the rest
    (masks/occlusion.py: a grey lens half shows the eye); 0 = keep every hole."""
    fill: str = "auto"
    """A fill of the registry (deocclude/fills: ``prior``, ``telea``, ``navier-stokes``, ``g``) or
    ``auto`` = the best fill by our benchmarks: ``prior`` (R's render I_R Poisson-blended into
    M_O: eyes and brows come back, colours from the hole's rim) when R is installed, else
    OpenCV Telea. Sunglasses, oracle mask: L1 0.071 vs Telea 0.105, SSIM 0.69 vs 0.48
    (benchmarks/results/eval_sunglasses.md). ``g`` = the learned G, fed I_R like the blend
    (benchmarks/results/eval_*.md compare it row by row)."""
    device: str = "auto"
    half: bool = True
    """On CUDA, run S, R and G under fp16 autocast (R's renderer stays fp32); ignored on CPU,
    which always runs fp32."""
    batch_size: int = 16
    """Faces per S / R call (faces of one photo, of several photos given to :meth:`Deoccluder.run_many`,
    or aligned crops are batched)."""
    extend: bool = True
    """Grow M_O past the face surface M_R where the occluder goes on (masks/extend.py), so
    temples, straps, hands and scarves are removed beyond the face too; False = the paper's M_O."""
    past_crop: bool = True
    """Let the occlusion go on past the aligned crop where it reaches its edge, and let a mask (anything over
    half the lower face) take its band beside and under the jaw, found by GrabCut (``mask_band``; filled
    harmonically around the restored face).

    Needs ``extend``; both run in a 1.5× working frame around the crop (masks/frame.py)."""
    mask_band: bool = True
    """Take the band of a mask (anything over half the lower face) beside and under the jaw, found by GrabCut
    (masks/frame.py); off = only what the colours carry on past the crop. Needs ``past_crop``;
    benchmarks/mask_band.py measures what it adds on real masked photos."""
    paste: PasteConfig = PasteConfig()
    max_skin_blob: float = DEFAULT_MAX_BLOB
    """Components of the raw M_O no larger than this share of M_R and ringed by clear visible
    face are dropped (masks/blobs.py: highlights, blush and moles are not occlusion); 0 = keep
    all. On by default, do no harm first: on 103 clean real faces (benchmarks/do_no_harm.py
    --lfw 50 --utk 50) faces with > 2 % changed went 37.9 % -> 35.9 %, mean changed 3.65 % ->
    3.53 %; the cost, on the synthetic mixed protocol (64 faces), small occluders left in place:
    M_O recall 0.942 -> 0.931, G's L1 0.0750 -> 0.0776."""
    remove_hair: bool = False
    """False (default): hair over the face is kept, M_O = M_R ⊙ P(other) from S's face parser
    (natural fringes and side hair are not repainted into skin). True: the paper's M_O =
    M_R ⊙ (1 − P(face)), hair removed too. With a binary (pre-parser) S both are the same."""
    glasses: bool = True
    """Treat a pair of glasses as one object (masks/glasses.py): found by its shape around both eyes and
    added to the occlusion mask whole, frame, bridge and temples (S sees real frames as 1-3 px lines the
    mask's opening erases, so they used to stay while their thicker parts went); off = pixel by pixel."""
    keep_glasses: bool = False
    """Keep glasses whole instead: frame, lenses (dark ones too) and their rim are taken out of the
    occlusion mask, the rest of the face is restored around them. Needs ``glasses``."""
    refit_masked: bool = True
    """Give masked faces the mesh refuses R's landmarks (faces/refit.py): S must see the eyes and a mask.
    On RMFD's real masked photos the mesh says "no face" on many obvious masked faces; off = mesh faces only."""
    max_background_share: float = 0.25
    """Do-no-harm gate: a face is left untouched (its manifest status says why) when more than
    this share of its M_O, or of its face surface M_R, lies on the background according to the
    person segmentation (faces/person.py): the mesh then missed the face (profiles) and a fill
    would paint a ghost face onto the wall. 1 = no gate."""
    max_hidden_share: float = 0.75
    """Do-no-harm gate: a face is left untouched when M_O covers more than this share of its face surface M_R:
    too little of the face is left to restore it from, and the fill would be R's average face. On all of RMFD
    (498 faces) the six above 0.75 were a bowed head whose crop was half background, a tilted face, two blurred
    crowd faces and two with the eyes repainted as well (none came out as the person); the highest restored
    well were 0.70 (sunglasses and a mask, glasses and a mask). Synthetic protocols: 1 % of mixed occluders
    above 0.75, none of the face masks or sunglasses. 1 = no gate."""
    max_other_face_share: float = 0.25
    """Do-no-harm gate on photos: a face is left untouched when more than this share of its M_O lies on another face
    found in the photo (the hull of its 468 landmarks, widened by :data:`OTHER_HEAD_MARGIN`): the occluder is a
    person, as in a kiss, and the fill would repaint them. LFW ``Amanda_Marsh_0001``: 52 % of the kissing man's
    M_O lay on her head, and his paste changed 19 % of her face. Of all RMFD faces and those of the first LFW
    photo of the 'A' and 'B' people, four come above 0.25 (two kisses, another person's hair over a face, a face
    behind a man's shoulder); the next is at 0.03. 1 = no gate."""

    def __post_init__(self) -> None:
        if self.size % 32 or self.size < 64:
            raise DeoccludeError(f"--size must be a multiple of 32 and at least 64, got {self.size}")
        if not 0.0 < self.mask_threshold < 1.0:
            raise DeoccludeError(f"--mask-threshold must lie in (0, 1), got {self.mask_threshold}")
        if self.fill not in fill_choices():
            raise DeoccludeError(f"--fill must be one of {', '.join(fill_choices())}, got {self.fill!r}")
        if self.batch_size < 1:
            raise DeoccludeError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.dilate < 0:
            raise DeoccludeError(f"--dilate must be >= 0, got {self.dilate}")
        if not 0.0 <= self.rim_confidence <= 1.0:
            raise DeoccludeError(f"--rim-confidence must lie in [0, 1], got {self.rim_confidence}")
        if not 0.0 <= self.hole_confidence <= 1.0:
            raise DeoccludeError(f"--hole-confidence must lie in [0, 1], got {self.hole_confidence}")
        if not 0.0 <= self.rim_depth < 0.5:
            raise DeoccludeError(f"--rim-depth must lie in [0, 0.5), got {self.rim_depth}")
        if self.keep_glasses and not self.glasses:
            raise DeoccludeError("--keep-glasses needs the glasses to be found: drop --no-glasses")
        if self.edge_grow < 0:
            raise DeoccludeError(f"--edge-grow must be >= 0, got {self.edge_grow}")
        if self.outline_band < 0:
            raise DeoccludeError(f"--outline-band must be >= 0, got {self.outline_band}")
        if not 0.0 <= self.max_skin_blob < 1.0:
            raise DeoccludeError(f"--max-skin-blob must lie in [0, 1), got {self.max_skin_blob}")
        if not 0.0 < self.max_background_share <= 1.0:
            raise DeoccludeError(f"--max-background-share must lie in (0, 1], got {self.max_background_share}")
        if not 0.0 < self.max_hidden_share <= 1.0:
            raise DeoccludeError(f"--max-hidden-share must lie in (0, 1], got {self.max_hidden_share}")
        if not 0.0 < self.max_other_face_share <= 1.0:
            raise DeoccludeError(f"--max-other-face-share must lie in (0, 1], got {self.max_other_face_share}")


@dataclass
class FaceResult:
    """One face: the crop the networks saw, every mask, the restored crop, and timings.

    Masks are N×N float32: ``face_mask`` M_F and ``face_region`` M_R have 1 = face;
    ``occlusion_mask`` M_O has 1 = occluded (replaced).
    """

    index: int
    detection: FaceDetection | None
    """None for faces given as aligned crops."""
    landmarks: np.ndarray
    aligned: AlignedFace
    face_region: np.ndarray
    landmarks_from: str = "mesh"
    """Where the 468 landmarks came from: ``mesh`` (MediaPipe), ``R refit`` (a masked face the mesh refused,
    :mod:`deocclude.faces.refit`) or ``canonical`` (an aligned crop given as such)."""
    face_mask: np.ndarray | None = None
    skin: np.ndarray | None = None
    """N×N float32: S's P(face) alone, without hair (``face_mask`` keeps hair unless ``remove_hair``): where the fill
    reads the face's colour (fills/colour.py)."""
    occlusion_mask: np.ndarray | None = None
    render: np.ndarray | None = None
    person: np.ndarray | None = None
    """N×N float32 P(person) from the selfie segmentation (None when the gate is off)."""
    other_faces: np.ndarray | None = None
    """N×N bool: where the photo's other found faces lie in this crop (the hulls of their 468 landmarks); None for
    aligned crops. The do-no-harm gate leaves a face alone whose M_O lies on them (``max_other_face_share``)."""
    coefficients: np.ndarray | None = None
    glasses: str | None = None
    """What happened to the face's glasses (masks/glasses.py): ``none found``, ``removed whole``, ``kept whole``
    (``keep_glasses``), ``kept whole: frame not traced all around`` or ``kept whole: one lens seen``
    (:func:`~deocclude.masks.glasses.lone_lens`); None when not looked for."""
    continues_in_frame: bool = False
    """M_O goes on past the crop (``past_crop``): it touches the crop's bottom or side edge, or a lower face's band
    reaches past it (``frame_band``). At paste-back the occlusion is continued into the working frame and filled."""
    frame: AlignedFace | None = None
    """The working frame around the crop (masks/frame.py), its crop at ``frame_offset``: warped when a photo's face is
    found (``past_crop``), so M_O can look past M_R and the crop; None for aligned crops."""
    frame_offset: int = 0
    frame_band: np.ndarray | None = None
    """(M, M) float32: the part of a lower face's band (:func:`~deocclude.masks.frame.lower_face_band`) that lies
    past the crop, added to the continuation at paste-back (its part inside the crop is in ``occlusion_mask``)."""
    frame_restored: np.ndarray | None = None
    """The frame with the restored crop and the continuation past it filled; None when M_O stopped inside."""
    frame_mask: np.ndarray | None = None
    """M_O in the frame (1 = replaced): the crop's M_O plus its continuation; pasted instead of the crop's."""
    restored: np.ndarray | None = None
    method: str = "faces path only"
    status: str = "ok"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def occluded_fraction(self) -> float:
        """Share of the face surface that was found occluded (0 when nothing was estimated)."""
        if self.occlusion_mask is None:
            return 0.0
        return float(self.occlusion_mask.sum() / max(self.face_region.sum(), 1.0))


@dataclass
class Result:
    photo: np.ndarray
    """The output photo (RGB uint8, same size as the input)."""
    faces: list[FaceResult]
    timings: dict[str, float] = field(default_factory=dict)
    pastes: list[tuple[tuple[int, int, int, int], np.ndarray]] = field(default_factory=list)
    """Per pasted face: its box (x0, y0, x1, y1) in the photo and the float32 weight over that box
    (:class:`~deocclude.faces.paste_back.Pasted`). Boxes, not a photo-sized plane: an (H, W) float32
    weight is 320 MB on an 80 MP photo (issue 19)."""

    @property
    def paste_weight(self) -> np.ndarray | None:
        """(H, W) float32: the weight each output pixel took from a restored face (max over faces);
        None when nothing was pasted. The photo differs from the input only where it is > 0.
        Built on demand (photo-sized: prefer :meth:`changed_mask` or :attr:`pastes`)."""
        if not self.pastes:
            return None
        weight = np.zeros(self.photo.shape[:2], np.float32)
        for (x0, y0, x1, y1), face_weight in self.pastes:
            np.maximum(weight[y0:y1, x0:x1], face_weight, out=weight[y0:y1, x0:x1])
        return weight

    def changed_mask(self) -> np.ndarray:
        """(H, W) bool, True where the photo may have changed: the support of the paste, feather included
        (one byte per pixel, built box by box)."""
        mask = np.zeros(self.photo.shape[:2], np.bool_)
        for (x0, y0, x1, y1), face_weight in self.pastes:
            mask[y0:y1, x0:x1] |= face_weight > 0
        return mask

    def occlusion_mask(self) -> np.ndarray:
        """Where the photo may have changed (H, W), 1 = replaced: exactly the support of the paste,
        feather included, so no pixel outside it differs from the input (float32 :meth:`changed_mask`)."""
        return self.changed_mask().astype(np.float32)


class Deoccluder:
    """Remove occlusions from every face of a photo: ``Deoccluder().run(photo) -> Result``.

    The stages: :attr:`finder` (photo → aligned crops), S and R (``_segmenter``,
    ``_reconstructor``, each None when its weights are missing), the mask recipe, the
    do-no-harm gate, a fill of the registry (deocclude/fills), and paste back. Per batch of
    faces everything lives in one :class:`~deocclude.face_batch.FaceBatch`.
    """

    def __init__(self, config: DeoccluderConfig = DeoccluderConfig()) -> None:
        from deocclude.device import resolve_device

        self.config = config
        self.device = str(resolve_device(config.device))
        self.person = PersonSegmenter() if config.max_background_share < 1.0 else None
        self._segmenter = _optional_stage("deocclude.segment.inference", "Segmenter", device=self.device)
        self._reconstructor = _optional_stage("deocclude.reconstruct.inference", "Reconstructor", device=self.device)
        refit = None
        if config.refit_masked and self._reconstructor is not None and hasattr(self._segmenter, "parse"):
            refit = MaskedFaceRefit(self._reconstructor, self._segmenter, config.size)
        self.finder = FaceFinder(config.size, config.detector, config.min_face_score, config.only_largest_face, refit,
                                 DetectorConfig(rescue=config.rescue))
        self.fill = self._choose_fill()

    def _choose_fill(self) -> Fill:
        """``auto`` and ``prior`` blend R's render in when R is installed; without R they fall
        back to Telea (there is no render to blend). ``g`` needs G's weights."""
        name = self.config.fill
        if name in ("auto", "prior"):
            name = "prior" if self._reconstructor is not None else "telea"
        if name == "g":
            try:
                return make_fill("g", device=self.device, half=self.uses_half)
            except DeoccludeError as exc:
                raise DeoccludeError(f"--fill g: {exc}") from None
        return make_fill(name, device=self.device)

    @property
    def can_remove_occlusions(self) -> bool:
        return self._segmenter is not None

    @property
    def uses_half(self) -> bool:
        """True when S, R and G run under fp16 autocast (CUDA with ``half``)."""
        return self.config.half and self.device.startswith("cuda")

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.uses_half:
            return contextlib.nullcontext()
        import torch

        return torch.autocast("cuda", dtype=torch.float16)

    def _synchronize(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize(self.device)

    def run(self, photo: np.ndarray) -> Result:
        """Every face of one photo: detect, align, de-occlude (batched over its faces), paste back."""
        timings: dict[str, float] = {}
        faces = self.find_faces(photo, timings)
        self.deocclude_faces(faces)
        return self.paste_faces(photo, faces, timings)

    def run_many(self, photos: list[np.ndarray]) -> list[Result]:
        """Several photos at once: their faces share S / R calls (``batch_size`` faces per call)."""
        found = []
        for photo in photos:
            timings: dict[str, float] = {}
            found.append((photo, self.find_faces(photo, timings), timings))
        self.deocclude_faces([face for _, faces, _ in found for face in faces])
        return [self.paste_faces(photo, faces, timings) for photo, faces, timings in found]

    def find_faces(self, photo: np.ndarray, timings: dict[str, float] | None = None) -> list[FaceResult]:
        """Detect, landmark and align the faces of a photo (not yet de-occluded: pass them to
        :meth:`deocclude_faces`, then :meth:`paste_faces`). Photo-level timings go into ``timings``."""
        timings = {} if timings is None else timings
        faces: list[FaceResult] = []
        for index, found in enumerate(self.finder(photo, timings)):
            face = self._new_face(index, found.aligned, found.detection, found.landmarks, {},
                                  landmarks_from=found.landmarks_from)
            if self.person is not None and self._segmenter is not None:  # the gate only guards a fill
                with timed(face.timings, "person"):
                    face.person = self.person(photo, found.aligned.matrix, self.config.size)
            if self.config.extend and self.config.past_crop:
                with timed(face.timings, "align"):
                    face.frame, face.frame_offset = working_frame(photo, found.aligned)
            faces.append(face)
        if len(faces) > 1:
            for face in faces:
                face.other_faces = _other_faces(face, faces, self.config.size)
        return faces

    def paste_faces(
        self, photo: np.ndarray, faces: list[FaceResult], timings: dict[str, float] | None = None
    ) -> Result:
        """Paste the restored faces back into ``photo``; the Result's timings add the faces' to ``timings``."""
        timings = dict(timings or {})
        output, pastes = photo.copy(), []  # one copy, pasted into face by face: never two full-size copies
        for face in faces:
            if face.restored is not None and face.occlusion_mask is not None and face.status == "ok":
                if face.continues_in_frame and face.frame_mask is None:
                    with timed(face.timings, "fill"):
                        self._continue_past_crop(photo, face)
                with timed(face.timings, "paste"):
                    kept_skin = None  # where the photo's grain is measured (PasteConfig.grain): skin the edit keeps
                    if face.skin is not None:
                        kept_skin = (face.skin > 0.5) & (face.occlusion_mask < 0.5)
                    if face.frame is not None and face.frame_restored is not None and face.frame_mask is not None:
                        if kept_skin is not None:
                            kept_skin = in_frame(kept_skin, face.frame.size, face.frame_offset)
                        pasted = paste_back_weighted(output, face.frame, face.frame_restored, face.frame_mask,
                                                     self.config.paste, inplace=True, grain_from=kept_skin)
                    else:
                        pasted = paste_back_weighted(output, face.aligned, face.restored, face.occlusion_mask,
                                                     self.config.paste, inplace=True, grain_from=kept_skin)
                    pastes.append((pasted.box, pasted.weight))
        for face in faces:
            for name, seconds in face.timings.items():
                timings[name] = timings.get(name, 0.0) + seconds
        return Result(photo=output, faces=faces, timings=timings, pastes=pastes)

    def run_aligned(self, crops: np.ndarray | list[np.ndarray]) -> list[FaceResult]:
        """De-occlude faces that are already canonical N×N crops (``--aligned``, evaluation).

        ``FaceResult.restored`` is then the whole output (see :meth:`aligned_faces`).
        """
        return self.deocclude_faces(self.aligned_faces(crops))

    def aligned_faces(self, crops: np.ndarray | list[np.ndarray]) -> list[FaceResult]:
        """Faces for canonical crops, not yet de-occluded (:meth:`deocclude_faces` or :meth:`find_occlusions` next).

        Nothing is detected: every crop is taken as one face in the canonical frame (its
        landmarks are the canonical template), resized to ``size`` when it has another side.
        """
        n = self.config.size
        template = canonical_template(n)  # the same landmarks and mesh surface for every crop: computed once
        landmarks = np.concatenate([template, np.zeros((len(template), 1), np.float32)], 1)
        region = mesh_mask(landmarks, n, n)
        faces = []
        for index, crop in enumerate(crops):
            crop = np.asarray(crop)
            if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] != crop.shape[1]:
                raise DeoccludeError(f"an aligned face must be a square RGB crop, got shape {crop.shape}")
            timings: dict[str, float] = {}
            with timed(timings, "align"):  # for a canonical crop, alignment is at most a resize
                if crop.shape[0] != n:
                    crop = cv2.resize(
                        crop, (n, n), interpolation=cv2.INTER_AREA if crop.shape[0] > n else cv2.INTER_LINEAR
                    )
                aligned = AlignedFace(
                    crop=np.ascontiguousarray(crop, dtype=np.uint8),
                    valid=np.ones((n, n), np.float32),
                    matrix=np.array([[1.0, 0, 0], [0, 1.0, 0]]),
                    landmarks=landmarks,
                )
            # No person gate here: a canonical crop has no surroundings, and the selfie model
            # on its replicated border calls much of a tight face "background" (mixed protocol,
            # 64 faces: M_O recall 0.93 -> 0.57 with the gate). The caller vouches for the face.
            faces.append(self._new_face(index, aligned, None, landmarks, timings, region.copy(), "canonical"))
        return faces

    def _new_face(self, index: int, aligned: AlignedFace, detection: FaceDetection | None, landmarks: np.ndarray,
                  timings: dict[str, float], region: np.ndarray | None = None, landmarks_from: str = "mesh"
                  ) -> FaceResult:
        if region is None:
            with timed(timings, "align"):
                region = mesh_mask(aligned.landmarks, self.config.size, self.config.size)
        return FaceResult(index=index, detection=detection, landmarks=landmarks, aligned=aligned, face_region=region,
                          landmarks_from=landmarks_from,
                          restored=aligned.crop, timings=timings)

    def deocclude_faces(self, faces: list[FaceResult]) -> list[FaceResult]:
        """S, R and the fill for aligned faces, ``batch_size`` crops per network call.

        A batch that fails marks its faces failed (they keep their pixels) and the run goes on.
        """
        return self._batched(faces, fill=True)

    def find_occlusions(self, faces: list[FaceResult]) -> list[FaceResult]:
        """S, R, M_O and the gate, no fill (``restored`` stays the crop): the evaluations then
        try every fill on the same masks (:func:`face_batch`)."""
        return self._batched(faces, fill=False)

    def fill_with_masks(self, faces: list[FaceResult], masks: list[np.ndarray]) -> list[FaceResult]:
        """Fill each face where the user's N×N crop-frame mask says (1 = hole) instead of where S found an occlusion.

        ``deocclude inpaint PHOTO --mask``: S and R still run (:meth:`find_occlusions`) so the fill gets I_R, but
        M_O becomes the given mask (binarised, only on the crop's real pixels) and the do-no-harm gate is waived:
        the user chose the hole. Nothing grows past the crop (no working frame), so :meth:`paste_faces` changes no
        pixel outside the mask. A face the mask misses keeps its pixels (its status says why).
        """
        if len(masks) != len(faces):
            raise DeoccludeError(f"{len(masks)} masks for {len(faces)} faces")
        self.find_occlusions(faces)
        for face, mask in zip(faces, masks):
            face.continues_in_frame, face.frame = False, None
            face.frame_restored = face.frame_mask = face.frame_band = None
            face.restored = face.aligned.crop
            face.occlusion_mask = ((np.asarray(mask) > 0.5) & (face.aligned.valid > 0.5)).astype(np.float32)
            if face.status.startswith("failed"):
                continue
            face.method, face.status = "user mask", "ok" if face.occlusion_mask.any() else "untouched: not in the mask"
        ok = [face for face in faces if face.status == "ok"]
        step = max(1, self.config.batch_size)
        for start in range(0, len(ok), step):
            chunk = ok[start:start + step]
            try:
                self._fill(chunk, face_batch(chunk, self.device))
            except Exception as exc:  # one batch failing must not lose the others
                for face in chunk:
                    face.status = f"failed: {type(exc).__name__}: {exc}"
                    face.restored = face.aligned.crop
        return faces

    def _batched(self, faces: list[FaceResult], fill: bool) -> list[FaceResult]:
        if self._segmenter is None:
            return faces
        step = max(1, self.config.batch_size)
        for start in range(0, len(faces), step):
            chunk = faces[start:start + step]
            try:
                batch = self._analyse(chunk)
                if fill:
                    self._fill(chunk, batch)
            except Exception as exc:  # one batch failing must not lose the others
                for face in chunk:
                    face.status = f"failed: {type(exc).__name__}: {exc}"
                    face.restored, face.occlusion_mask = face.aligned.crop, None
        return faces

    def _analyse(self, faces: list[FaceResult]) -> FaceBatch:
        """S and R in one call each, then every face's M_O and gate; the batch the fill works on."""
        crops = np.stack([face.aligned.crop for face in faces])
        share = 1.0 / len(faces)  # batched stages: each face is charged its share of the call
        start = time.perf_counter()
        with self._autocast():
            parse = getattr(self._segmenter, "parse", None)
            if parse is None:  # a binary S: P(face) only
                visible = skin = self._segmenter(crops)
            else:  # the face parser: (N, 3, H, W) P(face), P(hair), P(other)
                classes = parse(crops)
                skin = classes[:, 0]
                visible = skin if self.config.remove_hair else classes[:, 0] + classes[:, 1]
        _charge(faces, "segment", (time.perf_counter() - start) * share)
        renders = coefficients = None
        if self._reconstructor is not None:
            start = time.perf_counter()
            with self._autocast():
                x, render, surface = self._reconstructor(crops)
            self._synchronize()  # R returns device tensors: without this its CUDA time lands in later stages
            renders, coefficients = tensor_to_images(render), x.float().cpu().numpy()
            regions = (surface[:, 0].float().cpu().numpy() > 0.5).astype(np.float32)
            _charge(faces, "reconstruct", (time.perf_counter() - start) * share)
            for i, face in enumerate(faces):
                face.coefficients, face.render, face.face_region = coefficients[i], renders[i], regions[i]
            # a canonical crop's landmarks are the template's, whose eyes miss the face's by a few px: M_O's shape
            # rules (glasses found around the eyes, the brow line) look around R's own 468 points instead
            canonical = [i for i, face in enumerate(faces) if face.landmarks_from == "canonical"]
            if canonical:
                marks = self._reconstructor.landmarks(coefficients[canonical], self.config.size).astype(np.float32)
                for k, i in enumerate(canonical):
                    faces[i].aligned = replace(faces[i].aligned, landmarks=marks[k])
        for i, face in enumerate(faces):
            face.face_mask, face.skin = visible[i], skin[i]
            with timed(face.timings, "mask"):  # M_O's recipe, glasses and the mask band (GrabCut: ~40 ms a mask)
                self._find_occlusion(face)
            face.continues_in_frame = self.config.extend and self.config.past_crop and (
                bool(self._crop_exits(face).any()) or face.frame_band is not None)
            face.status = self._gate(face)
            face.method = f"S + {'R' if self._reconstructor is not None else 'mesh surface'}"
        return face_batch(faces, self.device, crops=crops, renders=renders, coefficients=coefficients)

    def _fill(self, faces: list[FaceResult], batch: FaceBatch) -> None:
        """The fill, in one call over the faces the gate let through (gated faces keep their pixels)."""
        ok = [i for i, face in enumerate(faces) if face.status == "ok"]
        if not ok:
            return
        todo = batch.select(ok) if len(ok) < len(faces) else batch
        start = time.perf_counter()
        restored = tensor_to_images(self.fill(todo))
        _charge([faces[i] for i in ok], "fill", (time.perf_counter() - start) / len(ok))
        name = self.fill.describe(todo)
        for k, i in enumerate(ok):
            faces[i].restored = restored[k]
            faces[i].method += f" + {name}"

    def _find_occlusion(self, face: FaceResult) -> np.ndarray:
        """Set ``occlusion_mask`` (M_O: the mask recipe, :meth:`_occlusion_mask`, and the mask band inside the crop)
        and ``frame_band`` from S's ``face_mask`` and R's ``face_region``: what the fill and the paste work from.
        Returns M_O."""
        face.occlusion_mask = self._occlusion_mask(face)
        self._add_lower_face_band(face)
        return face.occlusion_mask

    def _add_lower_face_band(self, face: FaceResult) -> None:
        """A lower-face occluder's band beside and under the jaw (:func:`~deocclude.masks.frame.lower_face_band`),
        found in the working frame (an aligned crop's: the crop): its part inside the crop joins M_O before the
        fill, which then takes the band's colours from around it (neck, collar) instead of from the band itself;
        its part past the crop waits in ``frame_band`` for the paste."""
        face.frame_band = None
        config = self.config
        if face.occlusion_mask is None or face.face_mask is None or not (config.mask_band and config.extend
                                                                         and config.past_crop):
            return
        # an aligned crop (--aligned, the evaluations) has no photo around it: the band is looked for in the crop
        frame, offset = (face.frame, face.frame_offset) if face.frame is not None else (face.aligned, 0)
        band = lower_face_band(frame.crop, frame.valid, face.occlusion_mask, face.face_region, face.face_mask,
                               offset, face.aligned.landmarks, self.config.dilate)
        if not band.any():
            return
        inner = (slice(offset, offset + self.config.size),) * 2
        face.occlusion_mask = np.maximum(face.occlusion_mask, band[inner] * (face.aligned.valid > 0.5))
        band[inner] = 0.0
        face.frame_band = band if band.any() else None

    def _crop_exits(self, face: FaceResult) -> np.ndarray:
        """(N, N) bool: where ``face``'s M_O leaves the crop (:func:`~deocclude.masks.frame.crop_exits`)."""
        assert face.occlusion_mask is not None
        return crop_exits(face.occlusion_mask, face.aligned.valid, brow_line(face.aligned.landmarks, self.config.size))

    def _continue_past_crop(self, photo: np.ndarray, face: FaceResult) -> None:
        """M_O's continuation past the crop in the working frame, filled (masks/frame.py): along the occluder's
        colours from the crop's edge, and a lower face's band (``frame_band``); nothing when neither goes on."""
        assert face.occlusion_mask is not None and face.restored is not None
        if face.frame is None:
            face.frame, face.frame_offset = working_frame(photo, face.aligned)
        outer = grow_past_crop(face.frame.crop, face.frame.valid, face.occlusion_mask, face.frame_offset,
                               brow_line(face.aligned.landmarks, self.config.size), self.config.dilate)
        if face.frame_band is not None:
            outer = np.maximum(outer, face.frame_band)
        refill = off_face_at_edge(face.occlusion_mask, face.face_region, self._crop_exits(face))
        if outer.any() or refill.any():
            face.frame_restored, face.frame_mask = fill_past_crop(face.frame.crop, face.restored,
                                                                  face.occlusion_mask, outer, face.frame_offset,
                                                                  face.frame.valid, refill)
            face.method += " + harmonic fill past the crop"

    def _gate(self, face: FaceResult) -> str:
        """``ok``, or why the face is left untouched (do no harm: a doubtful face keeps its pixels)."""
        if face.occlusion_mask is None:
            return "ok"
        surface, hole = face.face_region > 0.5, face.occlusion_mask > 0.5
        hidden = float((surface & hole).sum() / max(surface.sum(), 1))
        if hidden > self.config.max_hidden_share:
            return (f"untouched: {hidden:.0%} of the face surface is hidden "
                    "(too little of the face is left to restore it from)")
        if face.other_faces is not None and hole.any():
            on_others = float((hole & face.other_faces).sum() / hole.sum())
            if on_others > self.config.max_other_face_share:
                return (f"untouched: {on_others:.0%} of the occlusion mask lies on another face "
                        "(the occluder is a person: a kiss, a cheek against a cheek)")
        if face.person is None:
            return "ok"
        background = face.person < 0.5
        limit = self.config.max_background_share
        region_share = float((surface & background).sum() / max(surface.sum(), 1))
        if region_share > limit:
            return (f"untouched: {region_share:.0%} of the face surface lies on the background "
                    "(the face mesh missed the face, e.g. a profile)")
        hole_share = float((hole & background).sum() / max(hole.sum(), 1))
        if hole.sum() and hole_share > limit:
            return (f"untouched: {hole_share:.0%} of the occlusion mask lies on the background "
                    "(the face mesh missed the face, e.g. a profile)")
        return "ok"

    def _occlusion_mask(self, face: FaceResult) -> np.ndarray:
        """M_O = M_R ⊙ (1 − M_F) without skin blobs (``max_skin_blob``), opened, off the bare outline
        (``outline_band``, ``rim_depth``), extended past M_R (``extend``), grown by ``dilate`` px, its unsure
        holes filled (``hole_confidence``), never outside the real photo.

        The recipe (masks/occlusion.py) is shared with G's training holes.
        """
        region, visible, aligned = face.face_region, face.face_mask, face.aligned
        assert visible is not None
        occluded = (region > 0.5) & (visible < self.config.mask_threshold)
        occluded = drop_skin_blobs(occluded, region, visible, self.config.mask_threshold, self.config.max_skin_blob)
        glasses = (find_glasses(1.0 - visible, region, aligned.landmarks, image=aligned.crop)
                   if self.config.glasses else None)
        # kept whole: on request, or clear glasses whose frame is not traced all around (removing what S saw
        # of it leaves it in pieces); dark lenses are S's own occlusion (sunglasses: found whole by S)
        keep = glasses is not None and (self.config.keep_glasses or (glasses.clear and not glasses.traced))
        face.glasses = _glasses_verdict(glasses, keep) if self.config.glasses else None
        thin = late = None
        if glasses is not None and keep:
            occluded &= ~glasses.whole
        elif glasses is not None and glasses.clear:  # before the opening's erasing and the extension's temples
            thin = glasses.frame
        elif glasses is not None:  # dark lenses: the frame's bar after the extension, which it would stop
            late = glasses.removed_frame(aligned.crop, occluded, visible, self.config.edge_contrast)
        extend = None
        if self.config.extend:
            extend = functools.partial(_extend_past_face, aligned=aligned, region=region, visible=visible,
                                       threshold=self.config.mask_threshold)
        mask = shape_occlusion(occluded, region, aligned.valid, self.config.outline_band, self.config.dilate, extend,
                               self.config.rim_depth, visible, self.config.hole_confidence, self.config.rim_confidence,
                               aligned.crop, self.config.edge_grow, self.config.edge_contrast, thin, late)
        untouchable = None if glasses is None else glasses.untouchable(keep, self.config.dilate + self.config.edge_grow)
        if glasses is None and self.config.glasses:  # one lens of a pair S saw on one side only: kept whole
            untouchable = lone_lens(mask, aligned.crop, aligned.landmarks, visible)
            if untouchable is not None:
                face.glasses = "kept whole: one lens seen"
        return mask if untouchable is None else mask * ~untouchable


OTHER_HEAD_MARGIN = 0.2
"""How far the other faces' landmark hulls are widened about their centre (a fifth: their hair and the sides of the
head, which occlude a face as they do). LFW ``Alberta_Lee_0001``: her hair over his face, 10 % of his M_O on her bare
hull, 28 % on the widened one; the highest other face on RMFD goes 0.085 → 0.27 (a face behind a man's shoulder,
left alone now too), every other RMFD face stays at or below 0.03."""


def _other_faces(face: FaceResult, faces: list[FaceResult], size: int) -> np.ndarray:
    """(size, size) bool: the other faces of the photo in ``face``'s crop, each the convex hull of its landmarks
    widened by :data:`OTHER_HEAD_MARGIN` about its centre."""
    covered = np.zeros((size, size), np.uint8)
    for other in faces:
        if other is not face:
            points = warp_points(face.aligned.matrix, np.asarray(other.landmarks, np.float64)[:, :2])
            centre = points.mean(axis=0)
            head = centre + (points - centre) * (1.0 + OTHER_HEAD_MARGIN)
            cv2.fillConvexPoly(covered, cv2.convexHull(head.astype(np.float32)).astype(np.int32), 1)
    return covered > 0


def _glasses_verdict(glasses: Glasses | None, kept: bool) -> str:
    """What happened to a face's glasses, for the manifest."""
    if glasses is None:
        return "none found"
    if not kept:
        return "removed whole"
    return "kept whole" if glasses.traced else "kept whole: frame not traced all around"


def _extend_past_face(mask: np.ndarray, aligned: AlignedFace, region: np.ndarray, visible: np.ndarray,
                      threshold: float) -> np.ndarray:
    return extend_occlusion(aligned.crop, mask, region, visible, aligned.valid, aligned.landmarks,
                            visible_threshold=threshold)


def _charge(faces: list[FaceResult], stage: str, seconds: float) -> None:
    for face in faces:
        face.timings[stage] = face.timings.get(stage, 0.0) + seconds


def _optional_stage(module: str, factory: str, **kwargs: object):  # noqa: ANN202 - a loaded model or None
    """Load a learned stage, or None when its module or bundled weights are missing."""
    import importlib

    try:
        return getattr(importlib.import_module(module), factory)(**kwargs)
    except (ImportError, FileNotFoundError):
        return None


def face_batch(
    faces: list[FaceResult],
    device: str = "cpu",
    crops: np.ndarray | None = None,
    renders: np.ndarray | None = None,
    coefficients: np.ndarray | None = None,
) -> FaceBatch:
    """The :class:`FaceBatch` of de-occlusion results (M_O zero where a face failed).

    ``crops`` / ``renders`` / ``coefficients`` stacked already (the pipeline's own batch) are taken as
    they are; else they are stacked from the faces (None unless every face has one).
    """
    n = faces[0].aligned.crop.shape[0]

    def stacked(name: str) -> np.ndarray | None:
        values = [getattr(face, name) for face in faces]
        return None if any(v is None for v in values) else np.stack(values)

    occlusion = np.stack([f.occlusion_mask if f.occlusion_mask is not None else np.zeros((n, n), np.float32)
                          for f in faces]).astype(np.float32)
    return FaceBatch(
        crops=crops if crops is not None else np.stack([f.aligned.crop for f in faces]),
        region=np.stack([f.face_region for f in faces]),
        valid=np.stack([f.aligned.valid for f in faces]),
        visible=stacked("face_mask"),
        skin=stacked("skin"),
        occlusion=occlusion,
        render=renders if renders is not None else stacked("render"),
        coefficients=coefficients if coefficients is not None else stacked("coefficients"),
        device=device,
    )
