"""Latency, throughput and peak memory of the de-occluder, stage by stage (``deocclude bench``).

Three ways through, each timed at every crop size N and device:

- ``photos``: the whole pipeline on whole photos (detect → landmarks → align → S → R → fill →
  paste back). Batch b = b photos given to :meth:`Deoccluder.run_many`, whose faces share the
  S and R calls.
- ``aligned``: faces given as canonical N×N crops (:meth:`Deoccluder.run_aligned`, i.e.
  :meth:`Deoccluder.deocclude_faces`); batch b = b crops per S / R call. Only the surface
  mask (timed as ``align``), S, R and the fill run.
- ``classical``: the no-network baseline, timed in the same run: detect → landmarks → align →
  the whole mesh surface as the hole → OpenCV Telea → paste back. It has no way to tell
  occluded from visible face, so its hole is all of M_R, larger than the M_O that S finds.

A repeat is one pass over F faces (the bundled example photos cycled, one face each). Warm-up
repeats run first and are excluded; the timed repeats take the configurations in turn, round
after round, so that the load of a shared machine drifts over all of them alike. Per stage: ms
per face (a batched call's time is split evenly over its faces), median and p90 over repeats;
end to end: wall-clock ms per face and faces/s. Memory is measured in one more, untimed repeat:
the peak resident set above its level at the start (sampled every millisecond), the process's
``ru_maxrss``, the peak of Python/numpy allocations (tracemalloc; torch's CPU tensors are not
traced by it), and on CUDA ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.paths import REPO_DIR
from deocclude.timing import timed

STAGES = ("detect", "landmarks", "align", "segment", "reconstruct", "mask", "fill", "paste")
MB = 1024.0 * 1024.0


@dataclass(frozen=True)
class BenchConfig:
    sizes: tuple[int, ...] = (128, 256)
    batch_sizes: tuple[int, ...] = (1, 16)
    repeats: int = 10
    warmup: int = 1
    faces: int = 16
    """Faces per repeat (at least the largest batch size, so that every batch is full)."""
    devices: tuple[str, ...] = ("auto",)
    """``auto`` = this CPU, and CUDA too when there is one."""
    threads: int = 1
    """torch and OpenCV threads (the detector and landmark models always use one)."""
    photos: tuple[str, ...] = ()
    """Photos with one face each; empty = the bundled ``examples/*.jpg``."""
    fill: str = "auto"
    """The pipeline's fill (``DeoccluderConfig.fill``): ``g`` times the learned G instead of the blend."""
    rescue: bool = True
    """The detector's rescue (``DeoccluderConfig.rescue``): off times ``deocclude run --no-rescue``."""

    def __post_init__(self) -> None:
        if self.repeats < 1 or self.warmup < 0 or self.threads < 1:
            raise DeoccludeError("--repeats and --threads must be >= 1 and --warmup >= 0")
        if not self.sizes or not self.batch_sizes or min(self.batch_sizes) < 1:
            raise DeoccludeError("--sizes and --batch-sizes need at least one value, batch sizes >= 1")
        if self.faces < max(self.batch_sizes):
            raise DeoccludeError(
                f"--faces ({self.faces}) must be at least the largest batch size ({max(self.batch_sizes)})"
            )


def example_photos() -> list[Path]:
    return sorted((REPO_DIR / "examples").glob("*.jpg"))


def resolve_devices(names: Sequence[str]) -> list[str]:
    import torch

    from deocclude.device import resolve_device

    devices: list[str] = []
    for name in names:
        found = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if name == "auto" else [name]
        for device in found:
            resolved = str(resolve_device(device))
            if resolved not in devices:
                devices.append(resolved)
    return devices


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(devices: Sequence[str], threads: int) -> dict:
    import cv2
    import torch

    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": threads,
        "opencv": cv2.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "devices": list(devices),
    }
    if any(d.startswith("cuda") for d in devices):
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def _rss_bytes() -> int | None:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _max_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class _RssSampler:
    """The largest resident set seen while it runs, sampled every ``interval`` seconds."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval, self.peak = interval, _rss_bytes() or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes() or 0)
            self._stop.wait(self.interval)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes() or 0)


Pass = Callable[[], tuple[int, dict[str, float], list[str]]]
"""One repeat: returns (faces done, seconds per stage summed over them, each face's method or failure)."""


def _add(total: dict[str, float], timings: dict[str, float]) -> None:
    for name, seconds in timings.items():
        total[name] = total.get(name, 0.0) + seconds


def _stats(samples: list[float]) -> dict[str, float]:
    return {"median": round(float(np.median(samples)), 3), "p90": round(float(np.percentile(samples, 90)), 3)}


class _Row:
    """One configuration being measured: its description, its pass, and the samples so far."""

    def __init__(self, meta: dict, once: Pass) -> None:
        self.meta, self.once = meta, once
        self.cuda = meta["device"].startswith("cuda")
        self.per_face_ms: list[float] = []
        self.cpu_share: list[float] = []
        self.stages: dict[str, list[float]] = {}
        self.methods: list[str] = []
        self.faces = 0
        self.memory: dict = {}

    def _synchronize(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def time_once(self) -> None:
        self._synchronize()
        start, cpu_start = time.perf_counter(), time.process_time()
        faces, timings, self.methods = self.once()
        self._synchronize()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if faces == 0:
            raise DeoccludeError("no face found in the benchmark photos")
        self.faces = faces
        self.per_face_ms.append(wall * 1000.0 / faces)
        self.cpu_share.append(cpu / wall)
        for name, seconds in timings.items():
            self.stages.setdefault(name, []).append(seconds * 1000.0 / faces)

    def summary(self) -> dict:
        wall_ms = _stats(self.per_face_ms)
        return {
            **self.meta,
            "faces_per_repeat": self.faces,
            "ms_per_face": wall_ms,
            "faces_per_s": {"median": round(1000.0 / wall_ms["median"], 2),
                            "at_p90_latency": round(1000.0 / wall_ms["p90"], 2)},
            "stages_ms_per_face": {name: _stats(self.stages[name]) for name in STAGES if name in self.stages},
            "process_cpu_per_wall": round(float(np.median(self.cpu_share)), 2),
            "method": sorted(set(self.methods)),
            "failed_faces": sum(m.startswith("failed") for m in self.methods),
            "memory": self.memory,
        }


def measure(rows: list[_Row], repeats: int, warmup: int, log: Callable[[str], None] = print) -> list[dict]:
    """Warm every row up, then time the rows in turn, ``repeats`` rounds (so that a change in the
    machine's load hits every row alike), then one untimed pass per row for memory."""
    for row in rows:
        for _ in range(warmup):
            row.once()
    for round_ in range(repeats):
        log(f"  repeat {round_ + 1}/{repeats}")
        for row in rows:
            row.time_once()
    for row in rows:
        row.memory = _memory(row.once, row.cuda)
    return [row.summary() for row in rows]


def _memory(once: Pass, cuda: bool) -> dict:
    import torch

    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before, max_before = _rss_bytes(), _max_rss_bytes()
    tracemalloc.start()
    with _RssSampler() as sampler:
        once()
        if cuda:
            torch.cuda.synchronize()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    after_max = _max_rss_bytes()
    memory = {
        "peak_rss_above_start_mb": None if before is None else round((sampler.peak - before) / MB, 1),
        "peak_rss_mb": round(sampler.peak / MB, 1) if before is not None else None,
        "ru_maxrss_mb": round(after_max / MB, 1),
        "ru_maxrss_growth_mb": round((after_max - max_before) / MB, 1),
        "tracemalloc_peak_mb": round(traced_peak / MB, 1),
    }
    if cuda:
        memory["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated() / MB, 1)
    return memory


def _batched_pass(items: list[np.ndarray], batch: int, run_chunk: Callable[[list[np.ndarray]], list]) -> Pass:
    """A pass over ``items`` (photos or crops), ``batch`` at a time; ``run_chunk`` returns
    (timings, faces) per photo or crop."""
    def once() -> tuple[int, dict[str, float], list[str]]:
        timings: dict[str, float] = {}
        methods: list[str] = []
        for start in range(0, len(items), batch):
            for item_timings, faces in run_chunk(items[start:start + batch]):
                _add(timings, item_timings)
                methods += [f.method if f.status == "ok" else f.status for f in faces]
        return len(methods), timings, methods
    return once


def _photos_pass(deoccluder, photos: list[np.ndarray], batch: int) -> Pass:  # noqa: ANN001
    return _batched_pass(photos, batch, lambda chunk: [(r.timings, r.faces) for r in deoccluder.run_many(chunk)])


def _aligned_pass(deoccluder, crops: list[np.ndarray], batch: int) -> Pass:  # noqa: ANN001
    return _batched_pass(crops, batch, lambda chunk: [(f.timings, [f]) for f in deoccluder.run_aligned(chunk)])


def _classical_pass(deoccluder, photos: list[np.ndarray], size: int) -> Pass:  # noqa: ANN001
    from deocclude.faces.mesh import mesh_mask
    from deocclude.faces.paste_back import paste_back
    from deocclude.inpaint.classical import classical_inpaint

    def once() -> tuple[int, dict[str, float], list[str]]:
        timings: dict[str, float] = {}
        methods: list[str] = []
        for photo in photos:
            output = photo
            for face in deoccluder.finder(photo, timings):
                with timed(timings, "align"):
                    hole = mesh_mask(face.aligned.landmarks, size, size) * face.aligned.valid
                with timed(timings, "fill"):
                    restored = classical_inpaint(face.aligned.crop, hole, "telea")
                with timed(timings, "paste"):
                    output = paste_back(output, face.aligned, restored, hole, deoccluder.config.paste)
                methods.append("mesh surface + OpenCV Telea")
        return len(methods), timings, methods
    return once


def run_benchmark(config: BenchConfig, log: Callable[[str], None] = print) -> dict:
    """Every row of the benchmark (see the module's docstring) with the machine it ran on."""
    import cv2
    import torch

    from deocclude.imageio import read_image
    from deocclude.pipeline import Deoccluder, DeoccluderConfig

    paths = [Path(p) for p in config.photos] or example_photos()
    if not paths:
        raise DeoccludeError("no benchmark photos: examples/*.jpg not found; pass --photos")
    devices = resolve_devices(config.devices)
    old_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(config.threads)
    cv2.setNumThreads(config.threads)
    try:
        photos = [read_image(p) for p in paths]
        photo_set = [photos[i % len(photos)] for i in range(config.faces)]
        rows: list[_Row] = []
        for size in config.sizes:
            probe = Deoccluder(DeoccluderConfig(size=size, device="cpu", only_largest_face=True, rescue=config.rescue))
            crops = [face.aligned.crop for photo in photos for face in probe.run(photo).faces]
            if len(crops) != len(photos):
                raise DeoccludeError("every benchmark photo must show exactly one detectable face")
            crop_set = [crops[i % len(crops)] for i in range(config.faces)]
            rows.append(_Row({"mode": "classical", "size": size, "device": "cpu", "batch_size": 1},
                             _classical_pass(probe, photo_set, size)))
            for device in devices:
                for batch in config.batch_sizes:
                    deoccluder = Deoccluder(DeoccluderConfig(size=size, device=device, batch_size=batch,
                                                             only_largest_face=True, fill=config.fill,
                                                             rescue=config.rescue))
                    meta = {"size": size, "device": device, "batch_size": batch, "fp16": deoccluder.uses_half}
                    rows.append(_Row({"mode": "photos", **meta}, _photos_pass(deoccluder, photo_set, batch)))
                    rows.append(_Row({"mode": "aligned", **meta}, _aligned_pass(deoccluder, crop_set, batch)))
        log(f"  {len(rows)} configurations, {config.warmup} warm-up and {config.repeats} timed passes of "
            f"{config.faces} faces each")
        summaries = measure(rows, config.repeats, config.warmup, log)
        for row in summaries:
            log(f"  N={row['size']} {row['device']} {row['mode']} batch {row['batch_size']}: "
                f"{row['faces_per_s']['median']:.1f} faces/s, {row['ms_per_face']['median']:.1f} ms/face "
                f"(p90 {row['ms_per_face']['p90']:.1f})")
        return {
            "machine": machine_info(devices, config.threads),
            "config": asdict(config) | {"photos": [str(p) for p in paths]},
            "rows": summaries,
        }
    finally:
        torch.set_num_threads(old_threads[0])
        cv2.setNumThreads(old_threads[1])


def _cell(stat: dict | None) -> str:
    return "–" if not stat else f"{stat['median']:.1f} / {stat['p90']:.1f}"


def _cpu_share(rows: list[dict]) -> str:
    shares = [row["process_cpu_per_wall"] for row in rows if "process_cpu_per_wall" in row]
    if not shares:
        return ""
    return (f"; CPU time / wall time of the process while timed, median over rows: {float(np.median(shares)):.2f} "
            "(below 1: other jobs took the CPU, or the CPU waited for the GPU)")


def to_markdown(result: dict, command: str) -> str:
    m, c = result["machine"], result["config"]
    gpu = f"; GPU {m['gpu']} (CUDA {m['cuda']})" if "gpu" in m else ""
    lines = [
        "# deocclude bench",
        "",
        "```bash",
        command,
        "```",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), torch {m['torch']} with "
        f"{m['torch_threads']} thread(s), OpenCV {m['opencv']}, Python {m['python']}{gpu}; load average at start "
        f"{m['load_average_at_start']}{_cpu_share(result['rows'])}."
        + ("" if c.get("rescue", True) else " Detection without the rescue (`--no-rescue`)."),
        "",
        f"Per face, median / p90 over {c['repeats']} repeats of {result['rows'][0]['faces_per_repeat']} faces "
        f"({c['warmup']} warm-up repeat(s) excluded; configurations timed in turn, round after round); a batched "
        "call's time is split evenly over its faces. "
        "`photos`: whole photos through the pipeline (batch = photos per `run_many`, whose faces share S / R calls); "
        "`aligned`: canonical crops through `deocclude_faces` (batch = crops per S / R call); `classical`: detect, "
        "landmarks, align, the whole mesh surface as the hole, OpenCV Telea, paste back, no networks (its hole is "
        "all of M_R, larger than S's M_O, so its fill time is an upper bound).",
        "",
        "| way | N | device | batch | faces/s | ms/face | " + " | ".join(STAGES) + " | RSS MB | numpy MB | GPU MB |",
        "|---|---|---|---|---|---|" + "---|" * len(STAGES) + "---|---|---|",
    ]
    for row in result["rows"]:
        stages = row["stages_ms_per_face"]
        mem = row["memory"]
        lines.append(
            f"| {row['mode']} | {row['size']} | {row['device']} | {row['batch_size']} | "
            f"{row['faces_per_s']['median']:.1f} | "
            f"{_cell(row['ms_per_face'])} | " + " | ".join(_cell(stages.get(s)) for s in STAGES)
            + f" | {mem['peak_rss_mb'] if mem['peak_rss_mb'] is not None else mem['ru_maxrss_mb']}"
            + f" | {mem['tracemalloc_peak_mb']} | {mem.get('cuda_max_allocated_mb', '–')} |")
    methods = sorted({method for row in result["rows"] for method in row["method"]})
    failed = sum(row["failed_faces"] for row in result["rows"])
    lines += [
        "",
        f"Methods that ran: {', '.join(methods)}; faces that failed: {failed}. Memory, in one more untimed repeat: "
        "RSS MB = the process's largest resident set (it includes the models of every row, all loaded before timing); "
        "numpy MB = the peak of numpy/Python allocations during the repeat (tracemalloc; torch's CPU tensors are not "
        "traced); GPU MB = `torch.cuda.max_memory_allocated`. `bench.json` also has the growth of the resident set "
        "during the repeat and `ru_maxrss`.",
        "",
    ]
    return "\n".join(lines)
