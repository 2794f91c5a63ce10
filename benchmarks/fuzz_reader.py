"""Fuzz the input reader and ``deocclude run`` with corrupted and odd image bytes.

Why: users hand us whatever their phones, scanners and downloads produced; every such file must
give a picture or one line saying why, never a traceback, a hang, a C library's stray warning or
a memory blow-up. Seeds are small real images in every format the folder scan takes (JPEG
baseline / progressive / EXIF-rotated, PNG RGB / RGBA / grey / 16-bit, WebP, TIFF, BMP, GIF,
AVIF where this OpenCV has it); each input is a seeded mutation of one (bit flips, byte
stomps, truncation, spliced headers, repeated or deleted spans, forged PNG sizes with valid
CRCs, a format's magic before random bytes, pure random bytes), written under its own or a
wrong extension.

1. **Reader** (in this process, 4 GiB address-space cap, 5 s alarm per input): ``read_image``
   and ``read_source`` must return an RGB uint8 H×W×3 array or raise ``ImageReadError`` with a
   one-line message; nothing may be written to file descriptor 2 (libpng / libjpeg warnings).
2. **CLI**: ``deocclude run`` on one folder of ``--cli`` mutants, as a user runs it: exit status
   0 or 1, no traceback or internal error, every stderr line a single-line report, one manifest
   record per input.

Writes ``benchmarks/results/fuzz_reader.json``:

    PYTHONPATH=src python benchmarks/fuzz_reader.py --n 20000 --cli 400
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "fuzz_reader.json"
MAGICS = (b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"II*\x00", b"MM\x00*",
          b"BM", b"GIF89a", b"\x00\x00\x00\x1cftypavif", b"\x00\x00\x00\x18ftypheic")
SUFFIXES = (".jpg", ".png", ".webp", ".tif", ".bmp", ".gif", ".avif", ".jpeg", ".txt", "")


def make_seeds() -> dict[str, bytes]:
    """Small (64×48) encodings of the bundled astronaut in every format the folder scan picks up."""
    from PIL import Image

    from deocclude.imageio import IMAGE_SUFFIXES

    bgr = cv2.resize(cv2.imread(str(REPO / "examples" / "astronaut.jpg")), (64, 48), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    alpha = np.tile(np.linspace(255, 0, 64).astype(np.uint8), (48, 1))
    seeds: dict[str, bytes] = {}

    def enc(name: str, ext: str, image: np.ndarray) -> None:
        ok, buf = cv2.imencode(ext, image)
        if ok:
            seeds[name] = buf.tobytes()

    enc("rgb.jpg", ".jpg", bgr)
    enc("grey.jpg", ".jpg", grey)
    enc("rgb.png", ".png", bgr)
    enc("rgba.png", ".png", np.dstack([bgr, alpha]))
    enc("grey.png", ".png", grey)
    enc("deep.png", ".png", bgr.astype(np.uint16) * 257)
    enc("rgb.webp", ".webp", bgr)
    enc("rgb.tif", ".tif", bgr)
    enc("rgb.bmp", ".bmp", bgr)
    if ".avif" in IMAGE_SUFFIXES:
        enc("rgb.avif", ".avif", bgr)
    pil = Image.fromarray(rgb)
    for name, options in (("progressive.jpg", {"format": "JPEG", "progressive": True}),
                          ("rgb.gif", {"format": "GIF"})):
        out = io.BytesIO()
        pil.save(out, **options)
        seeds[name] = out.getvalue()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: read_image applies it
    out = io.BytesIO()
    pil.save(out, format="JPEG", exif=exif.tobytes())
    seeds["rotated.jpg"] = out.getvalue()
    return seeds


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def mutate(rng: random.Random, seeds: dict[str, bytes]) -> tuple[str, bytes]:
    """One fuzz input: (strategy name, bytes)."""
    name = rng.choice(sorted(seeds))
    data = bytearray(seeds[name])
    strategy = rng.choice(("bitflip", "stomp", "truncate", "splice", "repeat", "delete", "png_size", "magic",
                           "random", "tiny", "stack"))
    if strategy == "stack":  # several mutations at once
        for _ in range(rng.randint(2, 4)):
            data = bytearray(_one(rng, "bitflip stomp truncate repeat delete".split()[rng.randrange(5)], data, seeds))
        return strategy, bytes(data)
    return strategy, _one(rng, strategy, data, seeds)


def _one(rng: random.Random, strategy: str, data: bytearray, seeds: dict[str, bytes]) -> bytes:
    n = len(data)
    if strategy == "bitflip":
        for _ in range(rng.randint(1, 24)):
            i = rng.randrange(n)
            data[i] ^= 1 << rng.randrange(8)
    elif strategy == "stomp":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(min(n, rng.choice((64, 512, n))))
            data[i] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    elif strategy == "truncate":
        data = data[: rng.randrange(1, max(2, n))]
    elif strategy == "splice":
        other = seeds[rng.choice(sorted(seeds))]
        cut = rng.randrange(1, min(n, len(other)))
        data = bytearray(other[:cut]) + data[cut:] if rng.random() < 0.5 else data[:cut] + bytearray(other[cut:])
    elif strategy == "repeat":
        i, j = sorted(rng.randrange(n) for _ in range(2))
        data = data[:j] + data[i:j] * rng.randint(1, 50) + data[j:]
    elif strategy == "delete":
        i, j = sorted(rng.randrange(n) for _ in range(2))
        data = data[:i] + data[j:]
    elif strategy == "png_size":  # a valid PNG header claiming another size, CRC correct
        w, h = rng.choice(((0, 48), (64, 0), (1, 1), (2**31 - 1, 2**31 - 1), (100_000, 100_000), (20_000, 20_000),
                           (9_000, 9_000), (rng.randint(1, 10**6), rng.randint(1, 10**6))))
        depth, colour = rng.choice(((8, 2), (16, 2), (8, 6), (8, 0), (1, 0), (8, 3), (7, 2), (8, 5)))
        ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, rng.choice((0, 1))))
        rows = zlib.compress(bytes(rng.randint(0, 4096)), 9)
        data = bytearray(b"\x89PNG\r\n\x1a\n" + ihdr + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b""))
    elif strategy == "magic":
        data = bytearray(rng.choice(MAGICS) + rng.randbytes(rng.randint(0, 4096)))
    elif strategy == "random":
        data = bytearray(rng.randbytes(rng.randint(1, 8192)))
    elif strategy == "tiny":
        data = bytearray(rng.choice(MAGICS)[: rng.randint(1, 12)])
    return bytes(data)


class _Alarm(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Alarm


def check_reader(path: Path) -> str:
    """'ok' / 'error' for a good outcome, or 'FAIL: why' (the reader's contract, checked on one file)."""
    from deocclude.errors import ImageReadError
    from deocclude.imageio import read_image, read_source

    try:
        image = read_image(path)
        source = read_source(path)
    except ImageReadError as exc:
        message = str(exc)
        if "\n" in message or not message.startswith(str(path)):
            return f"FAIL: error message not one line naming the file: {message!r}"
        return "error"
    except _Alarm:
        return "FAIL: hang (over 5 s)"
    except BaseException as exc:  # noqa: BLE001 - exactly what the fuzzer looks for
        return f"FAIL: {type(exc).__name__}: {str(exc)[:200]}"
    if not (image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.flags.c_contiguous):
        return f"FAIL: bad array {image.dtype} {image.shape}"
    if not np.array_equal(source.rgb, image):
        return "FAIL: read_source and read_image disagree"
    return "ok"


def fuzz_reader(n: int, seed: int, folder: Path) -> dict:
    """``n`` mutants through the reader; stray writes to fd 2 are caught by pointing it at a file."""
    seeds = make_seeds()
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    by_strategy: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    failures: list[dict] = []
    stray = 0
    slowest = (0.0, "")
    log = folder / "stderr.log"
    saved = os.dup(2)
    signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    for i in range(n):
        strategy, data = mutate(rng, seeds)
        path = folder / f"in{i % 50}{rng.choice(SUFFIXES)}"
        path.write_bytes(data)
        with open(log, "w+b") as err:
            os.dup2(err.fileno(), 2)
            signal.alarm(5)
            t = time.perf_counter()
            try:
                outcome = check_reader(path)
            finally:
                signal.alarm(0)
                os.dup2(saved, 2)
            seconds = time.perf_counter() - t
            err.seek(0)
            noise = err.read()
        path.unlink()
        if noise:
            stray += 1
            if not outcome.startswith("FAIL"):
                outcome = f"FAIL: wrote to stderr: {noise[:120]!r}"
        slowest = max(slowest, (seconds, strategy))
        key = outcome if not outcome.startswith("FAIL") else "fail"
        outcomes[key] += 1
        if key == "fail":
            kinds[outcome[6:40]] += 1
        by_strategy[strategy] += 1
        if key == "fail" and len(failures) < 20 and ("stderr" not in outcome or stray <= 5):
            failures.append({"index": i, "strategy": strategy, "suffix": path.suffix, "outcome": outcome,
                             "bytes_head": data[:32].hex()})
    return {
        "inputs": n,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        "outcomes": dict(outcomes),
        "failure_kinds": dict(kinds),
        "strategies": dict(by_strategy),
        "stray_stderr": stray,
        "slowest_input_s": round(slowest[0], 3),
        "slowest_strategy": slowest[1],
        "failures": failures,
    }


def fuzz_cli(n: int, seed: int, folder: Path) -> dict:
    """``deocclude run`` on one folder of ``n`` mutants (plus one real photo), as a subprocess."""
    seeds = make_seeds()
    rng = random.Random(seed + 1)
    inputs = folder / "in"
    inputs.mkdir()
    suffixes = (".jpg", ".png", ".webp", ".tif", ".bmp", ".gif")  # what the folder scan takes
    for i in range(n):
        _, data = mutate(rng, seeds)
        (inputs / f"f{i:04d}{rng.choice(suffixes)}").write_bytes(data)
    (inputs / "real.jpg").write_bytes((REPO / "examples" / "astronaut_sunglasses.jpg").read_bytes())
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "deocclude", "run", str(inputs), "-o", str(folder / "out"),
                           "--device", "cpu"], capture_output=True, text=True, env=env, timeout=1800)
    seconds = time.perf_counter() - started
    lines = proc.stderr.splitlines()
    prefixes = ("error:", "no face:", "note:", "face ")
    odd = [line for line in lines if not (line.startswith(prefixes) or "photo(s) processed" in line)]
    manifest = (
        json.loads((folder / "out" / "manifest.json").read_text())
        if (folder / "out" / "manifest.json").is_file()
        else {}
    )
    statuses = Counter(e["status"].split(":")[0] for e in manifest.get("files", []))
    real = next((e for e in manifest.get("files", []) if e["input"].endswith("real.jpg")), {})
    ok = (proc.returncode in (0, 1) and "Traceback" not in proc.stderr and "internal error" not in proc.stderr
          and not odd and sum(statuses.values()) == n + 1 and real.get("status") == "ok")
    return {"inputs": n + 1, "exit_status": proc.returncode, "seconds": round(seconds, 1), "passed": ok,
            "statuses": dict(statuses), "odd_stderr_lines": odd[:10], "real_photo_status": real.get("status")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="reader inputs")
    ap.add_argument("--cli", type=int, default=400, help="inputs for the one `deocclude run` (0 = skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    limit = 4 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    with tempfile.TemporaryDirectory(prefix="fuzz-reader-") as tmp:
        reader = fuzz_reader(args.n, args.seed, Path(tmp))
        print(json.dumps(reader, indent=1), flush=True)
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    cli = None
    if args.cli:
        with tempfile.TemporaryDirectory(prefix="fuzz-cli-") as tmp:
            cli = fuzz_cli(args.cli, args.seed, Path(tmp))
            print(json.dumps(cli, indent=1), flush=True)
    result = {"command": "PYTHONPATH=src python benchmarks/fuzz_reader.py " + " ".join(sys.argv[1:]),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "opencv": cv2.__version__, "address_space_cap_gib": limit / 2**30, "reader": reader, "cli": cli}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    failed = reader["outcomes"].get("fail", 0) + (0 if cli is None or cli["passed"] else 1)
    print(f"reader: {args.n} inputs, {reader['outcomes']}; cli: "
          f"{'skipped' if cli is None else (cli['inputs'], cli['passed'])} -> {args.out}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
