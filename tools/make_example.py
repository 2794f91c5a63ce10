"""Make the bundled examples: the public-domain astronaut with occluders drawn by our own code.

scikit-image's astronaut (Eileen Collins, NASA, public domain) is the only photo we may
ship; the occluders are procedural (no bank items, no textures from the shared data), so
the examples need nothing outside the repository and are reproducible from this seed.

Usage:  python tools/make_example.py
Writes examples/astronaut_sunglasses.jpg and examples/astronaut_mask.jpg.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from deocclude.faces.detect import FaceDetector
from deocclude.faces.landmarks import FaceMesh
from deocclude.imageio import read_image, write_image
from deocclude.paths import REPO_DIR
from deocclude.synth import OcclusionSynthesizer, SynthConfig
from deocclude.synth.protocols import protocol_config

EXAMPLES = REPO_DIR / "examples"
SEED = 20261125


def main() -> None:
    photo = read_image(EXAMPLES / "astronaut.jpg")
    [face] = [m for m in FaceMesh()(photo, FaceDetector()(photo)) if m.present]
    image = photo.astype(np.float32) / 255.0
    for name, config, category in (
        ("sunglasses", protocol_config("sunglasses"), "eyewear"),
        ("mask", SynthConfig(), "mask"),
    ):
        config = dataclasses.replace(config, use_shared_data=False)  # procedural only: reproducible anywhere
        synthesizer = OcclusionSynthesizer(config, split="test")
        occlusion = synthesizer(image, face.points, np.random.default_rng(SEED), category=category)
        out = EXAMPLES / f"astronaut_{name}.jpg"
        write_image(out, (occlusion.image * 255.0 + 0.5).astype(np.uint8))
        print(f"{out}: {occlusion.category} ({occlusion.source}), "
              f"occluder covers {occlusion.alpha.mean():.1%} of the photo")


if __name__ == "__main__":
    main()
