"""``deocclude bench``: per-stage latency, faces/s and peak memory on this machine."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from deocclude.fills import fill_choices

DESCRIPTION = """\
Time the de-occluder on the bundled example photos (no ../shared needed), stage by stage
(detect, landmarks, align, segment, reconstruct, fill, paste), at every --sizes N and
--batch-sizes b, on this CPU and on CUDA when there is one; the classical baseline (detect,
align, mesh-surface hole, OpenCV Telea; no networks) is timed in the same run. Warm-up
repeats are excluded; medians and p90 over --repeats. Peak memory per configuration.

Writes OUT/bench.json (every number, the machine, the command) and OUT/bench.md (a table
that begins with the exact command and the machine)."""

EPILOG = """\
examples:
  deocclude bench                                   N = 128 and 256, batch 1 and 16, 10 repeats
  deocclude bench --repeats 3 --sizes 128 --batch-sizes 1 --out /tmp/bench
  deocclude bench --device cuda --batch-sizes 1 16 64 --faces 64"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="latency, faces/s and memory of every stage on this machine",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256], metavar="N", help="crop sizes (default 128 256)")
    p.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[1, 16], metavar="B", help="faces per S / R call (default 1 16)"
    )
    p.add_argument("--repeats", type=int, default=10, help="timed passes over the faces (default 10)")
    p.add_argument("--warmup", type=int, default=1, help="untimed passes first (default 1)")
    p.add_argument("--faces", type=int, default=16, help="faces per pass, >= the largest batch size (default 16)")
    p.add_argument("--device", nargs="+", default=["auto"], metavar="DEVICE",
                   help="auto (this CPU, and CUDA when present), cpu, cuda, cuda:1 ... (default auto)")
    p.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads (default 1)")
    p.add_argument("--photos", nargs="+", default=[], metavar="PHOTO",
                   help="photos with one face each (default: the bundled examples/*.jpg)")
    p.add_argument(
        "--fill",
        choices=fill_choices(),
        default="auto",
        help="the pipeline's fill, as in `deocclude run` (default auto: the I_R blend); g times the learned G",
    )
    p.add_argument("--no-rescue", dest="rescue", action="store_false",
                   help="time `deocclude run --no-rescue`: MediaPipe's detector thresholds only (faster, finds fewer "
                        "masked faces)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for bench.json and bench.md")
    p.set_defaults(func=run)


def command_line(args: argparse.Namespace) -> str:
    """The full command these arguments stand for (defaults spelled out)."""
    parts = ["deocclude", "bench", "--sizes", *map(str, args.sizes), "--batch-sizes", *map(str, args.batch_sizes),
             "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--faces", str(args.faces),
             "--device", *args.device, "--threads", str(args.threads), "--fill", args.fill]
    if args.photos:
        parts += ["--photos", *args.photos]
    if not args.rescue:
        parts.append("--no-rescue")
    return shlex.join(parts + ["--out", str(args.out)])


def run(args: argparse.Namespace) -> int:
    import sys

    from deocclude.benchmark.latency import BenchConfig, run_benchmark, to_markdown
    from deocclude.inputs import check_output_folder

    config = BenchConfig(sizes=tuple(args.sizes), batch_sizes=tuple(args.batch_sizes), repeats=args.repeats,
                         warmup=args.warmup, faces=args.faces, devices=tuple(args.device), threads=args.threads,
                         photos=tuple(args.photos), fill=args.fill, rescue=args.rescue)
    check_output_folder(args.out, [])
    command = command_line(args)
    print(f"deocclude bench: {command}", file=sys.stderr)
    result = {"command": command, **run_benchmark(config, log=lambda line: print(line, file=sys.stderr))}
    (args.out / "bench.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "bench.md").write_text(to_markdown(result, command))
    print(f"wrote {args.out / 'bench.json'} and {args.out / 'bench.md'}", file=sys.stderr)
    return 0
