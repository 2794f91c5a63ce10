"""Occlusion synthesis (docs/method.md §2): occluder sources, placement, composition, protocols.

Public API:
- :class:`SynthConfig`, :data:`CATEGORIES`
- :class:`OcclusionSynthesizer` ``(image, landmarks, rng, category) -> Occlusion``
- :class:`Occlusion`, :func:`compose`
- :class:`OccludedFaces` (torch Dataset over a faces dataset)
- :class:`OccluderBank`, :class:`TextureBank`
"""

from deocclude.synth.bank import OccluderBank
from deocclude.synth.compose import Occlusion, compose
from deocclude.synth.config import CATEGORIES, PROCEDURAL_CATEGORIES, EyewearConfig, SynthConfig
from deocclude.synth.synthesizer import OcclusionSynthesizer
from deocclude.synth.textures import TextureBank

__all__ = [
    "CATEGORIES", "PROCEDURAL_CATEGORIES", "EyewearConfig", "SynthConfig", "OcclusionSynthesizer",
    "Occlusion", "compose", "OccluderBank", "TextureBank", "OccludedFaces",
]


def __getattr__(name: str):
    # OccludedFaces imports torch; keep `import deocclude.synth` light for numpy-only users
    if name == "OccludedFaces":
        from deocclude.synth.dataset import OccludedFaces

        return OccludedFaces
    raise AttributeError(name)
