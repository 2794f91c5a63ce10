"""LFW verification when the second photo of every pair is occluded (``deocclude eval --protocol lfw``).

Every photo of the chosen folds goes through our faces path once (MediaPipe detection of
the face nearest the photo centre, 468 landmarks, canonical N×N crop; cached under
``$DEOCCLUDE_CACHE``). Per occlusion type (sunglasses, face mask, hand, mixed) the second
photo of every pair is occluded in the crop with held-out synthetic occluders (seeded per
photo), then restored by each method of :mod:`deocclude.evaluate.occlude_photos`. A pair's
score is the cosine of the two dlib-ResNet descriptors; accuracy follows the LFW protocol:
per fold, the threshold that maximises accuracy on the other folds, mean ± std over folds.
"""

from __future__ import annotations

import argparse
import hashlib
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.evaluate.embeddings import IDENTITY_NETWORKS, NETWORK_TITLES, Embedder, cosine, network_key
from deocclude.evaluate.figures import example_rows, image_grid, markdown_table, mask_table
from deocclude.evaluate.metrics import FLOORS, black_out
from deocclude.evaluate.occlude_photos import (
    METHODS,
    OURS_PRIOR,
    Occluder,
    Restorer,
    add_common_options,
    add_option,
    chunks,
    mask_scores,
    oracle_hole,
    parse_types,
    progress,
    require_folder,
    run_options,
)

LFW_TYPES = ("sunglasses", "mask", "hand", "mixed")
CLEAN = "clean"


# ---------------------------------------------------------------------------- protocol arithmetic
@dataclass(frozen=True)
class Pair:
    fold: int  # 1-based, as in pairs.txt
    first: str  # image path relative to images/
    second: str
    same: bool


def read_pairs(root: Path) -> list[Pair]:
    """The pairs of ``pairs.txt`` (header ``folds per_fold``; per fold ``per`` same then ``per`` different lines)."""
    path = root / "pairs.txt"
    require_folder(path, "LFW pairs file")
    lines = [line.split() for line in path.read_text().splitlines()]
    try:
        folds, per = int(lines[0][0]), int(lines[0][1])
    except (IndexError, ValueError) as exc:
        raise DeoccludeError(f"{path}: the first line must be '<folds> <pairs per half-fold>'") from exc
    def image(name: str, number: str) -> str:
        return f"{name}/{name}_{int(number):04d}.jpg"
    pairs = []
    for k, parts in enumerate(p for p in lines[1:] if p):
        fold = k // (2 * per) + 1
        if len(parts) == 3:
            pairs.append(Pair(fold, image(parts[0], parts[1]), image(parts[0], parts[2]), True))
        elif len(parts) == 4:
            pairs.append(Pair(fold, image(parts[0], parts[1]), image(parts[2], parts[3]), False))
        else:
            raise DeoccludeError(f"{path}: line {k + 2} is neither 'name i j' nor 'name1 i name2 j'")
    if len(pairs) != folds * 2 * per:
        raise DeoccludeError(f"{path}: expected {folds * 2 * per} pairs, found {len(pairs)}")
    return pairs


def best_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The threshold t (same person when score >= t) with the highest accuracy on these pairs, and that accuracy.

    Candidates are the scores themselves and one above the maximum; ties go to the lowest t.
    """
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    candidates = np.unique(np.append(scores, scores.max() + 1e-6))
    # pairs with score >= t: len - searchsorted(left); same pairs accepted + different pairs rejected
    same_sorted, diff_sorted = np.sort(scores[same]), np.sort(scores[~same])
    accepted_same = len(same_sorted) - np.searchsorted(same_sorted, candidates, side="left")
    rejected_diff = np.searchsorted(diff_sorted, candidates, side="left")
    accuracy = (accepted_same + rejected_diff) / max(len(scores), 1)
    best = int(np.argmax(accuracy))
    return float(candidates[best]), float(accuracy[best])


def verification_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray,
                          fixed_thresholds: dict[int, float] | None = None) -> dict:
    """LFW-style accuracy: each fold is scored with the best threshold of the other folds.

    With one fold only, the threshold is chosen on that fold itself (optimistic; flagged).
    ``fixed_thresholds`` (fold → t) scores each fold with a given threshold instead, e.g.
    the one chosen on clean pairs of the other folds (what a deployed verifier would use).
    """
    scores, same, folds = np.asarray(scores, np.float64), np.asarray(same, bool), np.asarray(folds)
    accuracies, thresholds = [], []
    names = np.unique(folds)
    for k in names:
        test = folds == k
        train = ~test if len(names) > 1 else test
        if fixed_thresholds is not None:
            t = fixed_thresholds[int(k)]
        else:
            t, _ = best_threshold(scores[train], same[train])
        accuracies.append(float(((scores[test] >= t) == same[test]).mean()))
        thresholds.append(float(t))
    out = {"accuracy_mean": float(np.mean(accuracies)), "accuracy_std": float(np.std(accuracies)),
           "per_fold": dict(zip((int(k) for k in names), accuracies)),
           "thresholds": dict(zip((int(k) for k in names), thresholds))}
    if len(names) == 1:
        out["note"] = "one fold only: threshold chosen on the test pairs themselves (optimistic)"
    return out


def limit_pairs(pairs: list[Pair], limit: int | None) -> list[Pair]:
    """The first ``limit`` pairs taken round-robin over (fold, same / different), so a small limit stays balanced."""
    if limit is None:
        return pairs
    seen: dict[tuple[int, bool], int] = {}
    ranked = []
    for p in pairs:
        rank = seen[(p.fold, p.same)] = seen.get((p.fold, p.same), -1) + 1
        ranked.append((rank, p.fold, not p.same, p))
    return [r[-1] for r in sorted(ranked, key=lambda r: r[:3])][:max(limit, 0)]


# ---------------------------------------------------------------------------- aligned crops (cached)
def aligned_lfw_crops(files: list[str], root: Path, size: int = 128, show: bool = True) -> dict[str, np.ndarray]:
    """Canonical crops, crop-frame landmarks and a missed flag for LFW images, via our faces path.

    The subject is the detected face nearest the photo centre (LFW photos are centred on
    it). Crops accumulate in one cache file per crop size under ``cache_root()``, so other
    folds or limits reuse them. When MediaPipe finds no face, the crop is aligned with the
    mean photo landmarks of the found photos of ``files`` (deep-funnelled LFW photos are
    roughly aligned); such crops are not cached, so they depend only on ``files``.
    """
    from deocclude.faces.align import align_face
    from deocclude.imageio import read_image
    from deocclude.paths import cache_root

    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
    cache = cache_root() / f"lfw_aligned_{size}_{digest}.npz"
    have: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # points (photo), crop, landmarks (crop)
    if cache.is_file():
        data = np.load(cache)
        for name, points, crop, marks in zip(data["names"].tolist(), data["points"], data["crops"], data["landmarks"]):
            have[name] = (points, crop, marks)
    missed: dict[str, None] = {}
    todo = [f for f in dict.fromkeys(files) if f not in have]
    if todo:
        from deocclude.faces.detect import FaceDetector
        from deocclude.faces.landmarks import FaceMesh

        for f in todo:
            require_folder(root / "images" / f, "LFW image")
        detector, mesh = FaceDetector(), FaceMesh()
        added = 0
        for f in progress(todo, len(todo), f"LFW: align {len(todo)} photos", show):
            image = read_image(root / "images" / f)
            h, w = image.shape[:2]
            found = sorted(
                detector(image), key=lambda d: float(np.abs(d.box.reshape(2, 2).mean(0) - [w / 2, h / 2]).sum())
            )
            marks = [m for m in mesh(image, found[:1]) if m.present]
            if not marks:
                missed[f] = None
                continue
            aligned = align_face(image, marks[0].points, size)
            have[f] = (marks[0].points.astype(np.float32), aligned.crop, aligned.landmarks.astype(np.float32))
            added += 1
        if added:
            names = sorted(have)
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.stem + ".tmp.npz")
            np.savez(tmp, names=np.array(names), points=np.stack([have[n][0] for n in names]),
                     crops=np.stack([have[n][1] for n in names]), landmarks=np.stack([have[n][2] for n in names]))
            tmp.replace(cache)
    found_points = [have[f][0] for f in files if f in have]
    if not found_points:
        raise DeoccludeError("LFW: MediaPipe found no face in any of the photos")
    mean = np.mean(found_points, axis=0)
    crops, landmarks = [], []
    for f in files:
        if f in have:
            crops.append(have[f][1])
            landmarks.append(have[f][2])
        else:
            aligned = align_face(read_image(root / "images" / f), mean, size)
            crops.append(aligned.crop)
            landmarks.append(aligned.landmarks.astype(np.float32))
    return {
        "crops": np.stack(crops),
        "landmarks": np.stack(landmarks),
        "missed": np.array([f in missed for f in files]),
    }


# ---------------------------------------------------------------------------- the evaluation
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``--protocol lfw`` (shared ones are added once, by whichever module comes first)."""
    add_common_options(parser)
    add_option(
        parser,
        "--folds",
        default="1,2",
        help="lfw: comma-separated folds of pairs.txt (default 1,2 = 1,200 pairs); with --limit N, N pairs "
        "taken evenly over the folds and same / different pairs",
    )


def chosen_pairs(pairs: list[Pair], folds: str, limit: int | None) -> tuple[list[int], list[Pair]]:
    """(the folds asked for, their pairs after ``--limit``); bad ``--folds`` is a one-line error."""
    try:
        wanted = sorted({int(f) for f in str(folds).split(",") if f.strip()})
    except ValueError as exc:
        raise DeoccludeError(f"--folds must be comma-separated fold numbers, got {folds!r}") from exc
    available = sorted({p.fold for p in pairs})
    if not wanted or any(f not in available for f in wanted):
        raise DeoccludeError(f"--folds {folds}: pairs.txt has folds {available}")
    chosen = limit_pairs([p for p in pairs if p.fold in wanted], limit)
    if not chosen:
        raise DeoccludeError("no pairs to evaluate (--limit 0?)")
    return wanted, chosen


@dataclass
class PairScorer:
    """The pairs as index arrays over the photos, and the verification row of a set of pair scores."""

    pairs: list[Pair]
    files: list[str]
    """Every photo of the pairs (the crops' order)."""
    seconds: list[str]
    """The second photos (the occluded ones), one per distinct photo."""

    def __post_init__(self) -> None:
        index = {f: i for i, f in enumerate(self.files)}
        second_pos = {f: i for i, f in enumerate(self.seconds)}
        self.same = np.array([p.same for p in self.pairs])
        self.fold = np.array([p.fold for p in self.pairs])
        self.first = np.array([index[p.first] for p in self.pairs])  # into files
        self.second = np.array([second_pos[p.second] for p in self.pairs])  # into seconds
        self.second_idx = np.array([index[f] for f in self.seconds])  # seconds into files

    def row(self, scores: np.ndarray, clean_thresholds: dict[int, float] | None) -> dict:
        same, fold = self.same, self.fold
        row = verification_accuracy(scores, same, fold)
        if clean_thresholds is not None:
            row["accuracy_at_clean_threshold"] = verification_accuracy(scores, same, fold,
                                                                       clean_thresholds)["accuracy_mean"]
        row["same_cos_mean"] = float(scores[same].mean()) if same.any() else None
        row["different_cos_mean"] = float(scores[~same].mean()) if (~same).any() else None
        return row


def occlude_and_restore(kind: str, faces: dict, scorer: PairScorer, occluder: Occluder, restorer: Restorer,
                        show: bool) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Every second photo occluded by ``kind`` (seeded per photo) and restored by every method:
    (restored crops per method, found M_O, true holes)."""
    n = len(scorer.seconds)
    outputs = {m: np.zeros((n, 128, 128, 3), np.uint8) for m in restorer.methods}
    found_all = np.zeros((n, 128, 128), bool)
    holes_all = np.zeros((n, 128, 128), np.float32)
    step = 4 * restorer.batch_size
    for part in progress(list(chunks(n, step)), -(-n // step), f"LFW {kind}: occlude + restore", show):
        occluded, holes = [], []
        for i in range(part.start, part.stop):
            j = scorer.second_idx[i]
            seed = zlib.crc32(scorer.seconds[i].encode())
            image, alpha = occluder(faces["crops"][j], faces["landmarks"][j], kind, seed)
            occluded.append(image)
            holes.append(oracle_hole(alpha, faces["landmarks"][j]))
        restored, found = restorer(np.stack(occluded), np.stack(holes))
        for m in restorer.methods:
            outputs[m][part] = restored[m]
        found_all[part], holes_all[part] = found, np.stack(holes)
    return outputs, found_all, holes_all


def run(args: argparse.Namespace) -> dict:
    """Run the LFW protocol and return its report (``deocclude eval`` writes it); draws the example grid."""
    import torch

    from deocclude.imageio import write_image
    from deocclude.paths import data_root

    start = time.perf_counter()
    opts = run_options(args, "lfw")
    show = opts["show"]
    root = data_root() / "faces" / "lfw"
    require_folder(root, "LFW data")
    kinds = parse_types(args.types, LFW_TYPES, LFW_TYPES)
    wanted, pairs = chosen_pairs(read_pairs(root), args.folds, args.limit)
    files = sorted({p.first for p in pairs} | {p.second for p in pairs})
    scorer = PairScorer(pairs, files, sorted({p.second for p in pairs}))
    faces = aligned_lfw_crops(files, root, 128, show)

    embedders = {net: Embedder(opts["device"], opts["batch_size"], net) for net in IDENTITY_NETWORKS}
    restorer = Restorer(opts["device"], opts["batch_size"])
    occluder = Occluder(opts["seed"])
    clean_embs = {net: embed(faces["crops"]) for net, embed in embedders.items()}
    first, second, second_idx = scorer.first, scorer.second, scorer.second_idx

    def pair_scores(net: str, second_crops: np.ndarray) -> np.ndarray:
        """Cosine of every pair: the clean first photo vs ``second_crops`` (one per second photo)."""
        return cosine(clean_embs[net][first], embedders[net](second_crops)[second])

    results: dict[str, dict] = {}
    thresholds: dict[str, dict[int, float]] = {}
    for net in IDENTITY_NETWORKS:
        clean = scorer.row(cosine(clean_embs[net][first], clean_embs[net][second_idx][second]), None)
        thresholds[net] = {int(k): t for k, t in clean["thresholds"].items()}
        results[net] = {CLEAN: clean}
        for floor, parts in FLOORS.items():  # the clean second photo with a face part blacked out
            blacked = black_out(faces["crops"][second_idx], faces["landmarks"][second_idx], parts)
            results[net][floor] = scorer.row(pair_scores(net, blacked), thresholds[net])
    grid_rows: list[list[np.ndarray]] = []
    masks: dict[str, dict] = {}
    methods = restorer.methods
    for kind in kinds:
        outputs, found, holes = occlude_and_restore(kind, faces, scorer, occluder, restorer, show)
        masks[kind] = mask_scores(found, holes)
        for net in IDENTITY_NETWORKS:
            results[net][kind] = {}
            for m in progress(methods, len(methods), f"LFW {kind}: {net} embeddings", show):
                results[net][kind][m] = scorer.row(pair_scores(net, outputs[m]), thresholds[net])
        for i in example_rows(len(scorer.seconds), len(grid_rows), 2 * len(kinds)):  # two different photos per type
            partner = first[int(np.nonzero(second == i)[0][0])]
            grid_rows.append([faces["crops"][partner], faces["crops"][second_idx[i]]]
                             + [outputs[m][i] for m in methods])
        del outputs
    summary = {
        "protocol": "lfw", "folds": wanted, "pairs": len(pairs),
        "same_pairs": int(scorer.same.sum()), "different_pairs": int((~scorer.same).sum()), "images": len(files),
        "occluded_images": len(scorer.seconds), "mediapipe_missed_used_mean_landmarks": int(faces["missed"].sum()),
        "crop_size": 128, "seed": opts["seed"], "types": list(kinds), "methods": list(methods),
        "device": str(embedders["dlib"].device), "torch_threads": torch.get_num_threads(),
        "seconds": round(time.perf_counter() - start, 1),
        **{network_key("results", net): results[net] for net in IDENTITY_NETWORKS},
        "found_mask_vs_true_occlusion": masks,
        "notes": [
            "the second photo of every pair is occluded (held-out synthetic occluders, seeded per photo); "
            "the first photo stays clean",
            "accuracy: per fold, the threshold maximising accuracy on the other folds (mean ± std over folds); "
            "accuracy_at_clean_threshold: each fold scored with the threshold chosen on clean pairs of the other folds",
            f"{OURS_PRIOR} is what `deocclude run` does by default; the oracle row is given the true occlusion",
            "results: dlib-ResNet cosines; results_arcface: the ArcFace-class network's; "
            f"floors ({', '.join(FLOORS)}): the clean second photo with that part painted black",
        ],
    }
    if grid_rows and opts["grid"] is not None:
        opts["grid"].parent.mkdir(parents=True, exist_ok=True)
        labels = ["1st photo", "2nd, clean"] + [m.replace("ours ", "") for m in methods]
        write_image(opts["grid"], image_grid(grid_rows, labels))
        summary["grid"] = str(opts["grid"])
    return summary


def _pct(row: dict, key: str = "accuracy_mean") -> str:
    return f"{100 * row[key]:.2f}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _rows(results: dict, types: list[str]) -> list[list[str]]:
    def row(kind: str, method: str, r: dict, at_clean: bool = True) -> list[str]:
        return [kind, method, f"{_pct(r)} ± {100 * r['accuracy_std']:.2f}",
                _pct(r, "accuracy_at_clean_threshold") if at_clean else "—",
                _num(r["same_cos_mean"]), _num(r["different_cos_mean"])]

    rows = [row("none", "clean pairs", results[CLEAN], at_clean=False)]
    rows += [row("none", f"floor: {floor}", results[floor]) for floor in FLOORS if floor in results]
    for kind in types:
        rows += [row(kind, m, results[kind][m]) for m in METHODS if m in results[kind]]
    return rows


def markdown(s: dict) -> str:
    """The report as markdown (``deocclude eval`` puts the exact command above it)."""
    header = ["occlusion (2nd photo)", "method", "accuracy % (mean ± std)", "at clean threshold %",
              "same cos", "different cos"]
    tables: list[str] = []
    for net in IDENTITY_NETWORKS:  # reports from before ArcFace have dlib's only
        if network_key("results", net) in s:
            tables += ["", f"## {NETWORK_TITLES[net]}", "", markdown_table(header, _rows(s[network_key("results", net)],
                                                                                         s["types"]))]
    return "\n".join([
        "# LFW verification with one photo of each pair occluded",
        "",
        f"Folds {', '.join(map(str, s['folds']))} of `faces/lfw/pairs.txt`: {s['pairs']} pairs "
        f"({s['same_pairs']} same, {s['different_pairs']} different), {s['images']} photos through our faces path "
        f"(MediaPipe, canonical {s['crop_size']} crops; {s['mediapipe_missed_used_mean_landmarks']} misses used "
        f"the mean landmarks). The second photo of every pair ({s['occluded_images']} photos) is occluded with "
        f"held-out synthetic occluders (seed {s['seed']}); identity = the cosine of both photos' embeddings, "
        f"by two networks: the result is compared with *another photo of the same person*, which copying visible "
        f"pixels cannot win. Device {s['device']}, {s['seconds']} s.",
        *tables,
        "",
        "Accuracy: per fold, the threshold that maximises accuracy on the other folds; mean ± std over the folds. "
        "*At clean threshold*: each fold scored with the threshold chosen on the clean pairs of the other folds "
        "(a deployed verifier does not know which photos are occluded). *Floors*: the clean second photo with both "
        "eyes, or the mouth, painted black: a fill must beat these and the occluded input to have restored identity. "
        f"Example grid (LFW photos, not committed): `{s.get('grid') or 'none drawn'}`.",
        "",
        mask_table(s["found_mask_vs_true_occlusion"]),
        "",
    ])
