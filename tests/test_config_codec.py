"""config_codec: the one JSON codec of the frozen configs, and ``--set FIELD=JSON`` overrides."""

from __future__ import annotations

import pytest

from deocclude.config_codec import config_from_json, config_to_json, config_with_overrides
from deocclude.errors import DeoccludeError
from deocclude.pipeline import DeoccluderConfig
from deocclude.segment.config import SegmentTrainConfig


def test_a_nested_config_survives_json() -> None:
    config = SegmentTrainConfig(occluder_weights=(1.0, 4.0) + (1.0,) * 10)
    assert config_from_json(SegmentTrainConfig, config_to_json(config)) == config


def test_overrides_set_fields_of_every_type() -> None:
    config = config_with_overrides(DeoccluderConfig(), ["rim_depth=0", "remove_hair=true", 'fill="telea"',
                                                        "hole-confidence=0.5"])
    assert (config.rim_depth, config.remove_hair, config.fill, config.hole_confidence) == (0, True, "telea", 0.5)
    assert config_with_overrides(DeoccluderConfig(), []) == DeoccluderConfig()


@pytest.mark.parametrize("item, message", [("no_such_field=1", "FIELD one of"), ("rim_depth", "FIELD=JSON"),
                                           ("fill=telea", "not JSON")])
def test_a_bad_override_is_one_clear_line(item: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_with_overrides(DeoccluderConfig(), [item])


def test_an_override_still_goes_through_the_config_checks() -> None:
    with pytest.raises(DeoccludeError, match="rim-depth"):
        config_with_overrides(DeoccluderConfig(), ["rim_depth=0.7"])
