"""Rewrite the metadata of bundled S / R / G files into the one provenance schema; tensors untouched.

    PYTHONPATH=src python tools/convert_model_metadata.py                    # the three bundled files
    PYTHONPATH=src python tools/convert_model_metadata.py FILE --set FILE:run=g_cpu

Before issue 18 each bundler wrote its own flat keys (S: ``training_run``, ``training``,
``val``, commits, ``data``; R: ``run``, ``steps``, ``minutes``, ``images``, hashes; G:
``prior``, ``ssim_loss``, ``steps`` ...). This moves them into the one ``provenance`` entry
(:class:`deocclude.model_file.Provenance`) and keeps the load entries (``format``,
``config``, ``size``, ``uses_prior``) as they are. Facts the old file never held but the
model card states (G's run and training commit) are given with ``--set``, and ``note`` says
so. The tensors are copied as stored (no cast) and their digest is checked after the rewrite.
Files already converted are left alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from deocclude.config_codec import config_to_json
from deocclude.model_file import PROVENANCE_KEY, Provenance, read_tensors, tensors_sha256, write_tensors
from deocclude.paths import REPO_DIR, WEIGHTS_DIR

BUNDLED = ("segment_s.safetensors", "reconstruct_r.safetensors", "inpaint_g.safetensors")
LOAD_KEYS = ("format", "config", "size", "uses_prior")  # read by the loaders: kept as they are
# the model card's facts for files whose bundler did not record them (MODEL_CARD.md, G's "Command" line)
CARD_FACTS = {"inpaint_g.safetensors": {"run": "g_cpu", "trained_with_commit": "2097ffa"}}


def _number(text: str | None) -> Any:
    return None if text in (None, "?") else json.loads(text)


def provenance_from_flat_keys(meta: dict[str, str], facts: dict[str, Any], committed_in: str) -> Provenance:
    """The old bundlers' keys as one :class:`Provenance`; an unknown key is an error, never dropped."""
    old = {k: v for k, v in meta.items() if k not in LOAD_KEYS}
    training = json.loads(old.pop("training", "{}"))  # S kept step/epochs/images/minutes in one JSON entry
    fields: dict[str, Any] = {
        "run": old.pop("training_run", None) or old.pop("run", "unknown"),
        "steps": training.get("step", _number(old.pop("steps", None))),
        "epochs": training.get("epochs", _number(old.pop("epochs", None))),
        "images": training.get("images", _number(old.pop("images", None))),
        "minutes": training.get("minutes", _number(old.pop("minutes", None))),
        "val": json.loads(old.pop("val", "{}")),
        "trained_with_commit": old.pop("trained_with_commit", "unknown"),
        "bundled_at_commit": old.pop("bundled_at_commit", "unknown"),
        "data": old.pop("data", ""),
        "inputs": {k: old.pop(k) for k in ("face_model_sha256", "teacher_sha256", "prior", "ssim_loss") if k in old},
    }
    if old:
        raise SystemExit(f"unknown metadata keys {sorted(old)}: extend the converter rather than drop them")
    fields.update(facts)
    given = f"; from MODEL_CARD.md: {', '.join(sorted(facts))}" if facts else ""
    fields["note"] = (f"provenance moved from the {meta.get('format')} flat keys by tools/convert_model_metadata.py "
                      f"(file last bundled in commit {committed_in}){given}")
    return Provenance(**fields)


def last_commit_of(path: Path) -> str:
    done = subprocess.run(
        ["git", "log", "-1", "--format=%h", "--", str(path)], capture_output=True, text=True, cwd=REPO_DIR, check=False
    )  # outside git: "unknown"
    return done.stdout.strip() or "unknown"


def convert(path: Path, facts: dict[str, Any]) -> bool:
    """Rewrite ``path`` in place; False when it already has the one schema."""
    meta, tensors = read_tensors(path, path.name, as_float32=False)
    if PROVENANCE_KEY in meta:
        return False
    before = tensors_sha256(path)
    provenance = provenance_from_flat_keys(meta, facts, last_commit_of(path))
    new_meta = {**{k: meta[k] for k in LOAD_KEYS if k in meta}, PROVENANCE_KEY: config_to_json(provenance)}
    tmp = path.with_suffix(".tmp")
    write_tensors(tensors, tmp, new_meta, half=False)
    if tensors_sha256(tmp) != before:
        tmp.unlink()
        raise SystemExit(f"{path}: tensors changed in the rewrite; left as it was")
    tmp.chmod(path.stat().st_mode)  # the rewrite keeps the file's permissions
    tmp.replace(path)
    return True


def parse_facts(items: list[str]) -> dict[str, dict[str, Any]]:
    """``FILE:KEY=VALUE`` items (values as JSON when they parse, else strings) by file name."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name, _, assignment = item.partition(":")
        key, _, value = assignment.partition("=")
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(Path(name).name, {})[key] = parsed
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, default=[WEIGHTS_DIR / name for name in BUNDLED])
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FILE:KEY=VALUE",
        help="a provenance field the old file lacks (default: the model card's facts for the bundled G)",
    )
    args = parser.parse_args(argv)
    facts = {**CARD_FACTS, **parse_facts(args.set)} if not args.set else parse_facts(args.set)
    for path in args.files:
        changed = convert(path, facts.get(path.name, {}))
        print(f"{path}: {'converted' if changed else 'already in the one schema'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
