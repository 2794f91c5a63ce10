"""Mask operations on the aligned crop beyond S and R (occlusion-mask extension)."""

DEFAULT_DILATE = 4
"""Crop pixels M_O is grown by (at N = 128). 4, not 2: an occluder's anti-aliased edge and
shadow lie just outside what S calls occluded, and the Poisson-blended fill takes its
colours from the hole's rim, so a 2 px rim left dark smudges around removed sunglasses.
Sunglasses, 100 test faces, blend fill: L1 0.091 → 0.084, SSIM 0.636 → 0.647, ID cos
0.962 → 0.958 (2 → 4 px)."""
