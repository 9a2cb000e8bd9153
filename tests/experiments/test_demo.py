"""The demo's pieces that ``reproduce`` does not cover: its preset and the real-image section."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ssrdepth.checkpoint import save_checkpoint
from ssrdepth.core.flops import count_gflops
from ssrdepth.data.config import TargetScale
from ssrdepth.experiments.demo import DEMO_STEPS, DEMO_WIDTH, DemoConfig, demo_steps, motorcycle_section
from ssrdepth.models import create_model


def test_motorcycle_section_predicts_on_the_real_image(tmp_path: Path) -> None:
    model = create_model("SCRX", 1, width=0.125)
    scale = TargetScale("disparity", 96.0, focal=360.8, baseline=0.54, reference_width=621)
    ckpt = save_checkpoint(tmp_path / "best.pt", model, input_size=(37, 147), target=scale.as_dict())
    text = motorcycle_section(tmp_path, ckpt)
    assert "Middlebury 2014 Motorcycle" in text and "ρ = " in text
    # 500×741 image with ~ 370k pixels of known disparity (inf = unknown in scikit-image's copy).
    known = int(text.split(" known")[0].split("on ")[-1].replace(",", ""))
    assert 300_000 < known < 500 * 741
    w, h = Image.open(tmp_path / "motorcycle.png").size
    assert w > 2 * h


def test_demo_preset_is_what_the_docs_say() -> None:
    # The documented cost of the demo width: SCRX 0.26 GFLOP per 147×37 image instead of 4.1.
    assert count_gflops(create_model("SCRX", width=DEMO_WIDTH), 37, 147) == pytest.approx(0.26, abs=0.01)
    assert count_gflops(create_model("SCRX"), 37, 147) == pytest.approx(4.09, abs=0.01)
    cfg = DemoConfig()
    assert cfg.table_lengths is None and cfg.tables == ("1", "2") and cfg.recipe == "ssrdepth"
    assert len(cfg.models) == 6
    # The steps follow the precision the machine trains in: more where bf16 is native.
    assert demo_steps("cuda") == DEMO_STEPS["bf16"]
    assert dict(DEMO_STEPS["bf16"])["1"] > dict(DEMO_STEPS["fp32"])["1"]
