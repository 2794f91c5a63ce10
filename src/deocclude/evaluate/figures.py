"""Summaries, histograms, example grids and markdown tables of the downstream evaluations."""

from __future__ import annotations

import cv2
import numpy as np


def summarize(values: np.ndarray, threshold: float | None = None) -> dict[str, float]:
    """Mean, std, p10, p50, p90 (and the share at or above ``threshold``) of a 1-D distribution."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return {"n": 0}
    out = {"n": int(v.size), "mean": float(v.mean()), "std": float(v.std()),
           "p10": float(np.percentile(v, 10)), "p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90))}
    if threshold is not None:
        out["share_above_threshold"] = float((v >= threshold).mean())
    return out


def histogram_counts(series: dict[str, np.ndarray], bins: int = 40, lo: float | None = None,
                     hi: float | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Common bin edges over every series (range = their joint min..max unless given) and the counts of each."""
    joined = np.concatenate([np.asarray(v, np.float64).ravel() for v in series.values()])
    lo = float(joined.min()) if lo is None else lo
    hi = float(joined.max()) if hi is None else hi
    if hi <= lo:
        hi = lo + 1e-6
    edges = np.linspace(lo, hi, bins + 1)
    return edges, {name: np.histogram(np.clip(v, lo, hi), edges)[0] for name, v in series.items()}


PALETTE = ((200, 60, 40), (40, 110, 200), (40, 160, 70), (150, 80, 170), (230, 150, 20))  # RGB


def draw_histogram(series: dict[str, np.ndarray], title: str, threshold: float | None = None,
                   bins: int = 40, size: tuple[int, int] = (720, 400)) -> np.ndarray:
    """An RGB uint8 plot of overlaid step histograms (one colour per series, legend with means).

    Drawn with OpenCV (matplotlib is not a dependency); a dashed vertical line marks ``threshold``.
    The legend sits in two columns above the plot: inside it, it hid the peaks and the line crossed it.
    """
    width, height = size
    legend_rows = -(-len(series) // 2)
    left, right, top, bottom = 50, 20, 40 + 18 * legend_rows, 50
    img = np.full((height, width, 3), 255, np.uint8)
    values = dict(series)
    lo = min(float(np.min(v)) for v in values.values())
    hi = max(float(np.max(v)) for v in values.values())
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    pad = 0.02 * (hi - lo) + 1e-6
    edges, counts = histogram_counts(values, bins, lo - pad, hi + pad)
    peak = max(1, max(int(c.max()) for c in counts.values()))
    pw, ph = width - left - right, height - top - bottom
    def x_of(v: float) -> int:
        return int(round(left + (v - edges[0]) / (edges[-1] - edges[0]) * pw))
    def y_of(c: float) -> int:
        return int(round(top + ph - c / peak * ph))
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    for tick in np.linspace(edges[0], edges[-1], 6):
        cv2.line(img, (x_of(tick), top + ph), (x_of(tick), top + ph + 5), (0, 0, 0), 1)
        cv2.putText(img, f"{tick:.2f}", (x_of(tick) - 16, top + ph + 20), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "cosine to the clean face", (left, height - 10), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, str(peak), (5, top + 10), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "faces", (5, top + 25), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, title, (left, 25), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for k, (name, c) in enumerate(counts.items()):
        colour = PALETTE[k % len(PALETTE)]
        points = [(x_of(edges[0]), y_of(0))]
        for i, n in enumerate(c):
            points += [(x_of(edges[i]), y_of(n)), (x_of(edges[i + 1]), y_of(n))]
        points.append((x_of(edges[-1]), y_of(0)))
        cv2.polylines(img, [np.array(points, np.int32)], False, colour, 2, cv2.LINE_AA)
        label = f"{name}: mean {np.mean(values[name]):.3f}"
        cv2.putText(img, label, (left + (k % 2) * pw // 2, 50 + 18 * (k // 2)), font, 0.45, colour, 1, cv2.LINE_AA)
    if threshold is not None:
        x = x_of(threshold)
        for y in range(top, top + ph, 8):
            cv2.line(img, (x, y), (x, min(y + 4, top + ph)), (90, 90, 90), 1)
        cv2.putText(img, f"dashed line: same-identity threshold {threshold:.3f}", (left + pw - 300, height - 10), font,
                    0.45, (90, 90, 90), 1, cv2.LINE_AA)
    return img


def example_rows(count: int, done: int, total: int, per_call: int = 2) -> list[int]:
    """Indices of the next ``per_call`` grid examples, spread over ``count`` faces.

    ``done`` of ``total`` rows are drawn already."""
    return sorted({(done + k) * count // max(total, 1) for k in range(per_call) if done + k < total})


def image_grid(rows: list[list[np.ndarray]], labels: list[str], cell: int = 128) -> np.ndarray:
    """Rows of RGB crops under a header of column labels (uint8 RGB)."""
    header = 22
    cols = max(len(r) for r in rows)
    grid = np.full((header + cell * len(rows), cell * cols, 3), 255, np.uint8)
    for j, label in enumerate(labels[:cols]):
        cv2.putText(grid, label, (j * cell + 3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    for i, row in enumerate(rows):
        for j, crop in enumerate(row):
            if crop.shape[0] != cell:
                crop = cv2.resize(crop, (cell, cell), interpolation=cv2.INTER_AREA)
            grid[header + i * cell:header + (i + 1) * cell, j * cell:(j + 1) * cell] = crop
    return grid


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def mask_table(masks: dict[str, dict]) -> str:
    """Markdown: the found occlusion masks' IoU / precision / recall per occlusion type."""
    rows = [[k, str(v.get("n", 0)), *(f"{v[x]:.3f}" if x in v else "—" for x in ("iou", "precision", "recall"))]
            for k, v in masks.items()]
    return ("Occlusion mask found by S + R (M_O) vs the true occlusion (A ⊙ mesh > 0.1), per face, mean:\n\n"
            + markdown_table(["occlusion", "faces", "IoU", "precision", "recall"], rows))
