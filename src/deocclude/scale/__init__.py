"""``deocclude run`` at scale: :mod:`deocclude.scale.ray_engine` (``--engine ray``, the ``ray`` extra)."""
