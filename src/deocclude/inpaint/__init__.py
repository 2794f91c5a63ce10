"""G: guided inpainting of the occluded face region (and the classical baselines).

The fills built on them (what ``--fill`` chooses) are in :mod:`deocclude.fills`.
"""
