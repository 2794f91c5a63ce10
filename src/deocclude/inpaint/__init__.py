"""G: guided inpainting of the occluded face region (and the classical baselines)."""
