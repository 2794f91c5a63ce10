"""Print MODEL_CARD.md's provenance lines from the bundled files' own metadata.

    PYTHONPATH=src python tools/model_card_provenance.py

One line per bundled file with a ``provenance`` entry (S, R, G; see
:class:`deocclude.model_file.Provenance`), so the card quotes the files instead of restating
them by hand; ``tests/test_model_file.py`` fails when the card and a file disagree.
"""

from __future__ import annotations

import sys

from deocclude.model_file import ModelInfo, read_metadata
from deocclude.paths import WEIGHTS_DIR


def _count(value: float | None, unit: str, digits: int = 0) -> str | None:
    return None if value is None else f"{value:,.{digits}f} {unit}"


def provenance_line(file_name: str, info: ModelInfo) -> str | None:
    """The card's line for one file, or None when the file has no provenance entry."""
    p = info.provenance
    if p is None:
        return None
    training = ", ".join(part for part in (f"run `{p.run}`", _count(p.steps, "steps"), _count(p.epochs, "epochs", 2),
                                           _count(p.images, "images"), _count(p.minutes, "min", 1)) if part)
    commits = [
        f"{what} `{commit}`"
        for what, commit in (("trained with", p.trained_with_commit), ("bundled at", p.bundled_at_commit))
        if commit != "unknown"
    ]  # files bundled before the bundlers recorded commits: the card's text says them
    parts = [training, *commits]
    if p.inputs:
        parts.append("inputs " + ", ".join(f"{k} `{v}`" for k, v in p.inputs.items()))
    if p.val:
        parts.append("final val " + ", ".join(f"{k} {v:.4g}" for k, v in p.val.items()))
    return (
        f"- **Provenance** (`{file_name}` metadata, printed by `tools/model_card_provenance.py`): "
        + "; ".join(parts)
        + "."
    )


def main() -> int:
    for path in sorted(WEIGHTS_DIR.glob("*.safetensors")):
        meta = read_metadata(path)
        line = provenance_line(path.name, ModelInfo(None, None, meta))
        if line is not None:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
