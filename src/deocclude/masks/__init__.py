"""Mask operations on the aligned crop beyond S and R (occlusion-mask extension)."""
