"""Every field of a training config dataclass (and of the face detector's) is read somewhere in src.

A field that nothing reads is a flag that silently does nothing (``lr_d`` and
``SynthConfig.max_rotation`` were: the first set D's lr in no optimizer, the second rotated
no occluder). Grep-based on purpose: a field counts as read when ``.name`` (attribute access)
or ``"name"`` / ``'name'`` (getattr / dict access by name) appears in src outside its own
definition line.
"""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest

from deocclude.faces.detect import DetectorConfig
from deocclude.inpaint.config import InpaintTrainConfig
from deocclude.paths import REPO_DIR
from deocclude.reconstruct.regressor_config import ReconstructTrainConfig
from deocclude.segment.config import SegmentTrainConfig
from deocclude.synth.config import SynthConfig
from deocclude.train.config import TrainConfig

ROOTS = (TrainConfig, SegmentTrainConfig, ReconstructTrainConfig, InpaintTrainConfig, SynthConfig, DetectorConfig)


def _config_classes() -> list[type]:
    """The roots and every dataclass nested in them (model, loss, eyewear configs ...)."""
    seen: list[type] = []
    todo = list(ROOTS)
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        for tp in typing.get_type_hints(cls).values():
            if isinstance(tp, type) and dataclasses.is_dataclass(tp):
                todo.append(tp)
    return seen


def _source() -> str:
    """All of src, with each dataclass field's own definition line dropped."""
    definition = re.compile(r"^\s+\w+\s*:\s*[^=]+=")  # "    name: type = default" inside a class body
    lines = []
    for path in sorted((REPO_DIR / "src" / "deocclude").rglob("*.py")):
        lines += [line for line in path.read_text().splitlines() if not definition.match(line)]
    return "\n".join(lines)


FIELDS = sorted({(cls.__name__, f.name) for cls in _config_classes() for f in dataclasses.fields(cls)})


@pytest.fixture(scope="module")
def source() -> str:
    return _source()


@pytest.mark.parametrize(("owner", "name"), FIELDS, ids=[f"{o}.{n}" for o, n in FIELDS])
def test_config_field_is_read(owner: str, name: str, source: str) -> None:
    pattern = re.compile(rf"\.{name}\b|[\"']{name}[\"']")
    assert pattern.search(source), f"{owner}.{name} is read nowhere in src: use it or remove it"
