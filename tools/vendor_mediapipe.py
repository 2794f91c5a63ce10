"""Vendor MediaPipe's face detection and face mesh models into the package.

The .tflite files ship inside the PyPI wheel ``mediapipe==0.10.21`` (Apache-2.0); newer
wheels no longer contain them, and depending on mediapipe at run time would pin numpy<2.
This script downloads that wheel with pip (build time only), extracts the four models into
``src/deocclude/faces/assets/`` and records their sha256 in ``SHA256SUMS`` so that the
package can verify them at load time.

Usage:  python tools/vendor_mediapipe.py [--wheel PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_SPEC = "mediapipe==0.10.21"
MODELS = {
    "face_detection_short_range.tflite": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "face_detection_full_range_sparse.tflite": (
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite"
    ),
    "face_landmark.tflite": "mediapipe/modules/face_landmark/face_landmark.tflite",
    # person / background: the do-no-harm gate keeps M_O off the background (issue 15)
    "selfie_segmentation.tflite": "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
}
ASSETS = Path(__file__).resolve().parents[1] / "src" / "deocclude" / "faces" / "assets"


def download_wheel(target: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "-d", str(target), WHEEL_SPEC],
        check=True,
    )
    return next(target.glob("mediapipe-*.whl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help="an already downloaded mediapipe-0.10.21 wheel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        ASSETS.mkdir(parents=True, exist_ok=True)
        lines = []
        with zipfile.ZipFile(wheel) as zf:
            for name, member in MODELS.items():
                data = zf.read(member)
                (ASSETS / name).write_bytes(data)
                digest = hashlib.sha256(data).hexdigest()
                lines.append(f"{digest}  {name}")
                print(f"{name}: {len(data)} bytes, sha256 {digest}")
        (ASSETS / "SHA256SUMS").write_text("\n".join(lines) + "\n")
        (ASSETS / "SOURCE.txt").write_text(
            f"Extracted from the PyPI wheel {WHEEL_SPEC} ({Path(wheel).name}) by tools/vendor_mediapipe.py.\n"
            "Copyright 2019-2025 The MediaPipe Authors. Licensed under the Apache License, Version 2.0;\n"
            "see LICENSE-MEDIAPIPE beside this file.\n"
        )


if __name__ == "__main__":
    main()
