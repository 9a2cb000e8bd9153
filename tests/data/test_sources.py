"""The source table: one row per data source, read by the configuration, the loader dispatch and the
protocol warnings; matcher settings derived once per configuration."""

from __future__ import annotations

import importlib
import inspect

import pytest

from ssrdepth.data.config import (
    DATA_SOURCES,
    DEFAULT_MAX_DEPTH,
    SOURCES,
    STEREO_SOURCES,
    DataConfig,
)
from ssrdepth.evaluation.protocols import INDOOR_PROTOCOLS, STREET_PROTOCOLS, protocol_mismatch


def test_every_row_names_a_loader_with_the_table_signature() -> None:
    assert set(DATA_SOURCES) == {
        "synthetic", "kitti-tracking", "kitti-raw", "kitti-object", "nyu", "stereo-folder", "rgbd-folder"
    }  # fmt: skip
    for name, spec in DATA_SOURCES.items():
        assert spec.name == name
        module, _, function = spec.loader.partition(":")
        loader = getattr(importlib.import_module(f"ssrdepth.data.{module}"), function)
        assert list(inspect.signature(loader).parameters) == ["root", "cfg"], name
        assert spec.scene in ("street", "indoor", "any") and spec.default_max_depth > 0 and spec.camera


def test_the_derived_views_follow_the_table() -> None:
    assert {n: s.description for n, s in DATA_SOURCES.items()} == SOURCES
    assert DEFAULT_MAX_DEPTH == {
        "synthetic": 80.0, "kitti-tracking": 80.0, "kitti-raw": 80.0, "kitti-object": 80.0,
        "nyu": 10.0, "stereo-folder": 80.0, "rgbd-folder": 10.0,
    }  # fmt: skip
    assert STEREO_SOURCES == ("synthetic", "kitti-tracking", "kitti-raw", "kitti-object", "stereo-folder")
    assert DataConfig(source="nyu").data_source is DATA_SOURCES["nyu"]
    assert DataConfig(source="nyu", target="depth").depth_limit == 10.0


def test_protocol_warnings_come_from_the_scene_of_the_source() -> None:
    for name, spec in DATA_SOURCES.items():
        for protocol in INDOOR_PROTOCOLS:
            assert (protocol_mismatch(protocol, name) is None) == (spec.scene in ("indoor", "any")), name
        for protocol in STREET_PROTOCOLS:
            assert (protocol_mismatch(protocol, name) is None) == (spec.scene in ("street", "any")), name
    assert "data source is 'stereo-folder'" in (protocol_mismatch("nyu", "stereo-folder") or "")
    assert (
        protocol_mismatch("normalised", "nyu") is None and protocol_mismatch("paper", "rgbd-folder") is None
    )


def test_matcher_settings_are_derived_once_per_configuration() -> None:
    cfg = DataConfig(matcher="bm", max_disparity=96)
    settings = cfg.matcher_settings
    assert settings.method == "bm" and settings.max_disparity == 96
    # the same (frozen) settings object for every configuration with this matcher and range
    assert DataConfig(matcher="bm", max_disparity=96, size=(16, 48)).matcher_settings is settings
    assert DataConfig(source="kitti-tracking").matcher_settings.max_disparity == 192  # SGM's KITTI default
    # the synthetic set (the default source) renders at half KITTI width: its own default, 96 px
    assert DataConfig().source == "synthetic" and DataConfig().matcher_settings.max_disparity == 96
    assert DataConfig(max_disparity=192).matcher_settings.max_disparity == 192  # set: kept
    with pytest.raises(ValueError, match="sgm"):
        _ = DataConfig(matcher="nope").matcher_settings
