"""The README's picture: the bundled examples before and after ``deocclude run``.

Usage:  python tools/make_readme_figure.py      (writes docs/example.png)
Only the public-domain astronaut (with our own procedural occluders) is shown.
"""

from __future__ import annotations

import numpy as np

from deocclude.imageio import read_image, write_image
from deocclude.paths import REPO_DIR
from deocclude.pipeline import Deoccluder
from deocclude.visualize import labelled_grid, overlay_mask

EXAMPLES = ("astronaut_sunglasses.jpg", "astronaut_mask.jpg")


def main() -> None:
    deoccluder = Deoccluder()
    rows, methods = [], set()
    for name in EXAMPLES:
        photo = read_image(REPO_DIR / "examples" / name)
        result = deoccluder.run(photo)
        face = result.faces[0]
        methods.add(face.method)
        x0, y0, x1, y1 = face.detection.box
        side = 1.6 * max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        top, left = int(max(cy - side / 2, 0)), int(max(cx - side / 2, 0))
        bottom, right = int(min(cy + side / 2, photo.shape[0])), int(min(cx + side / 2, photo.shape[1]))
        hole = (
            face.occlusion_mask
            if face.occlusion_mask is not None
            else np.zeros(face.aligned.crop.shape[:2], np.float32)
        )
        rows.append([photo[top:bottom, left:right], overlay_mask(face.aligned.crop, hole),
                     face.render if face.render is not None else np.zeros_like(face.aligned.crop),
                     result.photo[top:bottom, left:right]])
    grid = labelled_grid(rows, ["input photo", "found occlusion M_O", "3D render I_R", "output photo"], cell=224)
    out = REPO_DIR / "docs" / "example.png"
    write_image(out, grid)
    print(f"{out}: {'; '.join(sorted(methods))}")


if __name__ == "__main__":
    main()
