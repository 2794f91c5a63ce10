"""Mask operations on the aligned crop beyond S and R (occlusion-mask extension)."""

DEFAULT_DILATE = 2
"""Crop pixels M_O is grown by in every direction (at N = 128), before the edge growth
(masks/occlusion.py: ``grow_over_edges``, 2 px more over pixels unlike the skin beside them).
Session 10 tried 1 px (64 faces: sunglasses M_O precision 0.740 → 0.819, every L1 the same or better)
and went back: at photo resolution a dashed outline of the bundled example's glasses stayed (their
anti-aliased edge), which the protocols' ring L1 did not show.
Until session 9 this was a plain 4 px disk: an occluder's anti-aliased edge and shadow lie
just outside what S calls occluded, and the Poisson-blended fill takes its colours from the
hole's rim, so a plain 2 px rim leaves lines (a real face mask's top edge across the cheeks).
But the 4 px disk also repainted clear skin along every sharp edge. 2 px + 2 px edge growth,
64 faces per protocol, blend fill, 4 px disk → this: sunglasses L1 0.0774 → 0.0739, ring L1
0.0301 → 0.0214, M_O precision 0.646 → 0.739 at recall 0.994 → 0.993; mixed L1 0.0803 → 0.0771,
precision 0.602 → 0.646; face masks L1 0.0862 → 0.0879 (the one loss), precision 0.786 → 0.793."""

G_HOLE_DILATE = 4
"""G's training holes (``--hole pipeline``) keep the 4 px disk of the runs that trained the bundled G:
a superset of what the pipeline now hands it, so G has learnt to fill every rim it gets."""
