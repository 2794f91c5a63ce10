"""S benchmarks: val quality of the bundled weights, training throughput, inference latency.

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/segment_bench.py [--skip-eval] [--val-limit N]

Writes benchmarks/results/segment.json. Quality: the bundled fp16 weights on the `val`
faces (all 500 unless --val-limit), clean and with one held-out (`split="test"`) occluder
each from the mixed protocol (every category), precision / IoU at 0.5 over real-photo
pixels, beside the paper's 0.981 / 0.954 (its own data). Speed: this machine's CPU, with
the load average recorded (the machine is shared, so timings vary).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from deocclude.nets import count_parameters
from deocclude.segment.config import SegmentTrainConfig
from deocclude.segment.inference import DEFAULT_WEIGHTS, S_FILE
from deocclude.segment.losses import SegmentLoss
from deocclude.segment.model import UNet

PAPER = {"precision": 0.981, "iou": 0.954}
RESULTS = Path(__file__).resolve().parent / "results" / "segment.json"


def evaluate(weights: Path, val_limit: int, batch_size: int = 16) -> dict:
    """Run the training task's own validation (same sets, same metrics) on a weights file."""
    from torch.utils.data import DataLoader

    from deocclude.segment.task import SegmentTask

    net, info = S_FILE.load(weights)
    size = info.size
    task = SegmentTask(SegmentTrainConfig(size=size, model=net.config, val_limit=val_limit, train_limit=1))
    loader = DataLoader(task.val_dataset(), batch_size=batch_size, num_workers=1)
    sums: dict[str, torch.Tensor] = {}
    t0 = time.time()
    with torch.no_grad():
        for batch in loader:
            for k, v in task.val_step({"net": net}, batch).items():
                sums[k] = sums.get(k, 0) + v.double()
    metrics = task.summarize(sums)
    metrics["seconds"] = round(time.time() - t0, 1)
    metrics["gap_to_paper"] = {
        "clean_precision": round(metrics["clean_precision"] - PAPER["precision"], 4),
        "clean_iou": round(metrics["clean_iou"] - PAPER["iou"], 4),
        "occluded_precision": round(metrics["occluded_precision"] - PAPER["precision"], 4),
        "occluded_iou": round(metrics["occluded_iou"] - PAPER["iou"], 4),
    }
    return metrics


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def train_throughput(config: SegmentTrainConfig, batch: int, steps: int) -> float:
    """Images/s of forward + loss + backward + Adam step (model only, random tensors)."""
    torch.manual_seed(0)
    net = UNet(config.model)
    loss = SegmentLoss(config.loss)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.rand(batch, 3, config.size, config.size)
    c = config.model.out_channels  # 1: binary visible-face target; 3: one-hot parser classes
    labels = torch.randint(0, c, (batch, config.size, config.size)) if c > 1 else None
    y = (torch.nn.functional.one_hot(labels, c).permute(0, 3, 1, 2).float() if labels is not None
         else (torch.rand(batch, 1, config.size, config.size) > 0.3).float())

    def step() -> None:
        opt.zero_grad()
        loss(net(x), y)["loss"].backward()
        opt.step()

    return batch / _time(step, steps)


def inference_latency(net: UNet, size: int, batch: int, repeats: int) -> float:
    """Milliseconds per face (forward + sigmoid or softmax), eval mode, no grad."""
    x = torch.rand(batch, 3, size, size)

    @torch.no_grad()
    def run() -> None:
        torch.sigmoid(net(x))

    return 1000.0 * _time(run, repeats) / batch


def data_throughput(samples: int) -> float:
    """Training samples/s of the S data path (cached aligned face + occlusion synthesis) in one process.

    Val faces stand in for train faces (same pipeline; their cache is small)."""
    from deocclude.paths import utkface_root
    from deocclude.segment.data import SegmentTrainSet, load_faces

    train = SegmentTrainSet(load_faces(utkface_root(), "val", 128, None, 200), clean_fraction=0.15)
    train[(0, 0)]
    t0 = time.perf_counter()
    for i in range(samples):
        train[(i % len(train), i)]
    return samples / (time.perf_counter() - t0)


def run_log_summary(run: Path) -> dict:
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    rates = [r["images_per_s"] for r in log if r["event"] == "train" and r["step"] > 10]
    end = [r for r in log if r["event"] == "end"]
    return {
        "run": str(run),
        "median_images_per_s_during_training": sorted(rates)[len(rates) // 2] if rates else None,
        "final": end[-1] if end else None,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--val-limit", type=int, default=0)
    p.add_argument("--skip-eval", action="store_true")
    p.add_argument("--run", type=Path, default=None, help="a training run folder whose log to summarise")
    args = p.parse_args()
    torch.set_num_threads(1)
    results: dict = {
        "command": "PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/segment_bench.py",
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
        },
        "paper": PAPER,
    }
    if args.weights.is_file():
        net, info = S_FILE.load(args.weights)
        size = info.size
        results["weights"] = {
            "file": str(args.weights.name),
            "bytes": args.weights.stat().st_size,
            "parameters": count_parameters(net),
            "train_size": size,
            "config": net.config.__dict__,
        }
    else:
        net, size = UNet(SegmentTrainConfig().model).eval(), 128
    if not args.skip_eval and args.weights.is_file():
        results["val"] = evaluate(args.weights, args.val_limit)
        print(json.dumps(results["val"], indent=1))
    config = SegmentTrainConfig(model=net.config)
    results["data_samples_per_s_one_process"] = round(data_throughput(48), 1)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        results[f"threads{threads}"] = {
            "train_images_per_s_model_only_n128_batch16": round(train_throughput(config, 16, 4), 2),
            "inference_ms_per_face": {
                f"n{n}_batch{b}": round(inference_latency(net, n, b, 5 if b == 1 else 2), 2)
                for n in (128, 256)
                for b in (1, 16)
            },
        }
    if args.run is not None:
        results["training_run"] = run_log_summary(args.run)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "val"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
