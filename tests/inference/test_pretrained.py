"""The bundled model (ssrdepth.pretrained): the slim copy and its card, ``predict`` and ``load_model``
without a checkpoint, and the errors when nothing is bundled or the weights do not match the card."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ssrdepth import pretrained
from ssrdepth.checkpoint import load_checkpoint, rng_state, save_checkpoint
from ssrdepth.cli import main as cli
from ssrdepth.inference.predict import load_model, predict, split_checkpoint
from ssrdepth.models import create_model
from ssrdepth.pretrained import (
    CARD,
    CARD_FIELDS,
    ENV_VAR,
    WEIGHTS,
    NoBundledModel,
    bundled_card,
    bundled_checkpoint,
    file_sha256,
    write_bundle,
)

from ..conftest import skip_or_fail
from .conftest import KITTI_TARGET, write_image

REPO = Path(__file__).resolve().parents[2]

#: What the lead gives write_bundle; the rest of the card comes from the checkpoint.
CARD_GIVEN: dict[str, Any] = {
    "trained_on": "the synthetic streets of ssrdepth demo",
    "real_kitti": {"abs_rel": 0.318, "delta1": 0.51},
    "synthetic": {"abs_rel": 0.097, "delta1": 0.900},
    "licence": "MIT",
}


def training_checkpoint(path: Path, name: str = "SCRXU", size: tuple[int, int] = (37, 147)) -> Path:
    """A width-0.125 checkpoint as ``ssrdepth train`` writes one: optimiser, RNG, history and all."""
    torch.manual_seed(0)
    model = create_model(name, 1, width=0.125)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(2, 1, *size)).mean().backward()
    optimizer.step()  # the optimiser now holds two moments per parameter
    return save_checkpoint(
        path,
        model,
        input_size=size,
        target=KITTI_TARGET.as_dict(),
        step=500,
        optimizer=optimizer.state_dict(),
        rng=rng_state(),
        config={"model": {"name": name, "width": 0.125}},
        metrics={"abs_rel": 0.1},
        history=[{"step": s, "loss": 1.0 / (s + 1)} for s in range(500)],
        epoch=2.5,
    )


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(the full checkpoint, the bundled slim copy), with $SSRDEPTH_BUNDLE_DIR pointing at the bundle."""
    full = training_checkpoint(tmp_path / "run" / "best.pt")
    slim = write_bundle(full, CARD_GIVEN, tmp_path / "bundle")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "bundle"))
    return full, slim


def test_the_slim_copy_loads_and_predicts_as_the_full_checkpoint(bundle: tuple[Path, Path]) -> None:
    full, slim = bundle
    assert slim.name == WEIGHTS and slim.stat().st_size < full.stat().st_size / 2
    a, b = load_checkpoint(full), load_checkpoint(slim)
    assert set(b.extra) == {"config", "metrics", "epoch"}  # no optimizer, rng or history
    assert (b.model, b.input_size, b.target, b.step) == (a.model, a.input_size, a.target, a.step)
    assert b.config == a.config and b.metrics == a.metrics
    x = torch.rand(2, 1, 37, 147)
    with torch.no_grad():
        assert torch.equal(b.build_model()(x), a.build_model()(x))
    assert torch.load(slim, weights_only=True)["format"] == "ssrdepth-checkpoint"
    assert not list(slim.parent.glob(".*tmp*")), "temporary file left behind"
    # The card: the given fields, those of the checkpoint, and the sha256 of the weights.
    card = json.loads((slim.parent / CARD).read_text(encoding="utf-8"))
    assert list(card) == list(CARD_FIELDS)
    assert card == bundled_card()
    assert card["sha256"] == file_sha256(slim)
    assert (card["file"], card["model"], card["width"], card["size"]) == (WEIGHTS, "SCRXU", 0.125, "147x37")
    assert (card["channels"], card["steps"], card["licence"]) == (1, 500, "MIT")
    assert card["real_kitti"] == CARD_GIVEN["real_kitti"]
    assert bundled_checkpoint() == slim


def test_write_bundle_refuses_other_models_and_incomplete_or_wrong_cards(tmp_path: Path) -> None:
    scrx = training_checkpoint(tmp_path / "scrx.pt", "SCRX")
    with pytest.raises(ValueError, match=r"scrx\.pt: the bundle street-scrxu-147x37 is an SCRXU at 147x37; "):
        write_bundle(scrx, CARD_GIVEN, tmp_path / "out")
    full = training_checkpoint(tmp_path / "full.pt")
    with pytest.raises(ValueError, match="the model card needs licence"):
        write_bundle(full, {k: v for k, v in CARD_GIVEN.items() if k != "licence"}, tmp_path / "out")
    with pytest.raises(ValueError, match=r"disagrees with .*full\.pt: steps 1000 \(the checkpoint: 500\)"):
        write_bundle(full, {**CARD_GIVEN, "steps": 1000}, tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing written for a refused bundle"


def test_predict_with_no_checkpoint_writes_the_maps_of_the_bundled_one(
    bundle: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full, slim = bundle
    images = tmp_path / "imgs"
    rgb = write_image(images / "a.png", 50, 160, seed=1)
    write_image(images / "b.png", 37, 147, seed=2)
    common = ["--save", "npy", "--backend", "torch", "--no-progress"]
    assert cli(["predict", str(images), "--out", str(tmp_path / "bundled"), *common]) == 0
    err = capsys.readouterr().err
    assert (
        "no checkpoint given: using the bundled model street-scrxu-147x37 "
        "(trained on the synthetic streets of ssrdepth demo, 500 steps)" in err
    )
    # Options may stand between the checkpoint and the inputs.
    assert cli(["predict", str(full), "--out", str(tmp_path / "given"), str(images), *common]) == 0
    for name in ("a_disparity.npy", "b_disparity.npy"):
        np.testing.assert_array_equal(
            np.load(tmp_path / "bundled" / name), np.load(tmp_path / "given" / name)
        )
    meta = json.loads((tmp_path / "bundled" / "a_disparity.npy.json").read_text(encoding="utf-8"))
    assert meta["checkpoint"] == str(slim) and meta["model"] == "SCRXU"
    # The word 'bundled' names it explicitly; the Python API takes None (the default) or "bundled".
    assert cli(["predict", "bundled", str(images), "--out", str(tmp_path / "word"), *common]) == 0
    np.testing.assert_array_equal(
        np.load(tmp_path / "word" / "a_disparity.npy"), np.load(tmp_path / "given" / "a_disparity.npy")
    )
    for spec in (None, "bundled"):
        model = load_model(spec, backend="torch")
        assert model.source == slim and model.name == "SCRXU"
        expected = np.load(tmp_path / "given" / "a_disparity.npy")  # from a batch of 2: float rounding
        np.testing.assert_allclose(predict(model, rgb), expected, rtol=1e-6)


def test_the_first_positional_is_the_checkpoint_only_when_it_names_one(
    bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    full, _ = bundle
    run, images = full.parent, tmp_path / "imgs"
    write_image(images / "a.png", 20, 40)
    assert split_checkpoint([str(full), str(images)]) == (str(full), [str(images)])
    assert split_checkpoint([str(run), str(images)]) == (str(run), [str(images)])  # a run folder
    assert split_checkpoint(["missing.pt", "a.png"]) == ("missing.pt", ["a.png"])  # reported as missing
    assert split_checkpoint(["m.onnx", "a.png"]) == ("m.onnx", ["a.png"])
    assert split_checkpoint(["bundled", "a.png"]) == ("bundled", ["a.png"])
    assert split_checkpoint([str(images), "b.png"]) == (None, [str(images), "b.png"])  # no best.pt
    assert split_checkpoint(["a.png"]) == (None, ["a.png"])
    with pytest.raises(ValueError, match=r"best\.pt: a checkpoint and no inputs; name images"):
        split_checkpoint([str(full)])


def test_no_bundled_model_is_exit_2_and_one_line_saying_to_give_a_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_image(tmp_path / "a.png", 20, 40)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(ENV_VAR, str(empty))
    assert cli(["predict", str(tmp_path / "a.png"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        "ssrdepth predict: error: this ssrdepth ships no pretrained model (no street-scrxu-147x37.pt in "
        f"{empty}, the folder $SSRDEPTH_BUNDLE_DIR names); give a checkpoint: ssrdepth predict "
        "CHECKPOINT IMAGE…\n"
    )
    assert not (tmp_path / "out").exists()
    # The package's own folder (BUNDLE_DIR, what a release ships) when the variable is not set.
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setattr(pretrained, "BUNDLE_DIR", empty)
    with pytest.raises(NoBundledModel) as info:
        load_model()
    assert str(info.value) == (
        f"this ssrdepth ships no pretrained model (no street-scrxu-147x37.pt in {empty}); "
        "give a checkpoint: ssrdepth predict CHECKPOINT IMAGE…"
    )
    assert isinstance(info.value, FileNotFoundError)


def test_weights_that_do_not_match_their_card_are_refused(
    bundle: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, slim = bundle
    card_path = slim.parent / CARD
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card_path.write_text(json.dumps({**card, "sha256": "0" * 64}), encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"street-scrxu-147x37\.pt: the bundled weights do not match their card"
    ):
        load_model(None, backend="torch")
    write_image(tmp_path / "a.png", 20, 40)
    assert cli(["predict", str(tmp_path / "a.png"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ssrdepth predict: error: {slim}: the bundled weights do not match their card")
    assert "0000000000000000…" in err and "write_bundle" in err and err.count("\n") == 1
    # Weights without a card: named, never loaded unchecked.
    card_path.unlink()
    with pytest.raises(
        FileNotFoundError, match=r"street-scrxu-147x37\.json: the bundled model's card is missing"
    ):
        bundled_checkpoint()


def test_the_build_ships_the_bundle_folder() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    data = config["tool"]["setuptools"]["package-data"]["ssrdepth"]
    assert {"pretrained/*.pt", "pretrained/*.json"} <= set(data)
    assert pretrained.BUNDLE_DIR.name == "pretrained"


def test_the_shipped_bundle_matches_its_card(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR)
    if not pretrained.bundled_path().is_file():
        skip_or_fail(f"this ssrdepth ships no pretrained model (no {WEIGHTS} in {pretrained.BUNDLE_DIR})")
    ckpt = load_checkpoint(bundled_checkpoint())  # the sha256 checked
    card = bundled_card()
    assert (card["model"], card["size"], card["channels"], card["steps"]) == (
        ckpt.model.name,
        f"{ckpt.input_size[1]}x{ckpt.input_size[0]}",
        ckpt.model.in_channels,
        ckpt.step,
    )
    assert "optimizer" not in ckpt.extra
    ckpt.build_model()


def test_evaluate_takes_the_bundled_model_as_predict_does(bundle: tuple[Path, Path]) -> None:
    """`ssrdepth evaluate bundled …` is the bundled checkpoint: the same numbers as naming its file."""
    from ssrdepth.evaluation.evaluate import load_model

    _, slim = bundle
    by_name, by_file = load_model("bundled"), load_model(slim)
    assert (by_name.source, by_name.label, by_name.scale) == (by_file.source, by_file.label, by_file.scale)
    x = torch.rand(1, 1, 37, 147)
    with torch.no_grad():
        assert torch.equal(by_name.model(x), by_file.model(x))
