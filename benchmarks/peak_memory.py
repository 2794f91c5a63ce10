"""Peak memory (RSS) of ``deocclude run`` on an 80-megapixel JPEG, and the floors under it.

Issue 19 item 3: a huge photo must be decoded, detected and pasted without holding several
full-size copies (the issue measured 1.8 GB on 80 MP; the target is <= 1 GB). The photo is
synthetic but real where it matters: ``examples/astronaut_sunglasses.jpg`` upscaled 15.1x
(its face becomes ~2500 px wide, as in a close 80 MP portrait) and mirrored out at the sides
to 10320 x 7748, so the whole path runs (detect -> align -> S / R -> fill -> paste -> write).

Each case runs in its own child process; its peak RSS is the child's own ``ru_maxrss`` from
``os.wait4``, so the benchmark's own memory never counts. Cases:

* ``decode``: the child only imports deocclude and reads the photo (``read_image``); an 80 MP
  RGB uint8 image is 240 MB, so this is the floor for any run;
* ``models``: the child builds a ``Deoccluder`` (torch, S, R, the TFLite models) and nothing else;
* ``run_small``: ``deocclude run`` on the 512 x 512 example photo (the models' share of a run);
* ``run_80mp``: ``deocclude run`` on the 80 MP photo.

``--profile`` also runs the stages of one 80 MP run in this process and reports the peak RSS
(VmHWM, reset between stages through /proc/self/clear_refs) and what each stage added.

Usage: OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/peak_memory.py [--profile] [--keep] [--before BASE.json]
(BASE.json: this benchmark run with --out at the base commit, shown alongside.)
Writes benchmarks/results/peak_memory.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
EXAMPLE = REPO / "examples" / "astronaut_sunglasses.jpg"
WIDTH, HEIGHT = 10320, 7748  # 79.96 MP, 4:3: just under deocclude's MAX_PIXELS (80 M), which refuses larger photos
TARGET_MB = 1024.0


def make_photo(path: Path, width: int, height: int) -> None:
    """The example photo upscaled to ``height`` (bicubic) and mirrored out to ``width``, as a quality-90 JPEG."""
    import cv2

    small = cv2.imread(str(EXAMPLE))
    big = cv2.resize(small, (height, height), interpolation=cv2.INTER_CUBIC)
    left = (width - height) // 2
    big = cv2.copyMakeBorder(big, 0, 0, left, width - height - left, cv2.BORDER_REFLECT)
    if not cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise SystemExit(f"could not write {path}")


def measure(argv: list[str]) -> dict:
    """Run ``argv`` as a child; its peak RSS (MB, from the kernel's accounting of that child) and wall time."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    output = child.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{shlex.join(argv)} failed ({child.returncode}):\n{output[-2000:]}")
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024.0, 1), "seconds": round(seconds, 2),
            "command": shlex.join(argv)}


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_hwm() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def profile(photo: Path, out_dir: Path) -> list[dict]:
    """The stages of one ``deocclude run`` in this process (run.py's own ``_PhotoBatch``, its steps
    wrapped): peak RSS during each, and RSS before and after it (MB)."""
    import argparse as _argparse

    import deocclude.imageio
    import deocclude.report
    from deocclude.commands.run import _PhotoBatch, config_from_args, register
    from deocclude.pipeline import Deoccluder

    parser = _argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["run", str(photo), "-o", str(out_dir)])
    rows: list[dict] = []

    def staged(name: str, fn: Callable) -> Callable:
        def wrapper(*a: object, **k: object) -> object:
            _reset_hwm()
            before = _vm_rss_mb()
            value = fn(*a, **k)
            rows.append({"stage": name, "rss_before_mb": round(before, 1), "peak_mb": round(_vm_hwm_mb(), 1),
                         "rss_after_mb": round(_vm_rss_mb(), 1)})
            return value
        return wrapper

    deoccluder = staged("build Deoccluder (torch, S, R, TFLite)", Deoccluder)(config_from_args(args))
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = _PhotoBatch(deoccluder, out_dir, args, None)
    deoccluder.find_faces = staged("find_faces (detect, mesh, align, person)", deoccluder.find_faces)
    deoccluder.deocclude_faces = staged("deocclude_faces (S, R, fill)", deoccluder.deocclude_faces)
    deoccluder.paste_faces = staged("paste_faces", deoccluder.paste_faces)
    batch._write_photo = staged("write photo (merge, encode, EXIF)", batch._write_photo)
    patched = [(deocclude.imageio, "read_source", "read_source (decode, stored pixels, EXIF)"),
               (deocclude.imageio, "write_mask", "write _occlusion.png"),
               (deocclude.report, "face_grid", "_faces.png grid")]
    saved = [(module, attr, getattr(module, attr)) for module, attr, _ in patched]
    try:
        for module, attr, name in patched:
            setattr(module, attr, staged(name, getattr(module, attr)))
        batch.add(photo, photo.stem)
        entry = batch.finish()[0]
    finally:
        for module, attr, fn in saved:
            setattr(module, attr, fn)
    if entry["status"] != "ok":
        raise SystemExit(f"profile run failed: {entry['status']}")
    return rows


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_markdown(data: dict, path: Path) -> None:
    cases = data["cases"]
    photo = data["photo"]["width"] * data["photo"]["height"]
    lines = [
        "# Peak memory of `deocclude run` (issue 19 item 3)",
        "",
        f"Commit `{data['commit']}`, {data['machine']}, OMP_NUM_THREADS={data['omp_threads']}. "
        f"Photo: {data['photo']['width']}x{data['photo']['height']} ({data['photo']['megapixels']} MP) JPEG, "
        f"{data['photo']['mb']} MB on disk (the example photo upscaled, a ~2500 px face). "
        f"Command: `{data['command']}`.",
        "",
        "Peak RSS is each child process's own `ru_maxrss` (os.wait4), in MiB (2^20 bytes). "
        "Target: <= 1 GiB (1024 MiB) on 80 MP.",
        "",
        "| case | peak RSS (MiB) | seconds |",
        "| --- | ---: | ---: |",
    ]
    for name, row in cases.items():
        lines.append(f"| {name} | {row['peak_rss_mb']} | {row['seconds']} |")
    lines += ["", f"80 MP run over the models' floor (run_80mp - models): {data['over_models_mb']} MiB; "
              f"over a small run: {data['over_small_mb']} MiB. Target met: {data['target_met']}.", "",
              "What a run must hold at its peak (encoding the output): the models and their working memory "
              f"(the small run), the output photo as RGB uint8 ({photo * 3 / 2**20:.0f} MiB) and Pillow's copy of "
              f"it for the encoder, which stores RGB at 4 bytes a pixel ({photo * 4 / 2**20:.0f} MiB)."]
    if data.get("profile"):
        lines += ["", "## Stages of one 80 MP run, in one process (`--profile`, MiB)", "",
                  *_stage_table(data["profile"])]
    if data.get("before"):
        lines += ["", f"## Before the fixes (this benchmark at the base commit `{data['before']['commit']}`)", "",
                  "| case | peak RSS (MiB) | seconds |", "| --- | ---: | ---: |"]
        for name, row in data["before"]["cases"].items():
            lines.append(f"| {name} | {row['peak_rss_mb']} | {row['seconds']} |")
        if data["before"].get("profile"):
            lines += ["", *_stage_table(data["before"]["profile"])]
    path.write_text("\n".join(lines) + "\n")


def _stage_table(rows: list[dict]) -> list[str]:
    lines = ["| stage | RSS before | peak during | RSS after |", "| --- | ---: | ---: | ---: |"]
    return lines + [f"| {r['stage']} | {r['rss_before_mb']} | {r['peak_mb']} | {r['rss_after_mb']} |" for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", type=Path, help="use this photo instead of making the synthetic 80 MP one")
    ap.add_argument("--profile", action="store_true", help="also profile the stages in this process")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (photo and outputs)")
    ap.add_argument("--before", type=Path, help="a JSON written by this benchmark at the base commit, to include")
    ap.add_argument("--out", type=Path, default=RESULTS / "peak_memory.json")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="peak_memory_"))
    photo = args.photo or work / "photo_80mp.jpg"
    if args.photo is None:
        make_photo(photo, WIDTH, HEIGHT)
    from PIL import Image

    with Image.open(photo) as pil:
        width, height = pil.size
    py = sys.executable
    read = f"from deocclude.imageio import read_image; read_image({str(photo)!r})"
    models = "from deocclude.pipeline import Deoccluder; Deoccluder()"
    run_argv = [py, "-m", "deocclude", "run", str(photo), "-o", str(work / "out")]
    cases = {
        "decode (read_image only)": measure([py, "-c", read]),
        "models (Deoccluder() only)": measure([py, "-c", models]),
        "run_small (512x512 example)": measure([py, "-m", "deocclude", "run", str(EXAMPLE), "-o", str(work / "small")]),
        "run_80mp": measure(run_argv),
    }
    peak = cases["run_80mp"]["peak_rss_mb"]
    data = {
        "commit": _commit(),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "omp_threads": os.environ.get("OMP_NUM_THREADS", "1"),
        "photo": {"width": width, "height": height, "megapixels": round(width * height / 1e6, 1),
                  "mb": round(photo.stat().st_size / 1e6, 1)},
        "command": "OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/peak_memory.py"
                   + (" --profile" if args.profile else ""),
        "cases": cases,
        "over_models_mb": round(peak - cases["models (Deoccluder() only)"]["peak_rss_mb"], 1),
        "over_small_mb": round(peak - cases["run_small (512x512 example)"]["peak_rss_mb"], 1),
        "target_mb": TARGET_MB,
        "target_met": peak <= TARGET_MB,
    }
    if args.profile:
        data["profile"] = profile(photo, work / "profile")
    if args.before:
        data["before"] = json.loads(args.before.read_text())
        data["before"].pop("before", None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    write_markdown(data, args.out.with_suffix(".md"))
    print(json.dumps(data, indent=1))
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
