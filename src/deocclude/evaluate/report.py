"""The Table 1 report: one JSON-ready dict, and the same numbers as markdown tables.

The dict is what ``benchmarks/results/eval_<protocol>.json`` holds; :func:`table1_markdown`
renders it, so the markdown can never disagree with the JSON.
"""

from __future__ import annotations

import platform
import subprocess
from typing import TYPE_CHECKING

from deocclude.evaluate.paper import PAPER_NOTE, PAPER_TABLE1
from deocclude.paths import REPO_DIR

if TYPE_CHECKING:
    from deocclude.evaluate.config import Table1Config
    from deocclude.fills.g import GFill

DEFINITIONS = {
    "true_occlusion": "T = (synthetic occluder opacity A > {alpha}) ∩ face surface (mesh of the clean landmarks); "
                      "every pixel metric is computed inside T only",
    "oracle_mask": "A ⊙ face surface > 0.1 (contains T plus the occluder's faint rim): given to the oracle rows, "
                   "like the paper's hand-labelled mask given to its baselines",
    "automatic_mask": "M_O = M_R ⊙ (1 − M_F) found by S and R on the occluded crop, opened 3×3, kept in the "
                      "{outline_band} px band along the face outline only where it continues deeper occlusion, "
                      "without components on the outline that stay shallow (rim_depth), extended past M_R, "
                      "dilated {dilate} px, grown up to edge_grow px more over pixels unlike the skin beside them "
                      "(an occluder's soft edge and shadow), its unsure enclosed holes filled (hole_confidence): "
                      "exactly deocclude "
                      "run, with the config's pipeline_overrides",
    "metrics": "l1, psnr: over T's pixels, values in [0, 1]; ssim: kornia 11×11 SSIM map averaged over T; "
               "ring_l1: L1 over the 6 px (at 128 px) ring around T, outside it: the occluder's soft edge a mask "
               "left and the clear skin it repainted (the halo; the input row: the soft edge alone); "
               "id_cos: cosine of dlib-ResNet descriptors (whole crop) of the result and the clean original; "
               "id_dist: their Euclidean distance (dlib's metric, < 0.6 = same person); "
               "arc_cos: cosine of the ArcFace-class MobileFaceNet embeddings (5-point 112 px chip); "
               "floor rows: the clean face with both eyes / the mouth painted black; "
               "mask iou / precision / recall: automatic M_O vs T per face, averaged over faces "
               "(precision skips faces where nothing was found); precision_with_own also counts found pixels under "
               "the clean face's own labelled hair as right (the pipeline removes real occlusions too, T has none); "
               "precision_whole_occluder counts found pixels anywhere under the occluder (opacity > {alpha}) as "
               "right: M_O is grown past the face surface on purpose, T ends there; precision_tinted also counts "
               "found pixels where the occluder's opacity is above the oracle mask's 0.1 (its soft edge, which M_O's "
               "rim takes on purpose and the oracle rows fill too); partial: share of faces whose "
               "occluder was removed in pieces (15-85 % of T found)",
}


def build_report(config: Table1Config, rows: dict, masks: dict, mask_by_category: dict, gs: list[GFill], *,
                 faces: int, categories: dict, skipped: dict, pipeline: dict, grid: str | None, seconds: float) -> dict:
    """Assemble the report of one run (``rows`` keyed ``"<mask>|<method>"`` as the evaluation adds them)."""
    import torch

    table = []
    for key, values in rows.items():
        mask, method = key.split("|", 1)
        table.append({"mask": mask, "method": method, **values})
    return {
        "protocol": config.protocol,
        "faces": faces,
        "skipped": skipped,
        "categories": dict(sorted(categories.items())),
        "config": {k: getattr(config, k) for k in config.__dataclass_fields__ if k != "g_weights"},
        "g_weights": [
            {"label": g.label, "file": _relative(path), "uses_prior": g.uses_prior, "metadata": _metadata(path)}
            for g, (_, path) in zip(gs, config.g_weights)
        ],
        "pipeline": pipeline,
        "definitions": {
            k: v.format(alpha=config.true_alpha, dilate=config.dilate, outline_band=config.outline_band)
            for k, v in DEFINITIONS.items()
        },
        "rows": table,
        "mask": masks.get("M_O", {}),
        "mask_by_category": dict(sorted(mask_by_category.items())),
        "paper_table1_different_data": {"note": PAPER_NOTE, "rows": PAPER_TABLE1},
        "grid": grid,
        "seconds": round(seconds, 1),
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), device {config.device}",
        "commit": _commit(),
    }


def table1_markdown(report: dict) -> str:
    """The report's tables: our rows, the mask agreement, then the paper's rows (different data)."""
    p = report["protocol"]
    cats = ", ".join(f"{k} {v}" for k, v in report["categories"].items())
    lines = [
        f"**{p}** protocol: {report['faces']} faces of the UTKFace test split (seed {report['config']['seed']}, "
        f"held-out occluders: {cats}), {report['config']['size']} px crops"
        + (f"; {report['skipped']['no_true_occlusion']} faces left out (occluder off the face)"
           if report["skipped"].get("no_true_occlusion") else "") + ".",
        "Pixel metrics inside the true occlusion T only, but ring L1 over the 6 px ring around T (the halo); "
        "ID = dlib-ResNet descriptor of the whole crop vs the clean "
        "face, ArcFace = the ArcFace-class network's cosine on the 5-point chip (both flatter whatever keeps the "
        "visible face: see the floors and LFW's cross-photo rows). Pipeline: " + (report["pipeline"]["method"] or "—")
        + (f" ({report['pipeline']['failed_faces']} faces failed and were left unchanged)"
           if report["pipeline"]["failed_faces"] else "") + ".",
        "",
        "| mask | method | L1 ↓ | SSIM ↑ | PSNR ↑ | ring L1 ↓ | ID cos ↑ | ID dist ↓ | ArcFace cos ↑ | faces |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        lines.append(f"| {r['mask']} | {r['method']} | {_f(r.get('l1'), 4)} | {_f(r.get('ssim'), 3)} | "
                     f"{_f(r.get('psnr'), 2)} | {_f(r.get('ring_l1'), 4)} | {_f(r.get('id_cos'), 3)} | "
                     f"{_f(r.get('id_dist'), 3)} | "
                     f"{_f(r.get('arc_cos'), 3)} | {r.get('n', '')} |")
    m = report["mask"]
    lines += [
        "",
        "Automatic mask M_O (found by S and R) vs the true occlusion T, mean over faces:",
        "",
        "| | IoU ↑ | precision ↑ | recall ↑ | precision, own hair counted ↑ | precision, whole occluder counted ↑ "
        "| precision, soft edge counted ↑ | removed in pieces ↓ | faces |",
        "|---|---|---|---|---|---|---|---|---|",
        _mask_line("all", m),
    ]
    if len(report["mask_by_category"]) > 1:
        for cat, c in report["mask_by_category"].items():
            lines.append(_mask_line(cat, c))
    lines += [
        "",
        f"The paper's Table 1 beside ours, **different data** ({report['paper_table1_different_data']['note']}):",
        "",
        "| paper method | L1 ↓ | SSIM ↑ | PSNR ↑ | ArcFace ID cos ↑ |",
        "|---|---|---|---|---|",
    ]
    for name, r in report["paper_table1_different_data"]["rows"].items():
        lines.append(f"| {name} | {r['l1']} | {r['ssim']} | {r['psnr']} | {r['id_cos']} |")
    lines += ["", f"{report['machine']}; {report['seconds']} s; commit {report['commit']}."]
    return "\n".join(lines) + "\n"


def _mask_line(name: str, m: dict) -> str:
    return (f"| {name} | {_f(m.get('iou'), 3)} | {_f(m.get('precision'), 3)} | {_f(m.get('recall'), 3)} | "
            f"{_f(m.get('precision_with_own'), 3)} | {_f(m.get('precision_whole_occluder'), 3)} | "
            f"{_f(m.get('precision_tinted'), 3)} | {_f(m.get('partial'), 3)} | {m.get('n', '')} |")


def _f(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _relative(path: str) -> str:
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(REPO_DIR))
    except ValueError:
        return str(path)


def _metadata(path: str) -> dict[str, str]:
    """The weights file's own description (training run, steps, commit), minus the bulky config."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: v for k, v in (f.metadata() or {}).items() if k != "config"}


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_DIR,
                             timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
