"""deocclude: mask-free facial de-occlusion.

Pipeline (see docs/design.md §1): ``faces`` (detect → landmarks → align) → ``segment`` (S, visible
face) + ``reconstruct`` (R, 3D face render) → occlusion mask M_O = M_R ⊙ (1 − M_F) →
``inpaint`` (G) → ``faces.paste_back``. Masks follow one polarity everywhere: for occlusion
masks 1 = occluded; for face masks (M_F, M_R) 1 = face.
"""

__version__ = "0.1.0"
