"""Are occluded faces found? Detection rate of ``FaceDetector`` + ``FaceMesh`` (issue 15, item 6).

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/detect_occluded.py \
        [--variants before,rescue,after] [--rmfd N] [--utk N] [--utk-kinds mask,...] [--lfw N] [--wild N] \
        [--grids out/detect_grids] [--merge]

(``--merge`` keeps the sets a run skips from the results already written: the whole benchmark in
shorter runs, e.g. ``--utk 0``, then ``--rmfd 0 --wild 0 --lfw 0 --merge``.)

A face counts as *found* when the detector returns it AND the 468-point mesh on it is
present (``FaceLandmarks.present``), or, in the ``refit`` variant, when R's refit of a detection
the mesh refused is kept (:mod:`deocclude.faces.refit`): exactly what ``deocclude run`` keeps
(``FaceDetector(model="auto", min_score=0.5)`` as in ``DeoccluderConfig``, ``refit_masked``).

- ``rmfd``: every photo of ``real_occluded/rmfd`` (real face masks, no ground truth): share of
  photos with at least one found face, and faces found in all.
- ``utk``: UTKFace ``test`` crops (200×200, as shipped) with a synthetic face mask (the
  synthesizer's ``mask`` category: MaskTheFace surgical / KN95 / cloth templates fitted by
  homography, or a procedural cloth mask) and with the sunglasses protocol's sunglasses, drawn by
  :class:`deocclude.evaluate.occlude_photos.Occluder` (held-out occluders, seeded by face index);
  the clean crop as a control. Each crop is padded into a 520×520 canvas (a blurred mirror of
  itself around it) so that the face fills about 40 % of the photo's side, as in a portrait.
  Found = a found face whose box holds the true nose tip.
- ``wild``: the photos of ``wild/`` (groups included): found faces per photo.
- ``lfw``: clean LFW photos (the first photo of each person, sorted by name): found faces
  other than the central one are *extra faces* (false faces, or real background faces:
  the grid shows them).

``--variants`` names :data:`VARIANTS` (detector settings) measured side by side. For the rmfd
photos and UTKFace masks a variant misses, the furthest stage any rescue candidate reached
(:data:`deocclude.faces.rescue.STAGES`, or "no box" when the detectors gave none of
``rescue_min_face`` px) says where the face was lost. Writes
``benchmarks/results/detect_occluded.json`` / ``.md`` (command, commit) and, with ``--grids``,
PNG grids of missed / extra faces and of the rmfd faces each variant finds that the one before it
did not, cropped with their mesh (outside the repository: the data may not be shipped).
"""

from __future__ import annotations

import argparse
import ast
import csv
import dataclasses
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from deocclude.faces.detect import DetectorConfig, FaceDetection, FaceDetector, iou
from deocclude.faces.find import refitted
from deocclude.faces.landmarks import FaceMesh
from deocclude.faces.rescue import STAGES
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR, data_root

RESULTS = REPO_DIR / "benchmarks" / "results"
SETS = ("rmfd", "utk", "wild", "lfw")
CANVAS = 520
NOSE_TIP = 1  # MediaPipe mesh index
LFW_CENTRE_TOL = 45.0  # px from (125, 125): farther found faces are "extra"


REFIT = ("refit", "gated")
"""Variants that add R's refit of mesh-refused masked faces (faces/refit.py) to the detector's config."""


def _variants() -> dict[str, DetectorConfig]:
    fields = DetectorConfig.__dataclass_fields__
    if "rescue_below" in fields:  # before: no rescue; rescue: the mesh alone vouches; after: + second detector;
        # refit: + R's landmarks for masked faces the mesh refuses; gated: + no rescue around a portrait's face
        every = DetectorConfig(rescue_below=1.0)  # the rescue in every photo, as before session 8
        return {"before": DetectorConfig(rescue=False), "rescue": replace(every, rescue_second_opinion=False),
                "after": every, "refit": every, "gated": DetectorConfig()}
    if "rescue_second_opinion" in fields:
        return {"before": DetectorConfig(rescue=False), "rescue": DetectorConfig(rescue_second_opinion=False),
                "after": DetectorConfig()}
    if "rescue" in fields:
        return {"before": DetectorConfig(rescue=False), "after": DetectorConfig()}
    return {"before": DetectorConfig()}  # the commit before the rescue existed: today's detector is "before"


VARIANTS = _variants()


READING = "## Reading"
NO_BOX = "no box"
UNTRACED = "not traced (no rescue)"


class Refitted(NamedTuple):
    """A face the mesh refused that R's refit kept (faces/refit.py), shaped like a mesh face for the grids."""

    detection: FaceDetection
    points: np.ndarray
    presence: float


class Probe:
    """One detector variant + the mesh (+ R's refit of masked faces the mesh refuses, as ``deocclude run``
    does by default); ``(photo) -> (found faces, seconds)``; ``trace`` holds the rescue's (candidate,
    stage) pairs of the last photo."""

    def __init__(self, config: DetectorConfig, refit: bool = False) -> None:
        self.detector = FaceDetector(model="auto", min_score=0.5, config=config)
        self.mesh = FaceMesh()
        self.refit = None
        if refit:
            from deocclude.faces.refit import MaskedFaceRefit
            from deocclude.reconstruct.inference import Reconstructor
            from deocclude.segment.inference import Segmenter

            self.refit = MaskedFaceRefit(Reconstructor(), Segmenter())

    def __call__(self, photo: np.ndarray) -> tuple[list, float]:
        self.detector.trace = []
        start = time.perf_counter()
        dets = self.detector(photo)
        meshes = self.mesh(photo, dets)
        faces: list = [m for m in meshes if m.present]
        if self.refit is not None:
            refused = [m.detection for m in meshes if not m.present]
            faces += [Refitted(d, fit.points, float("nan"))
                      for d, fit in refitted(photo, refused, [f.detection.box for f in faces], self.refit)]
        return faces, time.perf_counter() - start

    def lost(self, point: np.ndarray | None = None) -> str:
        """Where the last photo's face was lost: the furthest stage of a rescue candidate (whose box holds
        ``point`` when given), or :data:`NO_BOX`; :data:`UNTRACED` for a detector without the rescue."""
        if not self.detector.config.rescue:
            return UNTRACED
        stages = [stage for cand, stage in self.detector.trace or []
                  if point is None or (cand.x0 <= point[0] <= cand.x1 and cand.y0 <= point[1] <= cand.y1)]
        return max(stages, key=STAGES.index, default=NO_BOX)


def pad_canvas(crop: np.ndarray, background: np.ndarray, size: int = CANVAS) -> tuple[np.ndarray, tuple[int, int]]:
    """The crop centred on a ``size`` canvas filled with a strongly blurred mirror of the
    clean crop ``background`` (so the occluder's colour does not spread around it)."""
    h, w = crop.shape[:2]
    top, left = (size - h) // 2, (size - w) // 2
    big = cv2.copyMakeBorder(background, top, size - h - top, left, size - w - left, cv2.BORDER_REFLECT_101)
    big = cv2.GaussianBlur(big, (0, 0), 25)
    big[top:top + h, left:left + w] = crop
    return big, (left, top)


def _contains(face, point: np.ndarray) -> bool:
    d = face.detection
    return bool(d.x0 <= point[0] <= d.x1 and d.y0 <= point[1] <= d.y1)


def utk_cases(root: Path, limit: int, kinds: tuple[str, ...] = ("clean", "mask", "sunglasses")):
    """(name, kind, canvas photo, nose tip in canvas px) for UTKFace test crops."""
    from deocclude.evaluate.occlude_photos import Occluder

    utk = root / "faces" / "utkface"
    with open(utk / "index.csv", newline="") as handle:
        names = [r["file"] for r in csv.DictReader(handle) if r["split"] == "test"][:limit]
    lm = np.load(utk / "landmarks.npz")
    pos = {n: i for i, n in enumerate(lm["names"].tolist())}
    occluder = Occluder()
    for i, name in enumerate(names):
        crop = read_image(utk / "images" / name)
        points = np.asarray(lm["points"][pos[name]], np.float32)
        for kind in kinds:
            img = crop if kind == "clean" else occluder(crop, points, kind, i)[0]
            photo, (dx, dy) = pad_canvas(img, crop)
            yield name, kind, photo, points[NOSE_TIP, :2] + (dx, dy)


def run_utk(probes: dict, root: Path, limit: int, misses: dict, extras: dict,
            kinds: tuple[str, ...] = ("clean", "mask", "sunglasses")) -> dict:
    stats = {v: {k: [0, 0] for k in kinds} for v in probes}
    lost: dict = {v: {} for v in probes}
    false = {v: {k: 0 for k in kinds} for v in probes}
    times: dict = {v: {k: [] for k in kinds} for v in probes}
    for name, kind, photo, nose in utk_cases(root, limit, kinds):
        for v, probe in probes.items():
            faces, dt = probe(photo)
            times[v][kind].append(dt)
            ok = any(_contains(f, nose) for f in faces)
            n_false = sum(not _contains(f, nose) for f in faces)
            false[v][kind] += n_false
            if n_false:
                extras[v].append((f"utk {kind} {name[:14]} +{n_false}", photo, faces))
            stats[v][kind][0] += ok
            stats[v][kind][1] += 1
            if not ok:
                misses[v].append((f"utk {kind} {name[:18]}", photo, faces))
                stage = lost[v].setdefault(kind, {})
                where = probe.lost(nose)
                stage[where] = stage.get(where, 0) + 1
    return {v: {"rates": {k: {"found": a, "n": n, "rate": round(a / max(n, 1), 4), "false_faces": int(false[v][k]),
                              "ms_per_photo": round(1000 * float(np.mean(times[v][k])), 1)} for k, (a, n) in s.items()},
                "lost": lost[v]}
            for v, s in stats.items()}


def merge(old: dict, new: dict) -> dict:
    """``new`` results with the sets (UTKFace: the kinds) it did not measure taken from ``old``, when both
    measured the same variants with the same configs (``--merge``: one benchmark in several shorter runs)."""
    if (old.get("variants"), old.get("configs")) != (new["variants"], new["configs"]):
        raise SystemExit("--merge: the results file measured other variants or configs; run without --merge")
    out = {**{k: v for k, v in old.items() if k in SETS}, **new}
    if "utk" in old and "utk" in new:
        out["utk"] = {v: {part: {**old["utk"][v][part], **new["utk"][v][part]} for part in ("rates", "lost")}
                      for v in new["variants"]}
    out["merged"] = sorted(set(old.get("merged", [old["date"]])) | {new["date"]})
    out["commands"] = old.get("commands", []) + new["commands"]
    return out


def run_rmfd(probes: dict, root: Path, limit: int | None, misses: dict, gained: dict) -> dict:
    folder = root / "real_occluded" / "rmfd"
    with open(folder / "index.csv", newline="") as handle:
        files = [r["file"] for r in csv.DictReader(handle)][:limit]
    out = {v: {"photos": 0, "with_face": 0, "faces": 0, "missed": [], "lost": {}, "t": []} for v in probes}
    for f in files:
        photo = read_image(folder / "images" / f)
        previous: list | None = None
        for v, probe in probes.items():
            faces, dt = probe(photo)
            o = out[v]
            o["photos"] += 1
            o["with_face"] += bool(faces)
            o["faces"] += len(faces)
            o["t"].append(dt)
            if previous is not None:
                gained[v] += [(f"{f} p{m.presence:.2f}", photo, m) for m in new_faces(faces, previous)]
            previous = faces
            if not faces:
                o["missed"].append(f)
                where = probe.lost()
                o["lost"][where] = o["lost"].get(where, 0) + 1
                misses[v].append((f"rmfd {f}", photo, faces))
    for o in out.values():
        o["rate"] = round(o["with_face"] / max(o["photos"], 1), 4)
        o["ms_per_photo"] = round(1000 * float(np.mean(o.pop("t"))), 1)
    return out


def run_wild(probes: dict, root: Path, limit: int | None, shots: dict) -> dict:
    folder = root / "wild"
    with open(folder / "index.csv", newline="") as handle:
        files = [r["file"] for r in csv.DictReader(handle)][:limit]
    out = {v: {"per_photo": {}, "t": []} for v in probes}
    for f in files:
        photo = read_image(folder / f)
        for v, probe in probes.items():
            faces, dt = probe(photo)
            out[v]["per_photo"][f] = len(faces)
            out[v]["t"].append(dt)
            shots[v].append((f"wild {f} ({len(faces)})", photo, faces))
    for o in out.values():
        o["faces"] = int(sum(o["per_photo"].values()))
        o["ms_per_photo"] = round(1000 * float(np.mean(o.pop("t"))), 1)
    return out


def run_lfw(probes: dict, root: Path, limit: int, extras: dict) -> dict:
    lfw = root / "faces" / "lfw" / "images"
    files = [min(p.iterdir()) for p in sorted(q for q in lfw.iterdir() if q.is_dir())[:limit]]
    out = {v: {"photos": 0, "central_found": 0, "extra_faces": 0, "extra_photos": [], "t": []} for v in probes}
    for path in files:
        photo = read_image(path)
        h, w = photo.shape[:2]
        for v, probe in probes.items():
            faces, dt = probe(photo)
            o = out[v]
            o["photos"] += 1
            o["t"].append(dt)
            centres = [((f.detection.x0 + f.detection.x1) / 2, (f.detection.y0 + f.detection.y1) / 2) for f in faces]
            central = [np.hypot(cx - w / 2, cy - h / 2) <= LFW_CENTRE_TOL for cx, cy in centres]
            o["central_found"] += bool(any(central))
            n_extra = int(len(faces) - min(sum(central), 1))
            if n_extra:
                o["extra_faces"] += n_extra
                o["extra_photos"].append(f"{path.parent.name}/{path.name}")
                extras[v].append((f"lfw {path.name[:20]} +{n_extra}", photo, faces))
    for o in out.values():
        o["ms_per_photo"] = round(1000 * float(np.mean(o.pop("t"))), 1)
    return out


def new_faces(faces: list, previous: list, threshold: float = 0.3) -> list:
    """The faces that overlap none of ``previous`` by IoU ``threshold`` or more."""
    if not previous:
        return list(faces)
    boxes = np.stack([m.detection.box for m in previous]).astype(np.float64)
    return [m for m in faces if iou(m.detection.box.astype(np.float64), boxes).max() < threshold]


def crop_grid(items: list, path: Path, cell: int = 160, cols: int = 8) -> None:
    """(label, photo, face) as crops of 1.8 × the face's box with all 468 mesh points (red) on them."""
    if not items:
        return
    rows = (len(items) + cols - 1) // cols
    sheet = np.full((rows * (cell + 14), cols * cell, 3), 255, np.uint8)
    for k, (label, photo, face) in enumerate(items):
        d = face.detection
        side = 1.8 * max(d.width, d.height)
        scale = cell / side
        left, top = (d.x0 + d.x1 - side) / 2, (d.y0 + d.y1 - side) / 2
        matrix = np.array([[scale, 0.0, -left * scale], [0.0, scale, -top * scale]])
        crop = cv2.warpAffine(photo, matrix, (cell, cell), flags=cv2.INTER_LINEAR)
        for p in face.points[:, :2]:
            q = (p - (left, top)) * scale
            cv2.circle(crop, (int(q[0]), int(q[1])), 1, (255, 0, 0), -1)
        r, c = divmod(k, cols)
        y, x = r * (cell + 14) + 14, c * cell
        sheet[y:y + cell, x:x + cell] = crop
        cv2.putText(sheet, label[:30], (x + 2, y - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def grid(items: list, path: Path, cell: int = 200, cols: int = 8, limit: int = 64) -> None:
    """Thumbnails with found faces' boxes (green) and mesh outlines; label on top."""
    items = items[:limit]
    if not items:
        return
    rows = (len(items) + cols - 1) // cols
    sheet = np.full((rows * (cell + 16), cols * cell, 3), 255, np.uint8)
    for k, (label, photo, faces) in enumerate(items):
        img = photo.copy()
        thick = max(1, round(max(img.shape[:2]) / 250))
        for f in faces:
            d = f.detection
            cv2.rectangle(img, (int(d.x0), int(d.y0)), (int(d.x1), int(d.y1)), (0, 255, 0), thick)
            for p in f.points[::8, :2]:
                cv2.circle(img, (int(p[0]), int(p[1])), thick, (255, 0, 0), -1)
        s = cell / max(img.shape[:2])
        img = cv2.resize(
            img, (max(1, int(img.shape[1] * s)), max(1, int(img.shape[0] * s))), interpolation=cv2.INTER_AREA
        )
        r, c = divmod(k, cols)
        y, x = r * (cell + 16) + 16, c * cell
        sheet[y:y + img.shape[0], x:x + img.shape[1]] = img
        cv2.putText(sheet, label[:32], (x + 2, y - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def commit() -> str:
    try:
        sha = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR, text=True).strip()
        dirty = subprocess.call(["git", "diff", "--quiet", "HEAD", "--", "src"], cwd=REPO_DIR)
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def markdown(res: dict, command: str) -> str:
    vs = res["variants"]
    lines = ["# Occluded faces found (issue 15, item 6)", "",
             f"`{command}` at commit `{res['commit']}` ({res['date']}, {res['machine']})"
             + (f"; sets merged from runs at {', '.join(res['merged'])}" if "merged" in res else "") + ".", "",
             "Found = detected by `FaceDetector(model=\"auto\", min_score=0.5)` AND the 468-point mesh present, "
             "or (variants " + ", ".join(f"`{v}`" for v in REFIT) + ") R's refit of a detection the mesh refused "
             "kept (`deocclude/faces/refit.py`: S sees the eyes and a mask); what `deocclude run` keeps. Variants: "
             + ", ".join(f"`{v}` = `{res['configs'][v]}`" + (" + refit" if v in REFIT else "") for v in vs) + ".",
             "", "| set | " + " | ".join(vs) + " |", "|---|" + "---|" * len(vs)]
    if "rmfd" in res:
        r = res["rmfd"]
        lines.append(f"| rmfd: photos with a found face (n={r[vs[0]]['photos']}) | "
                     + " | ".join(f"{r[v]['rate']:.1%} ({r[v]['with_face']})" for v in vs) + " |")
        lines.append("| rmfd: faces found in all | " + " | ".join(str(r[v]["faces"]) for v in vs) + " |")
    if "utk" in res:
        u = res["utk"]
        for kind in [k for k in ("mask", "sunglasses", "clean") if k in u[vs[0]]["rates"]]:
            n = u[vs[0]]["rates"][kind]["n"]
            lines.append(f"| UTKFace test, {kind} (n={n}, padded to {CANVAS}²) | "
                         + " | ".join(f"{u[v]['rates'][kind]['rate']:.1%}" for v in vs) + " |")
        lines.append("| UTKFace canvases: found faces without the true nose tip (false) | "
                     + " | ".join(str(sum(r["false_faces"] for r in u[v]["rates"].values())) for v in vs) + " |")
    if "wild" in res:
        w = res["wild"]
        lines.append(f"| wild: faces found in {len(w[vs[0]]['per_photo'])} photos | "
                     + " | ".join(str(w[v]["faces"]) for v in vs) + " |")
    if "lfw" in res:
        f = res["lfw"]
        lines.append(f"| LFW clean (n={f[vs[0]]['photos']}): central face found | "
                     + " | ".join(f"{f[v]['central_found']}" for v in vs) + " |")
        lines.append("| LFW clean: extra faces (false or background) | "
                     + " | ".join(str(f[v]["extra_faces"]) for v in vs) + " |")
    lines += ["", "Latency (detector + mesh, ms per photo, this machine, 1 thread):", "",
              "| set | " + " | ".join(vs) + " |", "|---|" + "---|" * len(vs)]
    for key in SETS:
        if key == "utk" and key in res:
            for kind in res[key][vs[0]]["rates"]:
                ms = (str(res[key][v]["rates"][kind]["ms_per_photo"]) for v in vs)
                lines.append(f"| utk {kind} | " + " | ".join(ms) + " |")
        elif key in res:
            lines.append(f"| {key} | " + " | ".join(str(res[key][v]["ms_per_photo"]) for v in vs) + " |")
    if "rmfd" in res or "utk" in res:
        lines += ["", "Where the misses were lost (the furthest stage a rescue candidate reached; rmfd: every photo "
                  "without a found face; UTKFace: candidates whose box holds the true nose tip):", "",
                  "| set | stage | " + " | ".join(vs) + " |", "|---|---|" + "---|" * len(vs)]
        tables = []
        if "rmfd" in res:
            tables.append(("rmfd photos", {v: res["rmfd"][v]["lost"] for v in vs}))
        if "utk" in res:
            for kind in [k for k in ("mask", "sunglasses", "clean") if k in res["utk"][vs[0]]["rates"]]:
                tables.append((f"UTKFace {kind}", {v: res["utk"][v]["lost"].get(kind, {}) for v in vs}))
        for name, lost in tables:
            for stage in [UNTRACED, NO_BOX, *STAGES]:
                if any(lost[v].get(stage) for v in vs):
                    lines.append(f"| {name} | {stage} | " + " | ".join(str(lost[v].get(stage, 0)) for v in vs) + " |")
    if "wild" in res and len(vs) > 1:
        w = res["wild"]
        diff = [f for f in w[vs[0]]["per_photo"] if len({w[v]["per_photo"][f] for v in vs}) > 1]
        lines += ["", "Wild photos whose face count differs: "
                  + (", ".join(f"`{f}` " + "→".join(str(w[v]["per_photo"][f]) for v in vs) for f in diff) or "none")]
    if "lfw" in res:
        lines += ["", "LFW photos with extra faces: " + "; ".join(
            f"{v}: " + (", ".join(res["lfw"][v]["extra_photos"]) or "none") for v in vs)]
    if "rmfd" in res:
        lines += ["", "rmfd photos with no found face: " + "; ".join(
            f"{v} ({len(res['rmfd'][v]['missed'])}): " + ", ".join(res["rmfd"][v]["missed"]) for v in vs)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--rmfd", type=int, default=None, help="first N rmfd photos (default all; 0 skips)")
    parser.add_argument("--utk", type=int, default=300, help="first N UTKFace test crops (0 skips)")
    parser.add_argument("--utk-kinds", default="clean,mask,sunglasses", help="which UTKFace sets")
    parser.add_argument("--wild", type=int, default=None, help="first N wild photos (default all; 0 skips)")
    parser.add_argument("--lfw", type=int, default=300, help="first N LFW people (0 skips)")
    parser.add_argument("--try-config", action="append", default=[], metavar="NAME:FIELD=VALUE;...",
                        help="an extra variant: DetectorConfig() with these fields changed")
    parser.add_argument("--grids", type=Path, default=None, help="folder for PNG grids (outside the repository)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--merge", action="store_true",
                        help="keep the sets (UTKFace kinds) this run skips from the results file already there")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    root = data_root()
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    for spec in args.try_config:  # name:field=value;field=value (values as Python literals)
        name, _, fields = spec.partition(":")
        changes = {k: ast.literal_eval(v) for k, v in (f.split("=", 1) for f in fields.split(";") if f)}
        VARIANTS[name] = dataclasses.replace(DetectorConfig(), **changes)
        names.append(name)
    probes = {v: Probe(VARIANTS[v], refit=v in REFIT) for v in names}
    res: dict = {"commit": commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "machine": f"{__import__('os').cpu_count()} CPU cores", "variants": names,
                 "configs": {v: repr(VARIANTS[v]) for v in names}}
    misses: dict = {v: [] for v in names}
    gained: dict = {v: [] for v in names[1:]}
    shots: dict = {v: [] for v in names}
    extras: dict = {v: [] for v in names}
    if args.rmfd != 0:
        res["rmfd"] = run_rmfd(probes, root, args.rmfd, misses, gained)
        print("rmfd", {v: (res["rmfd"][v]["rate"], res["rmfd"][v]["faces"]) for v in names}, flush=True)
    if args.utk:
        res["utk"] = run_utk(probes, root, args.utk, misses, extras, tuple(args.utk_kinds.split(",")))
        print("utk", {v: {k: r["rate"] for k, r in res["utk"][v]["rates"].items()} for v in names}, flush=True)
    if args.wild != 0:
        res["wild"] = run_wild(probes, root, args.wild, shots)
        print("wild", {v: res["wild"][v]["faces"] for v in names}, flush=True)
    if args.lfw:
        res["lfw"] = run_lfw(probes, root, args.lfw, extras)
        print("lfw", {v: (res["lfw"][v]["central_found"], res["lfw"][v]["extra_faces"]) for v in names}, flush=True)
    res["commands"] = ["python benchmarks/detect_occluded.py " + " ".join(sys.argv[1:])]
    if args.merge and (args.out / "detect_occluded.json").is_file():
        res = merge(json.loads((args.out / "detect_occluded.json").read_text()), res)
    command = "`; `".join(res["commands"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "detect_occluded.json").write_text(json.dumps(res, indent=1))
    reading = ""  # the hand-written section on the grids stays (rewrite it when the numbers change)
    if (args.out / "detect_occluded.md").is_file():
        text = (args.out / "detect_occluded.md").read_text()
        reading = text[text.index(READING):] if READING in text else ""
    (args.out / "detect_occluded.md").write_text(markdown(res, command) + ("\n" + reading if reading else ""))
    print(markdown(res, command))
    if args.grids:
        for v in names:
            for source in ("rmfd", "utk"):
                grid([m for m in misses[v] if m[0].startswith(source)], args.grids / f"missed_{source}_{v}.png")
            grid(extras[v], args.grids / f"extra_{v}.png")
            grid(shots[v], args.grids / f"wild_{v}.png", cell=300, cols=6, limit=90)
            if v in gained:
                crop_grid(gained[v], args.grids / f"gained_rmfd_{v}.png")


if __name__ == "__main__":
    main()
