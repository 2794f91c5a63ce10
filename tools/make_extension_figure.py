"""docs/extension.png: the bundled examples de-occluded without and with the M_O extension.

Usage:  PYTHONPATH=src python tools/make_extension_figure.py      (writes docs/extension.png)

Per example: the aligned crop, the paper's M_O, the extended M_O (cyan = added past M_R),
the restored crop without and with the extension, and the output photo around the face
without and with it. Only the public-domain astronaut (with our own procedural occluders)
is shown; the same grid on synthetic UTKFace faces goes to the git-ignored out/ (see
benchmarks/occlusion_extension.py --grid).
"""

from __future__ import annotations

import numpy as np

from deocclude.imageio import read_image, write_image
from deocclude.paths import REPO_DIR
from deocclude.pipeline import Deoccluder, DeoccluderConfig
from deocclude.visualize import labelled_grid, overlay_mask

EXAMPLES = ("astronaut_sunglasses.jpg", "astronaut_mask.jpg")


def main() -> None:
    without, with_ = Deoccluder(DeoccluderConfig(extend=False)), Deoccluder(DeoccluderConfig(extend=True))
    rows = []
    for name in EXAMPLES:
        photo = read_image(REPO_DIR / "examples" / name)
        before, after = without.run(photo), with_.run(photo)
        f0, f1 = before.faces[0], after.faces[0]
        crop = f0.aligned.crop
        added = (f1.occlusion_mask > 0.5) & (f0.occlusion_mask < 0.5)
        x0, y0, x1, y1 = f0.detection.box
        side = 1.6 * max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        top, left = int(max(cy - side / 2, 0)), int(max(cx - side / 2, 0))
        bottom, right = int(min(cy + side / 2, photo.shape[0])), int(min(cx + side / 2, photo.shape[1]))
        rows.append(
            [
                crop,
                overlay_mask(crop, f0.occlusion_mask),
                overlay_mask(overlay_mask(crop, f0.occlusion_mask), added.astype(np.float32), (0, 200, 255), 0.7),
                f0.restored,
                f1.restored,
                before.photo[top:bottom, left:right],
                after.photo[top:bottom, left:right],
            ]
        )
    grid = labelled_grid(rows, ["aligned crop", "M_O (paper)", "extended (cyan)", "crop without", "crop with",
                                "photo without", "photo with"], cell=192)
    out = REPO_DIR / "docs" / "extension.png"
    write_image(out, grid)
    print(out)


if __name__ == "__main__":
    main()
