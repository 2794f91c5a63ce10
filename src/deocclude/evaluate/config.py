"""What one Table 1 evaluation run (``sunglasses``, ``mixed``, ``facemask`` or ``eyeglasses``) is configured with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deocclude.errors import DeoccludeError
from deocclude.masks import DEFAULT_DILATE
from deocclude.masks.outline import DEFAULT_OUTLINE_BAND
from deocclude.paths import WEIGHTS_DIR

TABLE1_PROTOCOLS = ("sunglasses", "mixed", "facemask", "eyeglasses")  # = deocclude.synth.protocols.PROTOCOLS
# = deocclude.synth.protocols.DEFAULT_SEED (not imported: that pulls in the synthesizer)
DEFAULT_PROTOCOL_SEED = 20261125
BUNDLED_G = ("G (bundled)", str(WEIGHTS_DIR / "inpaint_g.safetensors"))


@dataclass(frozen=True)
class Table1Config:
    """One run of the paper's Table 1 protocol on our seeded synthetic set.

    The defaults are the published run: 300 faces keep a CPU run to minutes (the protocol
    has 1,000), the pipeline's own mask settings, the bundled G.
    """

    protocol: str
    limit: int = 300
    """Faces of the protocol to evaluate (the first ``limit`` of its 1,000)."""
    seed: int = DEFAULT_PROTOCOL_SEED
    """Protocol seed: every face's occluder is a pure function of (seed, face index)."""
    size: int = 128
    """Side of the aligned crops (faces drawn, S, R and the fills at this size)."""
    batch_size: int = 16
    device: str = "cpu"
    g_weights: tuple[tuple[str, str], ...] = (BUNDLED_G,)
    """(label, weights file) of every G to compare; empty = no G rows."""
    mask_threshold: float = 0.5
    """S's visible-face probability below which a face pixel is occluded (as ``deocclude run``)."""
    dilate: int = DEFAULT_DILATE
    """Growth of the automatic M_O in pixels (as ``deocclude run``)."""
    outline_band: int = DEFAULT_OUTLINE_BAND
    """Band along the face outline where M_O must continue deeper occlusion (as ``deocclude run``)."""
    pipeline_overrides: tuple[str, ...] = ()
    """``FIELD=JSON`` settings of the automatic rows' :class:`~deocclude.pipeline.DeoccluderConfig` beyond the
    three above (``--set``), e.g. ``rim_depth=0``: every knob of M_O can be measured here without a flag of its own."""
    true_alpha: float = 0.5
    """Occluder opacity above which a face pixel counts as truly occluded (the scored region)."""
    grid_faces: int = 16

    def __post_init__(self) -> None:
        if self.protocol not in TABLE1_PROTOCOLS:
            raise DeoccludeError(f"unknown protocol {self.protocol!r}; known: {', '.join(TABLE1_PROTOCOLS)}")
        if self.limit < 1:
            raise DeoccludeError(f"--limit must be >= 1, got {self.limit}")
        if self.batch_size < 1:
            raise DeoccludeError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.size % 32 or self.size < 64:
            raise DeoccludeError(f"--size must be a multiple of 32 and at least 64, got {self.size}")
        if not 0.0 <= self.true_alpha < 1.0:
            raise DeoccludeError(f"the true-occlusion threshold must lie in [0, 1), got {self.true_alpha}")
        labels = [label for label, _ in self.g_weights]
        if len(set(labels)) != len(labels):
            raise DeoccludeError(f"--g-weights labels must differ, got {labels}")
        for label, path in self.g_weights:
            if not Path(path).is_file():
                raise DeoccludeError(f"--g-weights {label}: no weights file at {path}")


def parse_g_weights(specs: list[str] | None) -> tuple[tuple[str, str], ...]:
    """``LABEL=PATH`` strings → (label, path) pairs; a bare ``PATH`` is labelled ``G (<file name>)``.

    ``None`` (the flag not given) means the bundled G; ``none`` means no G rows at all.
    """
    if specs is None:
        return (BUNDLED_G,)
    if [s.lower() for s in specs] == ["none"]:
        return ()
    pairs = []
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep:
            label, path = f"G ({Path(spec).name})", spec
        if not label.strip() or not path.strip():
            raise DeoccludeError(f"--g-weights wants LABEL=PATH, got {spec!r}")
        pairs.append((label.strip(), path.strip()))
    return tuple(pairs)
